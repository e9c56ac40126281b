"""workloads.csv and fleet.csv -> validated Workload / Pool models (docs/design.md, "Inputs").

Every problem of both files is collected and reported at once as `file:line: column: problem
(what is allowed)`; nothing is returned unless both files are clean. Columns are checked whole
(`tables.py`), so a million rows read in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recommender.catalog import Catalog
from recommender.errors import InputError, InputIssue
from recommender.problem import MAX_COMPUTE_SLICES, PerformanceRow, Pool, Problem, Workload
from recommender.reading.performance import (
    THROUGHPUT_COLUMNS,
    read_performance,
    read_throughput_columns,
    throughput_without_table,
)
from recommender.reading.source import Source, source_label
from recommender.reading.tables import (
    build_checked,
    check_boolean,
    check_each_distinct,
    check_integer,
    check_number,
    check_text,
    check_unique,
    read_table,
    whole_numbers,
)

WORKLOAD_COLUMNS = {
    "name": True,
    "memory_gb": True,
    "compute_slices": False,
    "replicas": False,
    "gpu_models": False,
    "priority": False,
    "media": False,
    "spread": False,
    "max_unavailable": False,
    **THROUGHPUT_COLUMNS,
}
FLEET_COLUMNS = {
    "pool": True,
    "gpu_model": True,
    "gpus": True,
    "cost_per_hour": True,
    "gpus_per_node": False,
}


def _model_key(raw: str, catalog: Catalog) -> tuple[str | None, list[str]]:
    """The catalog key of a `gpu_model` cell (a key or an nvidia-smi name), or why there is none.

    An empty cell has no key and no message here: `check_text` reports it.
    """
    if not raw:
        return None, []
    key = catalog.resolve(raw)
    if key is not None:
        return key, []
    guess = catalog.suggest(raw)
    hint = f"did you mean {guess}? " if guess else ""
    return None, [
        f"unknown GPU model '{raw}' ({hint}known: {', '.join(catalog.models)}; "
        "`mig-recommender catalog` lists them with their nvidia-smi names)"
    ]


def _model_keys(raw: str, catalog: Catalog) -> tuple[tuple[str, ...] | None, list[str]]:
    """The model keys of a `gpu_models` cell (`A100-80GB|H100-80GB`; empty or `any`: None)."""
    if not raw or raw.casefold() == "any":
        return None, []
    parts = [part.strip() for part in raw.split("|")]
    keys: list[str] = []
    messages: list[str] = []
    for part in parts:
        if part:
            key, problems = _model_key(part, catalog)
            messages.extend(problems)
            if key is not None:
                keys.append(key)
    if not all(parts):
        example = "e.g. A100-80GB|H100-80GB"
        messages.append(f"has an empty entry (join model keys with '|', {example})")
    return tuple(dict.fromkeys(keys)), messages


def read_workloads(
    source: Source,
    catalog: Catalog,
    label: str = "workloads.csv",
    max_replicas: int | None = None,
) -> list[Workload]:
    """Read and validate workloads.csv; raises InputError listing every problem."""
    table = read_table(source, label, WORKLOAD_COLUMNS)
    # Checks in the order of a row's cells: issues come back sorted by line, then by check.
    names = check_text(table, "name")
    memory = check_number(table, "memory_gb", minimum=0, strict=True)
    compute = check_integer(
        table, "compute_slices", minimum=1, maximum=MAX_COMPUTE_SLICES, default=1
    )
    replicas = check_integer(table, "replicas", minimum=1, default=1)
    priority = check_integer(table, "priority", minimum=1, default=1)
    media = check_boolean(table, "media")
    spread = check_boolean(table, "spread")
    # Replicas that may be down at once during a rollout (re-planning from --current).
    max_unavailable = check_integer(table, "max_unavailable", minimum=0, default=1)
    throughput = read_throughput_columns(table)
    models = check_each_distinct(table, "gpu_models", lambda raw: _model_keys(raw, catalog))
    issues = table.issues.in_file_order() + check_unique(table, "name", names)
    if issues:
        raise InputError(issues)
    replica_counts = whole_numbers(replicas)
    if max_replicas is not None and sum(replica_counts) > max_replicas:
        total = sum(replica_counts)
        msg = f"{total:,} replicas in all; at most {max_replicas:,} are accepted here"
        raise InputError([InputIssue(label, None, "replicas", msg)])
    columns = {
        "name": names.tolist(),
        "memory_gb": memory.tolist(),
        "compute_slices": whole_numbers(compute),
        "replicas": replica_counts,
        "gpu_models": models.tolist(),
        "priority": whole_numbers(priority),
        "media": media.tolist(),
        "spread": spread.tolist(),
        "max_unavailable": whole_numbers(max_unavailable),
        **throughput,
        "line": table.lines.tolist(),
    }
    table.cells.clear()  # the text of a large file is not needed any more: lower peak memory
    return build_checked(Workload, columns)


def read_fleet(source: Source, catalog: Catalog, label: str = "fleet.csv") -> list[Pool]:
    """Read and validate fleet.csv; raises InputError listing every problem."""
    table = read_table(source, label, FLEET_COLUMNS)
    names = check_text(table, "pool")
    check_text(table, "gpu_model")
    models = check_each_distinct(table, "gpu_model", lambda raw: _model_key(raw, catalog))
    gpus = check_integer(table, "gpus", minimum=0)
    prices = check_number(table, "cost_per_hour", minimum=0, strict=False)
    per_node = check_integer(table, "gpus_per_node", minimum=1, default=8)
    issues = table.issues.in_file_order() + check_unique(table, "pool", names)
    if issues:
        raise InputError(issues)
    return build_checked(
        Pool,
        {
            "pool": names.tolist(),
            "gpu_model": models.tolist(),
            "gpus": whole_numbers(gpus),
            "cost_per_hour": prices.tolist(),
            "gpus_per_node": whole_numbers(per_node),
            "line": table.lines.tolist(),
        },
    )


def load_problem(
    workloads: Source,
    fleet: Source,
    catalog: Catalog,
    workloads_label: str | None = None,
    fleet_label: str | None = None,
    max_replicas: int | None = None,
    performance: Source | None = None,
    performance_label: str | None = None,
) -> Problem:
    """Both files, validated together: raises one InputError with the problems of both."""
    w_label = workloads_label or source_label(workloads, "workloads.csv")
    f_label = fleet_label or source_label(fleet, "fleet.csv")
    issues: list[InputIssue] = []
    parsed_w = _collect(lambda: read_workloads(workloads, catalog, w_label, max_replicas), issues)
    parsed_f = _collect(lambda: read_fleet(fleet, catalog, f_label), issues)
    rows: list[PerformanceRow] = []
    if performance is not None:
        p_label = performance_label or source_label(performance, "performance.csv")
        rows = _collect(lambda: read_performance(performance, catalog, p_label), issues) or []
    elif parsed_w is not None:
        issues.extend(throughput_without_table(parsed_w, w_label))
    # A workload restricted to GPU models the fleet lacks is not an input error: it is planned
    # and reported unplaced ("no pool of ... in the fleet"), so removing a pool stays a what-if.
    if issues:
        raise InputError(issues)
    return Problem(workloads=tuple(parsed_w), pools=tuple(parsed_f), performance=tuple(rows))


def _collect(read: Callable[[], Any], issues: list[InputIssue]) -> Any:
    try:
        return read()
    except InputError as exc:
        issues.extend(exc.issues)
        return None

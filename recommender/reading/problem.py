"""workloads.csv and fleet.csv -> validated Workload / Pool models (DESIGN.md §3).

Every problem of both files is collected and reported at once as `file:line: column: problem
(what is allowed)`; nothing is returned unless both files are clean. Columns are checked whole
(`tables.py`), so a million rows read in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from recommender.catalog import Catalog
from recommender.errors import InputError, InputIssue
from recommender.problem import MAX_COMPUTE_SLICES, Pool, Problem, Workload
from recommender.reading.source import Source, source_label
from recommender.reading.tables import (
    Table,
    check_boolean,
    check_each_distinct,
    check_integer,
    check_number,
    check_text,
    check_unique,
    gc_paused,
    read_table,
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
}
FLEET_COLUMNS = {
    "pool": True,
    "gpu_model": True,
    "gpus": True,
    "cost_per_hour": True,
    "gpus_per_node": False,
}

_WORKLOADS = TypeAdapter(list[Workload])
_POOLS = TypeAdapter(list[Pool])


def _model_key(raw: str, catalog: Catalog) -> tuple[str | None, list[str]]:
    """The catalog key of a model name or alias, or why there is none."""
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
    """The model keys of a `gpu_models` cell (`A100-80GB|H100-80GB`), or why not."""
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
    names, _ = check_text(table, "name")
    memory, _ = check_number(table, "memory_gb", minimum=0, strict=True)
    compute, _ = check_integer(
        table, "compute_slices", minimum=1, maximum=MAX_COMPUTE_SLICES, default=1
    )
    replicas, _ = check_integer(table, "replicas", minimum=1, default=1)
    priority, _ = check_integer(table, "priority", minimum=1, default=1)
    media, _ = check_boolean(table, "media")
    spread, _ = check_boolean(table, "spread")
    models, _ = check_each_distinct(
        table, "gpu_models", lambda raw: _model_keys(raw, catalog), applies=_restricted(table)
    )
    issues = table.issues.in_file_order() + check_unique(table, "name")
    if issues:
        raise InputError(issues)
    if max_replicas is not None:
        total = sum(_ints(replicas))
        if total > max_replicas:
            msg = f"{total:,} replicas in all; at most {max_replicas:,} are accepted here"
            raise InputError([InputIssue(label, None, "replicas", msg)])
    return _build(
        _WORKLOADS,
        name=names.tolist(),
        memory_gb=memory.tolist(),
        compute_slices=_ints(compute),
        replicas=_ints(replicas),
        gpu_models=models.tolist(),
        priority=_ints(priority),
        media=media.tolist(),
        spread=spread.tolist(),
        line=table.lines.tolist(),
    )


def _restricted(table: Table) -> np.ndarray | None:
    """Rows whose `gpu_models` names models (empty and `any` mean every model)."""
    if "gpu_models" not in table.cells:
        return None
    cells = table.cells["gpu_models"]
    return ((cells != "") & (cells.str.casefold() != "any")).to_numpy(dtype=bool)


def read_fleet(source: Source, catalog: Catalog, label: str = "fleet.csv") -> list[Pool]:
    """Read and validate fleet.csv; raises InputError listing every problem."""
    table = read_table(source, label, FLEET_COLUMNS)
    names, _ = check_text(table, "pool")
    _, no_model = check_text(table, "gpu_model")
    models, _ = check_each_distinct(
        table, "gpu_model", lambda raw: _model_key(raw, catalog), applies=~no_model
    )
    gpus, _ = check_integer(table, "gpus", minimum=0)
    prices, _ = check_number(table, "cost_per_hour", minimum=0, strict=False)
    per_node, _ = check_integer(table, "gpus_per_node", minimum=1, default=8)
    issues = table.issues.in_file_order() + check_unique(table, "pool")
    if issues:
        raise InputError(issues)
    return _build(
        _POOLS,
        pool=names.tolist(),
        gpu_model=models.tolist(),
        gpus=_ints(gpus),
        cost_per_hour=prices.tolist(),
        gpus_per_node=_ints(per_node),
        line=table.lines.tolist(),
    )


def _ints(values: np.ndarray) -> list[int]:
    """Whole numbers held as floats -> Python ints (exact, however large)."""
    return [int(value) for value in values.tolist()]


def _build(adapter: TypeAdapter[Any], **columns: list[Any]) -> list[Any]:
    """The models, one per row of `columns`, validated again by pydantic in one call (strict:
    the values already have their final types, so nothing is coerced)."""
    keys = tuple(columns)
    with gc_paused():
        rows = [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]
        return adapter.validate_python(rows, strict=True)


def cross_check(
    workloads: list[Workload], pools: list[Pool], label: str = "workloads.csv"
) -> list[InputIssue]:
    """Workloads restricted to GPU models that no pool of the fleet has."""
    fleet_models = {p.gpu_model for p in pools}
    issues = []
    for w in workloads:
        if w.gpu_models is not None and not fleet_models.intersection(w.gpu_models):
            msg = (
                f"none of {', '.join(w.gpu_models)} is in the fleet "
                f"(fleet models: {', '.join(sorted(fleet_models))})"
            )
            issues.append(InputIssue(label, w.line, "gpu_models", msg))
    return issues


def load_problem(
    workloads: Source,
    fleet: Source,
    catalog: Catalog,
    workloads_label: str | None = None,
    fleet_label: str | None = None,
    max_replicas: int | None = None,
) -> Problem:
    """Both files, validated together: raises one InputError with the problems of both."""
    w_label = workloads_label or source_label(workloads, "workloads.csv")
    f_label = fleet_label or source_label(fleet, "fleet.csv")
    issues: list[InputIssue] = []
    parsed_w = _collect(lambda: read_workloads(workloads, catalog, w_label, max_replicas), issues)
    parsed_f = _collect(lambda: read_fleet(fleet, catalog, f_label), issues)
    if parsed_w is not None and parsed_f is not None:
        issues.extend(cross_check(parsed_w, parsed_f, w_label))
    if issues:
        raise InputError(issues)
    return Problem(workloads=tuple(parsed_w), pools=tuple(parsed_f))


def _collect(read: Callable[[], Any], issues: list[InputIssue]) -> Any:
    try:
        return read()
    except InputError as exc:
        issues.extend(exc.issues)
        return None

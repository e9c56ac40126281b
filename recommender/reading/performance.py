"""performance.csv -> validated PerformanceRow models, and the throughput columns of workloads.csv.

performance.csv: one row per measured configuration (docs/design.md, "Throughput demand"):
`model`, `gpu_model` (a catalog key or an nvidia-smi name), `profile` (a profile of that GPU
model), `throughput_rps`, and optional `latency_ms`, `batch_size`, `processes` (default 1),
`memory_gb`. Every problem is reported at once as `file:line: column: problem (allowed)`, and
nothing is returned unless the file is clean.
"""

from __future__ import annotations

import math

import numpy as np

from recommender.catalog import Catalog
from recommender.errors import InputError, InputIssue
from recommender.problem import PerformanceRow
from recommender.reading.source import Source
from recommender.reading.tables import (
    Table,
    build_checked,
    check_each_distinct,
    check_integer,
    check_number,
    check_text,
    read_table,
    whole_numbers,
)

PERFORMANCE_COLUMNS = {
    "model": True,
    "gpu_model": True,
    "profile": True,
    "throughput_rps": True,
    "latency_ms": False,
    "batch_size": False,
    "processes": False,
    "memory_gb": False,
}
# Optional columns of workloads.csv that make a workload a throughput workload.
THROUGHPUT_COLUMNS = {"requests_per_second": False, "latency_ms": False, "model": False}

# Rates in requests per second. The models count them in integer milli-requests
# (`throughput.RATE_SCALE`): below MIN_RATE a rate would round to nothing, and MAX_RATE keeps
# every coefficient of the coverage constraints far inside CP-SAT's 64-bit range.
MIN_RATE = 0.001
MAX_RATE = 10_000_000


def read_performance(
    source: Source, catalog: Catalog, label: str = "performance.csv"
) -> list[PerformanceRow]:
    """Read and validate performance.csv; raises InputError listing every problem."""
    from recommender.reading.problem import _model_key  # reading.problem imports this module

    table = read_table(source, label, PERFORMANCE_COLUMNS)
    models = check_text(table, "model")
    check_text(table, "gpu_model")
    keys = check_each_distinct(table, "gpu_model", lambda raw: _model_key(raw, catalog))
    profiles = check_text(table, "profile")
    _check_profiles(table, keys, profiles, catalog)
    throughput = _rate(table, "throughput_rps", required=True)
    latency = check_number(table, "latency_ms", minimum=0, strict=True, default=math.nan)
    batch = check_integer(table, "batch_size", minimum=1, default=math.nan)
    processes = check_integer(table, "processes", minimum=1, default=1)
    memory = check_number(table, "memory_gb", minimum=0, strict=True, default=math.nan)
    issues = table.issues.in_file_order()
    if issues:
        raise InputError(issues)
    duplicates = _duplicates(table, models, keys, profiles, batch, processes)
    if duplicates:
        raise InputError(duplicates)
    return build_checked(
        PerformanceRow,
        {
            "model": models.tolist(),
            "gpu_model": keys.tolist(),
            "profile": profiles.tolist(),
            "throughput_rps": throughput.tolist(),
            "latency_ms": _optional(latency),
            "batch_size": [None if math.isnan(b) else int(b) for b in batch.tolist()],
            "processes": whole_numbers(processes),
            "memory_gb": _optional(memory),
            "line": table.lines.tolist(),
        },
    )


def _check_profiles(table: Table, keys: np.ndarray, profiles: np.ndarray, catalog: Catalog) -> None:
    """Each row's profile must be a profile of its GPU model (checked once per distinct pair)."""
    verdicts: dict[tuple[str, str], str | None] = {}
    rows, messages = [], []
    for row, (key, name) in enumerate(zip(keys.tolist(), profiles.tolist(), strict=True)):
        if key is None or not name:
            continue  # the GPU model or the empty profile is reported already
        if (key, name) not in verdicts:
            known = catalog.model(key).profile_by_name
            verdicts[key, name] = (
                None
                if name in known
                else f"'{name}' is not a profile of {key} (profiles: {', '.join(known)})"
            )
        if verdicts[key, name] is not None:
            rows.append(row)
            messages.append(verdicts[key, name])
    table.report(np.array(rows, dtype=np.int64), "profile", messages)


def _rate(table: Table, column: str, *, required: bool) -> np.ndarray:
    """A rate column: a number MIN_RATE..MAX_RATE (NaN where empty and optional)."""
    values = check_number(
        table, column, minimum=0, strict=True, default=None if required else math.nan
    )
    with np.errstate(invalid="ignore"):
        outside = np.isfinite(values) & ((values < MIN_RATE) | (values > MAX_RATE))
    rows = np.flatnonzero(outside)
    if rows.size:
        texts = table.text(column)[rows].tolist()
        allowed = f"requests per second {MIN_RATE:g}..{MAX_RATE:,}"
        table.report(rows, column, [f"{text} is out of range ({allowed})" for text in texts])
    return values


def _optional(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


def _duplicates(
    table: Table,
    models: np.ndarray,
    keys: np.ndarray,
    profiles: np.ndarray,
    batch: np.ndarray,
    processes: np.ndarray,
) -> list[InputIssue]:
    """A configuration (model, GPU model, profile, batch size, processes) listed twice is
    ambiguous: which measurement holds?"""
    first: dict[tuple, int] = {}
    issues = []
    for row, key in enumerate(
        zip(
            models.tolist(),
            keys.tolist(),
            profiles.tolist(),
            batch.tolist(),
            processes.tolist(),
            strict=True,
        )
    ):
        line = int(table.lines[row])
        normalized = tuple(None if isinstance(v, float) and math.isnan(v) else v for v in key)
        if normalized in first:
            message = (
                f"configuration {key[0]} on {key[1]} {key[2]} (batch_size, processes) is listed "
                f"twice (first on line {first[normalized]}); keep one measurement per configuration"
            )
            issues.append(InputIssue(table.label, line, None, message))
        else:
            first[normalized] = line
    return issues


def read_throughput_columns(table: Table) -> dict[str, list]:
    """The optional throughput columns of workloads.csv, checked (issues go to the table).

    `latency_ms` and `model` only mean something for a workload with `requests_per_second`.
    """
    rate = _rate(table, "requests_per_second", required=False)
    latency = check_number(table, "latency_ms", minimum=0, strict=True, default=math.nan)
    models = _texts(table, "model")
    without_rate = _texts(table, "requests_per_second") == ""
    message = "is set but requests_per_second is empty (it applies to throughput workloads)"
    for column in ("latency_ms", "model"):
        rows = np.flatnonzero((_texts(table, column) != "") & without_rate)
        table.report(rows, column, [message] * rows.size)
    return {
        "requests_per_second": _optional(rate),
        "latency_ms": _optional(latency),
        "model": [name or None for name in models.tolist()],
    }


def _texts(table: Table, column: str) -> np.ndarray:
    """A column's stripped cells; all empty when the file has no such column."""
    if column in table.cells:
        return table.text(column)
    return np.full(table.rows, "", dtype=object)


def throughput_without_table(workloads: list, label: str) -> list[InputIssue]:
    """Throughput workloads need a performance table to be sized at all."""
    return [
        InputIssue(
            label,
            w.line,
            "requests_per_second",
            "needs a performance table (--performance FILE, or the page's performance upload)",
        )
        for w in workloads
        if w.is_throughput
    ]

"""Workload and fleet inputs: CSV files -> validated pydantic models (DESIGN.md §3).

Every problem in a file is collected and reported at once as `file:line: column: problem
(what is allowed)`; nothing is returned unless both files are clean.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from recommender.catalog import Catalog
from recommender.errors import InputError, InputIssue
from recommender.problem import MAX_COMPUTE_SLICES, Pool, Problem, Workload

Source = str | Path | bytes

TRUE_WORDS = {"true", "yes", "y", "1", "t"}
FALSE_WORDS = {"false", "no", "n", "0", "f"}
BOOL_ALLOWED = "true/false, yes/no, 1/0; empty means false"


# --- CSV reading -------------------------------------------------------------------------------

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


def _decode(source: Source, label: str) -> str:
    if isinstance(source, bytes):
        raw = source
    else:
        try:
            raw = Path(source).read_bytes()
        except FileNotFoundError:
            raise InputError([InputIssue(label, None, None, "file not found")]) from None
        except IsADirectoryError:
            raise InputError(
                [InputIssue(label, None, None, "is a directory, not a file")]
            ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        msg = f"byte 0x{byte:02x} is not valid UTF-8 (save the file as UTF-8)"
        raise InputError([InputIssue(label, line, None, msg)]) from None


def _read_table(
    source: Source, label: str, columns: dict[str, bool]
) -> tuple[pd.DataFrame, list[int]]:
    """The rows as strings with their line numbers; raises on structural problems."""
    text = _decode(source, label)
    if not text.strip():
        raise InputError([InputIssue(label, None, None, "file is empty (expected a header row)")])
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            index_col=False,
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=True,
        )
    except pd.errors.ParserError as exc:
        raise InputError([InputIssue(label, None, None, f"not a valid CSV file: {exc}")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    issues: list[InputIssue] = []
    allowed = ", ".join(columns)
    seen: set[str] = set()
    for name in frame.columns:
        if name in seen:
            issues.append(InputIssue(label, 1, name, "column appears twice"))
        seen.add(name)
        if name not in columns:
            hint = f"unknown column (allowed: {allowed})"
            issues.append(InputIssue(label, 1, name, hint))
    for name, required in columns.items():
        if required and name not in seen:
            issues.append(
                InputIssue(label, 1, name, f"required column is missing (columns: {allowed})")
            )
    if issues:
        raise InputError(issues)
    if frame.empty:
        raise InputError([InputIssue(label, None, None, "no data rows after the header")])
    return frame, _line_numbers(text, len(frame))


def _line_numbers(text: str, rows: int) -> list[int]:
    """Physical line where each data row starts (header is line 1).

    Only quoted fields with line breaks or blank lines make this differ from `index + 2`; the
    csv module finds the exact starts then.
    """
    if '"' not in text and "\n\n" not in text.replace("\r\n", "\n"):
        return list(range(2, rows + 2))
    import csv

    reader = csv.reader(io.StringIO(text))
    starts: list[int] = []
    next(reader, None)
    line = reader.line_num + 1
    for record in reader:
        if any(cell.strip() for cell in record):
            starts.append(line)
        line = reader.line_num + 1
    return starts if len(starts) == rows else list(range(2, rows + 2))


class _RowReader:
    """Parses the cells of one row, collecting issues instead of raising."""

    def __init__(self, label: str, line: int, issues: list[InputIssue]) -> None:
        self.label, self.line, self.issues = label, line, issues

    def fail(self, column: str, message: str) -> None:
        self.issues.append(InputIssue(self.label, self.line, column, message))

    def text(self, row: dict[str, str], column: str) -> str | None:
        value = row.get(column, "").strip()
        if not value:
            self.fail(column, "is empty (required)")
            return None
        return value

    def number(
        self, row: dict[str, str], column: str, *, minimum: float, strict: bool, default: Any = None
    ) -> float | None:
        raw = row.get(column, "").strip()
        if not raw:
            if default is None:
                self.fail(column, "is empty (required)")
            return default
        bound = f"a number {'>' if strict else '>='} {minimum:g}"
        try:
            value = float(raw)
        except ValueError:
            self.fail(column, f"'{raw}' is not a number (expected {bound})")
            return None
        if not math.isfinite(value) or (value <= minimum if strict else value < minimum):
            self.fail(column, f"{raw} is out of range (expected {bound})")
            return None
        return value

    def integer(
        self,
        row: dict[str, str],
        column: str,
        *,
        minimum: int,
        maximum: int | None = None,
        default: int | None = None,
    ) -> int | None:
        raw = row.get(column, "").strip()
        allowed = (
            f"a whole number {minimum}..{maximum}" if maximum else f"a whole number >= {minimum}"
        )
        if not raw:
            if default is None:
                self.fail(column, f"is empty (required: {allowed})")
            return default
        try:
            value = float(raw)
        except ValueError:
            self.fail(column, f"'{raw}' is not a whole number (expected {allowed})")
            return None
        if not value.is_integer():
            self.fail(column, f"{raw} is not a whole number (expected {allowed})")
            return None
        number = int(value)
        if number < minimum or (maximum is not None and number > maximum):
            self.fail(column, f"{raw} is out of range (expected {allowed})")
            return None
        return number

    def boolean(self, row: dict[str, str], column: str) -> bool | None:
        raw = row.get(column, "").strip().casefold()
        if not raw or raw in FALSE_WORDS:
            return False
        if raw in TRUE_WORDS:
            return True
        self.fail(
            column, f"'{row[column].strip()}' is not a yes/no value (allowed: {BOOL_ALLOWED})"
        )
        return None

    def gpu_model(self, raw: str, column: str, catalog: Catalog) -> str | None:
        key = catalog.resolve(raw)
        if key is None:
            guess = catalog.suggest(raw)
            hint = f"did you mean {guess}? " if guess else ""
            self.fail(
                column,
                f"unknown GPU model '{raw}' ({hint}known: {', '.join(catalog.models)}; "
                "`mig-recommender catalog` lists them with their nvidia-smi names)",
            )
        return key


def _rows(frame: pd.DataFrame, lines: list[int]) -> Iterator[tuple[int, dict[str, str]]]:
    # Column lists of plain str are much faster to walk than DataFrame.to_dict on large files.
    columns = list(frame.columns)
    values = [frame[c].astype(object).tolist() for c in columns]
    for line, *cells in zip(lines, *values, strict=True):
        yield line, dict(zip(columns, cells, strict=True))


def _parse_models(
    raw: str, cells: _RowReader, catalog: Catalog, known: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """Model keys of a `gpu_models` cell; lists seen before are not parsed again."""
    if raw in known:
        return known[raw]
    before = len(cells.issues)
    parts = [part.strip() for part in raw.split("|")]
    keys = [cells.gpu_model(part, "gpu_models", catalog) for part in parts if part]
    if not all(parts):
        example = "e.g. A100-80GB|H100-80GB"
        cells.fail("gpu_models", f"has an empty entry (join model keys with '|', {example})")
    models = tuple(dict.fromkeys(k for k in keys if k))
    if len(cells.issues) == before:
        known[raw] = models
    return models


def _check_unique(
    label: str, column: str, values: list[tuple[int, str]], issues: list[InputIssue]
) -> None:
    first: dict[str, int] = {}
    for line, value in values:
        if value in first:
            msg = f"'{value}' is used twice (first on line {first[value]}); names must be unique"
            issues.append(InputIssue(label, line, column, msg))
        else:
            first[value] = line


def read_workloads(
    source: Source,
    catalog: Catalog,
    label: str = "workloads.csv",
    max_replicas: int | None = None,
) -> list[Workload]:
    """Read and validate workloads.csv; raises InputError listing every problem."""
    frame, lines = _read_table(source, label, WORKLOAD_COLUMNS)
    issues: list[InputIssue] = []
    workloads: list[Workload] = []
    names: list[tuple[int, str]] = []
    known_lists: dict[str, tuple[str, ...]] = {}
    for line, row in _rows(frame, lines):
        cells = _RowReader(label, line, issues)
        before = len(issues)
        name = cells.text(row, "name")
        memory = cells.number(row, "memory_gb", minimum=0, strict=True)
        compute = cells.integer(
            row, "compute_slices", minimum=1, maximum=MAX_COMPUTE_SLICES, default=1
        )
        replicas = cells.integer(row, "replicas", minimum=1, default=1)
        priority = cells.integer(row, "priority", minimum=1, default=1)
        media = cells.boolean(row, "media")
        spread = cells.boolean(row, "spread")
        models: tuple[str, ...] | None = None
        raw_models = row.get("gpu_models", "").strip()
        if raw_models and raw_models.casefold() != "any":
            models = _parse_models(raw_models, cells, catalog, known_lists)
        if name is not None:
            names.append((line, name))
        if len(issues) == before:
            workloads.append(
                Workload(
                    name=name,
                    memory_gb=memory,
                    compute_slices=compute,
                    replicas=replicas,
                    gpu_models=models,
                    priority=priority,
                    media=media,
                    spread=spread,
                    line=line,
                )
            )
    _check_unique(label, "name", names, issues)
    if max_replicas is not None and not issues:
        total = sum(w.replicas for w in workloads)
        if total > max_replicas:
            msg = f"{total:,} replicas in all; at most {max_replicas:,} are accepted here"
            issues.append(InputIssue(label, None, "replicas", msg))
    if issues:
        raise InputError(issues)
    return workloads


def read_fleet(source: Source, catalog: Catalog, label: str = "fleet.csv") -> list[Pool]:
    """Read and validate fleet.csv; raises InputError listing every problem."""
    frame, lines = _read_table(source, label, FLEET_COLUMNS)
    issues: list[InputIssue] = []
    pools: list[Pool] = []
    names: list[tuple[int, str]] = []
    for line, row in _rows(frame, lines):
        cells = _RowReader(label, line, issues)
        before = len(issues)
        name = cells.text(row, "pool")
        raw_model = cells.text(row, "gpu_model")
        model = cells.gpu_model(raw_model, "gpu_model", catalog) if raw_model else None
        gpus = cells.integer(row, "gpus", minimum=0)
        price = cells.number(row, "cost_per_hour", minimum=0, strict=False)
        per_node = cells.integer(row, "gpus_per_node", minimum=1, default=8)
        if name is not None:
            names.append((line, name))
        if len(issues) == before:
            pools.append(
                Pool(
                    pool=name,
                    gpu_model=model,
                    gpus=gpus,
                    cost_per_hour=price,
                    gpus_per_node=per_node,
                    line=line,
                )
            )
    _check_unique(label, "pool", names, issues)
    if issues:
        raise InputError(issues)
    return pools


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
    w_label = workloads_label or (
        Path(workloads).name if not isinstance(workloads, bytes) else "workloads.csv"
    )
    f_label = fleet_label or (Path(fleet).name if not isinstance(fleet, bytes) else "fleet.csv")
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

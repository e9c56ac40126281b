"""The vectorized reader gives the issues (and models) the row-by-row reader of before gave.

`reference_read_workloads` / `reference_read_fleet` below are the readers as they were before
issue 7 (recommender/inputs.py at commit ad43d22), kept verbatim as the reference: same
messages, same order, same line numbers, on every file both accept as well formed. (They differ
by design on short or long rows, duplicated columns and unclosed quotes: see
test_reading_csv.py.)
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.catalog import Catalog
from recommender.errors import InputError, InputIssue
from recommender.problem import MAX_COMPUTE_SLICES, Pool, Workload
from recommender.reading import read_fleet, read_workloads

Source = str | Path | bytes

# --- the reference: the row-by-row reader of before, unchanged ---------------------------------


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


def reference_read_workloads(
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


def reference_read_fleet(source: Source, catalog: Catalog, label: str = "fleet.csv") -> list[Pool]:
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


# --- the comparison ----------------------------------------------------------------------------


def outcome(read: Any, text: bytes, catalog: Catalog) -> tuple[str, list[Any]]:
    """("ok", the models as dicts with their lines) or ("issues", the issue texts in order)."""
    try:
        models = read(text, catalog)
    except InputError as exc:
        return "issues", [str(issue) for issue in exc.issues]
    return "ok", [(m.model_dump(), m.line) for m in models]


WORKLOAD_HEADER = b"name,memory_gb,compute_slices,replicas,gpu_models,priority,media,spread\n"
BAD_WORKLOADS = {
    "every cell wrong at once": b"x,abc,0,-1,A100-40G,0.5,maybe,perhaps\n",
    "empty required cells": b",,,,,,,\n",
    "numbers out of range": b"a,0,8,0,,0,,\nb,-2,1.0,1e0,,1,,\nc,inf,nan,1e400,,2,,\n",
    "not numbers": b"a,1_0,one,two,,three,,\nb,0x10,1/2,1e,,--1,,\nc,1e-400,1,1,,1,,\n",
    "whole numbers written as floats": b"a,1,2.0,3.000,,1e1,,\nb,2,7.5,1,,1,,\n",
    "booleans": b"a,1,1,1,,1,YES,No\nb,1,1,1,,1,T,F\nc,1,1,1,,1,Y,n\nd,1,1,1,,1,ja,nein\n",
    "model lists": (
        b"a,1,1,1,A100-40G|h100-80gb,1,,\nb,1,1,1,|A30,1,,\nc,1,1,1,ANY,1,,\n"
        b"d,1,1,1,NVIDIA A100-SXM4-40GB| A30 |a30-24gb,1,,\ne,1,1,1,A100-40G|h100-80gb,1,,\n"
        b"f,1,1,1,||,1,,\ng,1,1,1,B300|B301,1,,\n"
    ),
    "duplicate names": b"a,1,1,1,,1,,\nb,1,1,1,,1,,\na,2,1,1,,1,,\n b ,x,1,1,,1,,\na,3,1,1,,1,,\n",
    "spaces around cells": b"  a  , 4 , 2 ,  3,  A30 ,  2 , yes , no \nb,  x ,1,1,,1,,\n",
    "quoted cells with commas and line breaks": (
        b'"a, b",1,1,1,,1,,\n"multi\nline",zero,1,1,,1,,\n"x""y",2,1,1,"A30,",1,,\n'
        b'c,1,1,1,"A100-40GB|\nA30",1,,\nd,-1,1,1,,1,,\n'
    ),
    "blank lines between rows": b"\na,1,1,1,,1,,\n\n\nb,x,1,1,,1,,\n   \nc,1,9,1,,1,,\n",
    "windows line ends": b"a,1,1,1,,1,,\r\nb,x,1,1,,1,,\r\n",
    "unicode names": "ä,1,1,1,,1,,\n日本,x,1,1,,1,,\nä,2,1,1,,1,,\n".encode(),
}


@pytest.mark.parametrize("case", list(BAD_WORKLOADS), ids=list(BAD_WORKLOADS))
def test_workload_issues_match_the_row_by_row_reader(case: str, catalog: Catalog) -> None:
    text = WORKLOAD_HEADER + BAD_WORKLOADS[case]
    expected = outcome(reference_read_workloads, text, catalog)
    assert outcome(read_workloads, text, catalog) == expected


BAD_FLEETS = {
    "every cell wrong": b"p,B300,-1,free,0\n,,,,\nq,A30,1.5,-0,x\n",
    "aliases and spaces": b" p , NVIDIA A100-SXM4-40GB , 2 , 1.25 , \nq,a30,0,0,1\n",
    "duplicates and missing model": b"p,A30,1,1,1\np,,1,1,1\nr,A30-24G,1,inf,1\n",
}


@pytest.mark.parametrize("case", list(BAD_FLEETS), ids=list(BAD_FLEETS))
def test_fleet_issues_match_the_row_by_row_reader(case: str, catalog: Catalog) -> None:
    text = b"pool,gpu_model,gpus,cost_per_hour,gpus_per_node\n" + BAD_FLEETS[case]
    expected = outcome(reference_read_fleet, text, catalog)
    assert outcome(read_fleet, text, catalog) == expected


def test_a_subset_of_columns_in_any_order(catalog: Catalog) -> None:
    text = b"spread,memory_gb,name\nyes,4,a\n,x,b\nno,2,\n"
    assert outcome(read_workloads, text, catalog) == outcome(
        reference_read_workloads, text, catalog
    )


# Cells the generator draws from, good and bad, per column.
CELLS = {
    "name": ["a", "b", "llama 8b", "", " c ", '"q, r"', '"multi\nline"', "a"],
    "memory_gb": ["1", "0.5", "79.25", "0", "-1", "x", "", "1e3", " 2 ", "nan", "1_5"],
    "compute_slices": ["", "1", "7", "8", "2.0", "2.5", "y", "0"],
    "replicas": ["", "1", "3", "0", "-2", "1.5", "many", "1e2"],
    "gpu_models": ["", "any", "A30", "A100-40GB|H100-80GB", "A100-40G", "|A30", '"A30|B200-180GB"'],
    "priority": ["", "1", "2", "0", "p"],
    "media": ["", "yes", "no", "TRUE", "0", "maybe"],
    "spread": ["", "true", "f", "N", "sometimes"],
}


@st.composite
def workload_files(draw: st.DrawFn) -> bytes:
    columns = draw(st.permutations(list(CELLS)).map(lambda c: c[: max(2, len(c) - 2)]))
    if "name" not in columns or "memory_gb" not in columns:
        columns = ["name", "memory_gb", *[c for c in columns if c not in ("name", "memory_gb")]]
    rows = draw(
        st.lists(st.tuples(*[st.sampled_from(CELLS[c]) for c in columns]), min_size=1, max_size=12)
    )
    blank = draw(st.sampled_from(["", "\n", "  \n"]))
    lines = [",".join(columns)] + [",".join(row) for row in rows]
    return ("\n".join(lines) + "\n" + blank).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=workload_files())
def test_generated_files_match_the_row_by_row_reader(text: bytes, catalog: Catalog) -> None:
    assert outcome(read_workloads, text, catalog) == outcome(
        reference_read_workloads, text, catalog
    )

"""CSV tables, read and checked column by column (vectorized) instead of row by row.

A file is split into records once: with numpy over the raw bytes (`_scan_fast`) when every quote
sits at a field's edge (the usual case, quoted or not), else with Python's `csv` module. Either
way each record keeps the physical line it starts on (quoted fields may hold line breaks) and its
field count, so a short or long row, an unclosed quote or text after a closing quote is reported
on its real line. pandas then splits the well-formed records into columns, and the checks below
turn whole columns into values plus the rows that are wrong, each wrong cell becoming one
`file:line: column: problem (allowed)` issue in file order.
"""

from __future__ import annotations

import csv
import gc
import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel

from recommender.errors import InputError, InputIssue
from recommender.reading.source import Source, decode_utf8, read_bytes

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})
BOOL_ALLOWED = "true/false, yes/no, 1/0; empty means false"

_QUOTE, _COMMA, _NEWLINE, _CARRIAGE_RETURN, _SPACE = 34, 44, 10, 13, 32
_BLANK_BYTES = b" \t\r"
_UNCLOSED_QUOTE = 'quoted field is never closed (end it with "; write a quote inside it as "")'
_TEXT_AFTER_QUOTE = 'text after a closing quote (a quoted field ends at its quote; write one as "")'


class FileIssues:
    """Issues of one file found check by check (column by column), put back into file order (by
    line, then by check) at the end: the order a row-by-row reader would have found them in."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._lines: list[np.ndarray] = []
        self._issues: list[InputIssue] = []

    def add(self, lines: np.ndarray, column: str | None, messages: list[str]) -> None:
        """One issue per line in `lines`, with its message."""
        self._lines.append(np.asarray(lines, dtype=np.int64))
        self._issues.extend(
            InputIssue(self.label, line, column, message)
            for line, message in zip(lines.tolist(), messages, strict=True)
        )

    def extend(self, issues: list[InputIssue]) -> None:
        """Issues already made (each with a line)."""
        self._lines.append(np.array([issue.line or 0 for issue in issues], dtype=np.int64))
        self._issues.extend(issues)

    def in_file_order(self) -> list[InputIssue]:
        if not self._issues:
            return []
        order = np.argsort(np.concatenate(self._lines), kind="stable")
        return [self._issues[i] for i in order.tolist()]


@dataclass
class Table:
    """The well-formed data rows of a CSV file: the cells of each column as read (str objects)
    and the line each row starts on; `issues` holds the rows that are not well formed, and the
    checks add theirs."""

    label: str
    cells: dict[str, np.ndarray]
    lines: np.ndarray
    issues: FileIssues

    @property
    def rows(self) -> int:
        return len(self.lines)

    def text(self, column: str) -> np.ndarray:
        """The column's cells without surrounding whitespace."""
        return np.array([cell.strip() for cell in self.cells[column]], dtype=object)

    def distinct(self, column: str) -> tuple[np.ndarray, list[str]]:
        """The column's distinct cells (without surrounding whitespace) and, per row, the index
        of its cell among them: columns repeat a few values, so each is checked once."""
        codes, uniques = pd.factorize(self.cells[column], use_na_sentinel=False)
        return codes, [str(cell).strip() for cell in uniques]

    def report(self, rows: np.ndarray, column: str | None, messages: list[str]) -> None:
        """One issue per row index in `rows`, with its message."""
        self.issues.add(self.lines[rows], column, messages)

    def report_distinct(
        self, column: str, codes: np.ndarray, messages: dict[int, list[str]]
    ) -> None:
        """The messages of each distinct cell (by index) on every row holding it."""
        if not messages:
            return
        failing = np.zeros(int(codes.max()) + 1, dtype=bool)
        failing[list(messages)] = True
        rows = np.flatnonzero(failing[codes])
        report_rows: list[int] = []
        report_messages: list[str] = []
        for row, code in zip(rows.tolist(), codes[rows].tolist(), strict=True):
            for message in messages[code]:
                report_rows.append(row)
                report_messages.append(message)
        self.report(np.array(report_rows, dtype=np.int64), column, report_messages)


# --- records -----------------------------------------------------------------------------------


@dataclass
class _Records:
    """Complete non-blank records of a file: where each starts and ends in the bytes, the line it
    starts on, its field count. A quote left open swallows the rest of the file: `open_quote_line`
    is the line of that quote and `open_quote_field` its field's index in its record."""

    starts: np.ndarray
    ends: np.ndarray
    lines: np.ndarray
    fields: np.ndarray
    open_quote_line: int | None = None
    open_quote_field: int = 0


def read_table(source: Source, label: str, columns: dict[str, bool]) -> Table:
    """The rows of a CSV file whose header is `columns` (name -> required), as a Table.

    Raises InputError for an unreadable file or header; problems of single rows (wrong field
    count, unclosed quote) are in `Table.issues` with the rows that parse well in the table.
    """
    raw = read_bytes(source, label)
    decode_utf8(raw, label)  # the first bad byte, with its line, before anything else
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    records = _scan_fast(raw)
    if records is None:
        return _read_with_csv_module(raw, label, columns)
    if records.starts.size == 0:
        if records.open_quote_line is not None:  # in the header
            raise InputError([InputIssue(label, records.open_quote_line, None, _UNCLOSED_QUOTE)])
        raise InputError([InputIssue(label, None, None, "file is empty (expected a header row)")])
    header_text = raw[records.starts[0] : records.ends[0]].decode("utf-8")
    header_fields = next(csv.reader(io.StringIO(header_text.rstrip("\r"), newline="")), [])
    header = _check_header(header_fields, label, int(records.lines[0]), columns)
    width = len(header)
    starts, ends = records.starts[1:], records.ends[1:]
    lines, fields = records.lines[1:], records.fields[1:]
    issues = FileIssues(label)
    bad = fields != width
    if bad.any():
        issues.add(lines[bad], None, [_count_message(width, n) for n in fields[bad].tolist()])
    if records.open_quote_line is not None:
        index = records.open_quote_field
        column = header[index] if index < width else None
        issues.add(np.array([records.open_quote_line]), column, [_UNCLOSED_QUOTE])
    elif starts.size == 0:
        raise InputError([InputIssue(label, None, None, "no data rows after the header")])
    good = ~bad
    frame = _split(_good_bytes(raw, starts, ends, good), width)
    if frame is None or len(frame) != int(good.sum()):
        return _read_with_csv_module(raw, label, columns)
    return Table(label, _columns(frame, header), lines[good], issues)


def _scan_fast(raw: bytes) -> _Records | None:
    """Records found with numpy; None when quoting or line ends need the `csv` module's rules."""
    if b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n"):
        return None  # old Mac line ends: leave them to the csv module
    data = np.frombuffer(raw, dtype=np.uint8)
    found = np.empty(data.size, dtype=bool)  # one buffer for three searches (fresh memory is slow)
    quotes = np.flatnonzero(np.equal(data, _QUOTE, out=found))
    newlines = np.flatnonzero(np.equal(data, _NEWLINE, out=found))
    is_comma = np.equal(data, _COMMA, out=found).view(np.uint8)
    broken_at: int | None = None
    ends = newlines
    if quotes.size:
        if not _quotes_at_field_edges(data, quotes):
            return None
        # A line break is inside a quoted field when an odd number of quotes precede it.
        ends = newlines[np.searchsorted(quotes, newlines) % 2 == 0]
        if quotes.size % 2:
            broken_at = _unclosed_quote(quotes)
            ends = ends[ends < broken_at]
    tail_start = int(ends[-1]) + 1 if ends.size else 0
    if broken_at is None and tail_start < len(raw):
        ends = np.append(ends, len(raw))
    starts = np.concatenate(([0], ends[:-1] + 1)) if ends.size else np.zeros(0, dtype=np.int64)
    fields = _sums(is_comma, starts, stop=tail_start if broken_at is not None else None) + 1
    if quotes.size:
        fields -= _quoted_commas(is_comma, quotes, ends)
    keep = _non_blank(raw, starts, ends, fields)
    starts, ends, fields = starts[keep], ends[keep], fields[keep]
    lines = np.searchsorted(newlines, starts) + 1
    records = _Records(starts, ends, lines, fields)
    if broken_at is not None:
        records.open_quote_line = int(np.searchsorted(newlines, broken_at)) + 1
        before = np.flatnonzero(is_comma[tail_start:broken_at]) + tail_start
        records.open_quote_field = int((np.searchsorted(quotes, before) % 2 == 0).sum())
    return records


def _sums(flags: np.ndarray, starts: np.ndarray, stop: int | None = None) -> np.ndarray:
    """Per segment starting at `starts` (each up to the next start; the last one up to `stop`,
    else the end of `flags`), how many flags are set."""
    if starts.size == 0:
        return np.zeros(0, dtype=np.int64)
    if stop is None:
        return np.add.reduceat(flags, starts, dtype=np.int64)
    return np.add.reduceat(flags, np.append(starts, stop), dtype=np.int64)[:-1]


def _quoted_commas(is_comma: np.ndarray, quotes: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per record (ending at `ends`), the commas inside its quoted fields: they split no field.

    Quotes pair up as (opener, closer); the commas of each pair, added up per record, are found
    without asking, for every comma, how many quotes precede it.
    """
    pairs = quotes[: quotes.size - quotes.size % 2]  # an unclosed quote's record is not in `ends`
    if pairs.size == 0:
        return np.zeros(ends.size, dtype=np.int64)
    inside = _sums(is_comma, pairs)[0::2]  # [opener, closer) of each pair
    record = np.searchsorted(ends, pairs[0::2])
    kept = record < ends.size
    return np.bincount(record[kept], weights=inside[kept], minlength=ends.size).astype(np.int64)


def _quotes_at_field_edges(data: np.ndarray, quotes: np.ndarray) -> bool:
    """Whether every quote opens a field, closes one, or is a doubled quote inside one.

    Then quote parity alone tells what is quoted; a stray quote (`5" screen`) or text after a
    closing quote is not, and the `csv` module reads that file instead.
    """
    size = data.size
    openers, closers = quotes[0::2], quotes[1::2]
    before = np.where(openers > 0, data[np.maximum(openers - 1, 0)], _NEWLINE)
    doubled_open = np.zeros(openers.size, dtype=bool)
    doubled_open[1:] = openers[1:] - 1 == closers[: openers.size - 1]
    open_ok = (before == _COMMA) | (before == _NEWLINE) | doubled_open
    for index in np.flatnonzero(~open_ok & (before == _SPACE)).tolist():
        position = int(openers[index]) - 1
        while position >= 0 and data[position] == _SPACE:  # skipped before a field, as pandas does
            position -= 1
        open_ok[index] = position < 0 or data[position] in (_COMMA, _NEWLINE)
    if not open_ok.all():
        return False
    after = np.where(closers + 1 < size, data[np.minimum(closers + 1, size - 1)], _NEWLINE)
    doubled_close = np.zeros(closers.size, dtype=bool)
    paired = min(closers.size, openers.size - 1)
    doubled_close[:paired] = openers[1 : paired + 1] == closers[:paired] + 1
    close_ok = (after == _COMMA) | (after == _NEWLINE) | (after == _CARRIAGE_RETURN) | doubled_close
    return bool(close_ok.all())


def _unclosed_quote(quotes: np.ndarray) -> int:
    """Byte offset of the quote that opens the field left open at the end of the file.

    Quote k (0-based) opens a field when k is even, unless it directly follows quote k-1: then
    the two are a doubled quote inside the field. The last true opener is the unclosed one.
    """
    openers = np.arange(0, quotes.size, 2)
    true_open = np.ones(openers.size, dtype=bool)
    true_open[1:] = quotes[openers[1:]] - 1 != quotes[openers[1:] - 1]
    return int(quotes[openers[true_open][-1]])


def _non_blank(raw: bytes, starts: np.ndarray, ends: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """Records that are not blank (only spaces, tabs, a carriage return): pandas skips those."""
    keep = np.ones(starts.size, dtype=bool)
    for index in np.flatnonzero(fields == 1).tolist():
        if not raw[starts[index] : ends[index]].strip(_BLANK_BYTES):
            keep[index] = False
    return keep


def _good_bytes(raw: bytes, starts: np.ndarray, ends: np.ndarray, good: np.ndarray) -> bytes:
    """The bytes of the well-formed data records, line breaks included."""
    if starts.size == 0 or not good.any():
        return b""
    first = int(starts[0])
    if good.all():
        return raw[first : int(ends[-1]) + 1]
    return b"\n".join(
        raw[int(start) : int(end)] for start, end in zip(starts[good], ends[good], strict=True)
    )


def _split(body: bytes, width: int) -> pd.DataFrame | None:
    """The records as text columns 0..width-1 (pandas' C parser); None if it disagrees."""
    if not body:
        return _empty_frame(width)
    try:
        return pd.read_csv(
            io.BytesIO(body),
            header=None,
            names=list(range(width)),
            dtype=object,
            index_col=False,
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=True,
            encoding="utf-8",
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
        return None


def _empty_frame(width: int) -> pd.DataFrame:
    return pd.DataFrame({index: pd.Series([], dtype=object) for index in range(width)})


def _columns(frame: pd.DataFrame, header: list[str]) -> dict[str, np.ndarray]:
    return {name: frame[index].to_numpy(dtype=object) for index, name in enumerate(header)}


def _count_message(width: int, found: int) -> str:
    hint = "leave a value empty for its default" if found < width else "quote a value with a comma"
    return f"expected {width} fields, found {found} (one per header column; {hint})"


def _check_header(fields: list[str], label: str, line: int, columns: dict[str, bool]) -> list[str]:
    """The header's column names; raises InputError unless they are `columns` (name -> required),
    each at most once, in any order."""
    names = [name.strip() for name in fields]
    issues: list[InputIssue] = []
    allowed = ", ".join(columns)
    seen: set[str] = set()
    for name in names:
        if not name:
            msg = f"a column has no name (allowed: {allowed})"
            issues.append(InputIssue(label, line, None, msg))
        elif name in seen:
            msg = f"duplicate column {name} (each column once)"
            issues.append(InputIssue(label, line, None, msg))
        elif name not in columns:
            issues.append(InputIssue(label, line, name, f"unknown column (allowed: {allowed})"))
        seen.add(name)
    for name, required in columns.items():
        if required and name not in seen:
            message = f"required column is missing (columns: {allowed})"
            issues.append(InputIssue(label, line, name, message))
    if issues:
        raise InputError(issues)
    return names


# --- the csv module, for files with irregular quoting or line ends ----------------------------


def _read_with_csv_module(raw: bytes, label: str, columns: dict[str, bool]) -> Table:
    """Same result as the fast path, record by record with Python's `csv` rules (slower)."""
    text = raw.decode("utf-8")
    issues: list[InputIssue] = []
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    for line, record in _csv_records(text, label, issues):
        if header is None:
            header = _check_header(record, label, line, columns)
        elif len(record) != len(header):
            issues.append(InputIssue(label, line, None, _count_message(len(header), len(record))))
        else:
            rows.append(record)
            lines.append(line)
    if header is None:
        if issues:
            raise InputError(issues)
        raise InputError([InputIssue(label, None, None, "file is empty (expected a header row)")])
    if not rows and not issues:
        raise InputError([InputIssue(label, None, None, "no data rows after the header")])
    frame = pd.DataFrame(rows, columns=list(range(len(header))), dtype=object)
    if frame.empty:
        frame = _empty_frame(len(header))
    file_issues = FileIssues(label)
    if issues:
        file_issues.extend(issues)
    return Table(label, _columns(frame, header), np.array(lines, dtype=np.int64), file_issues)


def _csv_records(
    text: str, label: str, issues: list[InputIssue]
) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of every non-blank record; a parse error ends the file with an issue.

    A blank line (spaces at most) reads as one empty field, and so does a lone `""`: the line's
    text tells them apart (pandas skips only the blank one).
    """
    physical = io.StringIO(text, newline="").readlines()  # the lines the reader counts
    reader = csv.reader(physical, skipinitialspace=True, strict=True)
    line = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            at_end = "end of data" in str(exc)
            message = _UNCLOSED_QUOTE if at_end else _TEXT_AFTER_QUOTE
            issues.append(InputIssue(label, line if at_end else reader.line_num, None, message))
            return
        blank = not record or (
            len(record) == 1
            and not record[0].strip()
            and not any('"' in text for text in physical[line - 1 : reader.line_num])
        )
        if not blank:
            yield line, record
        line = reader.line_num + 1


# --- column checks: each returns the column's values and reports its bad cells ---------------


def _floats(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`float(text)` of each text (Python's own parsing, so values are exactly what the
    row-by-row reader gave; NaN for empty texts) and which texts it refuses."""
    texts = [text or "nan" for text in texts]  # empty cells are the caller's to judge
    refused = np.zeros(len(texts), dtype=bool)
    try:
        return np.fromiter(map(float, texts), dtype=np.float64, count=len(texts)), refused
    except ValueError:
        parsed = np.full(len(texts), math.nan)
        for index, text in enumerate(texts):
            try:
                parsed[index] = float(text)
            except ValueError:
                refused[index] = True
        return parsed, refused


def check_text(table: Table, column: str) -> np.ndarray:
    """A required text column; empty cells are reported."""
    texts = table.text(column)
    rows = np.flatnonzero(texts == "")
    table.report(rows, column, ["is empty (required)"] * rows.size)
    return texts


def check_number(
    table: Table, column: str, *, minimum: float, strict: bool, default: float | None = None
) -> np.ndarray:
    """A number column (> or >= `minimum`; empty is `default`, or an issue without one)."""
    if column not in table.cells:
        return np.full(table.rows, math.nan if default is None else default)
    codes, texts = table.distinct(column)
    values, refused = _floats(texts)
    with np.errstate(invalid="ignore"):
        in_range = np.isfinite(values) & (values > minimum if strict else values >= minimum)
    bound = f"a number {'>' if strict else '>='} {minimum:g}"
    messages: dict[int, list[str]] = {}
    for index, text in enumerate(texts):
        if not text:
            if default is None:
                messages[index] = ["is empty (required)"]
            values[index] = math.nan if default is None else default
        elif refused[index]:
            messages[index] = [f"'{text}' is not a number (expected {bound})"]
        elif not in_range[index]:
            messages[index] = [f"{text} is out of range (expected {bound})"]
    table.report_distinct(column, codes, messages)
    return values[codes]


def check_integer(
    table: Table,
    column: str,
    *,
    minimum: int,
    maximum: int | None = None,
    default: int | None = None,
) -> np.ndarray:
    """A whole-number column in minimum..maximum, values held as floats (as `float()` read them)."""
    if column not in table.cells:
        return np.full(table.rows, math.nan if default is None else default)
    allowed = f"a whole number {minimum}..{maximum}" if maximum else f"a whole number >= {minimum}"
    codes, texts = table.distinct(column)
    values, refused = _floats(texts)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.floor(values) == values)
        in_range = values >= minimum
        if maximum is not None:
            in_range &= values <= maximum
    messages: dict[int, list[str]] = {}
    for index, text in enumerate(texts):
        if not text:
            if default is None:
                messages[index] = [f"is empty (required: {allowed})"]
            values[index] = math.nan if default is None else default
        elif refused[index]:
            messages[index] = [f"'{text}' is not a whole number (expected {allowed})"]
        elif not whole[index]:
            messages[index] = [f"{text} is not a whole number (expected {allowed})"]
        elif not in_range[index]:
            messages[index] = [f"{text} is out of range (expected {allowed})"]
    table.report_distinct(column, codes, messages)
    return values[codes]


def check_boolean(table: Table, column: str) -> np.ndarray:
    """A yes/no column (empty means no)."""
    if column not in table.cells:
        return np.zeros(table.rows, dtype=bool)
    return check_each_distinct(table, column, _yes_no) == True  # noqa: E712 (elementwise)


def _yes_no(text: str) -> tuple[bool | None, list[str]]:
    word = text.casefold()
    if not word or word in FALSE_WORDS:
        return False, []
    if word in TRUE_WORDS:
        return True, []
    return None, [f"'{text}' is not a yes/no value (allowed: {BOOL_ALLOWED})"]


def check_each_distinct(
    table: Table, column: str, parse: Callable[[str], tuple[T | None, list[str]]]
) -> np.ndarray:
    """A column whose distinct texts are parsed once each: `parse(text)` -> (value, messages).

    Returns the values (an object array; None where the column is absent) and reports each
    message on every row holding that text.
    """
    if column not in table.cells:
        return np.full(table.rows, None, dtype=object)
    codes, texts = table.distinct(column)
    parsed = [parse(text) for text in texts]
    values = np.empty(len(parsed), dtype=object)
    values[:] = [value for value, _ in parsed]
    table.report_distinct(
        column, codes, {index: found for index, (_, found) in enumerate(parsed) if found}
    )
    return values[codes]


def check_unique(table: Table, column: str, texts: np.ndarray) -> list[InputIssue]:
    """Issues for non-empty `texts` (the column's) used on an earlier row; returned, not
    reported, as they follow every row's own issues."""
    repeated = pd.Series(texts, dtype=object).duplicated().to_numpy(dtype=bool) & (texts != "")
    if not repeated.any():
        return []
    first_line = dict(zip(texts[~repeated].tolist(), table.lines[~repeated].tolist(), strict=True))
    issues = []
    for row in np.flatnonzero(repeated).tolist():
        value = texts[row]
        first = first_line[value]
        message = f"'{value}' is used twice (first on line {first}); names must be unique"
        issues.append(InputIssue(table.label, int(table.lines[row]), column, message))
    return issues


# --- models from checked columns --------------------------------------------------------------


def whole_numbers(values: np.ndarray) -> list[int]:
    """Checked whole numbers held as floats -> Python ints (exact, however large)."""
    if values.size and np.abs(values).max() < 2**53:
        return values.astype(np.int64).tolist()
    return [int(value) for value in values.tolist()]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Cyclic garbage collection off while a million small objects are built.

    None of them can form a cycle, yet each collection would walk them all again: pausing
    halves the time to build the models of a large file.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_IMMUTABLE = (type(None), bool, int, float, str, tuple, frozenset)


def build_checked(model: type[M], columns: dict[str, list[Any]]) -> list[M]:
    """One `model` per row of `columns` (field -> values), from values the checks above accepted.

    pydantic would validate every row again, at about 3 µs and 1 KiB a row: too slow and too big
    for a million rows. The values already have the fields' types and meet their constraints, so
    each model is set up as `BaseModel.model_construct(fields_set, **row)` does it (fields not
    given take their immutable defaults), minus its per-field alias handling. The first row is
    built both ways; if they differ (a pydantic that works otherwise, a default that is not a
    constant), every row is validated instead.
    """
    fields = model.model_fields
    defaults = {
        name: info.default
        for name, info in fields.items()
        if name not in columns and info.default_factory is None
    }
    constant = all(isinstance(value, _IMMUTABLE) for value in defaults.values())
    keys = tuple(fields)
    full = [columns[name] if name in columns else repeat(defaults.get(name)) for name in keys]
    rows = zip(*full, strict=False)  # defaults repeat without end
    given = tuple(columns)
    first = next(zip(*columns.values(), strict=True), None)
    if first is None:
        return []
    fields_set = set(given)
    new, set_attribute = object.__new__, object.__setattr__

    def construct(values: tuple[Any, ...]) -> M:
        instance = new(model)
        set_attribute(instance, "__dict__", dict(zip(keys, values, strict=True)))
        set_attribute(instance, "__pydantic_fields_set__", fields_set)
        set_attribute(instance, "__pydantic_extra__", None)
        set_attribute(instance, "__pydantic_private__", None)
        return instance

    validated = model.model_validate(dict(zip(given, first, strict=True)), strict=True)
    with gc_paused():
        if not constant or construct(next(rows)).__getstate__() != validated.__getstate__():
            rest = zip(*columns.values(), strict=True)
            return [model.model_validate(dict(zip(given, row, strict=True))) for row in rest]
        return [validated, *map(construct, rows)]

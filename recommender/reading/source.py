"""Bytes or a path in, text or a parsed document out: the one place every input is decoded.

Every reader (CSV tables, catalog JSON/YAML, plan JSON, scenario files) goes through these
functions, so an unreadable file, a byte that is not UTF-8, broken JSON/YAML or a duplicated key
reads the same everywhere: `file:line: problem (what is allowed)` as an `InputIssue`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from recommender.errors import InputError, InputIssue

Source = str | Path | bytes
"""What every reader accepts: the file's bytes (an upload) or its path."""


def source_label(source: Source, default: str) -> str:
    """The name messages use for `source`: a path's file name, else `default`."""
    if isinstance(source, bytes):
        return default
    return Path(source).name or default


def read_bytes(source: Source, label: str) -> bytes:
    """The raw bytes of `source`; a path that cannot be read is an InputError, not a traceback."""
    if isinstance(source, bytes):
        return source
    try:
        return Path(source).read_bytes()
    except FileNotFoundError:
        message = "file not found"
    except IsADirectoryError:
        message = "is a directory, not a file"
    except OSError as exc:
        message = f"cannot read: {exc.strerror or exc}"
    raise InputError([InputIssue(label, None, None, message)])


def decode_utf8(raw: bytes, label: str) -> str:
    """UTF-8 text (a leading byte order mark is dropped); names the line of the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = f"byte 0x{raw[exc.start]:02x} is not valid UTF-8 (save the file as UTF-8)"
        raise InputError([InputIssue(label, line, None, message)]) from None


def read_text(source: Source, label: str, expected: str | None = None) -> str:
    """The text of `source`, read and decoded as UTF-8.

    With `expected` (what the file should be, e.g. "the output of `nvidia-smi mig -lgi`"), text
    that cannot be that is refused up front, naming it: empty, binary (a NUL byte) or larger than
    any capture. Captures come from other tools and are often truncated or simply the wrong file.
    """
    raw = read_bytes(source, label)
    if expected is not None:
        problem = None
        if len(raw) > MAX_CAPTURE_BYTES:
            problem = f"file is {len(raw)} bytes, more than any such file"
        elif b"\x00" in raw:
            problem = "binary data, not text"
        elif not raw.strip():
            problem = "empty"
        if problem is not None:
            raise InputError([InputIssue(label, None, None, f"{problem} (expected {expected})")])
    return decode_utf8(raw, label)


MAX_CAPTURE_BYTES = 200 * 1024 * 1024
"""A capture (kubectl listing, nvidia-smi table) larger than this is not one we can use."""


def _expecting(expected: str | None) -> str:
    return "" if expected is None else f"; expected {expected}"


# --- JSON --------------------------------------------------------------------------------------


def parse_json(source: Source, label: str, expected: str | None = None) -> Any:
    """The JSON document in `source`; syntax errors and duplicated keys are InputErrors.

    `json` keeps the last of two equal keys without a word; like a duplicated CSV column, that
    silently drops data, so it is refused, naming the line of the second key. `expected` (what
    the file should be) is checked as `read_text` does and named in syntax errors.
    """
    text = read_text(source, label, expected)
    duplicated = False

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicated
        document = dict(pairs)
        if len(document) != len(pairs):
            duplicated = True
        return document

    try:
        document = json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (column {exc.colno}{_expecting(expected)})"
        raise InputError([InputIssue(label, exc.lineno, None, message)]) from None
    except RecursionError:
        message = f"not valid JSON: nested too deeply{_expecting(expected)}"
        raise InputError([InputIssue(label, None, None, message)]) from None
    if duplicated:
        raise InputError(
            [
                InputIssue(label, line, None, f"duplicate key {key} (each key once per object)")
                for line, key in _duplicate_json_keys(text)
            ]
        )
    return document


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:]')


def _duplicate_json_keys(text: str) -> list[tuple[int, str]]:
    """(line, key as written) of every key repeated within its object, in file order.

    Only called once `json` has accepted the text and a duplicate is known to exist, so a plain
    token walk is exact: strings and brackets are the only tokens that matter for keys.
    """
    found: list[tuple[int, str]] = []
    objects: list[set[str] | None] = []  # one entry per open bracket; None for arrays
    last_string: re.Match[str] | None = None
    for token in _JSON_TOKEN.finditer(text):
        kind = token.group()
        if kind in "{[":
            objects.append(set() if kind == "{" else None)
        elif kind in "}]":
            objects.pop()
        elif kind == ":":
            keys = objects[-1] if objects else None
            if keys is not None and last_string is not None:
                key = json.loads(last_string.group())
                if key in keys:
                    line = text.count("\n", 0, last_string.start()) + 1
                    found.append((line, last_string.group()))
                keys.add(key)
        else:
            last_string = token
    return found


# --- YAML --------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that records keys repeated in one mapping (plain YAML keeps the last)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                self.duplicates.append((key_node.start_mark.line + 1, key_node.value))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(source: Source, label: str) -> Any:
    """The YAML document in `source`, loaded safely (plain data only, never Python objects)."""
    return parse_yaml_lines(source, label)[0]


class LineMap:
    """Line numbers of a YAML document's values, by path of keys and list indices, so checks of
    the parsed data can name the line of what they refuse."""

    def __init__(self, offset: int = 0) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        self.offset = offset

    def line(self, *path: Any) -> int | None:
        """The line of the deepest known value on `path` (the document's first line when none)."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found + self.offset
        return None

    def record(self, node: yaml.Node, path: tuple[Any, ...] = ()) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    self.lines[(*path, key.value)] = key.start_mark.line + 1
                    self.record(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.record(item, (*path, index))


def parse_yaml_lines(
    source: Source, label: str, expected: str | None = None, line_offset: int = 0
) -> tuple[Any, LineMap]:
    """The YAML document in `source` and the line of each of its values.

    `line_offset` shifts every line named, for a document embedded in another file (a ConfigMap's
    `config.yaml` block); `expected` is checked as `read_text` does and named in syntax errors.
    """
    text = read_text(source, label, expected)
    lines = LineMap(line_offset)
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        document = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
        line = mark.line + 1 + line_offset if mark is not None else None
        where = f" (column {mark.column + 1}{_expecting(expected)})" if mark is not None else ""
        message = f"not valid YAML: {problem}{where}"
        raise InputError([InputIssue(label, line, None, message)]) from None
    except RecursionError:
        message = f"not valid YAML: nested too deeply{_expecting(expected)}"
        raise InputError([InputIssue(label, None, None, message)]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise InputError(
            [
                InputIssue(
                    label,
                    line + line_offset,
                    None,
                    f"duplicate key {key} (each key once per mapping)",
                )
                for line, key in sorted(loader.duplicates)
            ]
        )
    if node is not None:
        lines.record(node)
    return document, lines


def is_yaml_name(label: str) -> bool:
    """Whether a file name says YAML (`.yaml`/`.yml`); everything else is read as JSON."""
    return Path(label).suffix.lower() in (".yaml", ".yml")

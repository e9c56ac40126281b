"""Captured cluster files (bytes, text or a path) read into text, JSON or YAML, with clear errors.

Captures come from other tools and are often truncated, binary or simply the wrong file; every
reader here turns those into `InputError`s that name the file (and the line when there is one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from recommender.errors import InputError, InputIssue

Source = str | bytes | Path
# A capture larger than this is not an nvidia-smi table or a kubectl listing we can use.
MAX_CAPTURE_BYTES = 200 * 1024 * 1024


def fail(
    label: str, message: str, line: int | None = None, column: str | None = None
) -> InputError:
    """One-issue `InputError`, for the many readers that stop at the first structural problem."""
    return InputError([InputIssue(label, line, column, message)])


def source_label(source: Source, label: str | None) -> str:
    if label:
        return label
    if isinstance(source, Path):
        return source.name
    return "<input>"


def read_text(source: Source, label: str | None = None, expected: str = "a text file") -> str:
    """The text of `source`: a Path is read, bytes are decoded as UTF-8, str is taken as is.

    Empty and binary inputs are errors naming what was expected instead.
    """
    name = source_label(source, label)
    if isinstance(source, Path):
        try:
            data: bytes | str = source.read_bytes()
        except FileNotFoundError:
            raise fail(name, "file not found") from None
        except OSError as exc:
            raise fail(name, f"cannot read the file: {exc.strerror}") from None
    else:
        data = source
    if isinstance(data, bytes):
        if len(data) > MAX_CAPTURE_BYTES:
            raise fail(name, f"file is {len(data)} bytes, more than any capture we read")
        if b"\x00" in data:
            raise fail(name, f"binary data, not text (expected {expected})")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            msg = f"not valid UTF-8 at byte {exc.start} (expected {expected})"
            raise fail(name, msg) from None
    else:
        text = data
        if "\x00" in text:
            raise fail(name, f"binary data, not text (expected {expected})")
    if not text.strip():
        raise fail(name, f"empty (expected {expected})")
    return text


def read_json(source: Source, label: str | None = None, expected: str = "JSON") -> Any:
    name = source_label(source, label)
    text = read_text(source, name, expected)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(name, f"not valid JSON: {exc.msg} (expected {expected})", exc.lineno) from None
    except RecursionError:
        raise fail(name, f"JSON nested too deeply (expected {expected})") from None


class LineMap:
    """Line numbers of the values in a YAML document, by path of keys and list indices."""

    def __init__(self, offset: int = 0) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        self.offset = offset

    def line(self, *path: Any) -> int | None:
        """The line of the deepest known value on `path` (the document's line when none)."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found + self.offset
        return None


def _record_lines(node: yaml.Node, path: tuple[Any, ...], lines: LineMap) -> None:
    lines.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines.lines[(*path, key.value)] = key.start_mark.line + 1
                _record_lines(value, (*path, key.value), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines)


def load_yaml(text: str, label: str, expected: str, line_offset: int = 0) -> tuple[Any, LineMap]:
    """One YAML document and the line of each of its values (shifted by `line_offset`)."""
    lines = LineMap(line_offset)
    try:
        documents = list(yaml.safe_load_all(text))
        nodes = list(yaml.compose_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1 + line_offset
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise fail(label, f"not valid YAML: {problem} (expected {expected})", line) from None
    except RecursionError:
        raise fail(label, f"YAML nested too deeply (expected {expected})") from None
    documents = [d for d in documents if d is not None]
    nodes = [n for n in nodes if n is not None]
    if len(documents) != 1:
        what = "no document" if not documents else f"{len(documents)} documents"
        raise fail(label, f"{what}; expected one ({expected})")
    _record_lines(nodes[0], (), lines)
    return documents[0], lines


def items_of_list(data: Any, label: str, kind: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, object) of a `kubectl get <kind> -o json` listing, or of one object of that kind."""
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        items = data["items"]
    elif isinstance(data, dict) and data.get("kind") == kind:
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        got = data.get("kind") if isinstance(data, dict) else type(data).__name__
        msg = (
            f"expected the output of `kubectl get {kind.lower()}s -o json` "
            f"(a List with `items`), got {got!r}"
        )
        raise fail(label, msg)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise fail(label, f"items[{index}] is not an object", column=f"items[{index}]")
        yield index, item

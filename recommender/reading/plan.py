"""A plan JSON file (bytes or a path) as a JSON object, for `mig-recommender check`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recommender.errors import InputError, InputIssue
from recommender.reading.source import Source, parse_json


def read_plan_json(source: Source, label: str | None = None) -> dict[str, Any]:
    """The plan file as a JSON object; anything unreadable is an InputError.

    Only syntax is checked here: whether the object fits the plan schema is for `validate_plan`
    to report as violations. Messages name a path as given (`label` overrides; bytes are
    `plan.json`).
    """
    name = label or (str(source) if isinstance(source, str | Path) else "plan.json")
    document = parse_json(source, name)
    if not isinstance(document, dict):
        message = f"expected a JSON object (a plan), found a JSON {_json_kind(document)}"
        raise InputError([InputIssue(name, None, None, message)])
    return document


def _json_kind(value: Any) -> str:
    kinds = {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)

"""The MIG catalog: the built-in file, optionally extended by a user's file (bytes or a path).

A user file has the built-in file's schema (JSON, or YAML when its name ends in .yaml/.yml); its
models are added to the built-in ones or replace those with the same key.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import ValidationError

from recommender.catalog import BUILTIN_CATALOG_PATH, Catalog
from recommender.errors import InputError, InputIssue
from recommender.reading.source import Source, is_yaml_name, parse_json, parse_yaml, source_label

_NOT_A_CATALOG = "expected an object with a `models` mapping (see data/mig_catalog.json)"


def load_catalog(source: Source | None = None, label: str | None = None) -> Catalog:
    """The built-in catalog, with the models of `source` (a user catalog) added or replacing
    built-in ones. `label` names the file in messages and says JSON or YAML by its suffix; it
    defaults to the path's file name (`catalog.json` for bytes)."""
    if source is None:
        return _builtin_catalog()
    name = label or source_label(source, "catalog.json")
    user = _validate_catalog(_read_document(source, name), name)
    builtin = _builtin_document()
    merged = {
        **builtin,
        "models": {**builtin["models"], **{k: m.model_dump() for k, m in user.models.items()}},
    }
    return _validate_catalog(merged, name)


def _read_document(source: Source, label: str) -> dict[str, Any]:
    """The catalog file as a mapping; anything else is an InputError."""
    document = parse_yaml(source, label) if is_yaml_name(label) else parse_json(source, label)
    if not isinstance(document, dict):
        raise InputError([InputIssue(label, None, None, _NOT_A_CATALOG)])
    return document


def _validate_catalog(document: dict[str, Any], label: str) -> Catalog:
    try:
        return Catalog.model_validate(document)
    except ValidationError as exc:
        issues = [
            InputIssue(label, None, ".".join(str(p) for p in err["loc"]) or None, err["msg"])
            for err in exc.errors()
        ]
        raise InputError(issues) from None


@cache
def _builtin_document() -> dict[str, Any]:
    """The built-in catalog file as read (shared: callers copy before changing it)."""
    return _read_document(BUILTIN_CATALOG_PATH, BUILTIN_CATALOG_PATH.name)


@cache
def _builtin_catalog() -> Catalog:
    return _validate_catalog(_builtin_document(), BUILTIN_CATALOG_PATH.name)

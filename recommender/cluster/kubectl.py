"""The shape of a `kubectl get <kind> -o json` listing, shared by the node and pod importers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from recommender.errors import InputError


def items_of_list(data: Any, label: str, kind: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, object) of a `kubectl get <kind> -o json` listing, or of one object of that kind.

    kubectl writes a `List` with `items`; `kubectl get node NAME -o json` writes the one object.
    """
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        items = data["items"]
    elif isinstance(data, dict) and data.get("kind") == kind:
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        got = data.get("kind") if isinstance(data, dict) else type(data).__name__
        message = (
            f"expected the output of `kubectl get {kind.lower()}s -o json` "
            f"(a List with `items`), got {got!r}"
        )
        raise InputError.single(label, message)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError.single(
                label, f"items[{index}] is not an object", column=f"items[{index}]"
            )
        if item.get("kind", kind) != kind:
            message = (
                f"a {item.get('kind')!r}, not a {kind}: expected the output of "
                f"`kubectl get {kind.lower()}s -o json`"
            )
            raise InputError.single(label, message, column=f"items[{index}]")
        yield index, item

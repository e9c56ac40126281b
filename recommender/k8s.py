"""Kubernetes name rules, and the one mapping from our names (pools, nodes, workloads) to valid,
collision-free Kubernetes names.

Pool and workload names are free text in our inputs (spaces, unicode, any length); every export
that writes a label value, a node name or an object name passes its names through `unique_names`.
The rules are Kubernetes' own (k8s.io/apimachinery/pkg/util/validation, documented at
https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
and https://kubernetes.io/docs/concepts/overview/working-with-objects/names/):

- label value: empty, or at most 63 characters, alphanumeric at both ends, `-`, `_`, `.` inside;
- DNS-1123 label (namespaces, Service names, our workload objects): at most 63 characters,
  lowercase alphanumeric or `-`, alphanumeric at both ends;
- DNS-1123 subdomain (node names, ConfigMap names): at most 253 characters, DNS labels joined
  by `.`.

The mapping keeps a name that is valid already, and makes any other one valid by replacing what
the rule does not allow with `-` and appending a short hash of the original, so that names
differing only in case or in dropped characters stay distinct.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from enum import Enum

LABEL_VALUE_MAX = 63
DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
# Verbatim from k8s.io/apimachinery/pkg/util/validation/validation.go (labelValueFmt,
# dns1123LabelFmt, dns1123SubdomainFmt).
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_HASH_LENGTH = 6


def is_label_value(value: str) -> bool:
    """Kubernetes label value syntax (an empty value is valid)."""
    return len(value) <= LABEL_VALUE_MAX and LABEL_VALUE.fullmatch(value) is not None


def is_dns_label(value: str) -> bool:
    """DNS-1123 label: a namespace or a Deployment name."""
    return 0 < len(value) <= DNS_LABEL_MAX and DNS_LABEL.fullmatch(value) is not None


def is_dns_subdomain(value: str) -> bool:
    """DNS-1123 subdomain: a node name, a ConfigMap name."""
    return 0 < len(value) <= DNS_SUBDOMAIN_MAX and DNS_SUBDOMAIN.fullmatch(value) is not None


class Rule(Enum):
    """What a mapped name must be."""

    LABEL_VALUE = "label value"
    DNS_LABEL = "DNS-1123 label"
    DNS_SUBDOMAIN = "DNS-1123 subdomain"

    @property
    def check(self) -> Callable[[str], bool]:
        return {
            Rule.LABEL_VALUE: is_label_value,
            Rule.DNS_LABEL: is_dns_label,
            Rule.DNS_SUBDOMAIN: is_dns_subdomain,
        }[self]

    @property
    def max_length(self) -> int:
        return DNS_SUBDOMAIN_MAX if self is Rule.DNS_SUBDOMAIN else LABEL_VALUE_MAX


def short_hash(text: str, salt: int = 0) -> str:
    """A few hex digits of SHA-256 of `text`: the part of a mapped name that keeps it distinct."""
    data = text.encode("utf-8", "surrogatepass") + (b"#%d" % salt if salt else b"")
    return hashlib.sha256(data).hexdigest()[:_HASH_LENGTH]


def _cleaned(text: str, rule: Rule) -> str:
    """`text` with every character `rule` forbids replaced by `-`, runs of `-` merged, ends
    trimmed to alphanumerics."""
    if rule is Rule.LABEL_VALUE:
        value = re.sub(r"[^A-Za-z0-9_.-]", "-", text)
        ends = "-_."
    else:
        value = re.sub(
            r"[^a-z0-9-]" if rule is Rule.DNS_LABEL else r"[^a-z0-9.-]", "-", text.lower()
        )
        value = re.sub(r"-*\.[-.]*", ".", value) if rule is Rule.DNS_SUBDOMAIN else value
        ends = "-."
    return re.sub(r"-{2,}", "-", value).strip(ends)


def safe_name(text: str, rule: Rule, max_length: int | None = None, salt: int = 0) -> str:
    """`text` if it is valid under `rule` (and at most `max_length`), else a valid name made
    from it: its allowed characters and a hash of the whole original."""
    limit = min(max_length or rule.max_length, rule.max_length)
    if len(text) <= limit and rule.check(text) and not salt:
        return text
    suffix = short_hash(text, salt)
    base = _cleaned(text, rule)[: limit - len(suffix) - 1]
    base = base.rstrip("-_.")
    return f"{base}-{suffix}" if base else ("x" + suffix)[:limit]


def unique_names(names: Iterable[str], rule: Rule, max_length: int | None = None) -> dict[str, str]:
    """{name: valid name}, injective: two names never map to one value.

    Valid names map to themselves; the others get `safe_name`. Should a mapped name still meet
    another (a valid name that happens to look like a mapped one, or a hash collision), the
    later name in sorted order is mapped again with a salted hash until it is free.
    """
    distinct = sorted(set(names))
    mapped: dict[str, str] = {}
    taken: set[str] = set()
    # Names kept as they are come first, so a valid name is never renamed because of another.
    kept = {n for n in distinct if safe_name(n, rule, max_length) == n}
    for name in [*(n for n in distinct if n in kept), *(n for n in distinct if n not in kept)]:
        salt = 0
        value = safe_name(name, rule, max_length)
        while value in taken:
            salt += 1
            value = safe_name(name, rule, max_length, salt)
        mapped[name] = value
        taken.add(value)
    return mapped


def renamed_note(mapping: dict[str, str], what: str) -> str | None:
    """One sentence naming what the mapping changed, for an export's comment and the CLI; None
    when every name was valid as it was."""
    changed = {name: value for name, value in mapping.items() if name != value}
    if not changed:
        return None
    shown = ", ".join(
        f"{_printable(name)!r} -> {value}" for name, value in list(changed.items())[:8]
    )
    more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
    return (
        f"{len(changed)} {what} name(s) are not valid Kubernetes names and were mapped to "
        f"valid, distinct ones: {shown}{more}"
    )


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)

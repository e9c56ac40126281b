"""RESULTS.md is shared by several benchmarks: each owns one section between its own markers.

`replace_section(path, name, text)` rewrites that section in place (or appends it), leaving every
other section as it is, so the benchmarks can run in any order and one at a time.
"""

from __future__ import annotations

from pathlib import Path

NEW_FILE = "# Benchmark results\n"


def markers(name: str) -> tuple[str, str]:
    """The comment lines that open and close section `name` (invisible in rendered Markdown)."""
    return f"<!-- {name}: start -->", f"<!-- {name}: end -->"


def replace_section(path: Path, name: str, text: str) -> None:
    """Put `text` (Markdown, without markers) into section `name` of `path`.

    The section keeps its place when it exists; otherwise it is appended. The file is created
    when missing.
    """
    start, end = markers(name)
    if start in text or end in text:
        raise ValueError(f"section text must not contain the markers of section {name!r}")
    block = f"{start}\n{text.strip()}\n{end}\n"
    current = path.read_text(encoding="utf-8") if path.exists() else NEW_FILE
    if start in current and end in current.split(start, 1)[1]:
        before, rest = current.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        updated = before + block + ("\n" + after if after else "")
    else:
        updated = current.rstrip("\n") + "\n\n" + block
    path.write_text(updated, encoding="utf-8")

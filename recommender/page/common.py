"""Display helpers shared by the page's parts."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from recommender.plan import Unplaced

UNPLACED_COLUMNS = {
    "workload": st.column_config.TextColumn("workload", width="medium"),
    "replicas": st.column_config.NumberColumn("replicas", width="small"),
    "reason": st.column_config.TextColumn("reason", width="large"),
}


# The page's few style rules, in one place:
# - headline numbers a size smaller, so six tiles fit one line at 1280 px (they wrap when not);
# - the uploader's refusal of a file (over the size cap, wrong type) written under the file in
#   red, instead of only in a tooltip: Streamlit renders it as a visually hidden alert;
# - the sidebar a little wider, so the pool table's numbers are not cramped.
PAGE_CSS = """
<style>
[data-testid="stMetricValue"] { font-size: 1.75rem; }
[data-testid="stFileChip"][aria-invalid="true"] { flex-wrap: wrap; height: auto; }
[data-testid="stFileChip"][aria-invalid="true"] span[role="alert"] {
  position: static !important; width: 100% !important; height: auto !important;
  clip: auto !important; clip-path: none !important; overflow: visible !important;
  white-space: normal !important; margin: 0.25rem 0 0 0 !important;
  color: #bd2130; font-size: 0.8rem; line-height: 1.2;
}
section[data-testid="stSidebar"] { min-width: 360px; }
</style>
"""


def page_style() -> None:
    """The style rules above (a style-only st.html takes no room on the page)."""
    st.html(PAGE_CSS)


def md_escape(text: str) -> str:
    """User text (names, messages) made literal inside Streamlit markdown."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>$~:" else c for c in text)


def show_errors(area: Any, title: str, report: str) -> None:
    """A title and a report of input problems (verbatim, one per line); nothing when empty."""
    if report:
        area.error(title)
        area.code(report, language=None)


def show_unplaced(unplaced: list[Unplaced]) -> None:
    """Unplaced replicas with their reasons, as a table."""
    frame = pd.DataFrame([u.model_dump() for u in unplaced])
    st.dataframe(
        # Fields no entry uses (throughput details of count-only workloads) would read `None`.
        frame.dropna(axis=1, how="all"),
        hide_index=True,
        width="stretch",
        column_config=UNPLACED_COLUMNS,
    )

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
    st.dataframe(
        pd.DataFrame([u.model_dump() for u in unplaced]),
        hide_index=True,
        width="stretch",
        column_config=UNPLACED_COLUMNS,
    )

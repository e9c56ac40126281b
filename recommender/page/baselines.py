"""The Baselines tab: the plan next to the simple planners, with what it saves against each."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from recommender.baselines import BASELINE_DISPLAY_NAMES
from recommender.page.common import md_escape, show_unplaced
from recommender.plan import Plan
from recommender.whatif import baseline_comparison, rate_served_share


def render_baselines_tab(plan: Plan, baselines: dict[str, Plan | str]) -> None:
    good = {
        BASELINE_DISPLAY_NAMES.get(k, k): p for k, p in baselines.items() if isinstance(p, Plan)
    }
    table = baseline_comparison(plan, good)
    table["saving"] = [saving_text(row) for row in table.itertuples()]
    # Workloads given as rates: what each planner serves of them (instances are sized, so the
    # replica counts differ by design).
    shares = [rate_served_share(p) for p in [plan, *good.values()]]
    rates = any(share is not None for share in shares)
    if rates:
        table["rate_served"] = shares
    st.dataframe(
        table.drop(columns=["plan_saves_per_hour", "plan_saves_percent"]),
        hide_index=True,
        width="stretch",
        column_order=[
            "planner",
            "cost_per_hour",
            "cost_per_month",
            "gpus_used",
            "replicas_placed",
            "replicas_unplaced",
            *(["rate_served"] if rates else []),
            "saving",
            "note",
        ],
        column_config={
            "planner": st.column_config.TextColumn("planner", width=230 if rates else 170),
            "rate_served": st.column_config.NumberColumn(
                "rate served",
                format="percent",
                width=85,
                help="Share of the throughput workloads' required request rate served.",
            ),
            "cost_per_hour": st.column_config.NumberColumn("$/h", format="dollar", width=95),
            "cost_per_month": st.column_config.NumberColumn("$/month", format="dollar", width=115),
            "gpus_used": st.column_config.NumberColumn("GPUs used", width=85),
            "replicas_placed": st.column_config.NumberColumn("replicas placed", width=115),
            "replicas_unplaced": st.column_config.NumberColumn("unplaced", width=85),
            "saving": st.column_config.TextColumn("optimized plan saves", width=165),
            "note": st.column_config.TextColumn("like for like?", width="large"),
        },
    )
    st.caption(
        "A saving is stated only where it means something: against a baseline that places the "
        "same replicas, or fewer at a higher cost (then it is a floor). Whole GPUs: one replica "
        "per GPU, no MIG. all-balanced: mig-parted's all-balanced layout on every used GPU, "
        "filled greedily."
        + (
            " For workloads given as request rates, replicas are instances the planner sizes: "
            "compare the rate served."
            if rates
            else ""
        )
    )
    for key, result in baselines.items():
        name = BASELINE_DISPLAY_NAMES.get(key, key)
        if isinstance(result, str):
            st.error(md_escape(f"{name} failed: {result}"))
        elif result.unplaced:
            missing = sum(u.replicas for u in result.unplaced)
            with st.expander(f"{md_escape(name)} leaves {missing:,} replicas unplaced"):
                show_unplaced(result.unplaced)


def saving_text(row: Any) -> str:
    """The saving column as people read it: `$12.34/h (46%)`, `-` for the plan itself, `not
    comparable` where the note says why."""
    if row.planner == "Optimized plan":
        return "-"
    if pd.isna(row.plan_saves_per_hour):
        return "not comparable"
    percent = "" if pd.isna(row.plan_saves_percent) else f" ({row.plan_saves_percent:.1f}%)"
    return f"${row.plan_saves_per_hour:,.2f}/h{percent}"

"""The Baselines tab: the plan next to the simple planners, with what it saves against each."""

from __future__ import annotations

import streamlit as st

from recommender.baselines import BASELINE_DISPLAY_NAMES
from recommender.page.common import md_escape, show_unplaced
from recommender.plan import Plan
from recommender.whatif import baseline_comparison


def render_baselines_tab(plan: Plan, baselines: dict[str, Plan | str]) -> None:
    good = {
        BASELINE_DISPLAY_NAMES.get(k, k): p for k, p in baselines.items() if isinstance(p, Plan)
    }
    table = baseline_comparison(plan, good)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "cost_per_hour": st.column_config.NumberColumn("$/h", format="dollar"),
            "cost_per_month": st.column_config.NumberColumn("$/month", format="dollar"),
            "gpus_used": st.column_config.NumberColumn("GPUs used"),
            "replicas_placed": st.column_config.NumberColumn("replicas placed"),
            "replicas_unplaced": st.column_config.NumberColumn("replicas unplaced"),
            "plan_saves_per_hour": st.column_config.NumberColumn(
                "optimized plan saves $/h", format="dollar"
            ),
            "plan_saves_percent": st.column_config.NumberColumn(
                "optimized plan saves %", format="%.1f%%"
            ),
        },
    )
    st.caption(
        "Savings compare costs only: a baseline that leaves replicas out may look cheaper than "
        "it is. Whole GPUs: one replica per GPU, no MIG. all-balanced: mig-parted's "
        "all-balanced layout on every used GPU, filled greedily."
    )
    for key, result in baselines.items():
        name = BASELINE_DISPLAY_NAMES.get(key, key)
        if isinstance(result, str):
            st.error(md_escape(f"{name} failed: {result}"))
        elif result.unplaced:
            missing = sum(u.replicas for u in result.unplaced)
            with st.expander(f"{md_escape(name)} leaves {missing:,} replicas unplaced"):
                show_unplaced(result.unplaced)

"""The Downloads tab: every export of the plan, each made only when its button is pressed."""

from __future__ import annotations

import streamlit as st

from recommender.catalog import Catalog
from recommender.exports import EXPORTS, ROLLOUT_EXPORTS
from recommender.plan import Plan
from recommender.problem import Problem

EXPORT_LABELS = {
    "json": "Plan (JSON)",
    "csv": "Plan (CSV)",
    "mig-parted": "mig-parted config (YAML)",
    "nvidia-smi": "nvidia-smi script",
    "kubernetes": "Kubernetes resources (YAML)",
    "rollout": "Rollout script",
    "waves": "Rollout waves (CSV)",
}


def render_downloads_tab(plan: Plan, problem: Problem, catalog: Catalog) -> None:
    st.caption(
        "Every file is a view of the same plan. The mig-parted config and the nvidia-smi script "
        "name nodes `<pool>-node-<n>`."
    )
    exports = dict(EXPORTS)
    if plan.transition is not None:
        # A re-plan's rollout: per wave cordon, drain, relabel, wait, uncordon; and the waves.
        exports |= ROLLOUT_EXPORTS
    for key, (file_name, mime, export) in exports.items():
        st.download_button(
            f"{EXPORT_LABELS.get(key, key)}: {file_name}",
            data=lambda export=export: export(plan, problem, catalog),
            file_name=file_name,
            mime=mime,
            key=f"download_{key}",
            on_click="ignore",
        )

"""The Layouts tab: every GPU's instances as blocks on its unit axis, filtered and grouped."""

from __future__ import annotations

import streamlit as st

from recommender import charts
from recommender.catalog import Catalog
from recommender.page.common import md_escape
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.whatif import filter_gpus, layout_rows

# Above this many used GPUs identical layouts start grouped.
GROUP_ABOVE_GPUS = 40
MAX_LAYOUT_ROWS = 250


def render_layouts_tab(plan: Plan, problem: Problem, catalog: Catalog) -> None:
    used = [g for g in plan.gpus if g.instances]
    if not used:
        st.info("No GPU hosts an instance in this plan.")
        return
    columns = st.columns(3)
    pools = columns[0].multiselect("Pools", [p.pool for p in problem.pools], key="filter_pools")
    models = sorted({p.gpu_model for p in problem.pools})
    chosen_models = columns[1].multiselect("GPU models", models, key="filter_models")
    workloads = columns[2].multiselect(
        "Workloads", [w.name for w in problem.workloads], key="filter_workloads"
    )
    gpus = filter_gpus(plan, pools, chosen_models, workloads)
    many = len(used) > GROUP_ABOVE_GPUS
    # Keyed by the default, so a big fleet after a small one starts grouped (and back).
    group = st.toggle("Group identical layouts", value=many, key=f"group_layouts_{many}")
    rows = layout_rows(gpus, catalog, group)
    st.caption(
        f"{len(gpus):,} GPUs in {len(rows):,} rows. Each block is a MIG instance at its start "
        "unit: its profile, then its workload (long names shortened so that no two read alike; "
        "hover a block for the full name). The legend under each chart names every colour."
    )
    if len(rows) > MAX_LAYOUT_ROWS:
        st.warning(
            f"Showing the first {MAX_LAYOUT_ROWS} of {len(rows):,} rows; group identical "
            "layouts or filter to see the rest."
        )
        rows = rows[:MAX_LAYOUT_ROWS]
    colors = charts.workload_colors([w.name for w in problem.workloads])
    for model in dict.fromkeys(r.gpu_model for r in rows):
        of_model = [r for r in rows if r.gpu_model == model]
        st.markdown(f"**{md_escape(model)}** ({of_model[0].units} units per GPU)")
        st.altair_chart(charts.layout_chart(of_model, colors), width="stretch")

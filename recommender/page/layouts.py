"""The Layouts tab: every GPU's instances as blocks on its unit axis, filtered and grouped."""

from __future__ import annotations

import streamlit as st

from recommender import charts
from recommender.catalog import Catalog
from recommender.page.common import md_escape
from recommender.plan import Plan, PlanGpu
from recommender.problem import Problem
from recommender.whatif import filter_gpus, gpu_states, layout_rows, released_gpus

# Above this many used GPUs identical layouts start grouped.
GROUP_ABOVE_GPUS = 40
MAX_LAYOUT_ROWS = 250


def render_layouts_tab(
    plan: Plan, problem: Problem, catalog: Catalog, current: list[PlanGpu] | None = None
) -> None:
    """The plan's GPUs; a re-plan's (with `current` or a transition) each marked kept,
    re-carved, new or released, released GPUs drawn empty."""
    used = [g for g in plan.gpus if g.instances]
    states = gpu_states(plan, problem, current)
    if not used and not states:
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
    if not workloads:
        # Released GPUs host nothing after the re-plan: they show (empty) unless a workload
        # filter asks for GPUs hosting something.
        gpus += released_gpus(states, problem, pools, chosen_models)
    many = len(used) > GROUP_ABOVE_GPUS
    # Keyed by the default, so a big fleet after a small one starts grouped (and back).
    group = st.toggle("Group identical layouts", value=many, key=f"group_layouts_{many}")
    rows = layout_rows(gpus, catalog, group, states)
    st.caption(
        f"{len(gpus):,} GPUs in {len(rows):,} rows. Each block is a MIG instance at its start "
        "unit: its profile, then its workload (long names shortened so that no two read alike; "
        "hover a block for the full name). The legend under each chart names every colour."
    )
    if states:
        st.caption(
            "Re-plan: the strip left of each GPU says what the plan does to it. **kept**: same "
            "instances, mig-parted skips it; **re-carved**: drained, then given this layout; "
            "**new**: idle now, carved for the plan; **released**: emptied (drawn empty). "
            "GPUs idle now and after are not drawn."
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

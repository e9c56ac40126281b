"""The headline above the tabs (cost, bound, GPUs, replicas, saving, the independent check) and
the Plan tab (cost by pool, utilization, where each workload runs, solver details)."""

from __future__ import annotations

import streamlit as st

from recommender import charts
from recommender.catalog import Catalog
from recommender.jobs import SolveJob
from recommender.page.common import show_unplaced
from recommender.plan import Plan
from recommender.problem import Problem


def render_headline(job: SolveJob, baselines: dict[str, Plan | str]) -> None:
    """The plan's numbers, read from its summary (every plan the page shows carries one)."""
    plan = job.plan
    assert plan is not None and plan.summary is not None
    summary = plan.summary
    row = st.columns(6)
    row[0].metric("Cost per hour", f"${summary.cost_per_hour:,.2f}")
    row[1].metric("Cost per month", f"${summary.cost_per_month:,.0f}")
    gap = "-" if summary.gap is None else f"{summary.gap:.1%}"
    row[2].metric("Proven lower bound", f"${summary.lower_bound_per_hour:,.2f}", help=f"gap {gap}")
    row[3].metric("GPUs used", f"{summary.gpus_used:,} of {summary.gpus_available:,}")
    row[4].metric("Replicas placed", f"{summary.replicas_placed:,} of {summary.replicas_total:,}")
    whole = baselines.get("whole-gpu")
    if isinstance(whole, Plan) and whole.cost_per_hour > 0:
        saving = whole.cost_per_hour - plan.cost_per_hour
        more = sum(u.replicas for u in whole.unplaced) - summary.replicas_unplaced
        placed_note = f"; it also places {more:,} more replicas" if more > 0 else ""
        row[5].metric(
            "Saving vs whole GPUs",
            f"${saving:,.2f}/h",
            f"{saving / whole.cost_per_hour:.0%}",
            help=f"Against one replica per whole GPU (no MIG){placed_note}. See Baselines.",
        )
    stats = plan.solver
    seconds = f" in {stats.wall_seconds:.1f} s" if stats is not None else ""
    check = (
        "independent check passed"
        if not job.violations
        else f"independent check found {len(job.violations)} problems"
    )
    st.caption(
        f"Plan status: **{plan.status}**{seconds}, gap {gap}; compute use "
        f"{summary.compute_utilization:.0%}, memory use {summary.memory_utilization:.0%}; {check}."
    )
    if job.violations:
        st.error("The plan breaks placement rules; please report this.")
        st.code("\n".join(job.violations[:50]), language=None)
    if plan.unplaced:
        total = sum(u.replicas for u in plan.unplaced)
        st.error(f"{total:,} replicas could not be placed")
        show_unplaced(plan.unplaced)


def render_plan_tab(job: SolveJob, problem: Problem, catalog: Catalog) -> None:
    plan = job.plan
    assert plan is not None
    left, right = st.columns(2)
    with left:
        st.subheader("Cost by pool")
        st.altair_chart(
            charts.cost_by_pool_chart(charts.cost_by_pool_frame(plan, problem)), width="stretch"
        )
    with right:
        st.subheader("Compute and memory use")
        frame = charts.utilization_frame(plan, problem, catalog)
        st.altair_chart(charts.utilization_chart(frame), width="stretch")
    st.subheader("Where each workload runs")
    placement = charts.placement_frame(plan, [w.name for w in problem.workloads])
    pools = [p.pool for p in problem.pools]
    st.altair_chart(charts.placement_chart(placement, pools), width="stretch")
    with st.expander("Solver details"):
        history = charts.progress_frame(job.history)
        if not history.empty:
            st.altair_chart(charts.progress_chart(history), width="stretch")
        if plan.solver is not None:
            st.json(plan.solver.model_dump(), expanded=False)

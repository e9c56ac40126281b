"""The headline above the tabs (cost, bound, GPUs, replicas, saving, the independent check) and
the Plan tab (cost by pool, utilization, where each workload runs, solver details)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from recommender import charts
from recommender.catalog import Catalog
from recommender.page.common import show_unplaced
from recommender.plan import Plan, SolverStats
from recommender.problem import Problem
from recommender.report import format_gap
from recommender.solve import Progress
from recommender.whatif import compare_to_baseline, profile_mix_frame, throughput_table


@dataclass(frozen=True)
class ShownPlan:
    """The plan the page shows: the solve's, or a provisional one while the solve runs."""

    plan: Plan
    violations: list[str]
    history: list[Progress] = field(default_factory=list)
    provisional: bool = False


def render_headline(shown: ShownPlan, baselines: dict[str, Plan | str]) -> None:
    """The plan's numbers, read from its summary (every plan the page shows carries one), as
    tiles that wrap onto a second line on narrow screens instead of cutting numbers off."""
    plan = shown.plan
    assert plan.summary is not None
    summary = plan.summary
    gap = format_gap(summary.gap)
    if shown.provisional:
        st.info(
            "Provisional plan (best fit decreasing, not optimized), shown while the optimized "
            "plan is solved; the page updates itself when it is ready."
        )
    tiles = st.container(horizontal=True, gap="medium")
    tiles.metric("Cost per hour", f"${summary.cost_per_hour:,.2f}", width="content")
    tiles.metric("Cost per month", f"${summary.cost_per_month:,.0f}", width="content")
    tiles.metric(
        "Lower bound" if shown.provisional else f"Lower bound (gap {gap})",
        "-" if shown.provisional else f"${summary.lower_bound_per_hour:,.2f}",
        help="The solver's proof: no plan of these inputs costs less than this.",
        width="content",
    )
    tiles.metric(
        "GPUs used", f"{summary.gpus_used:,} of {summary.gpus_available:,}", width="content"
    )
    tiles.metric(
        "Replicas placed",
        f"{summary.replicas_placed:,} of {summary.replicas_total:,}",
        width="content",
    )
    whole = baselines.get("whole-gpu")
    if isinstance(whole, Plan):
        render_whole_gpu_tile(tiles, plan, whole, summary.replicas_total)
    render_status_line(shown, gap)
    if shown.violations:
        st.error("The plan breaks placement rules; please report this.")
        st.code("\n".join(shown.violations[:50]), language=None)
    if plan.unplaced:
        total = sum(u.replicas for u in plan.unplaced)
        st.error(f"{total:,} replicas could not be placed")
        show_unplaced(plan.unplaced)


def render_whole_gpu_tile(tiles: Any, plan: Plan, whole: Plan, total: int) -> None:
    """The saving against whole GPUs where both place the same replicas (coloured: green when
    the plan is cheaper); otherwise what whole GPUs cost and place, uncoloured."""
    comparison = compare_to_baseline(plan, whole)
    if comparison.like_for_like and comparison.saving_per_hour is not None:
        percent = comparison.saving_percent
        tiles.metric(
            "Saving vs whole GPUs",
            f"${comparison.saving_per_hour:,.2f}/h",
            None if percent is None else f"{percent:.0f}%",
            help="Against one replica per whole GPU (no MIG), placing the same replicas. "
            "See Baselines.",
            width="content",
        )
        return
    tiles.metric(
        "Whole GPUs (no MIG)",
        f"${comparison.cost_per_hour:,.2f}/h",
        f"places {comparison.placed:,} of {total:,}",
        delta_color="off",
        delta_arrow="off",
        help=f"One replica per whole GPU, no MIG: it {comparison.note}. The optimized plan "
        f"places {comparison.plan_placed:,}. See Baselines.",
        width="content",
    )


def render_status_line(shown: ShownPlan, gap: str) -> None:
    plan = shown.plan
    summary = plan.summary
    assert summary is not None
    stats = plan.solver
    seconds = f" in {stats.wall_seconds:.1f} s" if stats is not None else ""
    check = (
        "independent check passed"
        if not shown.violations
        else f"independent check found {len(shown.violations)} problems"
    )
    status = "provisional" if shown.provisional else plan.status
    gap_text = "" if shown.provisional else f", gap {gap}"
    st.caption(
        f"Plan status: **{status}**{seconds}{gap_text}; compute use "
        f"{summary.compute_utilization:.0%}, memory use {summary.memory_utilization:.0%}; {check}."
    )


def render_plan_tab(shown: ShownPlan, problem: Problem, catalog: Catalog) -> None:
    plan = shown.plan
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
    render_throughput(plan)
    st.subheader("Where each workload runs")
    placement = charts.placement_frame(plan, [w.name for w in problem.workloads])
    pools = [p.pool for p in problem.pools]
    st.altair_chart(charts.placement_chart(placement, pools), width="stretch")
    with st.expander("Solver details"):
        history = charts.progress_frame(shown.history)
        if not history.empty:
            st.altair_chart(charts.progress_chart(history), width="stretch")
        if plan.solver is not None:
            if plan.solver.seconds:
                st.caption(time_split_text(plan.solver))
            st.json(plan.solver.model_dump(), expanded=False)


def time_split_text(stats: SolverStats) -> str:
    """Where the time limit went, part by part (the same split the CLI prints)."""
    limit = f" of the {stats.time_limit_seconds:g} s limit" if stats.time_limit_seconds else ""
    parts = ", ".join(f"{part} {seconds:.1f} s" for part, seconds in stats.seconds.items())
    return f"{stats.wall_seconds:.1f} s{limit}: {parts}."


def render_throughput(plan: Plan) -> None:
    """Per workload given as a request rate: the rate it needs against the rate the plan's
    instances serve (from the performance table), and the profile mix chosen for it."""
    table = throughput_table(plan)
    if table.empty:
        return
    st.subheader("Throughput: required vs served")
    left, right = st.columns([3, 2])
    with left:
        st.altair_chart(charts.served_share_chart(table), width="stretch")
    with right:
        st.altair_chart(charts.profile_mix_chart(profile_mix_frame(plan)), width="stretch")
    # No objective is a fact to state, not a missing number (Streamlit would print "None").
    objective = table["latency_ms"].map(lambda ms: "none" if pd.isna(ms) else f"{ms:g}")
    st.dataframe(
        table.assign(latency_ms=objective),
        hide_index=True,
        width="stretch",
        column_config={
            "workload": st.column_config.TextColumn("workload", width="medium"),
            "model": st.column_config.TextColumn("model"),
            "required_rps": st.column_config.NumberColumn("required req/s", format="%,.1f"),
            "served_rps": st.column_config.NumberColumn("served req/s", format="%,.1f"),
            "served_share": st.column_config.NumberColumn("served", format="percent"),
            "latency_ms": st.column_config.TextColumn("latency objective (ms)"),
            "instances": st.column_config.NumberColumn("instances"),
            "profile_mix": st.column_config.TextColumn("profile mix", width="medium"),
        },
    )
    st.caption(
        "An instance serves the best measured throughput of its workload's model on its profile "
        "that meets the workload's latency objective; profiles without a measurement serve "
        "nothing (no interpolation)."
    )

"""Re-planning from the running fleet: the sidebar's current-state upload and budgets, and the
Transition tab (the diff, the rollout waves, dips, and the cost-vs-disruption frontier).

The current state is checked against the inputs when it arrives (an upload that does not load
is listed like every upload's problems, and the last good state stays), and again against the
problem the knobs make on every run (a knob can take away the GPUs it names: then the plan
starts from an empty fleet and the page says why). The frontier is several solves: it runs as
one job of the shared registry (`recommender.jobs.frontier_task`), so the page stays usable and
another session asking for the same frontier shares it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from recommender import charts
from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.frontier import DEFAULT_POINTS, FrontierPoint
from recommender.jobs import FrontierResult, SolveJob, frontier_key, frontier_task
from recommender.page.common import md_escape
from recommender.page.state import (
    SAMPLE_CURRENT,
    LoadedInputs,
    commit_inputs,
    first_sight,
    notice,
    over_upload_cap,
)
from recommender.plan import Plan, PlanGpu
from recommender.problem import Problem
from recommender.reading.current import load_current
from recommender.report import format_gap
from recommender.solve import SolveOptions
from recommender.summary import inputs_digest
from recommender.whatif import (
    MAX_UPLOAD_MB,
    dip_table,
    extra_gpus_text,
    move_table,
    wave_table,
)

FRONTIER_POINTS = DEFAULT_POINTS
# The frontier's solves share this many times the page's solver time limit.
FRONTIER_TIME_FACTOR = 3.0
SOLVED_PLAN = 0  # the frontier pick meaning "the plan solved with the sidebar's budgets"


@dataclass(frozen=True)
class Replan:
    """What the page re-plans from: the running fleet (as loaded for this problem) and budgets."""

    current: list[PlanGpu]
    max_recarve: int | None = None
    max_moves: int | None = None
    wave_size: int = 1


# --- the sidebar: current state and budgets ----------------------------------------------------


def render_current_state(inputs: LoadedInputs) -> None:
    """The running-fleet section of the sidebar: its upload, where the state came from, the
    sample and clear buttons, and (with a state) the disruption budgets."""
    ss = st.session_state
    st.header("Running fleet")
    upload = st.file_uploader(
        "Current state (optional: plan JSON or plan CSV)",
        type=["json", "csv"],
        key=f"upload_current_{ss.current_version}",
        max_upload_size=MAX_UPLOAD_MB,
        help="The fleet as it runs now, in this tool's plan JSON (only `gpus` is read) or plan "
        "CSV. The plan then changes as little as its objective allows, and comes with a rollout.",
    )
    take_current_upload(upload, inputs)
    if ss.current_file is None:
        st.caption("None: plans start from an empty fleet.")
    else:
        st.caption(md_escape(f"Re-planning from: {ss.current_source}."))
    st.button(
        "Try re-planning from a running fleet",
        on_click=load_sample_current,
        help="The sample data, with the sample fleet as it might run today: every GPU carved "
        "all-balanced, replicas placed first fit (data/current.json).",
    )
    if ss.current_file is None:
        return
    st.button("Clear current state", on_click=clear_current)
    st.caption("Disruption budgets (empty: no limit)")
    budgets = (
        (
            "Max GPUs re-carved",
            "max_recarve",
            "GPUs hosting replicas now that may get a different layout.",
        ),
        (
            "Max replicas moved",
            "max_moves",
            "Replicas placed anywhere but on their current instance of a kept GPU.",
        ),
    )
    for column, (label, key, meaning) in zip(st.columns(len(budgets)), budgets, strict=True):
        column.number_input(
            label, min_value=0, step=1, key=key, placeholder="no limit", help=meaning
        )
    st.number_input(
        "Wave size (nodes per rollout wave)",
        min_value=1,
        step=1,
        key="wave_size",
    )


def take_current_upload(upload: Any, inputs: LoadedInputs) -> None:
    """A new current-state file (each once) becomes the state when it loads for the inputs;
    otherwise its problems are listed and the last good state stays. Removing a rejected file
    from the uploader clears its problems."""
    ss = st.session_state
    if upload is None:
        ss.current_upload_errors = ""
        return
    if not first_sight(upload):
        return
    if refused := over_upload_cap(upload):
        ss.current_upload_errors = refused
        return
    data = upload.getvalue()
    try:
        load_current(data, inputs.problem, inputs.catalog, upload.name)
    except InputError as exc:
        ss.current_upload_errors = exc.report()
        return
    _set_current((upload.name, data), f"uploaded {upload.name}")
    notice("success", f"Current state loaded: {upload.name}")


def _set_current(file: tuple[str, bytes] | None, source: str) -> None:
    ss = st.session_state
    ss.current_file = file
    ss.current_source = source
    ss.current_upload_errors = ""
    ss.frontier_asked = None


def load_sample_current() -> None:
    """The sample data and its running fleet (button callback); opens the Transition tab."""
    from recommender.page.state import sample_inputs

    ss = st.session_state
    commit_inputs(sample_inputs())
    ss.current_version += 1  # empties the uploader
    _set_current((SAMPLE_CURRENT.name, SAMPLE_CURRENT.read_bytes()), "sample current.json")
    ss.page_tab = "Transition"
    notice(
        "success",
        "The sample fleet as it runs today (all-balanced, replicas placed first fit) is the "
        "current state: the plan now changes it as little as pays.",
    )


def clear_current() -> None:
    """Back to planning from an empty fleet (button callback)."""
    ss = st.session_state
    ss.current_version += 1
    _set_current(None, "")
    if ss.get("page_tab") == "Transition":
        ss.page_tab = "Plan"
    notice("success", "Current state cleared: plans start from an empty fleet.")


def resolve_replan(problem: Problem, catalog: Catalog) -> tuple[Replan | None, str]:
    """The re-plan for the problem the page solves (after the knobs), or None; and the problems
    when the state no longer fits it (the plan then starts from an empty fleet)."""
    ss = st.session_state
    if ss.current_file is None:
        return None, ""
    label, data = ss.current_file
    key = (hashlib.sha256(data).hexdigest(), inputs_digest(problem, catalog))
    cached = ss.get("current_cache")
    if cached is not None and cached[0] == key:
        gpus = cached[1]
    else:
        try:
            gpus = load_current(data, problem, catalog, label)
        except InputError as exc:
            return None, exc.report()
        ss.current_cache = (key, gpus)
    return (
        Replan(
            current=gpus,
            max_recarve=_budget(ss.get("max_recarve")),
            max_moves=_budget(ss.get("max_moves")),
            wave_size=max(1, int(ss.get("wave_size") or 1)),
        ),
        "",
    )


def _budget(value: object) -> int | None:
    return None if value is None else max(0, int(value))  # type: ignore[call-overload]


def replan_options(options: SolveOptions, replan: Replan | None) -> SolveOptions:
    """Solver options with the running fleet and budgets (unchanged without a re-plan)."""
    if replan is None:
        return options
    return replace(
        options,
        current=replan.current,
        max_recarve=replan.max_recarve,
        max_moves=replan.max_moves,
        wave_size=replan.wave_size,
    )


# --- the frontier job --------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontierRequest:
    """The frontier of the page's re-plan: its registry key and the options its solves share."""

    key: str
    options: SolveOptions

    @property
    def pick_key(self) -> str:
        """The widget key of the point picker (a new frontier starts on the solved plan)."""
        return "frontier_pick_" + hashlib.sha256(self.key.encode()).hexdigest()[:16]


def frontier_request(
    problem: Problem, catalog: Catalog, options: SolveOptions
) -> FrontierRequest | None:
    """The frontier that `options` (a re-plan's) would compute, or None without a re-plan."""
    if options.current is None:
        return None
    shared = replace(
        options,
        max_moves=None,
        max_recarve=None,
        time_limit_seconds=options.time_limit_seconds * FRONTIER_TIME_FACTOR,
    )
    return FrontierRequest(frontier_key(problem, catalog, shared, FRONTIER_POINTS), shared)


def frontier_job(
    request: FrontierRequest | None, problem: Problem, catalog: Catalog
) -> SolveJob | None:
    """The frontier job when this session asked for this frontier (queued, running or done)."""
    from recommender.page.solving import solve_jobs

    ss = st.session_state
    if request is None or ss.frontier_asked != request.key:
        return None
    return solve_jobs().job(
        request.key,
        request.options.time_limit_seconds,
        frontier_task(problem, catalog, request.options, FRONTIER_POINTS),
        owner=ss.session_id,
    )


def frontier_result(job: SolveJob | None) -> FrontierResult | None:
    if job is None or not job.done.is_set() or not isinstance(job.extra, FrontierResult):
        return None
    return job.extra


def picked_point(
    request: FrontierRequest | None, job: SolveJob | None
) -> tuple[int, FrontierPoint, list[str]] | None:
    """The frontier point picked on the page (its position, the point, its violations), or None
    when the solved plan is shown."""
    result = frontier_result(job)
    if request is None or result is None:
        return None
    pick = st.session_state.get(request.pick_key, SOLVED_PLAN)
    if not isinstance(pick, int) or not 0 < pick <= len(result.frontier.points):
        return None
    return pick - 1, result.frontier.points[pick - 1], result.violations[pick - 1]


def point_title(point: FrontierPoint) -> str:
    """How the picker names a point."""
    return (
        f"{point.label}: ${point.cost_per_hour:,.2f}/h, {point.moved_replicas} moved, "
        f"{charts.frontier_point_text(point)}"
    )


# --- the Transition tab ------------------------------------------------------------------------


def render_transition_tab(
    plan: Plan,
    provisional: bool,
    request: FrontierRequest | None,
    job: SolveJob | None,
) -> None:
    """The diff, the rollout and the frontier of the plan shown."""
    if provisional:
        st.info("The transition is of the optimized plan: wait until it is ready.")
        return
    transition = plan.transition
    if transition is None:
        st.info(
            "Upload a current state (sidebar, Running fleet) to re-plan from the fleet as it "
            "runs now: the plan then changes as little as pays, and comes with a rollout."
        )
        return
    render_transition_counts(plan)
    render_rollout(plan)
    st.divider()
    render_frontier(request, job)


def render_transition_counts(plan: Plan) -> None:
    transition = plan.transition
    assert transition is not None
    tiles = st.container(horizontal=True, gap="medium")
    tiles.metric("GPUs kept", f"{transition.kept:,}", width="content")
    tiles.metric("GPUs re-carved", f"{transition.recarved:,}", width="content")
    tiles.metric("GPUs released", f"{transition.released:,}", width="content")
    tiles.metric("New GPUs carved", f"{transition.new:,}", width="content")
    tiles.metric("Replicas moved", f"{transition.moved_replicas:,}", width="content")
    tiles.metric("Nodes touched", f"{transition.nodes_touched:,}", width="content")
    change = plan.cost_per_hour - transition.current_cost_per_hour
    tiles.metric(
        "Cost per hour: now → plan",
        f"${transition.current_cost_per_hour:,.2f} → ${plan.cost_per_hour:,.2f}",
        f"{'+' if change > 0 else '-'}${abs(change):,.2f}/h",
        delta_color="inverse",
        width="content",
    )
    budgets = [
        f"at most {transition.max_recarve:,} GPUs re-carved"
        if transition.max_recarve is not None
        else "no limit on GPUs re-carved",
        f"at most {transition.max_moves:,} replicas moved"
        if transition.max_moves is not None
        else "no limit on replicas moved",
        f"waves of {transition.wave_size} node{'s' * (transition.wave_size != 1)}",
    ]
    st.caption(
        "Kept: same instances, mig-parted skips it. Re-carved: drained and given a new layout. "
        "Released: emptied. New: idle now, carved for the plan. Moved: replicas placed "
        f"anywhere but their current instance of a kept GPU. Budgets: {', '.join(budgets)}."
    )


def render_rollout(plan: Plan) -> None:
    transition = plan.transition
    assert transition is not None
    st.subheader("Rollout")
    if transition.dips:
        st.warning(
            "No wave order keeps every workload at its floor (replicas - max_unavailable): "
            "these dip below it."
        )
        st.dataframe(dip_table(transition), hide_index=True, width="stretch")
        extra = extra_gpus_text(transition)
        if extra:
            st.info(extra)
    elif transition.waves:
        st.success(
            "Make-before-break: every workload keeps at least replicas - max_unavailable "
            "running through every wave."
        )
    if not transition.waves:
        st.info("Nothing to roll out: the plan is the fleet as it runs.")
        return
    st.dataframe(
        wave_table(transition),
        hide_index=True,
        width="stretch",
        # Widths that fit a 1280 px window; long cells show whole on hover.
        column_config={
            "wave": st.column_config.NumberColumn("wave", width=45),
            "kind": st.column_config.TextColumn("kind", width=62),
            "nodes": st.column_config.TextColumn("nodes", width=150),
            "gpus_recarved": st.column_config.TextColumn("GPUs re-carved", width=150),
            "gpus_released": st.column_config.TextColumn("GPUs released", width=150),
            "gpus_carved": st.column_config.TextColumn("GPUs carved", width=150),
            "moves": st.column_config.NumberColumn("moves", width=55),
            "lowest_running": st.column_config.TextColumn("lowest running", width=140),
        },
    )
    moves = move_table(transition)
    with st.expander(f"Every replica started, stopped or moved ({len(moves):,})"):
        st.dataframe(moves, hide_index=True, width="stretch")
    if transition.notes:
        with st.expander("Rollout notes"):
            for note in transition.notes:
                st.markdown("- " + md_escape(note))
    st.caption(
        "The Downloads tab has the rollout script (per wave: cordon, drain, relabel, wait, "
        "uncordon) and the wave table as CSV."
    )


def render_frontier(request: FrontierRequest | None, job: SolveJob | None) -> None:
    """The frontier: a button to compute it, its progress, then the chart and the point picker
    (picking a point shows that plan on every tab, its downloads included)."""
    st.subheader("Cost against disruption")
    st.caption(
        f"Re-plans under growing move budgets, from changing nothing to the fresh optimum "
        f"({FRONTIER_POINTS} solves sharing "
        f"{request.options.time_limit_seconds if request else 0:.0f} s): what each move buys."
    )
    if request is None:
        return
    if job is None:
        st.button("Compute the frontier", on_click=ask_frontier, args=(request.key,))
        return
    if not job.done.is_set():
        found = sum(1 for p in job.history if p.stage == "frontier")
        st.info(f"Computing the frontier: {found} of up to {FRONTIER_POINTS} points solved.")
        return
    result = frontier_result(job)
    if result is None:
        st.error("The frontier failed; the details are in the server log.")
        st.code(job.error or "unknown error", language=None)
        return
    frontier = result.frontier
    picked = picked_point(request, job)
    frame = charts.frontier_frame(frontier, None if picked is None else picked[0])
    st.altair_chart(charts.frontier_chart(frame, frontier.current_cost_per_hour), width="stretch")
    options = [SOLVED_PLAN, *range(1, len(frontier.points) + 1)]
    st.selectbox(
        "Show the plan of",
        options,
        key=request.pick_key,
        format_func=lambda n: (
            "the budgets in the sidebar (the solved plan)"
            if n == SOLVED_PLAN
            else point_title(frontier.points[n - 1])
        ),
        help="Every tab (and every download) then shows that plan.",
    )
    table = frame.drop(columns=["point", "text", "picked"])
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "label": st.column_config.TextColumn("point", width=120),
            "moved_replicas": st.column_config.NumberColumn("replicas moved"),
            "recarved_gpus": st.column_config.NumberColumn("GPUs re-carved"),
            "cost_per_hour": st.column_config.NumberColumn("$/h", format="dollar"),
            "lower_bound_per_hour": st.column_config.NumberColumn("bound $/h", format="dollar"),
            "gap": st.column_config.TextColumn("gap"),
            "replicas_placed": st.column_config.NumberColumn("replicas placed"),
            "replicas_total": st.column_config.NumberColumn("replicas asked"),
        },
    )
    bad = [n for n, v in enumerate(result.violations) if v]
    if bad:
        st.error(f"The independent check found problems in {len(bad)} frontier plans.")
    gaps = [format_gap(p.gap) for p in frontier.points]
    st.caption(
        f"Running fleet now: \\${frontier.current_cost_per_hour:,.2f}/h; fresh optimum: "
        f"\\${frontier.fresh_cost_per_hour:,.2f}/h. Gaps to the proven bounds: "
        f"{', '.join(gaps)}."
    )


def ask_frontier(key: str) -> None:
    st.session_state.frontier_asked = key

"""The what-if page put together: sidebar, headline and tabs, for the plan `jobs` solves.

`app.py` only calls `render_page()`. Each sidebar section and tab is a module of this package;
plans come from `recommender.jobs` (solves queued for worker threads, shared by sessions; a
provisional plan shows while one runs), numbers and tables from `recommender.whatif`,
`recommender.charts` and `recommender.scenarios` (docs/design.md, "The job and the data flow").
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.page import solving
from recommender.page.baselines import render_baselines_tab
from recommender.page.cluster import render_cluster_import
from recommender.page.common import md_escape, page_style, show_errors
from recommender.page.downloads import render_downloads_tab
from recommender.page.inputs import render_editors
from recommender.page.layouts import render_layouts_tab
from recommender.page.plan import ShownPlan, render_headline, render_plan_tab
from recommender.page.replan import (
    frontier_job,
    frontier_request,
    picked_point,
    render_transition_tab,
    resolve_replan,
)
from recommender.page.scenarios import render_scenarios
from recommender.page.sidebar import render_knobs, render_uploads
from recommender.page.solving import (
    baseline_plans,
    provisional_plan,
    request_plan,
    solve_options,
    wait_for,
)
from recommender.page.state import LoadedInputs, init_session, take_notices
from recommender.plan import Plan, PlanGpu
from recommender.problem import Problem
from recommender.summary import inputs_digest
from recommender.validate import validate_plan
from recommender.whatif import Knobs, apply_knobs

TABS = ["Plan", "Layouts", "Baselines", "Scenarios", "Inputs", "Downloads"]
# With a current state (re-planning from the running fleet) the Transition tab follows Layouts.
TRANSITION_TAB = "Transition"
# Tabs drawn only while open (switching reruns the page): their charts and exports of a
# 600-GPU plan cost every rerun of every session seconds of a shared server otherwise. Inputs
# and Scenarios hold widgets whose state must outlive a visit to another tab, so they always draw.
LAZY_TABS = {"Plan", "Layouts", "Baselines", "Downloads", TRANSITION_TAB}
TAB_KEY = "page_tab"


def render_page() -> None:
    st.set_page_config(page_title="MIG layout recommender", layout="wide")
    page_style()
    init_session()
    ss = st.session_state
    st.title("MIG layout recommender")
    status = st.container()
    render_uploads()
    # Notices of button callbacks (before this run) and of uploads (just now).
    for kind, text in take_notices():
        (status.error if kind == "error" else status.success)(md_escape(text))
    show_errors(
        status,
        "Uploaded files have problems; the plan uses the last good inputs.",
        ss.upload_errors,
    )
    show_errors(
        status,
        "The current state has problems; the plan uses the last good one.",
        ss.current_upload_errors,
    )
    names = tab_names(ss.current_file is not None)
    tabs = dict(zip(names, st.tabs(names, key=TAB_KEY, on_change="rerun"), strict=True))
    with tabs["Inputs"]:
        render_cluster_import(ss.inputs.catalog)
        edit_errors = render_editors(ss.inputs.catalog)
    show_errors(
        status, "The edited tables have problems; the plan uses the last good inputs.", edit_errors
    )
    inputs: LoadedInputs = ss.inputs
    catalog = inputs.catalog
    knobs = render_knobs(inputs.problem)
    try:
        problem = apply_knobs(inputs.problem, knobs)
    except InputError as exc:
        show_errors(status, "The what-if knobs ask for too much.", exc.report())
        return
    replan, replan_errors = resolve_replan(problem, catalog)
    show_errors(
        status,
        "The current state does not fit these inputs; the plan starts from an empty fleet.",
        replan_errors,
    )
    progress_area = status.container()
    job = request_plan(problem, catalog, knobs, replan)
    frontier = frontier_request(problem, catalog, solve_options(knobs, replan))
    frontier_run = frontier_job(frontier, problem, catalog)
    ready = wait_for(job, progress_area, problem.total_replicas, at_most=solving.FIRST_PLAN_SECONDS)
    baselines = baseline_plans(inputs_digest(problem, catalog), problem, catalog)
    if ready:
        if job.plan is None:
            status.error("The solver failed; the details are in the server log.")
            status.code(job.error or "unknown error", language=None)
            return
        shown = ShownPlan(job.plan, job.violations, job.history)
        picked = picked_point(frontier, frontier_run)
        if picked is not None and picked[1].plan is not None:
            _, point, violations = picked
            shown = ShownPlan(point.plan, violations)  # type: ignore[arg-type]
            status.info(
                f"Showing the frontier point '{point.label}' ({point.moved_replicas} replicas "
                "moved) on every tab; pick the solved plan in the Transition tab to go back."
            )
        # What the page shows, for this session only (tests read it to check the plan).
        ss.plan, ss.problem = shown.plan, problem
    else:
        provisional = provisional_plan(baselines)
        if provisional is None:
            solving.follow_then_rerun(job, progress_area, problem.total_replicas)
            return
        shown = ShownPlan(provisional, validate_plan(provisional, problem, catalog), [], True)
    with status:
        render_headline(shown, baselines)
    render_tabs(tabs, shown, problem, catalog, baselines, inputs, knobs, replan and replan.current)
    if TRANSITION_TAB in tabs and tabs[TRANSITION_TAB].open:
        with tabs[TRANSITION_TAB]:
            render_transition_tab(shown.plan, shown.provisional, frontier, frontier_run)
            if frontier_run is not None and not frontier_run.done.is_set():
                # The frontier runs in the registry; the page follows it, then shows it.
                solving.follow_then_rerun(frontier_run, st.container(), problem.total_replicas)
    if not ready:
        solving.follow_then_rerun(job, progress_area, problem.total_replicas)


def tab_names(replanning: bool) -> list[str]:
    """The tabs; a re-plan adds Transition after Layouts."""
    if not replanning:
        return list(TABS)
    at = TABS.index("Layouts") + 1
    return [*TABS[:at], TRANSITION_TAB, *TABS[at:]]


def render_tabs(
    tabs: dict[str, Any],
    shown: ShownPlan,
    problem: Problem,
    catalog: Catalog,
    baselines: dict[str, Plan | str],
    inputs: LoadedInputs,
    knobs: Knobs,
    current: list[PlanGpu] | None = None,
) -> None:
    """Every tab but Inputs and Transition for the plan shown (a provisional plan is not saved
    or exported); the lazy ones only while open."""
    if tabs["Plan"].open:
        with tabs["Plan"]:
            render_plan_tab(shown, problem, catalog)
    if tabs["Layouts"].open:
        with tabs["Layouts"]:
            render_layouts_tab(shown.plan, problem, catalog, current)
    if tabs["Baselines"].open:
        with tabs["Baselines"]:
            render_baselines_tab(shown.plan, baselines)
    with tabs["Scenarios"]:
        if shown.provisional:
            st.info("Scenarios save the optimized plan: wait until it is ready.")
        else:
            render_scenarios(inputs.files, knobs, shown.plan)
    if tabs["Downloads"].open:
        with tabs["Downloads"]:
            if shown.provisional:
                st.info("Downloads are of the optimized plan: wait until it is ready.")
            else:
                render_downloads_tab(shown.plan, problem, catalog)

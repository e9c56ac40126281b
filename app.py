"""MIG layout recommender: the what-if page.

    streamlit run app.py [-- --db PATH]

A thin layer over the library (docs/design.md §6): this file only puts the page together. Each
sidebar section and tab is a module of `recommender.page`; plans come from `recommender.jobs`
(solves in worker threads, shared by sessions), numbers and tables from `recommender.whatif`,
`recommender.charts` and `recommender.scenarios`.
"""

from __future__ import annotations

import streamlit as st

from recommender.errors import InputError
from recommender.page.baselines import render_baselines_tab
from recommender.page.common import md_escape, show_errors
from recommender.page.downloads import render_downloads_tab
from recommender.page.inputs import render_editors
from recommender.page.layouts import render_layouts_tab
from recommender.page.plan import render_headline, render_plan_tab
from recommender.page.scenarios import render_scenarios
from recommender.page.sidebar import render_knobs, render_uploads
from recommender.page.solving import baseline_plans, solved_plan
from recommender.page.state import LoadedInputs, init_session, take_notices
from recommender.summary import inputs_digest
from recommender.whatif import apply_knobs

TABS = ["Plan", "Layouts", "Baselines", "Scenarios", "Inputs", "Downloads"]


def main() -> None:
    st.set_page_config(page_title="MIG layout recommender", layout="wide")
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
    plan_tab, layouts_tab, baselines_tab, scenarios_tab, inputs_tab, downloads_tab = st.tabs(TABS)
    with inputs_tab:
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
    job = solved_plan(problem, catalog, knobs, status)
    if job is None:
        return
    if job.plan is None:
        status.error("The solver failed; the details are in the server log.")
        status.code(job.error or "unknown error", language=None)
        return
    plan = job.plan
    # What the page shows, for this session only (tests read it to check the plan independently).
    ss.plan, ss.problem = plan, problem
    baselines = baseline_plans(inputs_digest(problem, catalog), problem, catalog)
    with status:
        render_headline(job, baselines)
    with plan_tab:
        render_plan_tab(job, problem, catalog)
    with layouts_tab:
        render_layouts_tab(plan, problem, catalog)
    with baselines_tab:
        render_baselines_tab(plan, baselines)
    with scenarios_tab:
        render_scenarios(inputs.files, knobs, plan)
    with downloads_tab:
        render_downloads_tab(plan, problem, catalog)


# Streamlit (`streamlit run`, and AppTest) runs this file as __main__; importing it runs nothing.
if __name__ == "__main__":
    main()

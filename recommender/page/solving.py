"""The plan of the current inputs: a solve in the shared job registry, shown while it runs, and
the baselines' plans; both shared by every session of the server."""

from __future__ import annotations

import logging
import time
from typing import Any

import streamlit as st

from recommender.baselines import BASELINES
from recommender.catalog import Catalog
from recommender.jobs import SolveJob, SolveJobs, solve_key, solve_task
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.solve import SolveOptions
from recommender.whatif import Knobs

LOG = logging.getLogger("mig-recommender.app")
SOLVER_WORKERS = 2
# Building the model and expanding the plan come on top of the solver's time limit.
SOLVE_OVERHEAD_SECONDS = 15.0
POLL_SECONDS = 0.2


def solve_options(knobs: Knobs) -> SolveOptions:
    return SolveOptions(time_limit_seconds=knobs.time_limit_seconds, workers=SOLVER_WORKERS)


@st.cache_resource(show_spinner=False)
def solve_jobs() -> SolveJobs:
    """The server's one registry: sessions asking for the same inputs share one solve."""
    return SolveJobs()


def progress_text(job: SolveJob, total_replicas: int) -> str:
    parts = [f"Solving: {job.elapsed_seconds:.0f} of at most {job.time_limit:.0f} s"]
    latest = job.latest
    if latest is not None and latest.placed_replicas is not None:
        parts.append(f"placed {latest.placed_replicas:,} of {total_replicas:,} replicas")
    if latest is not None and latest.cost_per_hour is not None:
        parts.append(f"best \\${latest.cost_per_hour:,.2f}/h")
    if latest is not None and latest.lower_bound_per_hour is not None:
        parts.append(f"bound \\${latest.lower_bound_per_hour:,.2f}/h")
    return " · ".join(parts)


def wait_for(job: SolveJob, area: Any, total_replicas: int) -> bool:
    """Show the solve's progress until it ends or its time limit (plus overhead) passes; True
    when it ended. The page never blocks longer than that."""
    if job.done.is_set():
        return True
    deadline = job.started + job.time_limit + SOLVE_OVERHEAD_SECONDS
    bar = area.empty()
    while not job.done.wait(POLL_SECONDS) and time.monotonic() < deadline:
        share = min(job.elapsed_seconds / max(job.time_limit, 1e-9), 1.0)
        bar.progress(share, text=progress_text(job, total_replicas))
    bar.empty()
    return job.done.is_set()


def solved_plan(problem: Problem, catalog: Catalog, knobs: Knobs, area: Any) -> SolveJob | None:
    """The job holding the plan for these inputs (a plan loaded with a scenario, or a solve);
    None while a solve outlasts the wait (the page offers a refresh)."""
    options = solve_options(knobs)
    key = solve_key(problem, catalog, options)
    known = st.session_state.known_plans.get(key)
    if known is not None:
        return known
    job = solve_jobs().job(key, options.time_limit_seconds, solve_task(problem, catalog, options))
    if wait_for(job, area, problem.total_replicas):
        return job
    area.warning(
        "The solver is still running in the background (building a large model takes a "
        "while). Press Refresh to pick up its plan."
    )
    area.button("Refresh")
    return None


@st.cache_data(max_entries=32, show_spinner=False)
def baseline_plans(key: str, _problem: Problem, _catalog: Catalog) -> dict[str, Plan | str]:
    """Each baseline's plan (or why it failed), cached by the inputs' digest `key`."""
    plans: dict[str, Plan | str] = {}
    for name, planner in BASELINES.items():
        try:
            plans[name] = planner(_problem, _catalog)
        except Exception as exc:  # one broken baseline must not hide the page
            LOG.exception("baseline %s failed", name)
            plans[name] = f"{type(exc).__name__}: {exc}"
    return plans

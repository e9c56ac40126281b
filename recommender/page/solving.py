"""The plan of the current inputs: a solve in the shared job registry (queued when every core is
busy), its progress, a provisional plan while it runs, and the baselines' plans; all shared by
every session of the server."""

from __future__ import annotations

import logging
import time
from typing import Any

import streamlit as st

from recommender.baselines import baselines_for
from recommender.catalog import Catalog
from recommender.jobs import QUEUED, SolveJob, SolveJobs, solve_key, solve_task
from recommender.page.replan import Replan, replan_options
from recommender.page.state import default_time_limit, sample_inputs
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.solve import SolveOptions
from recommender.whatif import Knobs, apply_knobs

LOG = logging.getLogger("mig-recommender.app")
# Each solve gets the cores no other solve uses (recommender.jobs); this caps one solve.
MAX_SOLVER_WORKERS = 8
# The time limit covers building the model, solving and expanding the plan (`solve` keeps time
# back for the expansion); the independent check of the plan comes on top, and takes seconds on
# inputs of 100,000s of rows.
SOLVE_OVERHEAD_SECONDS = 15.0
POLL_SECONDS = 0.2
# A page shows a plan within this long: the solve's if it is done by then, else a provisional
# plan (best fit decreasing) while the solve queues or runs.
FIRST_PLAN_SECONDS = 3.0
# A queued solve is followed this long at most before the page offers a refresh.
MAX_QUEUE_WAIT_SECONDS = 600.0
PROVISIONAL_BASELINE = "best-fit-decreasing"


def solve_options(knobs: Knobs, replan: Replan | None = None) -> SolveOptions:
    """The solver options of the knobs (and of a re-plan: the running fleet and its budgets);
    the solver threads are granted when the solve starts."""
    options = SolveOptions(time_limit_seconds=knobs.time_limit_seconds, workers=1)
    return replan_options(options, replan)


@st.cache_resource(show_spinner=False)
def solve_jobs() -> SolveJobs:
    """The server's one registry: sessions asking for the same inputs share one solve, and at
    most one solve per core runs at once (the rest queue)."""
    return SolveJobs(max_workers=MAX_SOLVER_WORKERS)


def progress_text(job: SolveJob, total_replicas: int) -> str:
    """What a queued or running solve is doing, in one line."""
    if job.state == QUEUED:
        where = solve_jobs().queue_state(job)
        if where.position:
            return (
                f"Queued: {where.position:,} of {where.queued:,} waiting for a solver "
                f"({where.running} of at most {where.max_running} solving now, "
                f"waited {job.waited_seconds:.0f} s). Its {job.time_limit:.0f} s limit starts "
                "when it starts."
            )
    parts = [f"Solving: {job.elapsed_seconds:.0f} of at most {job.time_limit:.0f} s"]
    latest = job.latest
    if latest is not None and latest.placed_replicas is not None:
        parts.append(f"placed {latest.placed_replicas:,} of {total_replicas:,} replicas")
    if latest is not None and latest.cost_per_hour is not None:
        parts.append(f"best \\${latest.cost_per_hour:,.2f}/h")
    if latest is not None and latest.lower_bound_per_hour is not None:
        parts.append(f"bound \\${latest.lower_bound_per_hour:,.2f}/h")
    return " · ".join(parts)


def _deadline(job: SolveJob) -> float:
    """When to stop waiting: the time limit (plus overhead) after the start, or a long queue."""
    if job.started is None:
        return job.queued_at + MAX_QUEUE_WAIT_SECONDS
    return job.started + job.time_limit + SOLVE_OVERHEAD_SECONDS


def wait_for(job: SolveJob, area: Any, total_replicas: int, at_most: float | None = None) -> bool:
    """Show the solve's queue place or progress until it ends, its deadline passes or `at_most`
    seconds pass; True when it ended."""
    if job.done.is_set():
        return True
    until = None if at_most is None else time.monotonic() + at_most
    bar = area.empty()
    while not job.done.is_set():
        now = time.monotonic()
        if now >= _deadline(job) or (until is not None and now >= until):
            break
        share = min(job.elapsed_seconds / max(job.time_limit, 1e-9), 1.0)
        bar.progress(share, text=progress_text(job, total_replicas))
        job.done.wait(POLL_SECONDS)
    bar.empty()
    return job.done.is_set()


def request_plan(
    problem: Problem, catalog: Catalog, knobs: Knobs, replan: Replan | None = None
) -> SolveJob:
    """The job holding the plan for these inputs: a plan loaded with a scenario, a finished or
    running solve of the same inputs (any session's), or a new solve in the queue."""
    options = solve_options(knobs, replan)
    key = solve_key(problem, catalog, options)
    known = st.session_state.known_plans.get(key)
    if known is not None:
        return known
    # The bundled sample with default knobs is what every visitor sees first: kept for good.
    pinned = key == sample_key()
    ss = st.session_state
    jobs = solve_jobs()
    job = jobs.job(
        key,
        options.time_limit_seconds,
        solve_task(problem, catalog, options),
        pinned=pinned,
        owner=ss.session_id,
    )
    # This session moved on from the inputs it asked for before: a solve of them that has not
    # started leaves the queue unless another session waits for it too.
    previous = ss.get("asked_key")
    if previous is not None and previous != key:
        jobs.release(previous, ss.session_id)
    ss.asked_key = key
    return job


@st.cache_resource(show_spinner=False)
def sample_key() -> str:
    """The solve key of the bundled sample with the knobs a new session starts with."""
    sample = sample_inputs()
    knobs = Knobs(time_limit_seconds=default_time_limit())
    problem = apply_knobs(sample.problem, knobs)
    return solve_key(problem, sample.catalog, solve_options(knobs))


def follow_then_rerun(job: SolveJob, area: Any, total_replicas: int) -> None:
    """Keep showing the solve's progress under a provisional plan; rerun the page when the plan
    is there (or offer a refresh when it takes too long)."""
    if wait_for(job, area, total_replicas):
        st.rerun()
    area.warning(
        "The solver is still running in the background (building a large model takes a "
        "while). Press Refresh to pick up its plan."
    )
    area.button("Refresh")


# Shared objects, not copies: a cached 600-GPU plan is not unpickled again on every rerun.
@st.cache_resource(max_entries=16, show_spinner=False)
def baseline_plans(key: str, _problem: Problem, _catalog: Catalog) -> dict[str, Plan | str]:
    """Each baseline's plan (or why it failed), cached by the inputs' digest `key`."""
    plans: dict[str, Plan | str] = {}
    for baseline in baselines_for(_problem):
        try:
            plans[baseline.key] = baseline(_problem, _catalog)
        except Exception as exc:  # one broken baseline must not hide the page
            LOG.exception("baseline %s failed", baseline.key)
            plans[baseline.key] = f"{type(exc).__name__}: {exc}"
    return plans


def provisional_plan(baselines: dict[str, Plan | str]) -> Plan | None:
    """The plan shown while the solve queues or runs: best fit decreasing (fast, valid, not
    optimized), or None when it failed."""
    plan = baselines.get(PROVISIONAL_BASELINE)
    return plan if isinstance(plan, Plan) else None

"""Re-plans and frontiers in the solve-job registry (no Streamlit): the key holds the running
fleet and its budgets, the task checks the transition, and a frontier runs as one job."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from recommender.catalog import Catalog
from recommender.jobs import (
    FrontierResult,
    SolveJobs,
    current_digest,
    frontier_key,
    frontier_task,
    solve_key,
    solve_task,
)
from recommender.plan import PlanGpu
from recommender.problem import Problem
from recommender.reading import load_problem
from recommender.reading.current import load_current
from recommender.solve import SolveOptions
from recommender.summary import inputs_digest
from tests.conftest import assert_valid

DATA = Path(__file__).resolve().parent.parent / "data"
WAIT = 120.0
QUICK = SolveOptions(time_limit_seconds=4, workers=1)


@pytest.fixture(scope="module")
def sample(catalog: Catalog) -> Problem:
    return load_problem(DATA / "workloads.csv", DATA / "fleet.csv", catalog)


@pytest.fixture(scope="module")
def current(sample: Problem, catalog: Catalog) -> list[PlanGpu]:
    return load_current(DATA / "current.json", sample, catalog)


def test_a_fresh_plans_key_is_unchanged(sample: Problem, catalog: Catalog) -> None:
    text = f"{inputs_digest(sample, catalog)}|{QUICK.time_limit_seconds}|{QUICK.seed}"
    assert solve_key(sample, catalog, QUICK) == hashlib.sha256(text.encode()).hexdigest()


def test_the_key_holds_the_running_fleet_and_every_budget(
    sample: Problem, catalog: Catalog, current: list[PlanGpu]
) -> None:
    replan = replace(QUICK, current=current)
    keys = {
        solve_key(sample, catalog, QUICK),
        solve_key(sample, catalog, replan),
        solve_key(sample, catalog, replace(replan, max_recarve=2)),
        solve_key(sample, catalog, replace(replan, max_moves=2)),
        solve_key(sample, catalog, replace(replan, wave_size=2)),
        solve_key(sample, catalog, replace(replan, current=current[1:])),
    }
    assert len(keys) == 6
    # The same fleet read again is the same key.
    again = load_current(DATA / "current.json", sample, catalog)
    assert current_digest(again) == current_digest(current)
    assert solve_key(sample, catalog, replace(QUICK, current=again)) == solve_key(
        sample, catalog, replan
    )


def test_a_replan_task_checks_its_transition_and_budgets(
    sample: Problem, catalog: Catalog, current: list[PlanGpu]
) -> None:
    options = replace(QUICK, current=current, max_moves=4)
    plan, violations = solve_task(sample, catalog, options)(lambda _p: None, 2)
    assert violations == []
    assert plan.transition is not None and plan.transition.moved_replicas <= 4
    assert_valid(plan, sample, catalog, current)


def test_the_frontier_key_ignores_budgets_and_counts_points(
    sample: Problem, catalog: Catalog, current: list[PlanGpu]
) -> None:
    replan = replace(QUICK, current=current)
    key = frontier_key(sample, catalog, replan, 3)
    assert key == frontier_key(sample, catalog, replace(replan, max_moves=3, max_recarve=1), 3)
    assert key != frontier_key(sample, catalog, replan, 4)
    assert key != frontier_key(sample, catalog, replace(replan, time_limit_seconds=8), 3)
    assert key != solve_key(sample, catalog, replan)


def test_a_frontier_runs_as_one_job_with_every_point_checked(
    sample: Problem, catalog: Catalog, current: list[PlanGpu]
) -> None:
    options = replace(QUICK, current=current, time_limit_seconds=9)
    jobs = SolveJobs(cores=2)
    key = frontier_key(sample, catalog, options, 3)
    job = jobs.job(key, 9, frontier_task(sample, catalog, options, 3))
    assert jobs.job(key, 9, frontier_task(sample, catalog, options, 3)) is job
    assert job.done.wait(WAIT)
    assert job.error is None
    result = job.extra
    assert isinstance(result, FrontierResult)
    points = result.frontier.points
    assert 2 <= len(points) <= 3
    assert result.violations == [[] for _ in points]
    # One progress report per point, in the order they were solved.
    reported = [p for p in job.history if p.stage == "frontier"]
    assert len(reported) == len(points)
    assert sorted(p.cost_per_hour for p in reported) == sorted(p.cost_per_hour for p in points)
    fresh = result.frontier.fresh()
    assert job.plan is fresh.plan
    for point in points:
        assert point.plan is not None
        assert_valid(point.plan, sample, catalog, current)
    # The cache bound counts every point's plan.
    assert job.plan_bytes == sum(len(p.plan.model_dump_json()) for p in points if p.plan)


def test_a_frontier_needs_a_running_fleet(sample: Problem, catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="current state"):
        frontier_task(sample, catalog, QUICK, 3)

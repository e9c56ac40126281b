"""The solve-job registry without Streamlit: start, progress, result, error, LRU eviction and
many threads asking for the same key at once."""

from __future__ import annotations

import threading
from collections.abc import Callable

from recommender.catalog import Catalog
from recommender.jobs import SolveJob, SolveJobs, Task, solve_key, solve_task
from recommender.plan import Plan
from recommender.problem import Pool, Problem, Workload
from recommender.solve import Progress, ProgressCallback, SolveOptions
from tests.conftest import assert_valid

WAIT = 30.0
QUICK = SolveOptions(time_limit_seconds=3, workers=1)


def empty_plan(cost: float = 0.0) -> Plan:
    return Plan(
        status="optimal", cost_per_hour=cost, lower_bound_per_hour=cost, gpus=[], unplaced=[]
    )


def progress(seconds: float, cost: float | None) -> Progress:
    return Progress("cost", seconds, cost, None, 1, 1)


def gated(release: threading.Event, plan: Plan, calls: list[int] | None = None) -> Task:
    """A task that reports one progress step, then waits for `release` before it returns."""

    def run(report: ProgressCallback) -> tuple[Plan, list[str]]:
        if calls is not None:
            calls.append(1)
        report(progress(0.1, 9.0))
        assert release.wait(WAIT)
        return plan, []

    return run


def instant(plan: Plan) -> Task:
    return lambda report: (plan, [])


def wait_until(condition: Callable[[], bool]) -> None:
    done = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("condition not met in time")


def small_problem() -> Problem:
    return Problem(
        workloads=(Workload(name="llm", memory_gb=18, compute_slices=3, replicas=2),),
        pools=(Pool(pool="a100", gpu_model="A100-40GB", gpus=2, cost_per_hour=4.0),),
    )


def test_a_job_reports_progress_then_its_result() -> None:
    jobs = SolveJobs()
    release = threading.Event()
    plan = empty_plan(3.0)
    job = jobs.job("k", 5.0, gated(release, plan))
    wait_until(lambda: job.latest is not None)
    assert not job.done.is_set()
    assert job.plan is None
    assert job.latest == progress(0.1, 9.0)
    assert job.time_limit == 5.0
    assert job.elapsed_seconds >= 0
    release.set()
    assert job.done.wait(WAIT)
    assert job.plan is plan
    assert job.violations == []
    assert job.error is None


def test_a_failing_task_becomes_an_error_not_an_exception() -> None:
    def broken(report: ProgressCallback) -> tuple[Plan, list[str]]:
        raise RuntimeError("model too big")

    job = SolveJobs().job("k", 1.0, broken)
    assert job.done.wait(WAIT)
    assert job.plan is None
    assert job.error == "RuntimeError: model too big"


def test_asking_again_returns_the_same_job_without_a_second_run() -> None:
    jobs = SolveJobs()
    calls: list[int] = []
    release = threading.Event()
    first = jobs.job("k", 1.0, gated(release, empty_plan(), calls))
    second = jobs.job("k", 1.0, gated(release, empty_plan(), calls))
    release.set()
    assert first is second
    assert first.done.wait(WAIT)
    assert calls == [1]


def test_concurrent_askers_share_one_job() -> None:
    jobs = SolveJobs()
    calls: list[int] = []
    release = threading.Event()
    start = threading.Barrier(8)
    got: list[SolveJob] = []
    lock = threading.Lock()

    def ask() -> None:
        start.wait(WAIT)
        job = jobs.job("same", 1.0, gated(release, empty_plan(), calls))
        with lock:
            got.append(job)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    release.set()
    assert len(got) == 8
    assert all(job is got[0] for job in got)
    assert got[0].done.wait(WAIT)
    assert calls == [1]


def test_finished_jobs_are_evicted_least_recently_asked_first() -> None:
    jobs = SolveJobs(keep=2)
    for key in ("a", "b"):
        assert jobs.job(key, 1.0, instant(empty_plan())).done.wait(WAIT)
    jobs.job("a", 1.0, instant(empty_plan()))  # asked again: "b" is now the oldest
    assert jobs.held() == ["b", "a"]
    assert jobs.job("c", 1.0, instant(empty_plan())).done.wait(WAIT)
    assert jobs.held() == ["a", "c"]
    assert jobs.job("d", 1.0, instant(empty_plan())).done.wait(WAIT)
    assert jobs.held() == ["c", "d"]


def test_running_jobs_are_never_evicted() -> None:
    jobs = SolveJobs(keep=0)
    release = threading.Event()
    running = jobs.job("running", 1.0, gated(release, empty_plan()))
    assert jobs.job("done", 1.0, instant(empty_plan())).done.wait(WAIT)
    jobs.job("next", 1.0, gated(release, empty_plan()))
    assert "running" in jobs.held()
    assert "done" not in jobs.held()
    release.set()
    assert running.done.wait(WAIT)


def test_a_finished_job_holds_a_known_plan() -> None:
    plan = empty_plan(2.0)
    job = SolveJob.finished(plan, ["a violation"])
    assert job.done.is_set()
    assert (job.plan, job.violations, job.error) == (plan, ["a violation"], None)


def test_the_solve_task_solves_and_checks(catalog: Catalog) -> None:
    problem = small_problem()
    key = solve_key(problem, catalog, QUICK)
    assert key == solve_key(small_problem(), catalog, QUICK)
    assert key != solve_key(problem, catalog, SolveOptions(time_limit_seconds=4, workers=1))
    job = SolveJobs().job(key, QUICK.time_limit_seconds, solve_task(problem, catalog, QUICK))
    assert job.done.wait(WAIT)
    assert job.error is None
    assert job.plan is not None
    assert_valid(job.plan, problem, catalog)
    assert job.violations == []
    assert job.history and job.history[-1].cost_per_hour == job.plan.cost_per_hour

"""The solve-job registry without Streamlit: start, progress, result, error, the bounded queue
(position, start time, core split), the plan cache (LRU by count and bytes, pinned jobs) and many
threads asking at once."""

from __future__ import annotations

import threading
from collections.abc import Callable

from recommender.catalog import Catalog
from recommender.jobs import (
    DONE,
    QUEUED,
    RUNNING,
    QueueState,
    SolveJob,
    SolveJobs,
    Task,
    solve_key,
    solve_task,
)
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
    """A task that reports one progress step, then waits for `release` before it returns; it
    records the solver threads it was granted in `calls`."""

    def run(report: ProgressCallback, workers: int) -> tuple[Plan, list[str]]:
        if calls is not None:
            calls.append(workers)
        report(progress(0.1, 9.0))
        assert release.wait(WAIT)
        return plan, []

    return run


def instant(plan: Plan) -> Task:
    return lambda report, workers: (plan, [])


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
    jobs = SolveJobs(cores=2)
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
    def broken(report: ProgressCallback, workers: int) -> tuple[Plan, list[str]]:
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
    assert len(calls) == 1


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
    assert len(calls) == 1


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
    # The registry picks the solver threads when the solve starts: they are not part of the key.
    assert key == solve_key(problem, catalog, SolveOptions(time_limit_seconds=3, workers=2))
    bigger = problem.pools[0].model_copy(update={"gpus": 3})
    other = Problem(workloads=problem.workloads, pools=(bigger,))
    assert key != solve_key(other, catalog, QUICK)
    job = SolveJobs().job(key, QUICK.time_limit_seconds, solve_task(problem, catalog, QUICK))
    assert job.done.wait(WAIT)
    assert job.error is None
    assert job.plan is not None
    assert_valid(job.plan, problem, catalog)
    assert job.violations == []
    assert job.history and job.history[-1].cost_per_hour == job.plan.cost_per_hour


# --- the bounded queue -------------------------------------------------------------------------


def test_jobs_beyond_the_running_limit_queue_in_order_and_start_their_clock_late() -> None:
    jobs = SolveJobs(max_running=1, cores=2)
    releases = [threading.Event() for _ in range(3)]
    running = jobs.job("a", 5.0, gated(releases[0], empty_plan(1.0)))
    second = jobs.job("b", 5.0, gated(releases[1], empty_plan(2.0)))
    third = jobs.job("c", 5.0, gated(releases[2], empty_plan(3.0)))
    wait_until(lambda: running.latest is not None)
    assert (running.state, second.state, third.state) == (RUNNING, QUEUED, QUEUED)
    assert jobs.queue_state(running) == QueueState(0, 2, 1, 1)
    assert jobs.queue_state(second) == QueueState(1, 2, 1, 1)
    assert jobs.queue_state(third) == QueueState(2, 2, 1, 1)
    # A queued job has not started: its time limit has not begun to run.
    assert second.started is None and second.elapsed_seconds == 0.0
    done = threading.Event()
    done.wait(0.2)
    releases[0].set()
    assert running.done.wait(WAIT)
    wait_until(lambda: second.state == RUNNING)
    assert second.started is not None and second.started >= running.finished_at  # type: ignore[operator]
    assert second.waited_seconds >= 0.2
    assert jobs.queue_state(third) == QueueState(1, 1, 1, 1)
    releases[1].set()
    releases[2].set()
    assert third.done.wait(WAIT)
    assert (second.plan, third.plan) == (empty_plan(2.0), empty_plan(3.0))
    assert third.state == DONE


def test_starting_solves_share_the_cores() -> None:
    jobs = SolveJobs(max_running=3, cores=4)
    release = threading.Event()
    granted: list[int] = []
    started = [jobs.job(k, 1.0, gated(release, empty_plan(), granted)) for k in "abcd"]
    wait_until(lambda: len(granted) == 3)
    # Alone a solve gets every core; later ones what is left, at least one; the fourth waits.
    assert granted == [4, 1, 1]
    assert [j.workers for j in started[:3]] == [4, 1, 1]
    assert started[3].state == QUEUED
    release.set()
    assert all(j.done.wait(WAIT) for j in started)
    assert len(granted) == 4


def test_many_sessions_at_once_never_run_more_than_the_limit() -> None:
    jobs = SolveJobs(max_running=2, cores=2)
    lock = threading.Lock()
    now_running = [0]
    most = [0]

    def task(report: ProgressCallback, workers: int) -> tuple[Plan, list[str]]:
        with lock:
            now_running[0] += 1
            most[0] = max(most[0], now_running[0])
        threading.Event().wait(0.05)
        with lock:
            now_running[0] -= 1
        return empty_plan(float(workers)), []

    start = threading.Barrier(10)
    got: list[SolveJob] = []

    def ask(n: int) -> None:
        start.wait(WAIT)
        job = jobs.job(f"session-{n}", 1.0, task)
        with lock:
            got.append(job)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(got) == 10
    assert all(job.done.wait(WAIT) for job in got)
    assert most[0] == 2
    assert all(job.plan is not None and job.error is None for job in got)


def test_a_failed_job_frees_its_slot() -> None:
    jobs = SolveJobs(max_running=1, cores=1)

    def broken(report: ProgressCallback, workers: int) -> tuple[Plan, list[str]]:
        raise ValueError("bad")

    failed = jobs.job("bad", 1.0, broken)
    after = jobs.job("good", 1.0, instant(empty_plan(5.0)))
    assert failed.done.wait(WAIT) and after.done.wait(WAIT)
    assert failed.error == "ValueError: bad"
    assert after.plan == empty_plan(5.0)


# --- the plan cache ----------------------------------------------------------------------------


def test_the_cache_is_bounded_by_plan_bytes() -> None:
    one = len(empty_plan().model_dump_json())
    jobs = SolveJobs(keep=100, keep_bytes=2 * one, cores=1)
    for key in ("a", "b", "c"):
        job = jobs.job(key, 1.0, instant(empty_plan()))
        assert job.done.wait(WAIT)
        wait_until(lambda job=job: jobs.queue_state(job).running == 0)
        assert job.plan_bytes == one
    assert jobs.held() == ["b", "c"]
    assert jobs.held_plan_bytes() == 2 * one


def test_pinned_jobs_are_never_evicted() -> None:
    jobs = SolveJobs(keep=1, cores=1)
    sample = jobs.job("sample", 1.0, instant(empty_plan(1.0)), pinned=True)
    assert sample.done.wait(WAIT)
    for key in ("a", "b", "c"):
        assert jobs.job(key, 1.0, instant(empty_plan())).done.wait(WAIT)
    wait_until(lambda: jobs.held() == ["sample", "c"])
    assert jobs.job("sample", 1.0, instant(empty_plan(9.0))) is sample


def test_a_known_plan_joins_the_cache_under_its_key() -> None:
    jobs = SolveJobs(keep=4, cores=1)
    known = SolveJob.finished(empty_plan(2.0), [])
    jobs.add_finished("known", known)
    assert jobs.job("known", 1.0, instant(empty_plan(7.0))) is known


def test_a_queued_job_every_asker_released_leaves_the_queue() -> None:
    jobs = SolveJobs(max_running=1, cores=1)
    release = threading.Event()
    calls: list[int] = []
    running = jobs.job("running", 1.0, gated(release, empty_plan()), owner="s0")
    left = jobs.job("left behind", 1.0, gated(release, empty_plan(), calls), owner="s1")
    shared = jobs.job("shared", 1.0, gated(release, empty_plan(2.0), calls), owner="s1")
    assert jobs.job("shared", 1.0, instant(empty_plan()), owner="s2") is shared
    assert jobs.queue_state(shared).position == 2
    # s1 moved on: "left behind" has no one left, "shared" still has s2.
    jobs.release("left behind", "s1")
    jobs.release("shared", "s1")
    assert left.done.is_set() and left.plan is None and "nobody" in (left.error or "")
    assert jobs.queue_state(shared).position == 1
    assert "left behind" not in jobs.held()
    # Releasing a running job changes nothing: it runs to its end.
    jobs.release("running", "s0")
    release.set()
    assert running.done.wait(WAIT) and shared.done.wait(WAIT)
    assert running.plan == empty_plan() and shared.plan == empty_plan(2.0)
    assert len(calls) == 1  # only the job someone waited for ran
    # Asking again queues it anew.
    again = jobs.job("left behind", 1.0, instant(empty_plan(3.0)), owner="s1")
    assert again is not left
    assert again.done.wait(WAIT) and again.plan == empty_plan(3.0)


def test_a_pinned_queued_job_stays_when_released() -> None:
    jobs = SolveJobs(max_running=1, cores=1)
    release = threading.Event()
    jobs.job("running", 1.0, gated(release, empty_plan()))
    sample = jobs.job("sample", 1.0, instant(empty_plan(1.0)), pinned=True, owner="s1")
    jobs.release("sample", "s1")
    assert jobs.queue_state(sample).position == 1
    release.set()
    assert sample.done.wait(WAIT) and sample.plan == empty_plan(1.0)

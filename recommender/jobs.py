"""Solves running in worker threads, shared by the page's sessions, queued, polled for progress.

A solve takes seconds to minutes; the page must show progress meanwhile, must not start a second
solve of the same inputs when a session reruns or a second viewer opens the same inputs, and on
a small machine many viewers must share the cores fairly. So:

- solves are registered by a key (`solve_key`: the inputs' digest and the options that change the
  plan), so identical inputs solve once and every session asking gets that one job;
- at most `max_running` solves run at once, the rest wait in a first-come queue (with a position
  the page shows); each solve's time limit counts from when it starts, not from when it queued;
- a starting solve gets the cores no running solve uses (at least one), so one viewer alone gets
  every core and five at once do not slow each other down by fighting over two;
- a queued job whose every asker moved on to other inputs (`release`) leaves the queue, so no
  core solves what nobody waits for (uploading a workloads file, then a fleet file, asks for a
  solve of the workloads with the old fleet first);
- finished jobs stay as a cache, least recently asked for evicted first, bounded by count and by
  the bytes of their plans (plan JSON size); pinned jobs (the bundled sample) and jobs still
  queued or running are never evicted.

Nothing here touches Streamlit, so the registry is tested on its own (tests/test_jobs.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recommender.catalog import Catalog
from recommender.frontier import Frontier, FrontierPoint, frontier
from recommender.plan import Plan, PlanGpu
from recommender.problem import Problem
from recommender.solve import Progress, ProgressCallback, SolveOptions, solve
from recommender.summary import inputs_digest
from recommender.validate import validate_plan

LOG = logging.getLogger("mig-recommender.jobs")
FINISHED_JOBS_KEPT = 16
# The plans kept, as plan JSON: a few 20,000-GPU plans, or hundreds of small ones.
FINISHED_PLAN_BYTES_KEPT = 64 * 2**20

# What a job runs: given a progress callback and the solver threads it may use, the plan and the
# independent check's violations; a task that computes more (a frontier) adds it third, and the
# job keeps it as `extra`.
Task = Callable[[ProgressCallback, int], tuple[Plan, list[str]] | tuple[Plan, list[str], Any]]

QUEUED, RUNNING, DONE = "queued", "running", "done"


def available_cores() -> int:
    """The cores this process may run on (the CPU affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def current_digest(current: list[PlanGpu]) -> str:
    """A running fleet's digest: its GPUs, instances and replicas (as `load_current` gives them)."""
    text = "\n".join(gpu.model_dump_json() for gpu in current)
    return hashlib.sha256(text.encode()).hexdigest()


def solve_key(problem: Problem, catalog: Catalog, options: SolveOptions) -> str:
    """Same inputs and options, same key: a finished solve is reused, never repeated. The solver
    threads are left out: the registry chooses them when the solve starts. A re-plan's key holds
    the running fleet and its budgets too (a fresh plan's key is as it always was)."""
    text = f"{inputs_digest(problem, catalog)}|{options.time_limit_seconds}|{options.seed}"
    if options.current is not None:
        text += (
            f"|current {current_digest(options.current)}|{options.max_recarve}"
            f"|{options.max_moves}|{options.wave_size}|{options.keep_running}"
        )
    return hashlib.sha256(text.encode()).hexdigest()


def solve_task(problem: Problem, catalog: Catalog, options: SolveOptions) -> Task:
    """The page's task: solve with the threads the registry grants, then check the plan with
    the independent validator (a re-plan's transition and budgets too)."""

    def run(progress: ProgressCallback, workers: int) -> tuple[Plan, list[str]]:
        granted = dataclasses.replace(options, workers=workers)
        plan = solve(problem, catalog, granted, progress=progress)
        violations = validate_plan(
            plan,
            problem,
            catalog,
            options.current,
            max_recarve=options.max_recarve,
            max_moves=options.max_moves,
        )
        return plan, violations

    return run


@dataclass(frozen=True)
class FrontierResult:
    """A computed frontier and, per point (same order), the independent check's violations."""

    frontier: Frontier
    violations: list[list[str]]


def frontier_key(problem: Problem, catalog: Catalog, options: SolveOptions, points: int) -> str:
    """The key of a frontier job: the re-plan's inputs and running fleet, its shared time budget
    and point count (the budgets are what the frontier varies, so they are left out)."""
    unbudgeted = dataclasses.replace(options, max_moves=None, max_recarve=None)
    return f"frontier|{points}|{solve_key(problem, catalog, unbudgeted)}"


def frontier_task(problem: Problem, catalog: Catalog, options: SolveOptions, points: int) -> Task:
    """A frontier as a job: its solves share `options.time_limit_seconds` and the threads the
    registry grants; each point found is reported as progress (stage `frontier`); the job's plan
    is the fresh optimum and its `extra` a `FrontierResult` (every point checked on its own)."""
    if options.current is None:
        raise ValueError("a frontier needs a current state")
    current = options.current

    def run(progress: ProgressCallback, workers: int) -> tuple[Plan, list[str], FrontierResult]:
        started = time.monotonic()

        def on_point(point: FrontierPoint) -> None:
            progress(
                Progress(
                    stage="frontier",
                    elapsed_seconds=time.monotonic() - started,
                    cost_per_hour=point.cost_per_hour,
                    lower_bound_per_hour=point.lower_bound_per_hour,
                    placed_replicas=point.replicas_placed,
                    total_replicas=point.replicas_total,
                )
            )

        granted = dataclasses.replace(options, workers=workers)
        result = frontier(problem, catalog, current, points, granted, on_point=on_point)
        violations = []
        for point in result.points:
            assert point.plan is not None  # a computed frontier holds its plans
            violations.append(
                validate_plan(
                    point.plan,
                    problem,
                    catalog,
                    current,
                    max_recarve=point.max_recarve,
                    max_moves=point.max_moves,
                )
            )
        fresh = result.fresh()
        assert fresh.plan is not None
        fresh_violations = violations[result.points.index(fresh)]
        return fresh.plan, fresh_violations, FrontierResult(result, violations)

    return run


@dataclass
class SolveJob:
    """One solve queued, running or done; readers poll `state`, `done`, `history`, `plan`."""

    time_limit: float
    queued_at: float = field(default_factory=time.monotonic)
    # Set when a worker thread picks the job up (its time limit counts from here).
    started: float | None = None
    finished_at: float | None = None
    workers: int = 0
    # The sessions (owners) that asked for this job and have not moved on.
    owners: set[str] = field(default_factory=set)
    history: list[Progress] = field(default_factory=list)
    plan: Plan | None = None
    violations: list[str] = field(default_factory=list)
    # What a task computed beyond its plan (a frontier's `FrontierResult`), else None.
    extra: Any = None
    error: str | None = None
    plan_bytes: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def finished(cls, plan: Plan, violations: list[str]) -> SolveJob:
        """A job for a plan known already (a loaded scenario): nothing to run."""
        now = time.monotonic()
        job = cls(time_limit=0.0, started=now, finished_at=now, plan=plan, violations=violations)
        job.done.set()
        return job

    def run(self, task: Task, workers: int) -> None:
        """Run `task` here with `workers` solver threads, recording its progress; a failure
        becomes `error`, never escapes."""
        self.workers = workers
        if self.started is None:
            self.started = time.monotonic()
        try:
            outcome = task(self.history.append, workers)
            self.plan, self.violations = outcome[0], outcome[1]
            self.extra = outcome[2] if len(outcome) > 2 else None
            self.plan_bytes = len(self.plan.model_dump_json())
            if isinstance(self.extra, FrontierResult):
                # Every point's plan is held: the cache bound counts them all.
                self.plan_bytes = sum(
                    len(p.plan.model_dump_json())
                    for p in self.extra.frontier.points
                    if p.plan is not None
                )
        except Exception as exc:  # a failed solve is reported on the page, not lost in a thread
            LOG.exception("solve failed")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished_at = time.monotonic()
            self.done.set()

    @property
    def state(self) -> str:
        if self.done.is_set():
            return DONE
        return QUEUED if self.started is None else RUNNING

    @property
    def latest(self) -> Progress | None:
        history = self.history
        return history[-1] if history else None

    @property
    def elapsed_seconds(self) -> float:
        """Seconds since the solve started (0 while queued; frozen once done)."""
        if self.started is None:
            return 0.0
        return (self.finished_at or time.monotonic()) - self.started

    @property
    def waited_seconds(self) -> float:
        """Seconds in the queue before a worker picked the job up (so far, while queued)."""
        return (self.started or time.monotonic()) - self.queued_at


@dataclass(frozen=True)
class QueueState:
    """Where a job stands: its 1-based place in the queue (0 when not queued) and the load."""

    position: int
    queued: int
    running: int
    max_running: int


class SolveJobs:
    """Jobs by key, shared by the sessions of one server.

    Asking for a key that is queued, running or done returns that job instead of starting
    another. At most `max_running` jobs run at once; a starting job gets `cores` minus the
    threads running jobs use (at least 1, at most `max_workers`). A queued job every owner has
    released leaves the queue.
    Finished jobs are kept up to `keep` jobs and `keep_bytes` of plan JSON, least recently asked
    for evicted first.
    """

    def __init__(
        self,
        keep: int = FINISHED_JOBS_KEPT,
        keep_bytes: int = FINISHED_PLAN_BYTES_KEPT,
        max_running: int | None = None,
        cores: int | None = None,
        max_workers: int = 8,
    ) -> None:
        self.cores = cores or available_cores()
        self.max_running = max_running or self.cores
        self._keep = keep
        self._keep_bytes = keep_bytes
        self._max_workers = max_workers
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, SolveJob] = OrderedDict()
        self._pinned: set[str] = set()
        self._waiting: deque[tuple[str, SolveJob, Task]] = deque()
        self._running: list[SolveJob] = []

    def job(
        self,
        key: str,
        time_limit: float,
        task: Task,
        pinned: bool = False,
        owner: str | None = None,
    ) -> SolveJob:
        """The job of `key`; a new key queues `task` (started at once when a slot is free).
        A pinned job is never evicted (the bundled sample's plan, asked for by every visitor);
        `owner` (a session) holds the job in the queue until it `release`s it."""
        with self._lock:
            if pinned:
                self._pinned.add(key)
            job = self._jobs.get(key)
            if job is not None:
                self._jobs.move_to_end(key)
                if owner is not None:
                    job.owners.add(owner)
                return job
            job = SolveJob(time_limit=time_limit)
            if owner is not None:
                job.owners.add(owner)
            self._jobs[key] = job
            self._waiting.append((key, job, task))
            self._start_ready()
            self._evict()
        return job

    def release(self, key: str, owner: str) -> None:
        """`owner` no longer waits for the job of `key`: a queued job nobody waits for any more
        leaves the queue (asking for its key again queues it anew)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                return
            job.owners.discard(owner)
            if job.owners or job.started is not None or key in self._pinned:
                return
            self._waiting = deque(w for w in self._waiting if w[1] is not job)
            self._drop(key, job)

    def add_finished(self, key: str, job: SolveJob) -> None:
        """Hold a finished job (a plan known already) under `key` like a solved one."""
        if not job.done.is_set():
            raise ValueError("only a finished job can be added")
        with self._lock:
            self._jobs[key] = job
            self._jobs.move_to_end(key)
            self._evict()

    def queue_state(self, job: SolveJob) -> QueueState:
        with self._lock:
            waiting = [j for _, j, _ in self._waiting]
            position = waiting.index(job) + 1 if job in waiting else 0
            return QueueState(position, len(waiting), len(self._running), self.max_running)

    def held(self) -> list[str]:
        """Keys held, least recently asked for first."""
        with self._lock:
            return list(self._jobs)

    def held_plan_bytes(self) -> int:
        with self._lock:
            return sum(j.plan_bytes for j in self._jobs.values())

    def _start_ready(self) -> None:
        """Start waiting jobs while slots are free (lock held)."""
        while self._waiting and len(self._running) < self.max_running:
            _key, job, task = self._waiting.popleft()
            busy = sum(j.workers for j in self._running)
            workers = min(self._max_workers, max(1, self.cores - busy))
            job.workers = workers
            job.started = time.monotonic()
            self._running.append(job)
            worker = threading.Thread(
                target=self._run, args=(job, task, workers), name="solve", daemon=True
            )
            worker.start()

    def _drop(self, key: str, job: SolveJob) -> None:
        """Forget a queued job nobody waits for (lock held)."""
        LOG.info("dropped a queued solve nobody waits for")
        if self._jobs.get(key) is job:
            del self._jobs[key]
        job.error = "dropped from the queue: nobody was waiting for it"
        job.finished_at = time.monotonic()
        job.done.set()

    def _run(self, job: SolveJob, task: Task, workers: int) -> None:
        try:
            job.run(task, workers)
        finally:
            with self._lock:
                self._running.remove(job)
                self._start_ready()
                self._evict()

    def _evict(self) -> None:
        """Drop finished, unpinned jobs, least recently asked for first, until the finished ones
        fit `keep` and `keep_bytes` (lock held)."""
        finished = [k for k, j in self._jobs.items() if j.done.is_set() and k not in self._pinned]
        count = len(finished)
        size = sum(self._jobs[k].plan_bytes for k in finished)
        for key in finished:
            if count <= self._keep and size <= self._keep_bytes:
                break
            size -= self._jobs[key].plan_bytes
            count -= 1
            del self._jobs[key]

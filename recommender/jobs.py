"""Solves running in worker threads, shared by the page's sessions, polled for progress.

A solve takes seconds to minutes; the page must show progress meanwhile and must not start a
second solve of the same inputs when a session reruns or a second viewer opens the same inputs.
So solves are registered by a key (`solve_key`: the inputs' digest and the solver options), run
in a daemon thread, and kept after they finish, least recently asked for evicted first.
Nothing here touches Streamlit, so the registry is tested on its own.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from recommender.catalog import Catalog
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.solve import Progress, ProgressCallback, SolveOptions, solve
from recommender.summary import inputs_digest
from recommender.validate import validate_plan

LOG = logging.getLogger("mig-recommender.jobs")
FINISHED_JOBS_KEPT = 16

# What a job runs: given a progress callback, the plan and the independent check's violations.
Task = Callable[[ProgressCallback], tuple[Plan, list[str]]]


def solve_key(problem: Problem, catalog: Catalog, options: SolveOptions) -> str:
    """Same inputs and options, same key: a finished solve is reused, never repeated."""
    text = f"{inputs_digest(problem, catalog)}|{options.time_limit_seconds}|{options.workers}|"
    return hashlib.sha256(f"{text}{options.seed}".encode()).hexdigest()


def solve_task(problem: Problem, catalog: Catalog, options: SolveOptions) -> Task:
    """The page's task: solve, then check the plan with the independent validator."""

    def run(progress: ProgressCallback) -> tuple[Plan, list[str]]:
        plan = solve(problem, catalog, options, progress=progress)
        return plan, validate_plan(plan, problem, catalog)

    return run


@dataclass
class SolveJob:
    """One solve running (or done) in a worker thread; readers poll `done`, `history`, `plan`."""

    time_limit: float
    started: float = field(default_factory=time.monotonic)
    history: list[Progress] = field(default_factory=list)
    plan: Plan | None = None
    violations: list[str] = field(default_factory=list)
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def finished(cls, plan: Plan, violations: list[str]) -> SolveJob:
        """A job for a plan known already (a loaded scenario): nothing to run."""
        job = cls(time_limit=0.0, plan=plan, violations=violations)
        job.done.set()
        return job

    def run(self, task: Task) -> None:
        """Run `task` here, recording its progress; a failure becomes `error`, never escapes."""
        try:
            self.plan, self.violations = task(self.history.append)
        except Exception as exc:  # a failed solve is reported on the page, not lost in a thread
            LOG.exception("solve failed")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    @property
    def latest(self) -> Progress | None:
        history = self.history
        return history[-1] if history else None

    @property
    def elapsed_seconds(self) -> float:
        return time.monotonic() - self.started


class SolveJobs:
    """Jobs by key, shared by the sessions of one server: asking for a key that is running or
    done returns that job instead of starting another. At most `keep` finished jobs are kept
    (least recently asked for go first); running jobs are never evicted."""

    def __init__(self, keep: int = FINISHED_JOBS_KEPT) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, SolveJob] = OrderedDict()

    def job(self, key: str, time_limit: float, task: Task) -> SolveJob:
        """The job of `key`, started in a daemon thread running `task` if it is new."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                self._jobs.move_to_end(key)
                return job
            job = SolveJob(time_limit=time_limit)
            self._jobs[key] = job
            self._evict()
        worker = threading.Thread(
            target=job.run, args=(task,), name=f"solve-{key[:8]}", daemon=True
        )
        worker.start()
        return job

    def held(self) -> list[str]:
        """Keys held, least recently asked for first."""
        with self._lock:
            return list(self._jobs)

    def _evict(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.done.is_set()]
        for key in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[key]

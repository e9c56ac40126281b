"""Baseline planners people use today, shown next to the optimized plan and in the benchmarks.

One planner per module, one registry here (`BASELINES`):
- `whole-gpu` (`whole_gpu.py`): no MIG sharing; every replica gets a whole GPU.
- `all-balanced` (`all_balanced.py`): mig-parted's `all-balanced` layout carved on every GPU that
  is used, filled first fit.
- `best-fit-decreasing` (`best_fit.py`): free placement; each replica goes where it leaves the
  least room.

They never call a solver and work on groups, not single replicas where they can, so 100,000
replicas on 20,000 GPUs take seconds. They share the solver's fitting rule (`rules.fits`), serve
replicas in `greedy.serving_order` (priority, then larger memory first, then name), word what they
leave out with `reasons`, and build their plans with `assemble.assemble_plan`: status `feasible`
and a lower bound of 0 (a heuristic proves none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from recommender.baselines import all_balanced, best_fit, whole_gpu
from recommender.baselines.all_balanced import all_balanced_plan
from recommender.baselines.best_fit import best_fit_decreasing_plan
from recommender.baselines.whole_gpu import whole_gpu_plan
from recommender.catalog import Catalog
from recommender.plan import Plan
from recommender.problem import Problem

BaselinePlanner = Callable[[Problem, Catalog], Plan]


@dataclass(frozen=True)
class Baseline:
    """A registered baseline: its key (in plans and the CLI), the name people read, the planner.

    Callable like its planner, so `BASELINES[key](problem, catalog)` is the plan.
    """

    key: str
    display_name: str
    planner: BaselinePlanner

    def __call__(self, problem: Problem, catalog: Catalog) -> Plan:
        return self.planner(problem, catalog)


BASELINES: dict[str, Baseline] = {
    baseline.key: baseline
    for baseline in (
        Baseline(whole_gpu.NAME, "Whole GPUs (no MIG)", whole_gpu_plan),
        Baseline(all_balanced.NAME, "mig-parted all-balanced", all_balanced_plan),
        Baseline(best_fit.NAME, "Best fit decreasing", best_fit_decreasing_plan),
    )
}

# A view of the registry for callers that only label plans.
BASELINE_DISPLAY_NAMES: dict[str, str] = {key: b.display_name for key, b in BASELINES.items()}

__all__ = [
    "BASELINES",
    "BASELINE_DISPLAY_NAMES",
    "Baseline",
    "BaselinePlanner",
    "all_balanced_plan",
    "best_fit_decreasing_plan",
    "whole_gpu_plan",
]

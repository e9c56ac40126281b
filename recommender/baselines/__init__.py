"""Baseline planners people use today, shown next to the optimized plan and in the benchmarks.

One planner per module, one registry here (`BASELINES`):
- `whole-gpu` (`whole_gpu.py`): no MIG sharing; every replica gets a whole GPU.
- `all-balanced` (`all_balanced.py`): mig-parted's `all-balanced` layout carved on every GPU that
  is used, filled first fit.
- `best-fit-decreasing` (`best_fit.py`): free placement; each replica goes where it leaves the
  least room.
- `biggest-instance` (`biggest_instance.py`, throughput workloads): full-GPU instances only.
- `best-per-slice` (`per_slice.py`, throughput workloads): the configuration with the most
  throughput per compute slice, then best fit decreasing (configurator, then packer).

On a problem with throughput workloads the count baselines first size them with
`sizing.per_slice_sizing` (`configured.py`), then place the instances their own way.

They never call a solver and work on groups, not single replicas where they can, so 100,000
replicas on 20,000 GPUs take seconds. They share the solver's fitting rule (`rules.fits`), serve
replicas in `greedy.serving_order` (priority, then larger memory first, then name), word what they
leave out with `reasons`, and build their plans with `assemble.assemble_plan`: status `feasible`
and a lower bound of 0 (a heuristic proves none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from recommender.baselines import all_balanced, best_fit, biggest_instance, per_slice, whole_gpu
from recommender.baselines.all_balanced import all_balanced_plan
from recommender.baselines.best_fit import best_fit_decreasing_plan
from recommender.baselines.biggest_instance import biggest_instance_plan
from recommender.baselines.configured import configured_plan
from recommender.baselines.merged import MERGE_ABOVE_ROWS, plan_on_merged
from recommender.baselines.per_slice import best_per_slice_plan
from recommender.baselines.whole_gpu import whole_gpu_plan
from recommender.catalog import Catalog
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.sizing import per_slice_sizing
from recommender.throughput import has_throughput

BaselinePlanner = Callable[[Problem, Catalog], Plan]


@dataclass(frozen=True)
class Baseline:
    """A registered baseline: its key (in plans and the CLI), the name people read, the planner.

    Callable like its planner, so `BASELINES[key](problem, catalog)` is the plan.
    """

    key: str
    display_name: str
    planner: BaselinePlanner
    # A throughput baseline sizes throughput workloads itself; on count-only problems it is the
    # same as a count baseline, so `baselines_for` leaves it out there.
    throughput_only: bool = False

    def __call__(self, problem: Problem, catalog: Catalog) -> Plan:
        if has_throughput(problem) and not self.throughput_only:
            return configured_plan(self.key, self.planner, per_slice_sizing, problem, catalog)
        if len(problem.workloads) > MERGE_ABOVE_ROWS and not has_throughput(problem):
            return plan_on_merged(self.planner, problem, catalog)  # rows by the 100,000
        return self.planner(problem, catalog)


BASELINES: dict[str, Baseline] = {
    baseline.key: baseline
    for baseline in (
        Baseline(whole_gpu.NAME, "Whole GPUs (no MIG)", whole_gpu_plan),
        Baseline(all_balanced.NAME, "mig-parted all-balanced", all_balanced_plan),
        Baseline(best_fit.NAME, "Best fit decreasing", best_fit_decreasing_plan),
        Baseline(
            biggest_instance.NAME, "Biggest instance (full GPUs)", biggest_instance_plan, True
        ),
        Baseline(per_slice.NAME, "Best throughput per slice, then pack", best_per_slice_plan, True),
    )
}


def baselines_for(problem: Problem) -> list[Baseline]:
    """The baselines worth showing beside a plan of `problem` (throughput ones only with
    throughput workloads)."""
    return [b for b in BASELINES.values() if has_throughput(problem) or not b.throughput_only]


# A view of the registry for callers that only label plans.
BASELINE_DISPLAY_NAMES: dict[str, str] = {key: b.display_name for key, b in BASELINES.items()}

__all__ = [
    "BASELINES",
    "BASELINE_DISPLAY_NAMES",
    "Baseline",
    "BaselinePlanner",
    "all_balanced_plan",
    "baselines_for",
    "best_fit_decreasing_plan",
    "best_per_slice_plan",
    "biggest_instance_plan",
    "whole_gpu_plan",
]

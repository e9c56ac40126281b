"""Baseline `best-per-slice`: per workload the configuration with the most throughput per compute
slice that meets its latency objective, as many instances as the rate needs (the last one sized
down to the smallest profile that covers the remainder), then best-fit-decreasing packing.

The greedy configurator-then-packer strategy of ParvaGPU (SC'24) and MIG-serving's heuristics;
`sizing.per_slice_sizing` is the configurator, `greedy.best_fit_decreasing` the packer.
"""

from __future__ import annotations

from recommender.baselines.best_fit import best_fit_decreasing_plan
from recommender.baselines.configured import configured_plan
from recommender.catalog import Catalog
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.sizing import per_slice_sizing

NAME = "best-per-slice"


def best_per_slice_plan(problem: Problem, catalog: Catalog) -> Plan:
    """Per-slice sizing, then best fit decreasing (status feasible, bound 0)."""
    return configured_plan(NAME, best_fit_decreasing_plan, per_slice_sizing, problem, catalog)

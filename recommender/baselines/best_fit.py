"""Baseline `best-fit-decreasing`: free placement; each replica goes where it leaves the least
room. The packing itself is `greedy.best_fit_decreasing`, which also warm-starts the solver;
this module only makes it a plan."""

from __future__ import annotations

import time

from recommender.assemble import heuristic_plan
from recommender.catalog import Catalog
from recommender.greedy import best_fit_decreasing
from recommender.plan import Plan
from recommender.problem import Problem

NAME = "best-fit-decreasing"


def best_fit_decreasing_plan(problem: Problem, catalog: Catalog) -> Plan:
    """Best fit decreasing with free placement, as a plan (status feasible, bound 0)."""
    started = time.perf_counter()
    packing = best_fit_decreasing(problem, catalog)
    return heuristic_plan(problem, catalog, packing.gpus, packing.unplaced, NAME, started)

"""Any count baseline on throughput workloads: size them with a configurator, pack, restore.

`sizing.as_count_problem` turns each throughput workload into synthetic count workloads of the
chosen profiles; the count baseline packs those; `sizing.restore` and `assemble_plan` give the
plan in the real workloads' names with every instance's configuration and served rates.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from recommender.assemble import heuristic_plan
from recommender.catalog import Catalog
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.sizing import Sizing, as_count_problem, restore


def configured_plan(
    name: str,
    packer: Callable[[Problem, Catalog], Plan],
    sizing: Sizing,
    problem: Problem,
    catalog: Catalog,
) -> Plan:
    """The plan of `packer` after `sizing` chose every throughput workload's instances."""
    started = time.perf_counter()
    count = as_count_problem(problem, catalog, sizing)
    packed = packer(count.problem, catalog)
    gpus, unplaced = restore(count, packed.gpus, packed.unplaced)
    return heuristic_plan(problem, catalog, gpus, unplaced, name, started)

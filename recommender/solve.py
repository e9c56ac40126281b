"""Public entry point: solve(problem, catalog, options) -> Plan.  (being written)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SolveOptions:
    """Solver parameters; the model never reads files or globals."""

    time_limit_seconds: float = 30.0
    workers: int = 2
    seed: int = 0
    spare_instances: bool = True  # carve whole GPUs (unused instances marked workload=null)


@dataclass(frozen=True)
class Progress:
    """A new best solution or bound, reported while solving."""

    stage: str  # "placement" (maximize placed demand) or "cost" (minimize $/h)
    elapsed_seconds: float
    cost_per_hour: float | None
    lower_bound_per_hour: float | None
    placed_replicas: int | None
    total_replicas: int


ProgressCallback = Callable[[Progress], None]

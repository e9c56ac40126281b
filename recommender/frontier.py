"""Cost against disruption: re-plans of the running fleet under growing move budgets.

From "change nothing" (no replica moves or starts, no GPU is re-carved: the running fleet as it
is, minus replicas the workloads no longer ask for; it may leave replicas unplaced) to the fresh
optimum (no budget: the cheapest plan, with the fewest moves among the cheapest), each point is
one `solve` with a budget on moved replicas, sharing one time budget; each reports its cost,
proven bound and gap, the replicas it places and its disruption by the plan's transition. The
current cost and the fresh optimum are marked, so a reader sees what each move buys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from pydantic import BaseModel, ConfigDict, Field

from recommender.catalog import Catalog
from recommender.plan import Plan, PlanGpu, Status
from recommender.problem import Problem
from recommender.solve import SolveOptions, solve

CHANGE_NOTHING = "change nothing"
FRESH_OPTIMUM = "fresh optimum"
BUDGET = "move budget"
DEFAULT_POINTS = 5


class FrontierPoint(BaseModel):
    """One re-plan of the frontier: its budget, what it costs and what it disturbs."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(description=f"{CHANGE_NOTHING!r}, {BUDGET!r} or {FRESH_OPTIMUM!r}")
    max_moves: int | None
    max_recarve: int | None
    status: Status
    cost_per_hour: float
    lower_bound_per_hour: float
    gap: float | None = Field(description="(cost - bound) / bound; None when the bound is 0")
    replicas_placed: int
    replicas_total: int
    moved_replicas: int
    recarved_gpus: int
    released_gpus: int
    new_gpus: int
    seconds: float
    # The plan itself, for a caller that shows or exports a picked point (not in the JSON, so
    # None when the points are read back from it).
    plan: Plan | None = Field(default=None, exclude=True, repr=False)


class Frontier(BaseModel):
    """The points by budget, with the two marks every chart shows."""

    model_config = ConfigDict(extra="forbid")

    current_cost_per_hour: float
    fresh_cost_per_hour: float = Field(description="cost of the fresh optimum point")
    points: list[FrontierPoint]

    def fresh(self) -> FrontierPoint:
        return next(p for p in self.points if p.label == FRESH_OPTIMUM)


PointCallback = Callable[[FrontierPoint], None]


def move_budgets(fresh_moves: int, points: int) -> list[int]:
    """Budgets strictly between 0 and the fresh optimum's moves, evenly spread, distinct."""
    inner = max(0, points - 2)
    budgets = {round(fresh_moves * k / (inner + 1)) for k in range(1, inner + 1)}
    return sorted(b for b in budgets if 0 < b < fresh_moves)


def frontier(
    problem: Problem,
    catalog: Catalog,
    current: list[PlanGpu],
    points: int = DEFAULT_POINTS,
    options: SolveOptions | None = None,
    on_point: PointCallback | None = None,
) -> Frontier:
    """The cost-vs-disruption frontier in at most `points` solves (at least 2: both ends), all
    within `options.time_limit_seconds`. Points come back ordered by moves allowed."""
    if points < 2:
        raise ValueError(f"a frontier needs at least 2 points, not {points}")
    base = replace(options or SolveOptions(), current=current, max_moves=None, max_recarve=None)
    deadline = time.perf_counter() + base.time_limit_seconds
    solves_left = points
    found: list[FrontierPoint] = []

    def run(label: str, max_moves: int | None, max_recarve: int | None) -> FrontierPoint:
        nonlocal solves_left
        share = max(0.1, (deadline - time.perf_counter()) / solves_left)
        solves_left -= 1
        started = time.perf_counter()
        plan = solve(
            problem,
            catalog,
            replace(base, time_limit_seconds=share, max_moves=max_moves, max_recarve=max_recarve),
        )
        point = _point(label, max_moves, max_recarve, plan, time.perf_counter() - started)
        found.append(point)
        if on_point is not None:
            on_point(point)
        return point

    frozen = run(CHANGE_NOTHING, 0, 0)
    fresh = run(FRESH_OPTIMUM, None, None)
    budgets = move_budgets(fresh.moved_replicas, points)
    solves_left = len(budgets)
    for budget in budgets:
        run(BUDGET, budget, None)
    found.sort(key=lambda p: (p.max_moves is None, p.max_moves or 0))
    transition = frozen.plan.transition
    return Frontier(
        current_cost_per_hour=transition.current_cost_per_hour if transition else 0.0,
        fresh_cost_per_hour=fresh.cost_per_hour,
        points=found,
    )


def _point(
    label: str, max_moves: int | None, max_recarve: int | None, plan: Plan, seconds: float
) -> FrontierPoint:
    summary, transition = plan.summary, plan.transition
    assert summary is not None and transition is not None  # solve sets both with a current
    return FrontierPoint(
        label=label,
        max_moves=max_moves,
        max_recarve=max_recarve,
        status=plan.status,
        cost_per_hour=plan.cost_per_hour,
        lower_bound_per_hour=plan.lower_bound_per_hour,
        gap=summary.gap,
        replicas_placed=summary.replicas_placed,
        replicas_total=summary.replicas_total,
        moved_replicas=transition.moved_replicas,
        recarved_gpus=transition.recarved,
        released_gpus=transition.released,
        new_gpus=transition.new,
        seconds=round(seconds, 3),
        plan=plan,
    )

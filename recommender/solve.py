"""Public entry point: `solve(problem, catalog, options) -> Plan`.

Stage 1 maximizes priority-weighted placed replicas; stage 2 keeps that level and minimizes cost
per hour, then GPUs used. Each stage starts from the best solution known so far (stage 2 from
stage 1's), so a time limit always returns the best plan found with the proven bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from recommender.baselines import best_fit_decreasing_plan
from recommender.catalog import Catalog
from recommender.expand import expand, solution_from_plan
from recommender.formulation import PRICE_SCALE, build_formulation
from recommender.model import LayoutCountModel, StageResult, lp_relaxation_bound, run_stage
from recommender.plan import Plan, SolverStats, Unplaced
from recommender.problem import Problem
from recommender.summary import inputs_digest, plan_cost, summarize, unplaced_reason

# Relative gap at which a cost counts as proven optimal: 0.001% (MIP solvers use 0.01%). Closing
# the last few price units can take CP-SAT minutes on 200 GPUs and changes no decision.
OPTIMALITY_TOLERANCE = 1e-5


@dataclass(frozen=True)
class SolveOptions:
    """Solver parameters; the model never reads files or globals."""

    time_limit_seconds: float = 30.0
    workers: int = 2
    seed: int = 0
    spare_instances: bool = True  # carve whole GPUs; unused instances are marked workload=null
    # Share of the time limit stage 1 may use; it usually proves its optimum in milliseconds.
    placement_share: float = 0.4
    # Stop the cost stage once (cost - bound) / bound is at most this; 0 = until proven/limit.
    relative_gap: float = 0.0
    # Start the placement stage from the best-fit-decreasing plan.
    warm_start: bool = True


@dataclass(frozen=True)
class Progress:
    """A new best solution reported while solving."""

    stage: str  # "placement" (maximize placed demand) or "cost" (minimize $/h)
    elapsed_seconds: float
    cost_per_hour: float | None
    lower_bound_per_hour: float | None
    placed_replicas: int | None
    total_replicas: int


ProgressCallback = Callable[[Progress], None]


def solve(
    problem: Problem,
    catalog: Catalog,
    options: SolveOptions | None = None,
    progress: ProgressCallback | None = None,
) -> Plan:
    options = options or SolveOptions()
    started = time.perf_counter()
    # The limit covers everything: building, both stages, the LP bound and the expansion.
    deadline = started + options.time_limit_seconds - _finishing_reserve(problem)
    f = build_formulation(problem, catalog)
    total = problem.total_replicas
    total_weight = f.total_weight
    lcm = LayoutCountModel(f)
    lcm.add_all_constraints()
    variables, constraints = lcm.size()
    notes: list[str] = []

    def elapsed() -> float:
        return time.perf_counter() - started

    def report(stage: str, cost: float | None, bound: float | None, placed: int | None) -> None:
        if progress is not None:
            progress(Progress(stage, elapsed(), cost, bound, placed, total))

    # Stage 1: place as much priority-weighted demand as possible.
    shortfall = lcm.shortfall()
    lcm.model.minimize(shortfall)
    if options.warm_start:
        lcm.hint(solution_from_plan(f, best_fit_decreasing_plan(problem, catalog)))
    stage1 = run_stage(
        lcm,
        (deadline - time.perf_counter()) * options.placement_share,
        options.workers,
        options.seed,
        on_solution=lambda obj, _b: report("placement", None, None, None),
    )
    if stage1.solution is None:
        return _no_plan(problem, catalog, options, stage1, elapsed(), variables, constraints)
    best_shortfall = round(stage1.objective or 0)
    placed1 = total - sum(stage1.solution.unplaced.values())
    report("placement", None, None, placed1)

    # Stage 2: keep that placement level, minimize cost, then GPUs and instance sizes.
    weight = lcm.cost_weight
    lcm.model.add(shortfall <= best_shortfall)
    lcm.model.minimize(weight * lcm.cost() + lcm.fragmentation())
    lcm.hint(stage1.solution)

    def on_cost(obj: float, bound: float) -> None:
        report("cost", _units_cost(obj, weight), _units_bound(bound, weight), placed1)

    # Stop once the cost is proven to one price unit (1e-4 $/h): what is left to prove is only
    # the tie-breaker, which could otherwise use the whole time limit on large fleets.
    stage2 = run_stage(
        lcm,
        deadline - time.perf_counter(),
        options.workers,
        options.seed,
        on_solution=on_cost,
        absolute_gap=weight - 1,
        # CP-SAT measures the gap relative to the objective, we relative to the bound.
        relative_gap=max(
            OPTIMALITY_TOLERANCE, 0.999 * options.relative_gap / (1 + options.relative_gap)
        ),
    )
    bound_source = "CP-SAT best objective bound of the cost stage"
    if stage2.solution is not None:
        final, cost_status = stage2.solution, stage2.status
        bound = _units_bound(stage2.bound, weight)
    else:
        final, cost_status, bound = stage1.solution, "unknown", 0.0
        notes.append("the cost stage found no solution in time; the plan is the placement stage's")
    if cost_status != "optimal":
        # Cheap, and sometimes stronger than what CP-SAT proved before the time limit.
        relaxed = lp_relaxation_bound(lcm.model)
        if relaxed is not None and _units_bound(relaxed, weight) > bound:
            bound = _units_bound(relaxed, weight)
            bound_source = "LP relaxation of the cost stage (GLOP)"

    gpus, placed = expand(f, final, options.spare_instances)
    unplaced = [
        Unplaced(
            workload=w.name,
            replicas=w.replicas - placed.get(w.name, 0),
            reason=unplaced_reason(w, problem, catalog),
        )
        for w in problem.workloads
        if placed.get(w.name, 0) < w.replicas
    ]
    cost = plan_cost(gpus, problem)
    bound = min(bound, cost)
    # "optimal" means proven to one price unit (plus the rounding of each price to a unit) or
    # to OPTIMALITY_TOLERANCE; a stop at the user's --gap is not a proof.
    slack = max((1.0 + 0.5 * len(gpus)) / PRICE_SCALE, OPTIMALITY_TOLERANCE * cost)
    cost_proven = cost - bound <= slack + 1e-9
    if cost_status == "optimal" and not cost_proven:
        cost_status = "feasible"
    status = "optimal" if stage1.status == "optimal" and cost_proven else "feasible"
    if stage1.status != "optimal":
        notes.append(
            "placement not proven maximal: the cost bound holds for this placement level "
            f"({total_weight - best_shortfall} of {total_weight} priority-weighted replicas)"
        )
    report("cost", cost, bound, total - sum(u.replicas for u in unplaced))
    return Plan(
        status=status,
        cost_per_hour=round(cost, 6),
        lower_bound_per_hour=round(bound, 6),
        gpus=gpus,
        unplaced=unplaced,
        summary=summarize(gpus, unplaced, problem, catalog, bound),
        solver=SolverStats(
            wall_seconds=round(elapsed(), 3),
            time_limit_seconds=options.time_limit_seconds,
            workers=options.workers,
            seed=options.seed,
            placement_status=stage1.status,
            cost_status=cost_status,
            lower_bound_source=bound_source,
            layouts=sum(len(p.layouts) for p in f.pools),
            variables=variables,
            constraints=constraints,
            notes=notes,
        ),
        inputs_sha256=inputs_digest(problem, catalog),
    )


def _finishing_reserve(problem: Problem) -> float:
    """Seconds kept back from the time limit for the LP bound, expansion and summary.

    Measured at about 1e-4 s per GPU on 2 cores (20,000 GPUs: 2 s); doubled for safety.
    """
    return 0.1 + 2e-4 * sum(p.gpus for p in problem.pools)


def _units_cost(objective: float, weight: int) -> float:
    return math.floor(objective / weight) / PRICE_SCALE


def _units_bound(bound: float | None, weight: int) -> float:
    """Lower bound on cost from a bound on `weight * cost + fragmentation` (< weight)."""
    if bound is None:
        return 0.0
    return max(0.0, math.ceil((bound - (weight - 1)) / weight - 1e-9)) / PRICE_SCALE


def _no_plan(
    problem: Problem,
    catalog: Catalog,
    options: SolveOptions,
    stage: StageResult,
    seconds: float,
    variables: int,
    constraints: int,
) -> Plan:
    reason = "the solver found no plan within the time limit; raise --time-limit"
    unplaced = [
        Unplaced(workload=w.name, replicas=w.replicas, reason=reason) for w in problem.workloads
    ]
    return Plan(
        status="unknown",
        cost_per_hour=0.0,
        lower_bound_per_hour=0.0,
        gpus=[],
        unplaced=unplaced,
        summary=summarize([], unplaced, problem, catalog, 0.0),
        solver=SolverStats(
            wall_seconds=round(seconds, 3),
            time_limit_seconds=options.time_limit_seconds,
            workers=options.workers,
            seed=options.seed,
            placement_status=stage.status,
            variables=variables,
            constraints=constraints,
        ),
        inputs_sha256=inputs_digest(problem, catalog),
    )

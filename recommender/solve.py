"""Public entry point: `solve(problem, catalog, options) -> Plan`.

Stage 1 maximizes priority-weighted placed replicas; stage 2 keeps that level and minimizes cost
per hour, then GPUs used. Each stage starts from the best solution known so far (stage 2 from
stage 1's), so a time limit always returns the best plan found with the proven bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recommender.assemble import assemble_plan
from recommender.catalog import Catalog
from recommender.cpsat import PRICE_SCALE, SAFE_MAGNITUDE, check_magnitude
from recommender.expand import expand, solution_from_gpus
from recommender.formulation import Formulation, build_formulation
from recommender.greedy import best_fit_decreasing
from recommender.model import (
    LayoutCountModel,
    Solution,
    StageResult,
    lp_relaxation_bound,
    run_stage,
)
from recommender.plan import Plan, SolverStats, Status, Unplaced
from recommender.problem import Problem
from recommender.reasons import unplaced_reason
from recommender.summary import plan_cost

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
    """The cost-minimizing plan: build the model, place, then cost, then assemble the plan."""
    run = _Run.start(problem, catalog, options or SolveOptions(), progress)
    placement = _placement_stage(run)
    if placement.solution is None:
        return _no_plan(run, placement)
    cost = _cost_stage(run, placement)
    return _finish(run, placement, cost)


@dataclass
class _Run:
    """One call of `solve`: its inputs, clock, model and progress reporting."""

    problem: Problem
    catalog: Catalog
    options: SolveOptions
    progress: ProgressCallback | None
    started: float
    deadline: float  # the stages end by then, leaving time to finish the plan
    formulation: Formulation
    lcm: LayoutCountModel
    variables: int
    constraints: int

    @classmethod
    def start(
        cls,
        problem: Problem,
        catalog: Catalog,
        options: SolveOptions,
        progress: ProgressCallback | None,
    ) -> _Run:
        started = time.perf_counter()
        # The limit covers everything: building, both stages, the LP bound and the expansion.
        deadline = started + options.time_limit_seconds - _finishing_reserve(problem)
        formulation = build_formulation(problem, catalog)
        lcm = LayoutCountModel(formulation)
        lcm.add_all_constraints()
        variables, constraints = lcm.size()
        return cls(
            problem,
            catalog,
            options,
            progress,
            started,
            deadline,
            formulation,
            lcm,
            variables,
            constraints,
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def remaining(self) -> float:
        return self.deadline - time.perf_counter()

    def report(
        self, stage: str, cost: float | None, bound: float | None, placed: int | None
    ) -> None:
        if self.progress is not None:
            total = self.problem.total_replicas
            self.progress(Progress(stage, self.elapsed(), cost, bound, placed, total))

    def stats(self, placement_status: str, **more: Any) -> SolverStats:
        """Solver stats of this run; `more` adds the fields known once the stages ran."""
        return SolverStats(
            wall_seconds=round(self.elapsed(), 3),
            time_limit_seconds=self.options.time_limit_seconds,
            workers=self.options.workers,
            seed=self.options.seed,
            placement_status=placement_status,
            variables=self.variables,
            constraints=self.constraints,
            **more,
        )


@dataclass
class _CostOutcome:
    """The solution the plan is made from, what is proven about its cost, and why."""

    solution: Solution
    status: str  # of the cost stage: optimal | feasible | infeasible | unknown
    bound: float  # $/h
    bound_source: str
    notes: list[str] = field(default_factory=list)


def _placement_stage(run: _Run) -> StageResult:
    """Stage 1: place as much priority-weighted demand as possible."""
    lcm = run.lcm
    lcm.model.minimize(lcm.shortfall())
    if run.options.warm_start:
        greedy = best_fit_decreasing(run.problem, run.catalog)
        lcm.hint(solution_from_gpus(run.formulation, greedy.gpus))
    stage = run_stage(
        lcm,
        run.remaining() * run.options.placement_share,
        run.options.workers,
        run.options.seed,
        on_solution=lambda _obj, _bound: run.report("placement", None, None, None),
    )
    if stage.solution is not None:
        run.report("placement", None, None, _placed(run, stage))
    return stage


def _cost_stage(run: _Run, placement: StageResult) -> _CostOutcome:
    """Stage 2: keep stage 1's placement level, minimize cost, then GPUs and instance sizes."""
    lcm = run.lcm
    placed = _placed(run, placement)
    lcm.model.add(lcm.shortfall() <= round(placement.objective or 0))
    weight, notes = _cost_weight(lcm)
    if weight == 1:
        lcm.model.minimize(lcm.cost())
    else:
        lcm.model.minimize(weight * lcm.cost() + lcm.fragmentation())
    assert placement.solution is not None
    lcm.hint(placement.solution)

    def on_cost(objective: float, bound: float) -> None:
        run.report("cost", _units_cost(objective, weight), _units_bound(bound, weight), placed)

    # Stop once the cost is proven to one price unit (1e-4 $/h): what is left to prove is only
    # the tie-breaker, which could otherwise use the whole time limit on large fleets.
    stage = run_stage(
        lcm,
        run.remaining(),
        run.options.workers,
        run.options.seed,
        on_solution=on_cost,
        absolute_gap=weight - 1,
        # CP-SAT measures the gap relative to the objective, we relative to the bound.
        relative_gap=max(
            OPTIMALITY_TOLERANCE, 0.999 * run.options.relative_gap / (1 + run.options.relative_gap)
        ),
    )
    if stage.solution is not None:
        outcome = _CostOutcome(
            stage.solution,
            stage.status,
            _units_bound(stage.bound, weight),
            "CP-SAT best objective bound of the cost stage",
            notes,
        )
    else:
        outcome = _CostOutcome(
            placement.solution,
            "unknown",
            0.0,
            "CP-SAT best objective bound of the cost stage",
            [*notes, "the cost stage found no solution in time; the plan is the placement stage's"],
        )
    if outcome.status != "optimal":
        # Cheap, and sometimes stronger than what CP-SAT proved before the time limit.
        relaxed = lp_relaxation_bound(lcm.model)
        if relaxed is not None and _units_bound(relaxed, weight) > outcome.bound:
            outcome.bound = _units_bound(relaxed, weight)
            outcome.bound_source = "LP relaxation of the cost stage (GLOP)"
    return outcome


def _cost_weight(lcm: LayoutCountModel) -> tuple[int, list[str]]:
    """Weight of cost over the fragmentation tie-break, and any note about it.

    Cost and tie-break share one objective, cost weighted above the tie-break's largest value.
    Where that product could overflow CP-SAT's 64-bit integers (only on enormous fleets and
    demand), the tie-break is dropped rather than the model corrupted; cost stays exact.
    """
    check_magnitude("the cost per hour", lcm.max_cost())
    weight = lcm.cost_weight
    if weight * lcm.max_cost() + lcm.max_fragmentation() < SAFE_MAGNITUDE:
        return weight, []
    return 1, ["fleet too large for the fragmentation tie-break; cost alone was minimized"]


def _finish(run: _Run, placement: StageResult, cost: _CostOutcome) -> Plan:
    """Concrete GPUs from the counts, reasons for what is left out, statuses, the plan."""
    problem = run.problem
    gpus, placed = expand(run.formulation, cost.solution, run.options.spare_instances)
    unplaced = _unplaced(run, placed)
    total_cost = plan_cost(gpus, problem)
    bound = min(cost.bound, total_cost)
    cost_proven = _cost_proven(total_cost, bound, len(gpus))
    cost_status = "feasible" if cost.status == "optimal" and not cost_proven else cost.status
    status: Status = "optimal" if placement.status == "optimal" and cost_proven else "feasible"
    notes = list(cost.notes)
    if placement.status != "optimal":
        total_weight = run.formulation.total_weight
        reached = total_weight - round(placement.objective or 0)
        notes.append(
            "placement not proven maximal: the cost bound holds for this placement level "
            f"({reached} of {total_weight} priority-weighted replicas)"
        )
    missing = sum(u.replicas for u in unplaced)
    run.report("cost", total_cost, bound, problem.total_replicas - missing)
    return assemble_plan(
        problem,
        run.catalog,
        gpus,
        unplaced,
        status=status,
        lower_bound_per_hour=bound,
        solver=run.stats(
            placement.status,
            cost_status=cost_status,
            lower_bound_source=cost.bound_source,
            layouts=sum(len(p.layouts) for p in run.formulation.pools),
            notes=notes,
        ),
    )


def _unplaced(run: _Run, placed: dict[str, int]) -> list[Unplaced]:
    """Every workload with replicas left out, with the reason the inputs give."""
    return [
        Unplaced(
            workload=w.name,
            replicas=w.replicas - placed.get(w.name, 0),
            reason=unplaced_reason(w, run.problem, run.catalog),
        )
        for w in run.problem.workloads
        if placed.get(w.name, 0) < w.replicas
    ]


def _cost_proven(cost: float, bound: float, gpus: int) -> bool:
    """Whether the cost is proven optimal: to one price unit (plus the rounding of each GPU's
    price to a unit) or to OPTIMALITY_TOLERANCE. A stop at the user's --gap is not a proof."""
    slack = max((1.0 + 0.5 * gpus) / PRICE_SCALE, OPTIMALITY_TOLERANCE * cost)
    return cost - bound <= slack + 1e-9


def _no_plan(run: _Run, placement: StageResult) -> Plan:
    """Stage 1 found nothing in time: every replica is unplaced, the plan says why."""
    reason = "the solver found no plan within the time limit; raise --time-limit"
    unplaced = [
        Unplaced(workload=w.name, replicas=w.replicas, reason=reason) for w in run.problem.workloads
    ]
    return assemble_plan(
        run.problem,
        run.catalog,
        [],
        unplaced,
        status="unknown",
        lower_bound_per_hour=0.0,
        solver=run.stats(placement.status),
    )


def _placed(run: _Run, stage: StageResult) -> int:
    """Replicas a stage's solution places."""
    assert stage.solution is not None
    return run.problem.total_replicas - sum(stage.solution.unplaced.values())


def _finishing_reserve(problem: Problem) -> float:
    """Seconds kept back from the time limit for the LP bound, expansion and summary.

    Measured at about 1e-4 s per GPU on 2 cores (20,000 GPUs: 2 s); doubled for safety.
    """
    # A plan never uses more GPUs than there are replicas, whatever the pools' sizes.
    usable = min(sum(p.gpus for p in problem.pools), problem.total_replicas)
    return 0.1 + 2e-4 * usable


def _units_cost(objective: float, weight: int) -> float:
    return math.floor(objective / weight) / PRICE_SCALE


def _units_bound(bound: float | None, weight: int) -> float:
    """Lower bound on cost from a bound on `weight * cost + fragmentation` (< weight)."""
    if bound is None:
        return 0.0
    return max(0.0, math.ceil((bound - (weight - 1)) / weight - 1e-9)) / PRICE_SCALE

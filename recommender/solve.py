"""Public entry point: `solve(problem, catalog, options) -> Plan`.

Stage 1 maximizes priority-weighted placed replicas; stage 2 keeps that level and minimizes cost
per hour, then GPUs used. Each stage starts from the best solution known so far (stage 2 from
stage 1's), so a time limit always returns the best plan found with the proven bound.

Re-planning from the running fleet (`SolveOptions.current`): the budgets are hard constraints of
every stage, stage 1 starts from "change nothing", stage 2 minimizes cost alone, and stage 3 keeps
that cost and minimizes moved replicas, then re-carved GPUs, then fragmentation.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from recommender import relaxation
from recommender.assemble import assemble_plan
from recommender.catalog import Catalog
from recommender.cpsat import PRICE_SCALE, SAFE_MAGNITUDE, check_magnitude
from recommender.expand import (
    expand,
    solution_from_contents,
    solution_from_current,
    solution_from_gpus,
)
from recommender.formulation import Formulation, build_formulation
from recommender.gcpause import collector_paused
from recommender.greedy import (
    Packing,
    best_fit_contents,
    best_fit_decreasing,
    merge_identical,
    serving_order,
)
from recommender.model import (
    LayoutCountModel,
    Solution,
    StageResult,
    lp_relaxation_bound,
    run_stage,
)
from recommender.plan import Plan, PlanGpu, SolverStats, Status, Unplaced
from recommender.problem import Problem
from recommender.reading.current import stop_retired
from recommender.reasons import unplaced_reasons
from recommender.sizing import as_count_problem, per_slice_sizing, restore
from recommender.summary import plan_cost
from recommender.throughput import configure, has_throughput

# Relative gap at which a cost counts as proven optimal: 0.001% (MIP solvers use 0.01%). Closing
# the last few price units can take CP-SAT minutes on 200 GPUs and changes no decision.
OPTIMALITY_TOLERANCE = 1e-5
# Share of the time left after the placement stage that column generation and the carving of its
# mixes may take (throughput workloads only, `relaxation.py`); CP-SAT improves the result after.
RELAXATION_SHARE = 0.3


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
    # The running fleet to re-plan from (`reading.load_current`); None plans an empty fleet.
    current: list[PlanGpu] | None = None
    # Disruption budgets (hard limits; only with `current`): GPUs hosting replicas now that get
    # a different layout, and replicas placed anywhere but on their current slot of a kept GPU.
    max_recarve: int | None = None
    max_moves: int | None = None
    # Nodes per rollout wave in the plan's transition.
    wave_size: int = 1
    # The operator's "only carve idle GPUs" strategy (with `current`): GPUs hosting replicas now
    # keep their layout and replicas; new replicas go to spare instances and idle GPUs.
    keep_running: bool = False
    # Share of the time left after stage 1 that the cost stage may use when re-planning.
    cost_share: float = 0.7
    # An absolute `time.monotonic()` by which the plan must be made, for a caller whose clock
    # started before `solve` (the CLI's starts before reading the inputs and keeps time back
    # for writing the files); the earlier of it and `time_limit_seconds` from the call counts.
    deadline: float | None = None


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
    options = options or SolveOptions()
    if options.current is not None:
        options = replace(options, current=stop_retired(options.current, problem))
    run = _Run.start(problem, catalog, options, progress)
    run.lap("building")
    placement = _placement_stage(run)
    run.lap("placement")
    if placement.solution is None:
        with collector_paused():
            return _timed(run, _no_plan(run, placement))
    cost = _cost_stage(run, placement)
    run.lap("cost")
    if run.formulation.replanning:
        _disruption_stage(run, cost)
        run.lap("re-planning")
    with collector_paused():  # a plan of a million objects and no cycles (`gcpause`)
        return _timed(run, _finish(run, placement, cost))


def _timed(run: _Run, plan: Plan) -> Plan:
    """The plan with the whole solve's wall time and its split by part (`SolverStats.seconds`):
    what a time limit was spent on."""
    run.lap("finishing")
    if plan.solver is not None:
        plan.solver.wall_seconds = round(run.elapsed(), 3)
        plan.solver.seconds = dict(run.laps)
        plan.solver.notes.extend(run.notes)
    return plan


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
    end: float = math.inf  # the plan is made by then: the time limit or the caller's deadline
    notes: list[str] = field(default_factory=list)  # for the plan's solver notes
    # Seconds per part of the solve (`SolverStats.seconds`), in the order they ran.
    laps: dict[str, float] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        problem: Problem,
        catalog: Catalog,
        options: SolveOptions,
        progress: ProgressCallback | None,
    ) -> _Run:
        started = time.perf_counter()
        end = started + options.time_limit_seconds
        if options.deadline is not None:
            end = min(end, started + options.deadline - time.monotonic())
        # The limit covers everything: building, both stages, the LP bound and the expansion.
        deadline = end - _lp_seconds(options.time_limit_seconds)
        deadline -= _transition_reserve(options)
        formulation = build_formulation(problem, catalog, options.current)
        # Building reads every row as finishing does: its time tells how busy the machine is.
        deadline -= _finishing_reserve(problem, time.perf_counter() - started)
        lcm = LayoutCountModel(formulation)
        lcm.add_all_constraints()
        if formulation.replanning:
            lcm.add_budgets(options.max_recarve, options.max_moves)
            if options.keep_running:
                lcm.add_keep_running()
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
            end=end,
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def lap(self, part: str) -> None:
        """Record the seconds `part` took: since the previous lap (or the start)."""
        self.laps[part] = round(self.elapsed() - sum(self.laps.values()), 3)

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
    hint = None
    if run.formulation.replanning:
        hint = _replan_hint(run)
    elif run.options.warm_start:
        hint = warm_start_hint(run.formulation)
    if hint is not None:
        lcm.hint(hint)
        run.lap("warm start")
    stage = run_stage(
        lcm,
        run.remaining() * run.options.placement_share,
        run.options.workers,
        run.options.seed,
        on_solution=lambda _obj, _bound: run.report("placement", None, None, None),
    )
    if stage.solution is None and hint is not None:
        # Huge inputs can leave CP-SAT no time to find a solution. The hint is a feasible plan
        # (the greedy packing, or the running fleet kept), so it is the plan rather than none.
        stage = StageResult("feasible", _shortfall_value(run, hint), None, stage.seconds, hint)
        run.notes.append(
            "the placement stage found no solution in time; the plan starts from the "
            "best-fit-decreasing warm start"
            if not run.formulation.replanning
            else "the placement stage found no solution in time; the plan starts from the hint"
        )
    if stage.solution is not None:
        run.report("placement", None, None, _placed(run, stage))
    return stage


def _shortfall_value(run: _Run, solution: Solution) -> int:
    """The placement stage's objective (`LayoutCountModel.shortfall`) for these counts."""
    scale = run.formulation.served_scale
    return sum(
        c.shortfall_weight(scale) * solution.unplaced.get(c.index, 0)
        for c in run.formulation.classes
    )


def _replan_hint(run: _Run) -> Solution:
    """The placement stage's start when re-planning: `_kept_hint`, feasible under every budget;
    without budgets the fresh greedy plan instead when it places more priority-weighted
    replicas (a fleet carved for other workloads may need many GPUs re-carved, which a search
    from "change nothing" finds slowly on large fleets)."""
    kept = _kept_hint(run)
    options = run.options
    if not options.warm_start or options.keep_running:
        return kept
    if options.max_moves is not None or options.max_recarve is not None:
        return kept
    f = run.formulation
    fresh = warm_start_hint(f)
    for q in kept.recarve:
        carved = sum(n for (p, _), n in fresh.gpus_with.items() if p == q)
        fresh.recarve[q] = max(0, carved - f.idle[q])
    return fresh if _shortfall(run, fresh) < _shortfall(run, kept) else kept


def _shortfall(run: _Run, solution: Solution) -> int:
    """Priority-weighted unplaced replicas of a solution (count classes only)."""
    return sum(
        c.priority * solution.unplaced.get(c.index, 0)
        for c in run.formulation.classes
        if c.throughput is None
    )


def _kept_hint(run: _Run) -> Solution:
    """Change nothing, plus the replicas not running now packed best fit onto the GPUs hosting
    nothing now, as many as the move budget allows (priority first): nothing is re-carved, so
    the hint is feasible under every budget and places what is cheap to place."""
    f = run.formulation
    hint = solution_from_current(f)
    staying: Counter[str] = Counter()
    for (_, workload, _), count in hint.stay.items():
        staying[workload] += count
    budget = run.options.max_moves
    workloads = []
    for workload in serving_order(run.problem):
        missing = workload.replicas - staying[workload.name]
        if budget is not None:
            missing = min(missing, budget)
            budget -= missing
        if missing > 0 and not workload.is_throughput:
            workloads.append(workload.model_copy(update={"replicas": missing}))
    pools = tuple(pd.pool.model_copy(update={"gpus": f.idle[pd.index]}) for pd in f.pools)
    if not run.options.warm_start or not workloads or not any(p.gpus for p in pools):
        return hint
    residual = Problem(workloads=tuple(workloads), pools=pools)
    packed = solution_from_gpus(f, best_fit_decreasing(residual, run.catalog).gpus)
    for key, count in packed.placed.items():
        hint.placed[key] = hint.placed.get(key, 0) + count
    hint.gpus_with = packed.gpus_with
    hint.spread_placed = packed.spread_placed
    for c in f.classes:
        hint.unplaced[c.index] -= c.demand - packed.unplaced[c.index]
    return hint


def _cost_stage(run: _Run, placement: StageResult) -> _CostOutcome:
    """Stage 2: keep stage 1's placement level, minimize cost, then GPUs and instance sizes."""
    lcm = run.lcm
    placed = _placed(run, placement)
    lcm.model.add(lcm.shortfall() <= round(placement.objective or 0))
    weight, notes = _cost_weight(lcm)
    share = 1.0
    if run.formulation.replanning:
        # Moves and re-carves rank above the fragmentation tie-break: stage 3 takes them all.
        weight, notes, share = 1, [], run.options.cost_share
    if weight == 1:
        lcm.model.minimize(lcm.cost())
    else:
        lcm.model.minimize(weight * lcm.cost() + lcm.fragmentation())
    assert placement.solution is not None
    start = _relaxed_start(run, placement)
    lcm.hint(start.solution)

    def on_cost(objective: float, bound: float) -> None:
        run.report("cost", _units_cost(objective, weight), _units_bound(bound, weight), placed)

    # Stop once the cost is proven to one price unit (1e-4 $/h): what is left to prove is only
    # the tie-breaker, which could otherwise use the whole time limit on large fleets.
    stage = run_stage(
        lcm,
        run.remaining() * share,
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
        # Its time comes out of the finishing reserve, so the limit still covers the solve.
        lp_seconds = _lp_seconds(run.options.time_limit_seconds)
        relaxed = lp_relaxation_bound(lcm.model, time_limit=lp_seconds)
        if relaxed is not None and _units_bound(relaxed, weight) > outcome.bound:
            outcome.bound = _units_bound(relaxed, weight)
            outcome.bound_source = "LP relaxation of the cost stage (GLOP)"
    if start.bound is not None and math.ceil(start.bound) / PRICE_SCALE > outcome.bound:
        outcome.bound = math.ceil(start.bound) / PRICE_SCALE
        outcome.bound_source = "Lagrangian bound over integer instance mixes (column generation)"
    if stage.solution is None and start.solution is not placement.solution:
        outcome.solution = start.solution
    return outcome


def _relaxed_start(run: _Run, placement: StageResult) -> relaxation.Start:
    """The cost stage's hint and a bound from column generation (`relaxation.py`), when the
    placement stage covered every class in full and throughput workloads make the cost stage
    hard for CP-SAT alone; else the placement stage's solution as before."""
    f = run.formulation
    assert placement.solution is not None
    if f.served_scale == 1 or round(placement.objective or 0) != 0 or not relaxation.applies(f):
        return relaxation.Start(placement.solution, None)
    return relaxation.cost_stage_start(
        f,
        placement.solution,
        run.lcm.cost_value,
        run.remaining() * RELAXATION_SHARE,
        run.options.workers,
    )


def _disruption_stage(run: _Run, cost: _CostOutcome) -> None:
    """Stage 3 (re-planning): keep the cost found, minimize moved replicas, then re-carved GPUs,
    then fragmentation; packed into as few solves as CP-SAT's integers allow."""
    lcm = run.lcm
    lcm.model.add(lcm.cost() <= lcm.cost_value(cost.solution))
    terms = [
        ("moved replicas", lcm.moved(), lcm.max_moved()),
        ("re-carved GPUs", lcm.recarved(), lcm.max_recarved()),
        ("fragmentation", lcm.fragmentation(), lcm.max_fragmentation()),
    ]
    levels = lexicographic_levels([largest for _, _, largest in terms])
    for position, (first, end) in enumerate(levels):
        level = terms[first:end]
        objective = sum(
            weight * expression
            for (_, expression, _), weight in zip(level, level_weights(level), strict=True)
        )
        lcm.model.minimize(objective)
        lcm.hint(cost.solution)
        share = 1.0 / (len(levels) - position)
        stage = run_stage(lcm, run.remaining() * share, run.options.workers, run.options.seed)
        names = ", ".join(name for name, _, _ in level)
        cost.notes.append(f"re-planning stage ({names}): {stage.status}")
        if stage.solution is None or stage.objective is None:
            return
        cost.solution = stage.solution
        lcm.model.add(objective <= round(stage.objective))


def lexicographic_levels(largest: list[int]) -> list[tuple[int, int]]:
    """Consecutive objective terms (given by their largest values) packed into weighted sums
    that stay below SAFE_MAGNITUDE: (first, end) index ranges, one solve each."""
    levels: list[tuple[int, int]] = []
    first = 0
    while first < len(largest):
        end, span = first + 1, largest[first] + 1
        while end < len(largest) and span * (largest[end] + 1) < SAFE_MAGNITUDE:
            span *= largest[end] + 1
            end += 1
        check_magnitude("a re-planning objective", span)
        levels.append((first, end))
        first = end
    return levels


def level_weights(level: list[tuple[str, Any, int]]) -> list[int]:
    """Weights that make a weighted sum lexicographic: each term outweighs all that follow."""
    weights = []
    for position in range(len(level)):
        weight = 1
        for _, _, largest in level[position + 1 :]:
            weight *= largest + 1
        weights.append(weight)
    return weights


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
    notes = [*run.lcm.notes, *cost.notes]
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
        current=run.options.current,
        wave_size=run.options.wave_size,
        max_recarve=run.options.max_recarve,
        max_moves=run.options.max_moves,
    )


def _unplaced(run: _Run, placed: dict[str, int]) -> list[Unplaced]:
    """Every workload with replicas left out, with the reason the inputs give."""
    # Throughput workloads: `assemble_plan` derives their entries from the served rate.
    short = [
        w
        for w in run.problem.workloads
        if placed.get(w.name, 0) < w.replicas and not w.is_throughput
    ]
    reasons = unplaced_reasons(short, run.problem, run.catalog)
    return [
        Unplaced(
            workload=w.name, replicas=w.replicas - placed.get(w.name, 0), reason=reasons[w.name]
        )
        for w in short
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
        current=run.options.current,
        wave_size=run.options.wave_size,
        max_recarve=run.options.max_recarve,
        max_moves=run.options.max_moves,
    )


def _placed(run: _Run, stage: StageResult) -> int:
    """Replicas a stage's solution places."""
    assert stage.solution is not None
    if run.formulation.served_scale == 1:
        return run.problem.total_replicas - sum(stage.solution.unplaced.values())
    # With throughput workloads: count replicas placed plus throughput instances placed.
    counted = {c.index for c in run.formulation.classes if c.throughput is None}
    left_out = sum(n for c, n in stage.solution.unplaced.items() if c in counted)
    replicas = sum(c.demand for c in run.formulation.classes if c.index in counted)
    instances = sum(n for (c, _, _), n in stage.solution.placed.items() if c not in counted)
    instances += sum(n for (c, *_), n in stage.solution.spread_placed.items() if c not in counted)
    return replicas - left_out + instances


def _finishing_reserve(problem: Problem, building_seconds: float | None = None) -> float:
    """Seconds kept back from the time limit for the expansion and summary of the plan.

    That work grows with the GPUs the plan carves, the replicas it places and the workloads it
    lists: measured on 2 idle cores at about 1.2e-5 s per GPU, 6e-6 s per replica and 3e-6 s
    per workload (500,000 one-replica workloads on 160,000 GPUs: 6.5 s). A busy machine slows
    it down as much as it slowed the building of the model (2.5e-6 s per workload when idle),
    so on large inputs the estimate is scaled by that slowdown: at least 1.25, at most 4.
    """
    # A plan never uses more GPUs than there are replicas, whatever the pools' sizes.
    replicas = problem.total_replicas
    usable = min(sum(p.gpus for p in problem.pools), replicas)
    rows = len(problem.workloads)
    work = 1.2e-5 * usable + 6e-6 * replicas + 3e-6 * rows
    slowdown = 1.25
    expected_building = 2.5e-6 * rows
    if building_seconds is not None and expected_building >= 0.25:  # long enough to tell
        slowdown = min(4.0, max(slowdown, building_seconds / expected_building))
    return 0.3 + slowdown * work


def _transition_reserve(options: SolveOptions) -> float:
    """Seconds kept back when re-planning for the kept GPUs' expansion and the transition:
    measured on 2 cores at about 4e-4 s per GPU of the current state for the expansion and the
    diff (20,000 GPUs: 8 s) and 1.6e-3 s for the rollout waves (32 s), plus half again for a
    busy machine."""
    if options.current is None:
        return 0.0
    return 0.5 + 3e-3 * len(options.current)


def _lp_seconds(time_limit: float) -> float:
    """Seconds the LP bound may take: its model is the count model, which does not grow with
    the fleet or the rows, so a small share of the limit, at most 2 s."""
    return min(2.0, 0.05 * time_limit)


def _units_cost(objective: float, weight: int) -> float:
    return math.floor(objective / weight) / PRICE_SCALE


def _units_bound(bound: float | None, weight: int) -> float:
    """Lower bound on cost from a bound on `weight * cost + fragmentation` (< weight)."""
    if bound is None:
        return 0.0
    return max(0.0, math.ceil((bound - (weight - 1)) / weight - 1e-9)) / PRICE_SCALE


def warm_start_hint(f: Formulation) -> Solution:
    """The counts of `warm_start_packing`; without throughput workloads read straight from the
    packing's GPU contents, never building an object per GPU (500,000 rows: seconds saved)."""
    if has_throughput(f.problem):
        return solution_from_gpus(f, warm_start_packing(f.problem, f.catalog).gpus)
    return solution_from_contents(f, best_fit_contents(merge_identical(f.problem), f.catalog))


def warm_start_packing(problem: Problem, catalog: Catalog) -> Packing:
    """The greedy plan that hints the placement stage: best fit decreasing, with throughput
    workloads first sized by the per-slice configurator (`sizing.py`)."""
    if not has_throughput(problem):
        return best_fit_decreasing(merge_identical(problem), catalog)
    count = as_count_problem(problem, catalog, per_slice_sizing)
    packed = best_fit_decreasing(count.problem, catalog)
    gpus, unplaced = restore(count, packed.gpus, packed.unplaced)
    return Packing(configure(gpus, problem, catalog), unplaced)

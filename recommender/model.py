"""The layout-count CP-SAT model (DESIGN.md §5).

Variables
- `gpus_with[q, L]`: GPUs of pool q carved with layout L;
- `placed[c, q, p]`: replicas of pooled demand class c on instances of profile p in pool q;
- `spread_placed[c, q, L, p]`: replicas of spread class c on profile p of pool q's layout-L GPUs;
- `unplaced[c]`: replicas of class c left out.

Objective, lexicographic, solved in two stages: (1) minimize priority-weighted unplaced
replicas; (2) with that fixed, minimize cost per hour, then fragmentation (GPUs, instance sizes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from recommender.cpsat import SolverError, status_name
from recommender.formulation import Formulation
from recommender.layouts import Layout


@dataclass
class Solution:
    """Integer values of the counting variables for one solution."""

    gpus_with: dict[tuple[int, Layout], int]
    placed: dict[tuple[int, int, str], int]
    spread_placed: dict[tuple[int, int, Layout, str], int]
    unplaced: dict[int, int]


@dataclass
class StageResult:
    status: str  # optimal | feasible | infeasible | unknown
    objective: float | None
    bound: float | None
    seconds: float
    solution: Solution | None


class LayoutCountModel:
    """CP-SAT model over counts; each constraint group is its own method (tested alone)."""

    def __init__(self, formulation: Formulation) -> None:
        self.f = formulation
        self.model = cp_model.CpModel()
        self.gpus_with: dict[tuple[int, Layout], cp_model.IntVar] = {}
        self.placed: dict[tuple[int, int, str], cp_model.IntVar] = {}
        self.spread_placed: dict[tuple[int, int, Layout, str], cp_model.IntVar] = {}
        self.unplaced: dict[int, cp_model.IntVar] = {}
        self._make_variables()

    # --- variables --------------------------------------------------------------------------

    def _make_variables(self) -> None:
        m = self.model
        for pd in self.f.pools:
            for lay in pd.layouts:
                self.gpus_with[pd.index, lay] = m.new_int_var(
                    0, pd.usable, f"y_{pd.index}_{lay.key}"
                )
        for c in self.f.classes:
            self.unplaced[c.index] = m.new_int_var(0, c.demand, f"u_{c.index}")
            for q, name in c.options:
                if c.spread:
                    pd = self.f.pools[q]
                    cap = min(c.demand, pd.usable)
                    for lay in pd.layouts:
                        if name in lay.counts:
                            self.spread_placed[c.index, q, lay, name] = m.new_int_var(
                                0, cap, f"z_{c.index}_{q}_{lay.key}_{name}"
                            )
                else:
                    self.placed[c.index, q, name] = m.new_int_var(
                        0, c.demand, f"x_{c.index}_{q}_{name}"
                    )

    # --- constraint groups --------------------------------------------------------------------

    def add_pool_sizes(self) -> None:
        """A pool carves no more GPUs than it can use (at most the GPUs it has)."""
        for pd in self.f.pools:
            self.model.add(sum(self.gpus_with[pd.index, lay] for lay in pd.layouts) <= pd.usable)

    def add_instance_capacity(self) -> None:
        """Replicas on profile p of pool q fit in the p instances its carved GPUs offer."""
        users: dict[tuple[int, str], list[cp_model.IntVar]] = {}
        for (_, q, name), var in self.placed.items():
            users.setdefault((q, name), []).append(var)
        for (_, q, _lay, name), var in self.spread_placed.items():
            users.setdefault((q, name), []).append(var)
        for (q, name), terms in users.items():
            pd = self.f.pools[q]
            offered = sum(
                lay.counts[name] * self.gpus_with[q, lay]
                for lay in pd.layouts
                if name in lay.counts
            )
            self.model.add(sum(terms) <= offered)

    def add_spread_limits(self) -> None:
        """Spread replicas: at most one per GPU, and within a layout group they fit its instances.

        Together these make the group's assignment an edge colouring of a bipartite multigraph
        with maximum degree <= group size, which always exists (König); `expand.py` builds it.
        """
        per_gpu: dict[tuple[int, int, Layout], list[cp_model.IntVar]] = {}
        per_slot: dict[tuple[int, Layout, str], list[cp_model.IntVar]] = {}
        for (c, q, lay, name), var in self.spread_placed.items():
            per_gpu.setdefault((c, q, lay), []).append(var)
            per_slot.setdefault((q, lay, name), []).append(var)
        for (_, q, lay), terms in per_gpu.items():
            self.model.add(sum(terms) <= self.gpus_with[q, lay])
        for (q, lay, name), terms in per_slot.items():
            self.model.add(sum(terms) <= lay.counts[name] * self.gpus_with[q, lay])

    def add_demand_balance(self) -> None:
        """Every replica is either placed somewhere or counted as unplaced."""
        placed_of: dict[int, list[cp_model.IntVar]] = {c.index: [] for c in self.f.classes}
        for (c, _, _), var in self.placed.items():
            placed_of[c].append(var)
        for (c, _, _, _), var in self.spread_placed.items():
            placed_of[c].append(var)
        for c in self.f.classes:
            self.model.add(sum(placed_of[c.index]) + self.unplaced[c.index] == c.demand)

    def add_all_constraints(self) -> None:
        self.add_pool_sizes()
        self.add_instance_capacity()
        self.add_spread_limits()
        self.add_demand_balance()

    # --- objective terms ----------------------------------------------------------------------

    def shortfall(self) -> cp_model.LinearExprT:
        """Priority-weighted unplaced replicas (stage 1 minimizes it)."""
        return sum(c.priority * self.unplaced[c.index] for c in self.f.classes)

    def cost(self) -> cp_model.LinearExprT:
        """Cost per hour in PRICE_SCALE units: every carved GPU hosts a replica or is waste."""
        return sum(self.f.pools[q].price * var for (q, _), var in self.gpus_with.items())

    def fragmentation(self) -> cp_model.LinearExprT:
        """Tie-breaker among equal-cost plans, in axis units: the units of every carved GPU
        (fewer GPUs) plus the units of every instance hosting a replica (right-sized instances,
        which leave larger spare instances for later)."""
        carved = sum(
            self.f.pools[q].model.placement_units * var for (q, _), var in self.gpus_with.items()
        )
        hosting = sum(
            self.f.pools[q].model.profile(name).span * var
            for (_, q, name), var in self.placed.items()
        ) + sum(
            self.f.pools[q].model.profile(name).span * var
            for (_, q, _lay, name), var in self.spread_placed.items()
        )
        return carved + hosting

    @property
    def cost_weight(self) -> int:
        """Weight of one cost unit in stage 2: more than the largest possible fragmentation."""
        return self.max_fragmentation() + 1

    def max_fragmentation(self) -> int:
        """The fragmentation term's largest value: every usable GPU carved, every unit hosting."""
        return 2 * sum(p.usable * p.model.placement_units for p in self.f.pools)

    def max_cost(self) -> int:
        """The cost term's largest value in price units: every usable GPU carved."""
        return sum(p.price * p.usable for p in self.f.pools)

    # --- solving ------------------------------------------------------------------------------

    def values(self, solver: cp_model.CpSolver | cp_model.CpSolverSolutionCallback) -> Solution:
        return Solution(
            gpus_with={k: solver.value(v) for k, v in self.gpus_with.items()},
            placed={k: solver.value(v) for k, v in self.placed.items()},
            spread_placed={k: solver.value(v) for k, v in self.spread_placed.items()},
            unplaced={k: solver.value(v) for k, v in self.unplaced.items()},
        )

    def hint(self, solution: Solution) -> None:
        self.model.clear_hints()
        for groups, values in (
            (self.gpus_with, solution.gpus_with),
            (self.placed, solution.placed),
            (self.spread_placed, solution.spread_placed),
            (self.unplaced, solution.unplaced),
        ):
            for key, var in groups.items():
                self.model.add_hint(var, values.get(key, 0))

    def size(self) -> tuple[int, int]:
        proto = self.model.proto
        return len(proto.variables), len(proto.constraints)


class _Reporter(cp_model.CpSolverSolutionCallback):
    def __init__(self, report: Callable[[float, float], None]) -> None:
        super().__init__()
        self._report = report

    def on_solution_callback(self) -> None:
        self._report(self.objective_value, self.best_objective_bound)


def run_stage(
    lcm: LayoutCountModel,
    time_limit: float,
    workers: int,
    seed: int,
    on_solution: Callable[[float, float], None] | None = None,
    absolute_gap: float | None = None,
    relative_gap: float | None = None,
) -> StageResult:
    """Solve the model with its current objective; returns the best solution found.

    `absolute_gap` / `relative_gap` stop the search once objective - bound is at most that
    much (relative: as a fraction of the objective).
    """
    solver = cp_model.CpSolver()
    if absolute_gap is not None:
        solver.parameters.absolute_gap_limit = absolute_gap
    if relative_gap is not None:
        solver.parameters.relative_gap_limit = relative_gap
    solver.parameters.max_time_in_seconds = max(time_limit, 0.05)  # always try a little
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    started = time.perf_counter()
    reporter = _Reporter(on_solution) if on_solution else None
    code = solver.solve(lcm.model, reporter)
    if code == cp_model.MODEL_INVALID:
        # Never turn a rejected model into a quiet "unknown": that would read as a time-out.
        raise SolverError(f"CP-SAT rejected the model: {lcm.model.validate() or 'no reason given'}")
    seconds = time.perf_counter() - started
    status = status_name(code)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return StageResult(
            status, solver.objective_value, solver.best_objective_bound, seconds, lcm.values(solver)
        )
    return StageResult(status, None, None, seconds, None)


def lp_relaxation_bound(model: cp_model.CpModel, time_limit: float = 10.0) -> float | None:
    """Lower bound on a minimization CP-SAT model from its LP relaxation (GLOP).

    Read from the model's proto, so it relaxes exactly the model that was solved. Every
    constraint of the layout-count model is linear; the function refuses anything else.
    """
    proto = model.proto
    lp = pywraplp.Solver.CreateSolver("GLOP")
    if lp is None or not proto.has_objective():
        return None
    lp.SetTimeLimit(int(time_limit * 1000))
    # The proto's repeated fields do not support negative indexing: copy them to lists.
    domains = [list(v.domain) for v in proto.variables]
    columns = [lp.NumVar(d[0], d[-1], "") for d in domains]
    for constraint in proto.constraints:
        if not constraint.has_linear() or len(constraint.enforcement_literal) > 0:
            return None
        linear = constraint.linear
        domain = list(linear.domain)
        lower, upper = domain[0], domain[-1]
        row = lp.Constraint(
            -lp.infinity() if lower <= cp_model.INT_MIN else lower,
            lp.infinity() if upper >= cp_model.INT_MAX else upper,
        )
        for var, coeff in zip(linear.vars, linear.coeffs, strict=True):
            if var < 0:
                return None
            row.SetCoefficient(columns[var], coeff)
    objective = lp.Objective()
    for var, coeff in zip(proto.objective.vars, proto.objective.coeffs, strict=True):
        if var < 0:
            return None
        objective.SetCoefficient(columns[var], coeff)
    objective.SetMinimization()
    if lp.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    scale = proto.objective.scaling_factor or 1.0
    return (objective.Value() + proto.objective.offset) * scale

"""The layout-count CP-SAT model (docs/design.md, "The model").

Variables
- `gpus_with[q, L]`: GPUs of pool q carved with layout L;
- `placed[c, q, p]`: replicas of pooled demand class c on instances of profile p in pool q;
- `spread_placed[c, q, L, p]`: replicas of spread class c on profile p of pool q's layout-L GPUs;
- `unplaced[c]`: replicas of class c left out.

Objective, lexicographic, solved in two stages: (1) minimize priority-weighted unplaced
replicas; (2) with that fixed, minimize cost per hour, then fragmentation (GPUs, instance sizes).

Re-planning from the running fleet adds, per current group g (formulation.CurrentGroup),
- `kept[g]`: GPUs of the group that keep their exact layout (fixed starts);
- `stay[g, w, p]`: replicas of workload w that stay on their profile-p slots of kept GPUs;
- `spread_kept[c, g, p]`: replicas of spread class c on profile p of the group's kept GPUs;
- `recarve[q]`: GPUs of pool q hosting replicas now that get a fresh layout;
and the objective continues with (3) moved replicas, (4) re-carved GPUs, then fragmentation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from recommender.cpsat import SolverError, status_name
from recommender.formulation import CurrentGroup, Formulation, PoolData
from recommender.layouts import Layout

# Spread-on-kept-group variables above which only likely groups get them (see _spread_groups).
SPREAD_KEPT_LIMIT = 20_000


@dataclass
class Solution:
    """Integer values of the counting variables for one solution."""

    gpus_with: dict[tuple[int, Layout], int]
    placed: dict[tuple[int, int, str], int]
    spread_placed: dict[tuple[int, int, Layout, str], int]
    unplaced: dict[int, int]
    # Re-planning only (empty otherwise): see LayoutCountModel.
    kept: dict[int, int] = field(default_factory=dict)
    stay: dict[tuple[int, int], int] = field(default_factory=dict)
    spread_kept: dict[tuple[int, int, str], int] = field(default_factory=dict)
    recarve: dict[int, int] = field(default_factory=dict)


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
        self.kept: dict[int, cp_model.IntVar] = {}
        self.stay: dict[tuple[int, str, str], cp_model.IntVar] = {}
        self.spread_kept: dict[tuple[int, int, str], cp_model.IntVar] = {}
        self.recarve: dict[int, cp_model.IntVar] = {}
        self.notes: list[str] = []  # simplifications the model made, for the plan's notes
        self._make_variables()
        self._make_current_variables()

    # --- variables --------------------------------------------------------------------------

    def _make_variables(self) -> None:
        m = self.model
        for pd in self.f.pools:
            for lay in pd.layouts:
                self.gpus_with[pd.index, lay] = m.new_int_var(
                    0, pd.usable, f"y_{pd.index}_{lay.key}"
                )
        for c in self.f.classes:
            self.unplaced[c.index] = m.new_int_var(0, c.shortfall_cap, f"u_{c.index}")
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

    def _make_current_variables(self) -> None:
        """Variables of the running fleet's groups (none without a current state)."""
        m = self.model
        spread_groups = self._spread_groups()
        for g in self.f.groups:
            self.kept[g.index] = m.new_int_var(0, g.size, f"k_{g.index}")
            for (workload, name), starts in g.tenants.items():
                self.stay[g.index, workload, name] = m.new_int_var(
                    0, len(starts) * g.size, f"s_{g.index}_{workload}_{name}"
                )
        for c, groups in spread_groups.items():
            options = set(self.f.classes[c].options)
            for g in groups:
                for name in g.layout.counts:
                    if (g.pool, name) in options:
                        self.spread_kept[c, g.index, name] = m.new_int_var(
                            0, g.size, f"zk_{c}_{g.index}_{name}"
                        )
        for pd in self.f.pools:
            hosting = sum(g.size for g in self.f.groups if g.pool == pd.index)
            if hosting:
                self.recarve[pd.index] = m.new_int_var(0, hosting, f"r_{pd.index}")

    def _spread_groups(self) -> dict[int, list[CurrentGroup]]:
        """Per spread class, the kept groups its replicas may use: all of them, unless that
        takes more than SPREAD_KEPT_LIMIT variables (thousands of groups times tens of spread
        workloads); then the groups where it runs now and, per pool, the largest groups until
        they hold its replicas (a note says so: the optimum is then over that choice)."""
        spread = [c for c in self.f.classes if c.spread]
        everything = {c.index: list(self.f.groups) for c in spread}
        if len(spread) * sum(len(g.layout.counts) for g in self.f.groups) <= SPREAD_KEPT_LIMIT:
            return everything
        chosen: dict[int, list[CurrentGroup]] = {}
        by_size = sorted(self.f.groups, key=lambda g: (-g.size, g.index))
        for c in spread:
            names = {w.name for w in c.workloads}
            picked = {g.index: g for g in self.f.groups if any(w in names for w, _ in g.tenants)}
            held: dict[int, int] = {}
            for g in by_size:
                if held.get(g.pool, 0) < c.demand:
                    picked.setdefault(g.index, g)
                    held[g.pool] = held.get(g.pool, 0) + g.size
            chosen[c.index] = sorted(picked.values(), key=lambda g: g.index)
        self.notes.append(
            "spread replicas that do not stay may use kept GPUs only of the groups where their "
            "workload runs now and of the largest groups per pool (model size)"
        )
        return chosen

    def groups_of(self, q: int) -> list[CurrentGroup]:
        return [g for g in self.f.groups if g.pool == q]

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
        for (_, g, name), var in self.spread_kept.items():
            users.setdefault((self.f.groups[g].pool, name), []).append(var)
        for (q, name), terms in users.items():
            pd = self.f.pools[q]
            offered = sum(
                lay.counts[name] * self.gpus_with[q, lay]
                for lay in pd.layouts
                if name in lay.counts
            ) + sum(
                g.layout.counts[name] * self.kept[g.index]
                for g in self.groups_of(q)
                if name in g.layout.counts
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
        for (c, _, _), var in self.spread_kept.items():
            placed_of[c].append(var)
        for c in self.f.classes:
            if c.throughput is None:  # throughput classes: add_throughput_coverage
                self.model.add(sum(placed_of[c.index]) + self.unplaced[c.index] == c.demand)

    def add_throughput_coverage(self) -> None:
        """A throughput class's instances serve its rate and number at least its minimum, up to
        its `unplaced` share u (in SERVED_SCALE steps S of the rate R, minimum m):
        S * served + R * u >= S * R and S * instances + m * u >= S * m, so the share a plan
        leaves unserved is at least the larger of the two shortfalls, rounded up."""
        scale = self.f.served_scale
        terms: dict[int, list[tuple[int, cp_model.IntVar]]] = {}
        classes = {c.index: c for c in self.f.classes if c.throughput is not None}
        for (c, q, name), var in self.placed.items():
            if c in classes:
                terms.setdefault(c, []).append((classes[c].throughput.served[q, name], var))
        for (c, q, _lay, name), var in self.spread_placed.items():
            if c in classes:
                terms.setdefault(c, []).append((classes[c].throughput.served[q, name], var))
        for (c, g, name), var in self.spread_kept.items():
            if c in classes:
                q = self.f.groups[g].pool
                terms.setdefault(c, []).append((classes[c].throughput.served[q, name], var))
        for c, demand_class in classes.items():
            need = demand_class.throughput
            mine = terms.get(c, [])
            short = self.unplaced[c]
            served = sum(rate * var for rate, var in mine)
            self.model.add(scale * served + need.required * short >= scale * need.required)
            if need.minimum > 0:
                count = sum(var for _, var in mine)
                self.model.add(scale * count + need.minimum * short >= scale * need.minimum)

    def add_current_pool_sizes(self) -> None:
        """Kept GPUs and freshly carved ones share the pool's GPUs."""
        for pd in self.f.pools:
            kept = [self.kept[g.index] for g in self.groups_of(pd.index)]
            if kept:
                fresh = [self.gpus_with[pd.index, lay] for lay in pd.layouts]
                self.model.add(sum(fresh) + sum(kept) <= pd.pool.gpus)

    def add_kept_spread_limits(self) -> None:
        """Kept groups are layout groups with fixed starts: per kept GPU at most one replica of a
        spread class, and per profile the group's instances hold its spread replicas and the
        pooled replicas staying there (those are tied to the group's slots).

        Slot by slot the group's assignment is then an edge colouring of a bipartite multigraph
        of maximum degree <= kept GPUs (expand.py), which always exists (König).
        """
        per_gpu: dict[tuple[int, int], list[cp_model.IntVar]] = {}
        per_profile: dict[tuple[int, str], list[cp_model.IntVar]] = {}
        for (c, g, name), var in self.spread_kept.items():
            per_gpu.setdefault((c, g), []).append(var)
            per_profile.setdefault((g, name), []).append(var)
        spread = {w.name for c in self.f.classes if c.spread for w in c.workloads}
        for (g, workload, name), var in self.stay.items():
            if workload not in spread:
                per_profile.setdefault((g, name), []).append(var)
        for (_, g), terms in per_gpu.items():
            self.model.add(sum(terms) <= self.kept[g])
        for (g, name), terms in per_profile.items():
            group = self.f.groups[g]
            self.model.add(sum(terms) <= group.layout.counts[name] * self.kept[g])

    def add_stay_links(self) -> None:
        """A replica stays only on a kept GPU, and staying replicas are placed replicas of their
        class on that (pool, profile) (of that group, for spread classes)."""
        class_of = {w.name: c for c in self.f.classes for w in c.workloads}
        staying: dict[tuple, list[cp_model.IntVar]] = {}
        for (g, workload, name), var in self.stay.items():
            group, c = self.f.groups[g], class_of[workload]
            # A spread replica stays on one slot per GPU at most.
            slots = 1 if c.spread else len(group.tenants[workload, name])
            self.model.add(var <= slots * self.kept[g])
            key = (c.index, g, name) if c.spread else (c.index, group.pool, name)
            staying.setdefault(key, []).append(var)
        for key, terms in staying.items():
            c = key[0]
            target = self.spread_kept[key] if self.f.classes[c].spread else self.placed[key]
            self.model.add(sum(terms) <= target)

    def add_recarve_count(self) -> None:
        """Freshly carved GPUs go to GPUs hosting nothing now first; the rest are re-carved."""
        for q, var in self.recarve.items():
            fresh = sum(self.gpus_with[q, lay] for lay in self.f.pools[q].layouts)
            self.model.add(var >= fresh - self.f.idle[q])

    def add_keep_running(self) -> None:
        """The operator's "only carve idle GPUs" strategy: every GPU hosting replicas now keeps
        its layout and every replica that still fits stays on its slot."""
        class_of = {w.name: c for c in self.f.classes for w in c.workloads}
        for group in self.f.groups:
            self.model.add(self.kept[group.index] == group.size)
        for (g, workload, name), var in self.stay.items():
            slots = (
                1 if class_of[workload].spread else len(self.f.groups[g].tenants[workload, name])
            )
            self.model.add(var == slots * self.f.groups[g].size)

    def add_budgets(self, max_recarve: int | None, max_moves: int | None) -> None:
        """The disruption budgets are hard limits."""
        if max_recarve is not None:
            self.model.add(self.recarved() <= max_recarve)
        if max_moves is not None:
            self.model.add(self.moved() <= max_moves)

    def add_all_constraints(self) -> None:
        self.add_pool_sizes()
        self.add_instance_capacity()
        self.add_spread_limits()
        self.add_demand_balance()
        self.add_throughput_coverage()
        if self.f.groups:
            self.add_current_pool_sizes()
            self.add_kept_spread_limits()
            self.add_stay_links()
            self.add_recarve_count()

    # --- objective terms ----------------------------------------------------------------------

    def shortfall(self) -> cp_model.LinearExprT:
        """Priority-weighted unplaced replicas and unserved rate shares (stage 1 minimizes it;
        weights: `DemandClass.shortfall_weight`)."""
        scale = self.f.served_scale
        return sum(c.shortfall_weight(scale) * self.unplaced[c.index] for c in self.f.classes)

    def cost(self) -> cp_model.LinearExprT:
        """Cost per hour in PRICE_SCALE units: every carved GPU hosts a replica or is waste."""
        return sum(self.f.pools[q].price * var for (q, _), var in self.gpus_with.items()) + sum(
            self.f.pools[self.f.groups[g].pool].price * var for g, var in self.kept.items()
        )

    def moved(self) -> cp_model.LinearExprT:
        """Replicas placed minus replicas staying on their slot of a kept GPU (a newly started
        replica counts as moved: it starts somewhere)."""
        placed = [*self.placed.values(), *self.spread_placed.values(), *self.spread_kept.values()]
        return sum(placed) - sum(self.stay.values())

    def recarved(self) -> cp_model.LinearExprT:
        """GPUs hosting replicas now that get a fresh layout."""
        return sum(self.recarve.values())

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
        kept = sum(
            self.f.pools[self.f.groups[g].pool].model.placement_units * var
            for g, var in self.kept.items()
        ) + sum(
            self.f.pools[self.f.groups[g].pool].model.profile(name).span * var
            for (_, g, name), var in self.spread_kept.items()
        )
        return carved + hosting + kept

    @property
    def cost_weight(self) -> int:
        """Weight of one cost unit in stage 2: more than the largest possible fragmentation."""
        return self.max_fragmentation() + 1

    def max_fragmentation(self) -> int:
        """The fragmentation term's largest value: every usable GPU carved, every unit hosting."""
        return 2 * sum(self._max_carved(p) * p.model.placement_units for p in self.f.pools)

    def max_cost(self) -> int:
        """The cost term's largest value in price units: every usable GPU carved."""
        return sum(p.price * self._max_carved(p) for p in self.f.pools)

    def cost_value(self, solution: Solution) -> int:
        """cost() of a solution, in PRICE_SCALE units."""
        fresh = sum(self.f.pools[q].price * n for (q, _), n in solution.gpus_with.items())
        kept = sum(self.f.pools[self.f.groups[g].pool].price * n for g, n in solution.kept.items())
        return fresh + kept

    def max_moved(self) -> int:
        return sum(c.demand for c in self.f.classes) if self.f.groups else 0

    def max_recarved(self) -> int:
        return sum(g.size for g in self.f.groups)

    def _max_carved(self, pd: PoolData) -> int:
        """GPUs of a pool the plan can carve: the usable ones, plus kept ones when re-planning."""
        kept = sum(g.size for g in self.groups_of(pd.index))
        return min(pd.pool.gpus, pd.usable + kept)

    # --- solving ------------------------------------------------------------------------------

    def values(self, solver: cp_model.CpSolver | cp_model.CpSolverSolutionCallback) -> Solution:
        return Solution(
            gpus_with={k: solver.value(v) for k, v in self.gpus_with.items()},
            placed={k: solver.value(v) for k, v in self.placed.items()},
            spread_placed={k: solver.value(v) for k, v in self.spread_placed.items()},
            unplaced={k: solver.value(v) for k, v in self.unplaced.items()},
            kept={k: solver.value(v) for k, v in self.kept.items()},
            stay={k: solver.value(v) for k, v in self.stay.items()},
            spread_kept={k: solver.value(v) for k, v in self.spread_kept.items()},
            recarve={k: solver.value(v) for k, v in self.recarve.items()},
        )

    def hint(self, solution: Solution) -> None:
        self.model.clear_hints()
        for groups, values in (
            (self.gpus_with, solution.gpus_with),
            (self.placed, solution.placed),
            (self.spread_placed, solution.spread_placed),
            (self.unplaced, solution.unplaced),
            (self.kept, solution.kept),
            (self.stay, solution.stay),
            (self.spread_kept, solution.spread_kept),
            (self.recarve, solution.recarve),
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

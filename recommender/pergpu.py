"""Per-GPU Boolean CP-SAT model: an independent cross-check of the planner on small fleets.

Every GPU of every pool gets its own variables: a Boolean `x[g, p, s]` per profile `p` and legal
start `s` (with an optional fixed-size interval on the GPU's placement axis) and an integer
`a[w, g, p]`, the replicas of workload `w` on the instances of profile `p` of GPU `g` (instances of
one profile on one GPU are interchangeable, so counting per profile rather than per start drops a
symmetry without losing a solution; the plan gives them starts in order). The placement rules
of docs/design.md §2 are stated directly on these variables, so this model shares no code with
the layout enumeration or the aggregated layout-count model: when both agree on the optimum, both
are likely right. The model grows with GPUs x starts x workloads; keep it to small fleets (about
16 GPUs and 60 replicas).

The objective is lexicographic, solved in stages on one model, each stage fixing the value the
previous one reached and starting from its solution (the first from a first-fit-decreasing
greedy plan, so a plan exists even if the time runs out):
1. maximize the priority-weighted placed replicas;
2. minimize the cost in integer units of 1e-4 $/h;
3. minimize GPUs used, then instances carved but hosting nothing, then replicas of non-media
   workloads on profiles with a suffix (`+me`, `+me.all`, `-me`, `+gfx`): plain layouts stay plain;
   then axis units carved, so a replica gets the smallest instance that fits.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from recommender.assemble import assemble_plan
from recommender.catalog import Catalog, GpuModel, Profile
from recommender.cpsat import PRICE_SCALE, price_units, status_name
from recommender.plan import Plan, PlanGpu, PlanInstance, SolverStats, Status, Unplaced
from recommender.problem import Pool, Problem, Workload
from recommender.reasons import unplaced_reason
from recommender.rules import fits
from recommender.throughput import (
    SERVED_SCALE,
    performance_index,
    scaled_rate,
    scaled_throughput,
)

# Share of the remaining time each stage may use; the last stage gets whatever is left.
STAGE_TIME_SHARES = (0.4, 0.7, 1.0)
MIN_STAGE_SECONDS = 0.05  # every stage gets a moment, so the previous solution is at least kept
FORMULATION = "per-GPU Boolean CP-SAT"


@dataclass(frozen=True)
class PerGpuResult:
    """A plan from the per-GPU model and the numbers it was optimized for."""

    plan: Plan
    placed_weight: int  # sum of priority x placed replicas
    cost_per_hour: float
    gpus_used: int
    optimal: bool  # every stage proved optimal
    # Re-planning from the running fleet (solve_per_gpu_replan): its disruption, as optimized.
    moved: int = 0
    recarved: int = 0


@dataclass(frozen=True)
class _Gpu:
    """One physical GPU: position `index` (0..gpus-1) in its pool."""

    pool: Pool
    index: int
    model: GpuModel


# (gpu position in the model's GPU list, profile name, start unit)
SlotKey = tuple[int, str, int]
# (gpu position in the model's GPU list, profile name)
ProfileKey = tuple[int, str]


def _total(terms: Iterable[cp_model.IntVar]) -> cp_model.LinearExpr:
    """Sum as a CP-SAT expression, also when there are no terms."""
    return cp_model.LinearExpr.sum(list(terms))


class PerGpuModel:
    """The CP-SAT variables and constraints; each constraint group is its own method."""

    def __init__(self, problem: Problem, catalog: Catalog) -> None:
        self.problem = problem
        self.performance = performance_index(problem)
        self.model = cp_model.CpModel()
        self.gpus: list[_Gpu] = [
            _Gpu(pool, index, catalog.model(pool.gpu_model))
            for pool in problem.pools
            for index in range(pool.gpus)
        ]
        self.x: dict[SlotKey, cp_model.IntVar] = {}
        self.used: list[cp_model.IntVar] = []
        # Replicas of a workload on the instances of one profile of one GPU. Instances of one
        # profile on a GPU are interchangeable, so counting per profile (not per start) removes
        # a symmetry the solver would otherwise explore.
        self.a: dict[tuple[str, ProfileKey], cp_model.IntVar] = {}
        self.unplaced: dict[str, cp_model.IntVar] = {}
        self._add_instances()
        self._add_gpu_rules()
        self._add_assignment()
        self._add_spread()
        self._add_symmetry_breaking()

    # --- variables and constraints -------------------------------------------------------------

    def slots(self, g: int) -> list[tuple[Profile, int, cp_model.IntVar]]:
        """Every (profile, start, x) of GPU g."""
        model = self.gpus[g].model
        return [(p, s, self.x[g, p.name, s]) for p in model.profiles for s in p.starts]

    def _add_instances(self) -> None:
        """x[g,p,s] with its interval; no two instances of a GPU overlap on the axis."""
        for g, gpu in enumerate(self.gpus):
            intervals = []
            for profile in gpu.model.profiles:
                for start in profile.starts:
                    name = f"x[{gpu.pool.pool}/{gpu.index},{profile.name}@{start}]"
                    chosen = self.model.new_bool_var(name)
                    self.x[g, profile.name, start] = chosen
                    intervals.append(
                        self.model.new_optional_fixed_size_interval_var(
                            start, profile.span, chosen, f"iv{name[1:]}"
                        )
                    )
            self.model.add_no_overlap(intervals)
            self.used.append(self.model.new_bool_var(f"used[{gpu.pool.pool}/{gpu.index}]"))

    def _add_gpu_rules(self) -> None:
        """Per-GPU rules: +me, +me.all, max count per profile, max instances, used <=> carved."""
        for g, gpu in enumerate(self.gpus):
            slots = self.slots(g)
            carved = [x for _, _, x in slots]
            self.model.add(_total(x for p, _, x in slots if p.has_me) <= 1)
            for profile in gpu.model.profiles:
                same = [x for p, _, x in slots if p.name == profile.name]
                self.model.add(_total(same) <= profile.max_count)
            self.model.add(_total(carved) <= gpu.model.max_instances)
            for p_all, s_all, x_all in slots:
                if not p_all.has_me_all:
                    continue
                # "Allocation of this profile prevents allocation of all but _NO_ME profiles."
                others = [x for p, s, x in slots if (p, s) != (p_all, s_all) and not p.no_me]
                if others:
                    self.model.add(_total(others) == 0).only_enforce_if(x_all)
            for x in carved:
                self.model.add_implication(x, self.used[g])
            # Redundant with no-overlap, but it lets the LP relaxation (and so the cost bound)
            # see that a GPU's units come only with paying for the GPU.
            self.model.add(self.gpu_units(g) <= gpu.model.placement_units * self.used[g])
            # A used GPU carries an instance, so the cost counts exactly the GPUs in the plan.
            self.model.add(_total(carved) >= 1).only_enforce_if(self.used[g])

    def _add_assignment(self) -> None:
        """a[w,g,p] only where p fits w; one replica per instance; every replica counted."""
        hosted: dict[ProfileKey, list[cp_model.IntVar]] = defaultdict(list)
        for workload in self.problem.workloads:
            mine = []
            for g, gpu in enumerate(self.gpus):
                for profile in gpu.model.profiles:
                    if workload.is_throughput:
                        rate = self._rate(workload, g, profile)
                        if rate == 0:
                            continue
                        most = min(profile.max_count, len(profile.starts))
                    elif not fits(workload, gpu.pool.gpu_model, gpu.model, profile):
                        continue
                    else:
                        most = min(workload.replicas, profile.max_count, len(profile.starts))
                    if workload.spread:
                        most = 1
                    name = f"a[{workload.name},{gpu.pool.pool}/{gpu.index},{profile.name}]"
                    assigned = self.model.new_int_var(0, most, name)
                    self.a[workload.name, (g, profile.name)] = assigned
                    hosted[g, profile.name].append(assigned)
                    mine.append(assigned)
            if workload.is_throughput:
                self._add_coverage(workload)
                continue
            missing = self.model.new_int_var(0, workload.replicas, f"unplaced[{workload.name}]")
            self.unplaced[workload.name] = missing
            self.model.add(_total(mine) + missing == workload.replicas)
        for (g, profile_name), assigned in hosted.items():
            profile = self.gpus[g].model.profile(profile_name)
            carved = [self.x[g, profile_name, start] for start in profile.starts]
            self.model.add(_total(assigned) <= _total(carved))

    def _rate(self, workload: Workload, g: int, profile: Profile) -> int:
        """What one instance of `profile` on GPU g serves `workload`, in integer RATE_SCALE
        units (0: no qualifying configuration); the rule is `throughput.py`'s."""
        gpu = self.gpus[g]
        row = self.performance.best(workload, gpu.pool.gpu_model, gpu.model, profile)
        return 0 if row is None else scaled_throughput(row.throughput_rps)

    def _add_coverage(self, workload: Workload) -> None:
        """A throughput workload's instances serve its rate R and number at least m, up to its
        unserved share u in SERVED_SCALE steps S: S*served + R*u >= S*R, S*count + m*u >= S*m."""
        assert workload.requests_per_second is not None
        required = scaled_rate(workload.requests_per_second)
        terms = [
            (self._rate(workload, g, self.gpus[g].model.profile(name)), var)
            for (w, (g, name)), var in self.a.items()
            if w == workload.name
        ]
        short = self.model.new_int_var(0, SERVED_SCALE, f"unserved[{workload.name}]")
        self.unplaced[workload.name] = short
        served = cp_model.LinearExpr.weighted_sum(
            [var for _, var in terms], [min(rate, required) for rate, _ in terms]
        )
        self.model.add(SERVED_SCALE * served + required * short >= SERVED_SCALE * required)
        count = _total(var for _, var in terms)
        m = workload.replicas
        self.model.add(SERVED_SCALE * count + m * short >= SERVED_SCALE * m)

    def shortfall_weight(self, workload: Workload) -> int:
        """Stage-1 weight of one unit of `unplaced[w]`: priority, scaled like the layout-count
        model's (a fully served throughput workload weighs priority x replicas)."""
        if not any(w.is_throughput for w in self.problem.workloads):
            return workload.priority
        if workload.is_throughput:
            return workload.priority * workload.replicas
        return workload.priority * SERVED_SCALE

    def shortfall_cap(self, workload: Workload) -> int:
        return SERVED_SCALE if workload.is_throughput else workload.replicas

    def _add_spread(self) -> None:
        """Replicas of a spread workload sit on distinct GPUs."""
        for workload in self.problem.workloads:
            if not workload.spread:
                continue
            by_gpu: dict[int, list[cp_model.IntVar]] = defaultdict(list)
            for (name, (g, _)), assigned in self.a.items():
                if name == workload.name:
                    by_gpu[g].append(assigned)
            for assigned in by_gpu.values():
                self.model.add(_total(assigned) <= 1)

    def _add_symmetry_breaking(self) -> None:
        """GPUs of a pool are interchangeable: order them by units carved, used ones first."""
        for g in range(len(self.gpus) - 1):
            if self.gpus[g].pool.pool == self.gpus[g + 1].pool.pool:
                self.model.add(self.used[g] >= self.used[g + 1])
                self.model.add(self.gpu_units(g) >= self.gpu_units(g + 1))

    def gpu_units(self, g: int) -> cp_model.LinearExpr:
        """Axis units carved on GPU g."""
        slots = self.slots(g)
        return cp_model.LinearExpr.weighted_sum(
            [x for _, _, x in slots], [p.span for p, _, _ in slots]
        )

    # --- objective terms -----------------------------------------------------------------------

    def placed_weight(self) -> cp_model.LinearExpr:
        workloads = self.problem.workloads
        demand = sum(self.shortfall_weight(w) * self.shortfall_cap(w) for w in workloads)
        missing = [self.unplaced[w.name] for w in workloads]
        weights = [self.shortfall_weight(w) for w in workloads]
        return demand - cp_model.LinearExpr.weighted_sum(missing, weights)

    def cost_units(self) -> cp_model.LinearExpr:
        prices = [price_units(gpu.pool.cost_per_hour) for gpu in self.gpus]
        return cp_model.LinearExpr.weighted_sum(self.used, prices)

    def gpus_used(self) -> cp_model.LinearExpr:
        return cp_model.LinearExpr.sum(self.used)

    def spare_instances(self) -> cp_model.LinearExpr:
        return _total(self.x.values()) - _total(self.a.values())

    def special_profile_use(self) -> cp_model.LinearExpr:
        """Replicas that need no media engines placed on a `+me`, `+me.all`, `-me` or `+gfx` one."""
        media = {w.name for w in self.problem.workloads if w.media}
        wasted = []
        for (name, (g, profile_name)), assigned in self.a.items():
            profile = self.gpus[g].model.profile(profile_name)
            if profile.attributes and name not in media:
                wasted.append(assigned)
        return _total(wasted)

    def carved_units(self) -> cp_model.LinearExpr:
        """Axis units taken by instances: fewer leaves more room on the GPUs in use."""
        spans = [self.gpus[g].model.profile(name).span for g, name, _ in self.x]
        return cp_model.LinearExpr.weighted_sum(list(self.x.values()), spans)

    def instance_capacity(self) -> int:
        """Most instances the fleet can carve: a bound on the spare and special-use counts."""
        return sum(gpu.model.max_instances for gpu in self.gpus)

    def tie_break(self) -> cp_model.LinearExpr:
        """GPUs, then spare instances, then suffixed-profile use, then carved units.

        One weighted sum: each level's weight exceeds the largest value of everything below it.
        """
        count_level = self.instance_capacity() + 1
        unit_level = sum(gpu.model.placement_units for gpu in self.gpus) + 1
        return (
            (count_level * self.gpus_used() + self.spare_instances()) * count_level
            + self.special_profile_use()
        ) * unit_level + self.carved_units()

    def all_variables(self) -> list[cp_model.IntVar]:
        return [*self.x.values(), *self.used, *self.a.values(), *self.unplaced.values()]


# --- greedy start --------------------------------------------------------------------------------

# What the greedy carved on one GPU: (profile, start, workload name).
Carved = list[tuple[Profile, int, str]]


def can_carve(model: GpuModel, carved: Carved, profile: Profile, start: int) -> bool:
    """Whether `profile` at `start` may join the instances already carved on a GPU."""
    if len(carved) >= model.max_instances:
        return False
    if sum(p.name == profile.name for p, _, _ in carved) >= profile.max_count:
        return False
    if any(start < s + p.span and s < start + profile.span for p, s, _ in carved):
        return False
    if profile.has_me and any(p.has_me for p, _, _ in carved):
        return False
    if any(p.has_me_all for p, _, _ in carved) and not profile.no_me:
        return False
    return not (profile.has_me_all and any(not p.no_me for p, _, _ in carved))


def _first_fit(pergpu: PerGpuModel, carved: list[Carved], order: list[int], w: Workload) -> bool:
    """Carve the smallest fitting instance for one replica of `w` on the first GPU with room."""
    for g in order:
        gpu = pergpu.gpus[g]
        if w.spread and any(name == w.name for _, _, name in carved[g]):
            continue
        fitting = [p for p in gpu.model.profiles if fits(w, gpu.pool.gpu_model, gpu.model, p)]
        fitting.sort(key=lambda p: (p.span, bool(p.attributes), p.memory_mib))
        for profile in fitting:
            for start in profile.starts:
                if can_carve(gpu.model, carved[g], profile, start):
                    carved[g].append((profile, start, w.name))
                    return True
    return False


def greedy_solution(pergpu: PerGpuModel) -> dict[int, int]:
    """A feasible assignment of every variable (by index): first-fit decreasing, cheap GPUs first.

    Only a hint: it gives the first stage a good start, the solver proves and improves on it.
    """
    gpus = pergpu.gpus
    carved: list[Carved] = [[] for _ in gpus]
    cheap_first = sorted(range(len(gpus)), key=lambda g: (gpus[g].pool.cost_per_hour, g))
    biggest_first = sorted(
        pergpu.problem.workloads,
        # Media and spread replicas have the fewest places to go: they pick first.
        key=lambda w: (-w.priority, -w.media, -w.spread, -w.compute_slices, -w.memory_gb),
    )
    placed: dict[str, int] = defaultdict(int)
    for workload in biggest_first:
        if workload.is_throughput:
            continue  # hinted as fully unserved; the solver sizes it
        for _ in range(workload.replicas):
            # GPUs already paid for first, then the cheapest new one.
            order = [g for g in cheap_first if carved[g]] + [
                g for g in cheap_first if not carved[g]
            ]
            if _first_fit(pergpu, carved, order, workload):
                placed[workload.name] += 1
    # Within a pool, the symmetry breaking wants GPUs ordered by units carved.
    by_pool: dict[str, list[int]] = defaultdict(list)
    for g, gpu in enumerate(gpus):
        by_pool[gpu.pool.pool].append(g)
    ordered: list[Carved] = [[] for _ in gpus]
    for members in by_pool.values():
        fullest = sorted(members, key=lambda g: -sum(p.span for p, _, _ in carved[g]))
        for target, source in zip(members, fullest, strict=True):
            ordered[target] = carved[source]

    solution = {var.index: 0 for var in pergpu.all_variables()}
    for g, instances in enumerate(ordered):
        solution[pergpu.used[g].index] = int(bool(instances))
        for profile, start, name in instances:
            solution[pergpu.x[g, profile.name, start].index] = 1
            solution[pergpu.a[name, (g, profile.name)].index] += 1
    for workload in pergpu.problem.workloads:
        missing = workload.replicas - placed[workload.name]
        if workload.is_throughput:
            missing = SERVED_SCALE
        solution[pergpu.unplaced[workload.name].index] = missing
    return solution


@dataclass
class _StageOutcome:
    status: Status
    bound: float | None  # the solver's proven bound on the stage objective


class _StagedSolver:
    """Solves the stages in turn, each hinted with the previous stage's solution."""

    def __init__(self, pergpu: PerGpuModel, time_limit: float, workers: int, seed: int) -> None:
        self.pergpu = pergpu
        self.time_limit = time_limit
        self.deadline = time.monotonic() + time_limit
        self.workers = workers
        self.seed = seed
        # Always a feasible solution of every stage run so far: the greedy plan to begin with.
        self.solution = greedy_solution(pergpu)

    def run(self, objective: cp_model.LinearExpr, maximize: bool, share: float) -> _StageOutcome:
        model = self.pergpu.model
        if maximize:
            model.maximize(objective)
        else:
            model.minimize(objective)
        model.clear_hints()
        for var in self.pergpu.all_variables():
            model.add_hint(var, self.solution[var.index])
        solver = cp_model.CpSolver()
        remaining = self.deadline - time.monotonic()
        solver.parameters.max_time_in_seconds = max(remaining * share, MIN_STAGE_SECONDS)
        solver.parameters.num_workers = self.workers
        solver.parameters.random_seed = self.seed
        code = solver.solve(model)
        status = status_name(code)
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return _StageOutcome(status, None)
        self.solution = {v.index: solver.value(v) for v in self.pergpu.all_variables()}
        return _StageOutcome(status, solver.best_objective_bound)

    def value(self, var: cp_model.IntVar) -> int:
        return self.solution[var.index]

    def stats(
        self,
        formulation: str,
        started: float,
        placement: _StageOutcome,
        cost: _StageOutcome,
        note: str,
    ) -> SolverStats:
        """The plan's solver record of these stages, the solve begun at `started` (monotonic);
        `note` tells how the stages after placement and cost ended."""
        return SolverStats(
            formulation=formulation,
            wall_seconds=round(time.monotonic() - started, 3),
            time_limit_seconds=self.time_limit,
            workers=self.workers,
            seed=self.seed,
            placement_status=placement.status,
            cost_status=cost.status,
            lower_bound_source="CP-SAT bound of the cost stage",
            variables=len(self.pergpu.model.proto.variables),
            constraints=len(self.pergpu.model.proto.constraints),
            notes=[note],
        )


def solve_per_gpu(
    problem: Problem,
    catalog: Catalog,
    time_limit_seconds: float = 10.0,
    workers: int = 1,
    seed: int = 0,
) -> PerGpuResult:
    """Lexicographically best plan from the per-GPU model (placed weight, cost, GPUs, spares)."""
    started = time.monotonic()
    pergpu = PerGpuModel(problem, catalog)
    staged = _StagedSolver(pergpu, time_limit_seconds, workers, seed)

    # Each stage keeps what the previous one reached, measured on the current solution, which
    # stays feasible even when a stage finds nothing better in its time.
    placement = staged.run(pergpu.placed_weight(), maximize=True, share=STAGE_TIME_SHARES[0])
    pergpu.model.add(pergpu.placed_weight() >= _placed_weight_of(pergpu, staged))
    cost = staged.run(pergpu.cost_units(), maximize=False, share=STAGE_TIME_SHARES[1])
    pergpu.model.add(pergpu.cost_units() <= _cost_units_of(pergpu, staged))
    tidy = staged.run(pergpu.tie_break(), maximize=False, share=STAGE_TIME_SHARES[2])

    optimal = all(stage.status == "optimal" for stage in (placement, cost, tidy))
    bound = 0.0 if cost.bound is None else cost.bound / PRICE_SCALE
    stats = staged.stats(
        FORMULATION,
        started,
        placement,
        cost,
        note=f"tie-break stage (GPUs, spares, suffixed profiles, units): {tidy.status}",
    )
    plan = assemble_plan(
        problem,
        catalog,
        _plan_gpus(pergpu, staged),
        _unplaced(pergpu, staged, catalog),
        status="optimal" if optimal else "feasible",
        lower_bound_per_hour=bound,
        solver=stats,
    )
    placed_weight = _placed_weight_of(pergpu, staged)
    return PerGpuResult(plan, placed_weight, plan.cost_per_hour, len(plan.gpus), optimal)


def _placed_weight_of(pergpu: PerGpuModel, staged: _StagedSolver) -> int:
    """placed_weight() evaluated on the current solution."""
    return sum(
        pergpu.shortfall_weight(w)
        * (pergpu.shortfall_cap(w) - staged.value(pergpu.unplaced[w.name]))
        for w in pergpu.problem.workloads
    )


def _cost_units_of(pergpu: PerGpuModel, staged: _StagedSolver) -> int:
    """cost_units() evaluated on the current solution."""
    return sum(
        price_units(gpu.pool.cost_per_hour) * staged.value(pergpu.used[g])
        for g, gpu in enumerate(pergpu.gpus)
    )


def _plan_gpus(pergpu: PerGpuModel, staged: _StagedSolver) -> list[PlanGpu]:
    """GPUs with at least one instance, instances by start, replicas numbered in plan order."""
    next_replica: dict[str, int] = defaultdict(int)
    gpus: list[PlanGpu] = []
    for g, gpu in enumerate(pergpu.gpus):
        occupant: dict[tuple[str, int], str] = {}
        for profile in gpu.model.profiles:
            starts = [s for s in profile.starts if staged.value(pergpu.x[g, profile.name, s])]
            # The solver counts replicas per profile; give them that profile's instances in order.
            tenants: list[str] = []
            for workload in pergpu.problem.workloads:
                assigned = pergpu.a.get((workload.name, (g, profile.name)))
                if assigned is not None:
                    tenants += [workload.name] * staged.value(assigned)
            # More instances than tenants leaves spares; the constraints forbid the opposite.
            for start, name in zip(starts, tenants, strict=False):
                occupant[profile.name, start] = name
        carved = sorted(
            (start, profile.name) for profile, start, x in pergpu.slots(g) if staged.value(x)
        )
        if not carved:
            continue
        instances = []
        for start, profile_name in carved:
            workload = occupant.get((profile_name, start))
            replica = None
            if workload is not None:
                replica = next_replica[workload]
                next_replica[workload] += 1
            instances.append(
                PlanInstance(profile=profile_name, start=start, workload=workload, replica=replica)
            )
        gpus.append(
            PlanGpu(
                pool=gpu.pool.pool,
                index=gpu.index,
                gpu_model=gpu.pool.gpu_model,
                instances=instances,
            )
        )
    return gpus


def _unplaced(pergpu: PerGpuModel, staged: _StagedSolver, catalog: Catalog) -> list[Unplaced]:
    """Replicas the solution leaves out, with the reasons every planner words alike."""
    unplaced = []
    for workload in pergpu.problem.workloads:
        missing = staged.value(pergpu.unplaced[workload.name])
        if missing and not workload.is_throughput:  # assemble_plan words throughput entries
            reason = unplaced_reason(workload, pergpu.problem, catalog)
            unplaced.append(Unplaced(workload=workload.name, replicas=missing, reason=reason))
    return unplaced


# --- re-planning from the running fleet -----------------------------------------------------------
#
# The definitions (docs/design.md, "The running fleet") stated GPU by GPU, with no grouping:
# - keep[g] (GPUs hosting a running replica now): GPU g is carved with exactly its current set of
#   (profile, start); a used GPU that is not kept is re-carved, so re-carved = sum(used - keep);
# - stay[w, g, p] <= min(a[w, g, p], slots of p hosting w now on g * keep[g]): replicas of w still
#   on one of its current p slots of a kept GPU; moved = sum(a) - sum(stay).
# The objective continues after cost with moved replicas, then re-carved GPUs, then the tie-break;
# the budgets are hard constraints of every stage.

REPLAN_STAGE_TIME_SHARES = (0.3, 0.5, 0.6, 0.7, 1.0)


def _runs_now(instance: PlanInstance, workloads: dict[str, Workload]) -> bool:
    """Whether the replica on `instance` runs now: its workload is still asked for and has it."""
    workload = workloads.get(instance.workload or "")
    return (
        workload is not None
        and instance.replica is not None
        and (workload.is_throughput or instance.replica < workload.replicas)
    )


class ReplanPerGpuModel(PerGpuModel):
    """The per-GPU model with the running fleet's keep and stay variables."""

    def __init__(self, problem: Problem, catalog: Catalog, current: list[PlanGpu]) -> None:
        # Read by the symmetry breaking, which the base constructor adds.
        workloads = {w.name: w for w in problem.workloads}
        self.now: dict[tuple[str, int], PlanGpu] = {
            (gpu.pool, gpu.index): gpu
            for gpu in current
            if any(_runs_now(i, workloads) for i in gpu.instances)
        }
        self.running = workloads
        super().__init__(problem, catalog)
        self.keep: dict[int, cp_model.IntVar] = {}
        self.stay: dict[tuple[str, ProfileKey], cp_model.IntVar] = {}
        self._add_keep()
        self._add_stays()

    def hosting_now(self, g: int) -> PlanGpu | None:
        gpu = self.gpus[g]
        return self.now.get((gpu.pool.pool, gpu.index))

    def _add_symmetry_breaking(self) -> None:
        """Only GPUs hosting nothing now are interchangeable: order those, pool by pool."""
        previous: dict[str, int] = {}
        for g, gpu in enumerate(self.gpus):
            if self.hosting_now(g) is not None:
                continue
            before = previous.get(gpu.pool.pool)
            if before is not None:
                self.model.add(self.used[before] >= self.used[g])
                self.model.add(self.gpu_units(before) >= self.gpu_units(g))
            previous[gpu.pool.pool] = g

    def _add_keep(self) -> None:
        """keep[g] fixes every slot of GPU g to what it carries now."""
        for g in range(len(self.gpus)):
            entry = self.hosting_now(g)
            if entry is None:
                continue
            keep = self.model.new_bool_var(f"keep[{entry.pool}/{entry.index}]")
            self.keep[g] = keep
            carved_now = {(i.profile, i.start) for i in entry.instances}
            for profile, start, x in self.slots(g):
                self.model.add(x == int((profile.name, start) in carved_now)).only_enforce_if(keep)

    def _add_stays(self) -> None:
        """stay[w, g, p]: replicas of w on their current p slots of GPU g, if g is kept."""
        for g, keep in self.keep.items():
            entry = self.hosting_now(g)
            assert entry is not None
            slots_now = Counter(
                (i.workload, i.profile) for i in entry.instances if _runs_now(i, self.running)
            )
            for (workload, profile), count in slots_now.items():
                assigned = self.a.get((str(workload), (g, profile)))
                if assigned is None:  # the workload no longer fits that profile: it moves
                    continue
                name = f"stay[{workload},{entry.pool}/{entry.index},{profile}]"
                stay = self.model.new_int_var(0, count, name)
                self.stay[str(workload), (g, profile)] = stay
                self.model.add(stay <= count * keep)
                self.model.add(stay <= assigned)

    def moved(self) -> cp_model.LinearExpr:
        return _total(self.a.values()) - _total(self.stay.values())

    def recarved(self) -> cp_model.LinearExpr:
        return _total(self.used[g] for g in self.keep) - _total(self.keep.values())

    def add_budgets(self, max_recarve: int | None, max_moves: int | None) -> None:
        if max_recarve is not None:
            self.model.add(self.recarved() <= max_recarve)
        if max_moves is not None:
            self.model.add(self.moved() <= max_moves)

    def all_variables(self) -> list[cp_model.IntVar]:
        return [*super().all_variables(), *self.keep.values(), *self.stay.values()]


def current_solution(pergpu: ReplanPerGpuModel) -> dict[int, int]:
    """Changing nothing, as an assignment of every variable: feasible under any budget."""
    solution = {var.index: 0 for var in pergpu.all_variables()}
    placed: Counter[str] = Counter()
    for g, keep in pergpu.keep.items():
        entry = pergpu.hosting_now(g)
        assert entry is not None
        solution[keep.index] = 1
        solution[pergpu.used[g].index] = 1
        for instance in entry.instances:
            solution[pergpu.x[g, instance.profile, instance.start].index] = 1
        for (workload, (h, profile)), stay in pergpu.stay.items():
            if h != g:
                continue
            assigned = pergpu.a[workload, (g, profile)]
            count = min(stay.proto.domain[-1], assigned.proto.domain[-1])
            solution[stay.index] = solution[assigned.index] = count
            placed[workload] += count
    for workload in pergpu.problem.workloads:
        missing = max(0, workload.replicas - placed[workload.name])
        if workload.is_throughput:
            missing = SERVED_SCALE
        solution[pergpu.unplaced[workload.name].index] = missing
    return solution


def _moved_of(pergpu: ReplanPerGpuModel, staged: _StagedSolver) -> int:
    return sum(staged.value(v) for v in pergpu.a.values()) - sum(
        staged.value(v) for v in pergpu.stay.values()
    )


def _recarved_of(pergpu: ReplanPerGpuModel, staged: _StagedSolver) -> int:
    return sum(staged.value(pergpu.used[g]) - staged.value(k) for g, k in pergpu.keep.items())


def _staying_on_their_slots(
    pergpu: ReplanPerGpuModel, staged: _StagedSolver, gpus: list[PlanGpu]
) -> None:
    """On kept GPUs, give each staying replica its current slot (the solver counts per profile)."""
    by_key = {(gpu.pool, gpu.index): gpu for gpu in gpus}
    for g, keep in pergpu.keep.items():
        entry = pergpu.hosting_now(g)
        assert entry is not None
        planned = by_key.get((entry.pool, entry.index))
        if not staged.value(keep) or planned is None:
            continue
        was = {i.start: i.workload for i in entry.instances if _runs_now(i, pergpu.running)}
        for profile in {i.profile for i in planned.instances}:
            mine = [i for i in planned.instances if i.profile == profile]
            tenants = [(i.workload, i.replica) for i in mine]
            rest = []
            for instance in mine:  # a slot takes a replica of the workload it hosts now first
                wanted = was.get(instance.start)
                pick = next((t for t in tenants if wanted is not None and t[0] == wanted), None)
                if pick is None:
                    rest.append(instance)
                    continue
                tenants.remove(pick)
                instance.workload, instance.replica = pick
            for instance, pick in zip(rest, tenants, strict=True):
                instance.workload, instance.replica = pick


def solve_per_gpu_replan(
    problem: Problem,
    catalog: Catalog,
    current: list[PlanGpu],
    max_recarve: int | None = None,
    max_moves: int | None = None,
    time_limit_seconds: float = 10.0,
    workers: int = 1,
    seed: int = 0,
) -> PerGpuResult:
    """Lexicographically best re-plan from the per-GPU model: placed weight, cost, moved
    replicas, re-carved GPUs, then the tie-break, within the budgets."""
    started = time.monotonic()
    pergpu = ReplanPerGpuModel(problem, catalog, current)
    pergpu.add_budgets(max_recarve, max_moves)
    staged = _StagedSolver(pergpu, time_limit_seconds, workers, seed)
    staged.solution = current_solution(pergpu)
    shares = REPLAN_STAGE_TIME_SHARES
    placement = staged.run(pergpu.placed_weight(), maximize=True, share=shares[0])
    pergpu.model.add(pergpu.placed_weight() >= _placed_weight_of(pergpu, staged))
    cost = staged.run(pergpu.cost_units(), maximize=False, share=shares[1])
    pergpu.model.add(pergpu.cost_units() <= _cost_units_of(pergpu, staged))
    moves = staged.run(pergpu.moved(), maximize=False, share=shares[2])
    pergpu.model.add(pergpu.moved() <= _moved_of(pergpu, staged))
    recarves = staged.run(pergpu.recarved(), maximize=False, share=shares[3])
    pergpu.model.add(pergpu.recarved() <= _recarved_of(pergpu, staged))
    tidy = staged.run(pergpu.tie_break(), maximize=False, share=shares[4])

    stages = (placement, cost, moves, recarves, tidy)
    optimal = all(stage.status == "optimal" for stage in stages)
    stats = staged.stats(
        f"{FORMULATION} (re-planning)",
        started,
        placement,
        cost,
        note=f"moves {moves.status}, re-carves {recarves.status}, tie-break {tidy.status}",
    )
    gpus = _plan_gpus(pergpu, staged)
    _staying_on_their_slots(pergpu, staged, gpus)
    plan = assemble_plan(
        problem,
        catalog,
        gpus,
        _unplaced(pergpu, staged, catalog),
        status="optimal" if optimal else "feasible",
        lower_bound_per_hour=0.0 if cost.bound is None else cost.bound / PRICE_SCALE,
        solver=stats,
        current=current,
        max_recarve=max_recarve,
        max_moves=max_moves,
    )
    return PerGpuResult(
        plan,
        _placed_weight_of(pergpu, staged),
        plan.cost_per_hour,
        len(plan.gpus),
        optimal,
        moved=_moved_of(pergpu, staged),
        recarved=_recarved_of(pergpu, staged),
    )

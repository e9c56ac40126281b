"""The aggregated view of a problem that the CP-SAT model works on (no solver code here).

GPUs of one pool are interchangeable, and so are replicas of workloads with the same priority and
the same set of (pool, profile) options they fit. The model therefore counts:
- `GPUs of pool q that get layout L`, and
- `replicas of demand class c placed on profile p of pool q`,
so its size does not grow with the number of GPUs or replicas (docs/design.md, "The model").

Spread workloads (replicas on distinct GPUs) keep their own class and are counted per layout
group, `replicas of w on profile p of GPUs of pool q with layout L`; see `expand.py` for why that is
exact.

Re-planning from the running fleet (`current`): GPUs hosting replicas now are grouped by pool and
exact instances with their tenants, `(profile, start, workload)`; the GPUs of a group are
interchangeable, so the model counts how many of each group keep their exact layout (a layout
group with fixed starts) and how many replicas stay on their slot, never one variable per GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recommender.catalog import Catalog, GpuModel
from recommender.cpsat import price_units
from recommender.layouts import Layout, Placement, maximal_layouts, solver_layouts
from recommender.plan import PlanGpu
from recommender.problem import Pool, Problem, Workload
from recommender.rules import fit_key, fits
from recommender.throughput import (
    SERVED_SCALE,
    has_throughput,
    performance_index,
    scaled_rate,
    scaled_throughput,
)


@dataclass
class PoolData:
    """One pool with the layouts and profiles the model may use on its GPUs."""

    index: int
    pool: Pool
    model: GpuModel
    layouts: tuple[Layout, ...]
    profiles: tuple[str, ...]
    price: int  # cost_per_hour in cpsat.PRICE_SCALE units
    # GPUs of the pool a plan can use: an optimal plan never carves a GPU that hosts no replica,
    # so no more than the replicas that fit here. Bounding the counts by it (not by `gpus`)
    # keeps every coefficient product small however large a pool is.
    usable: int = 0


@dataclass
class DemandClass:
    """Interchangeable replicas: same priority, same fitting options (and one spread workload)."""

    index: int
    workloads: list[Workload]
    priority: int
    spread: bool
    options: list[tuple[int, str]]  # (pool index, profile name) the replicas fit
    # Set for the class of one throughput workload: its counts are instances sized by rate.
    throughput: ThroughputDemand | None = None
    demand: int = field(init=False)

    def __post_init__(self) -> None:
        self.demand = sum(w.replicas for w in self.workloads)
        if self.throughput is not None:
            self.demand = self.throughput.max_instances

    @property
    def shortfall_cap(self) -> int:
        """Largest value of the class's `unplaced` variable: replicas, or SERVED_SCALE steps of
        a throughput workload's rate."""
        return SERVED_SCALE if self.throughput is not None else self.demand

    def shortfall_weight(self, served_scale: int) -> int:
        """Stage-1 weight of one `unplaced` unit. A fully served throughput workload weighs
        priority x its minimum instances, like a count workload's replicas; count classes are
        scaled by `served_scale` (1 when the problem has no throughput workload)."""
        if self.throughput is not None:
            return self.priority * max(1, self.throughput.minimum)
        return self.priority * served_scale


@dataclass
class ThroughputDemand:
    """A throughput workload in the model's integer units (see `throughput.py`).

    `required` is the rate in RATE_SCALE units (rounded up); `served[(q, p)]` what one instance
    of profile p in pool q serves (rounded down, capped at `required`: more never counts);
    `minimum` the instances it needs at least (its `replicas`).
    """

    required: int
    served: dict[tuple[int, str], int]
    minimum: int
    max_instances: int  # an upper bound on the instances an optimal plan gives it


@dataclass
class CurrentGroup:
    """GPUs of one pool that host replicas now with identical instances and tenants.

    Interchangeable for the model: it counts how many keep `layout` exactly (with its starts)
    and how many replicas stay on their slots. `tenants` maps (workload, profile) to the starts
    of the slots each GPU gives that workload on that profile, for replicas that may stay: the
    workload is still asked for and still fits the profile. (Slots of one profile hosting one
    workload are interchangeable too, so the model counts stays per (workload, profile).)
    """

    index: int
    pool: int  # PoolData.index
    layout: Layout  # the exact placements the GPUs carry now
    tenants: dict[tuple[str, str], tuple[int, ...]]
    gpus: list[PlanGpu]  # the members, by index

    @property
    def size(self) -> int:
        return len(self.gpus)


@dataclass
class Formulation:
    problem: Problem
    catalog: Catalog
    pools: list[PoolData]
    classes: list[DemandClass]
    # The running fleet, when re-planning: its groups and, per pool index, GPUs hosting nothing.
    groups: list[CurrentGroup] = field(default_factory=list)
    idle: dict[int, int] = field(default_factory=dict)
    replanning: bool = False

    @property
    def total_gpus(self) -> int:
        return sum(p.pool.gpus for p in self.pools)

    @property
    def total_weight(self) -> int:
        scale = self.served_scale
        return sum(c.shortfall_weight(scale) * c.shortfall_cap for c in self.classes)

    @property
    def served_scale(self) -> int:
        """SERVED_SCALE when throughput workloads are present (their served share is counted in
        those steps, so count classes are weighted alike), else 1: the objective is as before."""
        return SERVED_SCALE if any(c.throughput is not None for c in self.classes) else 1


def _fitting_options(workload: Workload, pools: list[PoolData]) -> tuple[tuple[int, str], ...]:
    """(pool index, profile) pairs one replica of `workload` fits."""
    return tuple(
        (pd.index, name)
        for pd in pools
        for name in pd.profiles
        if fits(workload, pd.pool.gpu_model, pd.model, pd.model.profile(name))
    )


def build_formulation(
    problem: Problem, catalog: Catalog, current: list[PlanGpu] | None = None
) -> Formulation:
    """The aggregated view; with `current` (the running fleet, as `reading.load_current`
    returns it) also its groups, and the profiles its layouts carve become options."""
    pools: list[PoolData] = []
    for pool in problem.pools:
        if pool.gpus == 0:
            continue
        model = catalog.model(pool.gpu_model)
        layouts = throughput_layouts(model) if has_throughput(problem) else solver_layouts(model)
        names = sorted({name for lay in layouts for name in lay.counts})
        price = price_units(pool.cost_per_hour)
        pools.append(PoolData(len(pools), pool, model, layouts, tuple(names), price))
    grouped_now = group_current(pools, current or [])
    for pd in pools:
        carved_now = {p.profile for lay, _ in grouped_now.get(pd.index, []) for p in lay.placements}
        pd.profiles = tuple(sorted(set(pd.profiles) | carved_now))

    grouped: dict[tuple, list[Workload]] = {}
    # Inputs of a million rows hold few distinct demands: compute each one's options once.
    options_of: dict[tuple, tuple[tuple[int, str], ...]] = {}
    for workload in problem.workloads:
        if workload.is_throughput:
            continue  # its own class, below (`throughput_classes`)
        demand = fit_key(workload)
        options = options_of.get(demand)
        if options is None:
            options = options_of[demand] = _fitting_options(workload, pools)
        key = (
            ("spread", workload.name) if workload.spread else ("pooled", workload.priority, options)
        )
        grouped.setdefault(key, []).append(workload)

    classes: list[DemandClass] = []
    for members in grouped.values():
        first = members[0]
        options = list(options_of[fit_key(first)])
        classes.append(DemandClass(len(classes), members, first.priority, first.spread, options))
    classes.extend(throughput_classes(problem, pools, len(classes)))
    for pd in pools:
        reaching = sum(c.demand for c in classes if any(q == pd.index for q, _ in c.options))
        pd.usable = min(pd.pool.gpus, reaching)
    f = Formulation(problem, catalog, pools, classes, replanning=current is not None)
    f.groups = current_groups(f, grouped_now)
    for pd in pools:
        hosting = sum(g.size for g in f.groups if g.pool == pd.index)
        f.idle[pd.index] = pd.pool.gpus - hosting
    return f


def group_current(
    pools: list[PoolData], current: list[PlanGpu]
) -> dict[int, list[tuple[Layout, list[PlanGpu]]]]:
    """Per pool index, the GPUs hosting a replica now grouped by exact instances and tenants.

    GPUs hosting nothing now are free to carve ("new"), so they form no group.
    """
    by_name = {pd.pool.pool: pd for pd in pools}
    groups: dict[tuple[int, tuple], tuple[Layout, list[PlanGpu]]] = {}
    for gpu in current:
        pd = by_name.get(gpu.pool)
        if pd is None or not any(i.workload is not None for i in gpu.instances):
            continue
        key = tuple(sorted((i.start, i.profile, i.workload or "") for i in gpu.instances))
        if (pd.index, key) not in groups:
            layout = Layout(tuple(Placement(i.start, i.profile) for i in gpu.instances))
            groups[pd.index, key] = (layout, [])
        groups[pd.index, key][1].append(gpu)
    result: dict[int, list[tuple[Layout, list[PlanGpu]]]] = {}
    for (q, _), (layout, members) in sorted(groups.items(), key=lambda item: item[0]):
        members.sort(key=lambda g: g.index)
        result.setdefault(q, []).append((layout, members))
    return result


def current_groups(
    f: Formulation, grouped: dict[int, list[tuple[Layout, list[PlanGpu]]]]
) -> list[CurrentGroup]:
    """The groups with their tenant slots whose replica may stay (workload known, still fits)."""
    if not grouped:
        return []  # planning an empty fleet: no per-workload table for a million rows
    # One set per class, shared by its members (a class may hold a million workloads).
    shared = [set(c.options) for c in f.classes]
    options = {w.name: shared[c.index] for c in f.classes for w in c.workloads}
    groups: list[CurrentGroup] = []
    for q, members_by_layout in sorted(grouped.items()):
        for layout, members in members_by_layout:
            tenants: dict[tuple[str, str], tuple[int, ...]] = {}
            for i in sorted(members[0].instances, key=lambda i: i.start):
                if i.workload is not None and (q, i.profile) in options.get(i.workload, set()):
                    key = (i.workload, i.profile)
                    tenants[key] = (*tenants.get(key, ()), i.start)
            groups.append(CurrentGroup(len(groups), q, layout, tenants, members))
    return groups


# A throughput workload's rate is at most this many units in the model (see throughput_classes).
COVERAGE_STEPS = 100_000


def throughput_classes(problem: Problem, pools: list[PoolData], first: int) -> list[DemandClass]:
    """One class per throughput workload: its options are the (pool, profile) pairs where a
    measured configuration qualifies (`throughput.PerformanceIndex.best`)."""
    index = performance_index(problem)
    classes: list[DemandClass] = []
    for workload in problem.workloads:
        if workload.requests_per_second is None:
            continue
        # Large rates are counted in coarser units (at most COVERAGE_STEPS of them per rate) so
        # the coverage rows keep small coefficients; rounding stays conservative either way.
        unit = max(1, scaled_rate(workload.requests_per_second) // COVERAGE_STEPS)
        required = -(-scaled_rate(workload.requests_per_second) // unit)
        served: dict[tuple[int, str], int] = {}
        capacity = 0
        for pd in pools:
            rows = index.options(workload, pd.pool.gpu_model, pd.model)
            for name, row in rows.items():
                if name in pd.profiles:
                    rate = scaled_throughput(row.throughput_rps) // unit
                    if rate > 0:
                        served[pd.index, name] = min(rate, required)
            if rows:
                capacity += pd.pool.gpus * pd.model.max_instances
        needed = max([workload.replicas, *(-(-required // t) for t in served.values())])
        demand = ThroughputDemand(required, served, workload.replicas, min(needed, capacity))
        classes.append(
            DemandClass(
                first + len(classes),
                [workload],
                workload.priority,
                workload.spread,
                list(served),
                throughput=demand,
            )
        )
    return classes


def throughput_layouts(model: GpuModel) -> tuple[Layout, ...]:
    """Every maximal layout (no instance can be added), not only the non-dominated ones.

    `solver_layouts` drops a layout when another offers at least as much instance by instance,
    which is exact for count demand (a replica fitting a profile fits any larger one). A
    throughput instance serves only on profiles the performance table measured, so a larger
    profile may serve it nothing: 7 x 1g.5gb is needed even though 1g.10gb dominates 1g.5gb.
    Every layout is contained in a maximal one (the extra instances stay spare), so these are
    exact for any mix; A100/H100 have 44 of them.
    """
    return tuple(maximal_layouts(model, [p.name for p in model.profiles if not p.gfx]))

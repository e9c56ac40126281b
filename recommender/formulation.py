"""The aggregated view of a problem that the CP-SAT model works on (no solver code here).

GPUs of one pool are interchangeable, and so are replicas of workloads with the same priority and
the same set of (pool, profile) options they fit. The model therefore counts:
- `GPUs of pool q that get layout L`, and
- `replicas of demand class c placed on profile p of pool q`,
so its size does not grow with the number of GPUs or replicas (DESIGN.md §5).

Spread workloads (replicas on distinct GPUs) keep their own class and are counted per layout
group, `replicas of w on profile p of GPUs of pool q with layout L`; see `expand.py` for why that is
exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recommender.catalog import Catalog, GpuModel
from recommender.cpsat import price_units
from recommender.layouts import Layout, solver_layouts
from recommender.problem import Pool, Problem, Workload
from recommender.rules import fits


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
    demand: int = field(init=False)

    def __post_init__(self) -> None:
        self.demand = sum(w.replicas for w in self.workloads)


@dataclass
class Formulation:
    problem: Problem
    catalog: Catalog
    pools: list[PoolData]
    classes: list[DemandClass]

    @property
    def total_gpus(self) -> int:
        return sum(p.pool.gpus for p in self.pools)

    @property
    def total_weight(self) -> int:
        return sum(c.priority * c.demand for c in self.classes)


def build_formulation(problem: Problem, catalog: Catalog) -> Formulation:
    pools: list[PoolData] = []
    for pool in problem.pools:
        if pool.gpus == 0:
            continue
        model = catalog.model(pool.gpu_model)
        layouts = solver_layouts(model)
        names = sorted({name for lay in layouts for name in lay.counts})
        price = price_units(pool.cost_per_hour)
        pools.append(PoolData(len(pools), pool, model, layouts, tuple(names), price))

    grouped: dict[tuple, list[Workload]] = {}
    for workload in problem.workloads:
        options = tuple(
            (pd.index, name)
            for pd in pools
            for name in pd.profiles
            if fits(workload, pd.pool.gpu_model, pd.model, pd.model.profile(name))
        )
        key = (
            ("spread", workload.name) if workload.spread else ("pooled", workload.priority, options)
        )
        grouped.setdefault(key, []).append(workload)

    classes: list[DemandClass] = []
    for members in grouped.values():
        first = members[0]
        options = [
            (pd.index, name)
            for pd in pools
            for name in pd.profiles
            if fits(first, pd.pool.gpu_model, pd.model, pd.model.profile(name))
        ]
        classes.append(DemandClass(len(classes), members, first.priority, first.spread, options))
    for pd in pools:
        reaching = sum(c.demand for c in classes if any(q == pd.index for q, _ in c.options))
        pd.usable = min(pd.pool.gpus, reaching)
    return Formulation(problem, catalog, pools, classes)

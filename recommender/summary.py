"""The numbers derived from a plan and its inputs: cost, summary, and the inputs' digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from recommender.catalog import Catalog
from recommender.plan import HOURS_PER_MONTH, PlanGpu, PoolSummary, Summary, Unplaced
from recommender.problem import Pool, Problem
from recommender.rules import full_gpu_memory_gib
from recommender.throughput import has_throughput, throughput_summary


def plan_cost(gpus: list[PlanGpu], problem: Problem) -> float:
    """Sum of the pool price of every GPU that hosts at least one instance (docs/design.md §6)."""
    price = {p.pool: p.cost_per_hour for p in problem.pools}
    return sum(price[g.pool] for g in gpus if g.instances)


@dataclass
class _Usage:
    """Demand placed on, and capacity of, a set of used GPUs (a pool, or the whole plan)."""

    gpus: int = 0
    demand_compute: float = 0.0
    demand_memory: float = 0.0
    capacity_compute: float = 0.0
    capacity_memory: float = 0.0

    def add(self, other: _Usage) -> None:
        self.gpus += other.gpus
        self.demand_compute += other.demand_compute
        self.demand_memory += other.demand_memory
        self.capacity_compute += other.capacity_compute
        self.capacity_memory += other.capacity_memory

    @property
    def compute_utilization(self) -> float:
        return self.demand_compute / self.capacity_compute if self.capacity_compute else 0.0

    @property
    def memory_utilization(self) -> float:
        return self.demand_memory / self.capacity_memory if self.capacity_memory else 0.0


def summarize(
    gpus: list[PlanGpu],
    unplaced: list[Unplaced],
    problem: Problem,
    catalog: Catalog,
    lower_bound_per_hour: float,
) -> Summary:
    """The summary of a plan; utilization and stranded units count used GPUs only (the ones
    hosting an instance, the ones that cost)."""
    cost = plan_cost(gpus, problem)
    by_name = {w.name: w for w in problem.workloads}
    usage: dict[str, _Usage] = {p.pool: _Usage() for p in problem.pools}
    stranded = spare = 0
    models = {key: catalog.model(key) for key in {g.gpu_model for g in gpus}}
    full_gib = {key: full_gpu_memory_gib(model) for key, model in models.items()}
    # Plans carve 100,000s of instances of a few profiles: look each profile up once.
    profiles = {
        (key, p.name): (p.span, p.compute_slices)
        for key, model in models.items()
        for p in model.profiles
    }
    for gpu in gpus:
        if not gpu.instances:
            continue
        model = models[gpu.gpu_model]
        pool = usage.setdefault(gpu.pool, _Usage())
        pool.gpus += 1
        pool.capacity_compute += model.compute_slices
        pool.capacity_memory += full_gib[gpu.gpu_model]
        busy_units = 0
        for inst in gpu.instances:
            if inst.workload is None:
                spare += 1
                continue
            workload = by_name[inst.workload]
            span, compute_slices = profiles[gpu.gpu_model, inst.profile]
            # A throughput instance is sized to serve a rate: all of its compute is in use.
            pool.demand_compute += (
                compute_slices
                if workload.requests_per_second is not None
                else workload.compute_slices
            )
            pool.demand_memory += workload.memory_gb
            busy_units += span
        stranded += model.placement_units - busy_units
    overall = _Usage()
    for pool_usage in usage.values():
        overall.add(pool_usage)
    total = replicas_total(gpus, unplaced, problem)
    missing = sum(u.replicas for u in unplaced)
    gap = (cost - lower_bound_per_hour) / lower_bound_per_hour if lower_bound_per_hour > 0 else None
    if gap is None and cost == 0:
        gap = 0.0
    return Summary(
        cost_per_hour=round(cost, 6),
        cost_per_month=round(cost * HOURS_PER_MONTH, 2),
        lower_bound_per_hour=round(lower_bound_per_hour, 6),
        gap=gap,
        gpus_used=overall.gpus,
        gpus_available=sum(p.gpus for p in problem.pools),
        pools=[_pool_summary(p, usage[p.pool]) for p in problem.pools],
        replicas_total=total,
        replicas_placed=total - missing,
        replicas_unplaced=missing,
        compute_utilization=overall.compute_utilization,
        memory_utilization=overall.memory_utilization,
        stranded_units=stranded,
        spare_instances=spare,
        throughput=throughput_summary(gpus, problem),
    )


def replicas_total(gpus: list[PlanGpu], unplaced: list[Unplaced], problem: Problem) -> int:
    """Replicas in all: a count workload's `replicas`; for a throughput workload, the instances
    the plan gives it plus those its unplaced entry says are missing (the planner sizes it)."""
    if not has_throughput(problem):
        return problem.total_replicas
    sized = {w.name for w in problem.workloads if w.is_throughput}
    hosted = sum(
        1
        for gpu in gpus
        for inst in gpu.instances
        if inst.workload is not None and inst.workload in sized
    )
    missing = sum(u.replicas for u in unplaced if u.workload in sized)
    return sum(w.replicas for w in problem.workloads if not w.is_throughput) + hosted + missing


def _pool_summary(pool: Pool, usage: _Usage) -> PoolSummary:
    return PoolSummary(
        pool=pool.pool,
        gpu_model=pool.gpu_model,
        gpus_available=pool.gpus,
        gpus_used=usage.gpus,
        cost_per_hour=round(usage.gpus * pool.cost_per_hour, 6),
        compute_utilization=usage.compute_utilization,
        memory_utilization=usage.memory_utilization,
    )


def inputs_digest(problem: Problem, catalog: Catalog) -> str:
    """SHA-256 of the inputs that determine a plan (workloads, pools, the models they use)."""
    used = sorted({p.gpu_model for p in problem.pools})
    payload = problem.model_dump_json() + "".join(catalog.model(k).model_dump_json() for k in used)
    return hashlib.sha256(payload.encode()).hexdigest()

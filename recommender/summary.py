"""Plan summaries and reasons for unplaced replicas: derived from a plan and its inputs."""

from __future__ import annotations

import hashlib
from collections import Counter

from recommender.catalog import Catalog
from recommender.formulation import fits
from recommender.plan import HOURS_PER_MONTH, PlanGpu, PoolSummary, Summary, Unplaced
from recommender.problem import Problem, Workload


def plan_cost(gpus: list[PlanGpu], problem: Problem) -> float:
    """Sum of the pool price of every GPU that hosts at least one instance (DESIGN.md §4)."""
    price = {p.pool: p.cost_per_hour for p in problem.pools}
    return sum(price[g.pool] for g in gpus if g.instances)


def summarize(
    gpus: list[PlanGpu],
    unplaced: list[Unplaced],
    problem: Problem,
    catalog: Catalog,
    lower_bound_per_hour: float,
) -> Summary:
    cost = plan_cost(gpus, problem)
    used = Counter(g.pool for g in gpus if g.instances)
    by_name = {w.name: w for w in problem.workloads}
    demand_compute = demand_memory = 0.0
    capacity_compute = capacity_memory = 0.0
    stranded = spare = 0
    full_gib = {
        key: max(catalog.model(key).profiles, key=lambda p: (p.span, p.memory_mib)).memory_gib
        for key in {g.gpu_model for g in gpus}
    }
    for gpu in gpus:
        model = catalog.model(gpu.gpu_model)
        capacity_compute += model.compute_slices
        capacity_memory += full_gib[gpu.gpu_model]
        busy_units = 0
        for inst in gpu.instances:
            if inst.workload is None:
                spare += 1
                continue
            workload = by_name[inst.workload]
            demand_compute += workload.compute_slices
            demand_memory += workload.memory_gb
            busy_units += model.profile(inst.profile).span
        stranded += model.placement_units - busy_units
    total = problem.total_replicas
    missing = sum(u.replicas for u in unplaced)
    gap = (cost - lower_bound_per_hour) / lower_bound_per_hour if lower_bound_per_hour > 0 else None
    if gap is None and cost == 0:
        gap = 0.0
    return Summary(
        cost_per_hour=round(cost, 6),
        cost_per_month=round(cost * HOURS_PER_MONTH, 2),
        lower_bound_per_hour=round(lower_bound_per_hour, 6),
        gap=gap,
        gpus_used=sum(used.values()),
        gpus_available=sum(p.gpus for p in problem.pools),
        pools=[
            PoolSummary(
                pool=p.pool,
                gpu_model=p.gpu_model,
                gpus_available=p.gpus,
                gpus_used=used.get(p.pool, 0),
                cost_per_hour=round(used.get(p.pool, 0) * p.cost_per_hour, 6),
            )
            for p in problem.pools
        ],
        replicas_total=total,
        replicas_placed=total - missing,
        replicas_unplaced=missing,
        compute_utilization=demand_compute / capacity_compute if capacity_compute else 0.0,
        memory_utilization=demand_memory / capacity_memory if capacity_memory else 0.0,
        stranded_units=stranded,
        spare_instances=spare,
    )


def unplaced_reason(workload: Workload, problem: Problem, catalog: Catalog) -> str:
    """Why replicas of `workload` are left out, as specifically as the inputs tell."""
    allowed = [p for p in problem.pools if workload.allows(p.gpu_model)]
    models = sorted({p.gpu_model for p in allowed})
    need = f"{workload.memory_gb:g} GiB, {workload.compute_slices}g" + (
        " with media engines" if workload.media else ""
    )
    candidates = [
        (catalog.model(m), m, prof)
        for m in models
        for prof in catalog.model(m).profiles
        if not workload.media or catalog.model(m).media_capable(prof)
    ]
    if not candidates:
        return f"needs {need}; no allowed GPU model in the fleet ({', '.join(models) or 'none'})"
    fitting_models = {m for model, m, prof in candidates if fits(workload, m, model, prof)}
    if not fitting_models:
        _, m, biggest = max(candidates, key=lambda c: (c[2].memory_mib, c[2].compute_slices))
        if biggest.memory_mib < workload.memory_mib:
            what = (
                "largest media-capable allowed profile"
                if workload.media
                else "largest allowed profile"
            )
            return (
                f"needs {workload.memory_gb:g} GiB; the {what} ({m} {biggest.name}) "
                f"has {biggest.memory_gib:.2f} GiB"
            )
        _, m, most = max(candidates, key=lambda c: c[2].compute_slices)
        return (
            f"needs {workload.compute_slices} compute slices; the largest allowed profile "
            f"({m} {most.name}) has {most.compute_slices}"
        )
    hosts = [p for p in allowed if p.gpu_model in fitting_models]
    gpus = sum(p.gpus for p in hosts)
    pools_text = ", ".join(f"{p.pool}: {p.gpus}" for p in hosts)
    if gpus == 0:
        return f"no GPUs available in the pools that can host it ({pools_text})"
    if workload.spread and workload.replicas > gpus:
        return (
            f"spread needs {workload.replicas} distinct GPUs; only {gpus} GPUs can host it "
            f"({pools_text})"
        )
    if workload.media:
        return (
            "media-capable profiles are all taken (one +me instance per GPU) by replicas of "
            "equal or higher priority"
        )
    return (
        f"capacity exhausted: the {gpus} GPUs that can host it ({pools_text}) are full with "
        "replicas of equal or higher priority"
    )


def inputs_digest(problem: Problem, catalog: Catalog) -> str:
    """SHA-256 of the inputs that determine a plan (workloads, pools, the models they use)."""
    used = sorted({p.gpu_model for p in problem.pools})
    payload = problem.model_dump_json() + "".join(catalog.model(k).model_dump_json() for k in used)
    return hashlib.sha256(payload.encode()).hexdigest()

"""Why replicas were left out: the one vocabulary every planner words its `unplaced` reasons in.

The solver, the per-GPU cross-check and the baselines all explain a left-out replica with these
sentences, so a user comparing plans reads the same words for the same cause. Two sources of
facts feed them:
- `unplaced_reason` derives the cause from the inputs alone; the exact models (`solve`,
  `pergpu`) use it, since they do not say which decision crowded a replica out;
- the greedy planners know what blocked them and call the specific sentences directly
  (`unfit_reason` with the profiles they may carve, `capacity_reason`, `spread_blocked_reason`).
Memory is written in GiB with two decimals everywhere (`39.50 GiB`), as `nvidia-smi` users read
a profile's usable memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from recommender.catalog import Catalog, Profile
from recommender.problem import Pool, Problem, Workload
from recommender.rules import MEMORY_TOLERANCE_MIB, fit_key, fits

if TYPE_CHECKING:
    from recommender.throughput import PerformanceIndex

# How many pool names a reason lists before it says "and N more".
MAX_NAMED_POOLS = 4
ALL_BALANCED_NO_MEDIA = "all-balanced carves no media-capable profile"
MEDIA_PROFILES_TAKEN = (
    "media-capable profiles are all taken (one +me instance per GPU) by replicas of "
    "equal or higher priority"
)


def gib(mib: float) -> str:
    """Usable memory as reasons print it: GiB with two decimals."""
    return f"{mib / 1024:.2f}"


def pool_names(pools: list[Pool]) -> str:
    """The first MAX_NAMED_POOLS pool names, then how many more."""
    names = [p.pool for p in pools[:MAX_NAMED_POOLS]]
    if len(pools) > MAX_NAMED_POOLS:
        names.append(f"and {len(pools) - MAX_NAMED_POOLS} more")
    return ", ".join(names)


def unfit_reason(
    workload: Workload, options: Iterable[tuple[str, Profile]], kind: str, problem: Problem
) -> str:
    """Why no `kind` profile fits `workload`.

    `options` are the (model key, profile) pairs the planner may carve on the pools the workload
    allows; `kind` names them in the sentence (`allowed`, `media-capable`, `full-GPU` ...).
    """
    unique = {(key, p.name): (key, p) for key, p in options}
    choices = sorted(unique.values(), key=lambda o: (o[0], o[1].name))
    if not choices:
        models = sorted({p.gpu_model for p in problem.pools if workload.allows(p.gpu_model)})
        if not models:
            return no_pool_reason(workload)
        return f"no {kind} profile exists on the GPU models it may use ({', '.join(models)})"
    roomy = [o for o in choices if o[1].memory_mib + MEMORY_TOLERANCE_MIB >= workload.memory_mib]
    if not roomy:
        key, largest = max(choices, key=lambda o: (o[1].memory_mib, o[1].compute_slices))
        return (
            f"needs {workload.memory_gb:g} GiB; the largest {kind} profile "
            f"({key} {largest.name}) has {gib(largest.memory_mib)} GiB"
        )
    strong = [o for o in roomy if o[1].compute_slices >= workload.compute_slices]
    if not strong:
        key, most = max(roomy, key=lambda o: (o[1].compute_slices, o[1].memory_mib))
        return (
            f"needs {workload.compute_slices} compute slices; the {kind} profiles with "
            f"{workload.memory_gb:g} GiB or more have at most {most.compute_slices} "
            f"({key} {most.name})"
        )
    return (
        f"needs media engines (NVDEC/NVJPG/OFA); no {kind} profile with "
        f"{workload.memory_gb:g} GiB and {workload.compute_slices}g has them"
    )


def no_pool_reason(workload: Workload) -> str:
    """The fleet has no pool of any GPU model the workload may run on: a fact about the fleet
    (a pool removed in a what-if), not an input error."""
    if not workload.gpu_models:
        return "the fleet has no pools"
    return f"no pool of {' or '.join(workload.gpu_models)} in the fleet"


def capacity_reason(pools: list[Pool]) -> str:
    """The workload fits profiles of these pools, but their GPUs are absent or full."""
    gpus = sum(p.gpus for p in pools)
    if gpus == 0:
        return f"capacity exhausted: the pools it fits ({pool_names(pools)}) have no GPUs"
    return (
        f"capacity exhausted: the {gpus} GPUs of the pools it fits ({pool_names(pools)}) "
        "have no room left for it"
    )


def spread_short_reason(workload: Workload, pools: list[Pool]) -> str:
    """A spread workload has more replicas than there are GPUs that can host one."""
    gpus = sum(p.gpus for p in pools)
    return (
        f"spread needs {workload.replicas} distinct GPUs; only {gpus} GPUs can host it "
        f"({pool_names(pools)})"
    )


def spread_blocked_reason(workload: Workload, placed: int) -> str:
    """A greedy planner's spread replicas found room only beside their own siblings."""
    return (
        f"spread needs {workload.replicas} distinct GPUs; it got {placed}, and the only room "
        "left is on GPUs already hosting one of its replicas"
    )


def unplaced_reason(workload: Workload, problem: Problem, catalog: Catalog) -> str:
    """Why replicas of `workload` are left out, as specifically as the inputs alone tell.

    For planners that may carve any profile the workload fits (the exact models): first what no
    profile can hold, then pools without GPUs, spread beyond the hosting GPUs, media engines,
    and otherwise capacity.
    """
    allowed = [p for p in problem.pools if workload.allows(p.gpu_model)]
    kind = "media-capable" if workload.media else "allowed"
    options = [
        (key, profile)
        for key in sorted({p.gpu_model for p in allowed})
        for profile in catalog.model(key).profiles
        if not workload.media or catalog.model(key).media_capable(profile)
    ]
    fitting_models = {key for key, p in options if fits(workload, key, catalog.model(key), p)}
    if not fitting_models:
        return unfit_reason(workload, options, kind, problem)
    hosts = [p for p in allowed if p.gpu_model in fitting_models]
    gpus = sum(p.gpus for p in hosts)
    if gpus == 0:
        return capacity_reason(hosts)
    if workload.spread and workload.replicas > gpus:
        return spread_short_reason(workload, hosts)
    if workload.media:
        return MEDIA_PROFILES_TAKEN
    return capacity_reason(hosts)


def throughput_reason(
    workload: Workload, problem: Problem, catalog: Catalog, index: PerformanceIndex
) -> str:
    """Why a throughput workload is not (fully) served, as specifically as the inputs tell.

    First what the performance table lacks (its model, rows on the GPU models it may use, a
    configuration meeting its latency objective, one whose memory fits), then capacity.
    """
    model = workload.performance_model
    if not index.has_rows(workload):
        known = ", ".join(sorted(index.models)) or "none"
        return f"the performance table has no row for model '{model}' (models: {known})"
    allowed = [p for p in problem.pools if workload.allows(p.gpu_model)]
    keys = sorted({p.gpu_model for p in allowed})
    if not keys:
        return no_pool_reason(workload)
    measured = [key for key in keys if index.has_rows(workload, key)]
    if not measured:
        return (
            f"the performance table has no row for model '{model}' on the GPU models it may "
            f"use ({', '.join(keys)})"
        )
    rows = [row for row in problem.performance if row.model == model and row.gpu_model in measured]
    fast = [
        r
        for r in rows
        if workload.latency_ms is None
        or r.latency_ms is None
        or r.latency_ms <= workload.latency_ms
    ]
    if not fast:
        quickest = min(r.latency_ms for r in rows if r.latency_ms is not None)
        return (
            f"no measured configuration of '{model}' meets latency_ms {workload.latency_ms:g} "
            f"(the fastest has {quickest:g} ms)"
        )
    hosts = [p for p in allowed if index.options(workload, p.gpu_model, catalog.model(p.gpu_model))]
    if not hosts:
        return (
            f"no measured configuration of '{model}' that meets its latency objective fits a "
            f"profile it may use ({workload.memory_gb:g} GiB unless the row says otherwise, "
            f"{workload.compute_slices}g{', media' if workload.media else ''})"
        )
    return capacity_reason(hosts)


def unplaced_reasons(
    workloads: Iterable[Workload], problem: Problem, catalog: Catalog
) -> dict[str, str]:
    """`unplaced_reason` of each workload by name, worked out once per distinct demand.

    The reason reads only what `fits` reads, spread, and (for spread) the replica count, so
    a million workloads with a few hundred distinct demands cost a few hundred evaluations.
    """
    by_shape: dict[tuple, str] = {}
    reasons: dict[str, str] = {}
    for workload in workloads:
        shape = (fit_key(workload), workload.spread, workload.replicas if workload.spread else 0)
        reason = by_shape.get(shape)
        if reason is None:
            reason = by_shape[shape] = unplaced_reason(workload, problem, catalog)
        reasons[workload.name] = reason
    return reasons

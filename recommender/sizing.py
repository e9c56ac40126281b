"""Configurator-then-packer: size every throughput workload first, then pack like count demand.

The greedy strategy of the literature (ParvaGPU, MIG-serving's heuristics): a configurator turns
each throughput workload into instances of chosen profiles, after which they are ordinary
replicas that any packer places. Here the instances become synthetic count workloads whose
memory and compute are exactly the chosen profile's (and whose GPU model is the chosen one), so
the existing greedy packers (`greedy.py`, the baselines) place them unchanged; `restore` maps the
packed GPUs back to the real workloads.

Two configurators:
- `per_slice_sizing`: the configuration with the most throughput per compute slice that meets
  the latency objective, as many instances as cover the rate, the last one sized down to the
  smallest profile (same GPU model) that covers the remainder (not for spread workloads: their
  instances stay alike so one packed workload keeps them on distinct GPUs);
- `full_gpu_sizing`: full-GPU instances only ("biggest instance").

Used by the baselines and, as a hint only, by the solver's warm start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from recommender.catalog import Catalog, GpuModel, Profile
from recommender.greedy import serving_order
from recommender.plan import PlanGpu, Unplaced
from recommender.problem import PerformanceRow, Problem, Workload
from recommender.rules import full_gpu_profile, smallest_first_key
from recommender.throughput import (
    PerformanceIndex,
    instances_needed,
    performance_index,
    scaled_rate,
    scaled_throughput,
)

# (GPU model key, profile name) of each instance a configurator gives a throughput workload; the
# last argument is the compute slices still free per GPU model (the configurator avoids models
# whose pools are already spoken for, as a capacity-aware greedy would).
Sizing = Callable[
    [Workload, Problem, Catalog, PerformanceIndex, dict[str, float]], list[tuple[str, str]]
]


@dataclass(frozen=True)
class _Choice:
    key: str
    model: GpuModel
    profile: Profile
    row: PerformanceRow
    price: float  # cheapest pool of the model, per GPU-hour


def _choices(
    workload: Workload, problem: Problem, catalog: Catalog, index: PerformanceIndex
) -> list[_Choice]:
    """Every (GPU model, profile) of a pool with GPUs where a configuration qualifies."""
    prices: dict[str, float] = {}
    for pool in problem.pools:
        if pool.gpus > 0 and workload.allows(pool.gpu_model):
            prices[pool.gpu_model] = min(
                prices.get(pool.gpu_model, pool.cost_per_hour), pool.cost_per_hour
            )
    found = []
    for key in sorted(prices):
        model = catalog.model(key)
        for name, row in index.options(workload, key, model).items():
            found.append(_Choice(key, model, model.profile(name), row, prices[key]))
    return found


def _candidates(
    choices: list[_Choice], workload: Workload, room: dict[str, float]
) -> list[_Choice]:
    """The choices whose GPU model still has the compute slices the workload's rate needs (all
    of them when none has)."""
    assert workload.requests_per_second is not None
    rate = workload.requests_per_second
    fitting = [
        c
        for c in choices
        if instances_needed(rate, c.row.throughput_rps) * c.profile.compute_slices
        <= room.get(c.key, 0)
    ]
    return fitting or choices


def _instances(workload: Workload, choice: _Choice, count: int) -> list[tuple[str, str]]:
    """`count` instances of `choice`, and never fewer than the workload's replicas."""
    return [(choice.key, choice.profile.name)] * max(count, workload.replicas)


def per_slice_sizing(
    workload: Workload,
    problem: Problem,
    catalog: Catalog,
    index: PerformanceIndex,
    room: dict[str, float],
) -> list[tuple[str, str]]:
    """Most throughput per compute slice; the last instance sized down to cover the remainder."""
    choices = _candidates(_choices(workload, problem, catalog, index), workload, room)
    if not choices:
        return []
    assert workload.requests_per_second is not None
    best = max(
        choices,
        key=lambda c: (
            c.row.throughput_rps / c.profile.compute_slices,
            -c.price * c.profile.span / c.model.placement_units,
            c.row.throughput_rps,
        ),
    )
    count = instances_needed(workload.requests_per_second, best.row.throughput_rps)
    if count >= workload.replicas and count > 1 and not workload.spread:
        # Size the last instance down: the smallest profile of the model that covers the rest.
        rest = scaled_rate(workload.requests_per_second) - (count - 1) * scaled_throughput(
            best.row.throughput_rps
        )
        covering = [
            c
            for c in choices
            if c.key == best.key and scaled_throughput(c.row.throughput_rps) >= rest
        ]
        last = min(covering, key=lambda c: smallest_first_key(c.model, c.profile))
        return [(best.key, best.profile.name)] * (count - 1) + [(last.key, last.profile.name)]
    return _instances(workload, best, count)


def full_gpu_sizing(
    workload: Workload,
    problem: Problem,
    catalog: Catalog,
    index: PerformanceIndex,
    room: dict[str, float],
) -> list[tuple[str, str]]:
    """Full-GPU instances on the model whose whole GPU serves a request most cheaply."""
    full = [
        c
        for c in _choices(workload, problem, catalog, index)
        if c.profile.name == full_gpu_profile(c.model).name
    ]
    full = _candidates(full, workload, room)
    if not full:
        return []
    assert workload.requests_per_second is not None
    best = min(full, key=lambda c: (c.price / c.row.throughput_rps, c.key))
    count = instances_needed(workload.requests_per_second, best.row.throughput_rps)
    return _instances(workload, best, count)


@dataclass
class CountProblem:
    """A problem whose throughput workloads became synthetic count workloads."""

    problem: Problem
    original: dict[str, str]  # synthetic workload name -> throughput workload name


def as_count_problem(problem: Problem, catalog: Catalog, sizing: Sizing) -> CountProblem:
    """Count workloads as they are; each throughput workload as one synthetic count workload per
    (GPU model, profile) its configurator chose, sized exactly to that profile."""
    index = performance_index(problem)
    names = {w.name for w in problem.workloads}
    workloads: list[Workload] = []
    original: dict[str, str] = {}
    room: dict[str, float] = {}
    for pool in problem.pools:
        slices = pool.gpus * catalog.model(pool.gpu_model).compute_slices
        room[pool.gpu_model] = room.get(pool.gpu_model, 0) + slices
    # Sized in the packers' serving order (priority, then memory), so capacity goes first to
    # the workloads the packer serves first.
    sized: dict[str, list[tuple[str, str]]] = {}
    for w in serving_order(problem):
        if w.is_throughput:
            sized[w.name] = sizing(w, problem, catalog, index, room)
            for key, name in sized[w.name]:
                room[key] -= catalog.model(key).profile(name).compute_slices
    for w in problem.workloads:
        if not w.is_throughput:
            workloads.append(w)
            continue
        counts: dict[tuple[str, str], int] = {}
        for key, name in sized[w.name]:
            counts[key, name] = counts.get((key, name), 0) + 1
        for (key, name), count in counts.items():
            profile = catalog.model(key).profile(name)
            synthetic = f"{w.name} [{key} {name}]"
            while synthetic in names:
                synthetic += "'"
            names.add(synthetic)
            original[synthetic] = w.name
            workloads.append(
                Workload(
                    name=synthetic,
                    memory_gb=profile.memory_mib / 1024,
                    compute_slices=profile.compute_slices,
                    replicas=count,
                    gpu_models=(key,),
                    priority=w.priority,
                    media=w.media,
                    spread=w.spread,
                )
            )
    return CountProblem(Problem(workloads=tuple(workloads), pools=problem.pools), original)


def restore(
    count: CountProblem, gpus: list[PlanGpu], unplaced: list[Unplaced]
) -> tuple[list[PlanGpu], list[Unplaced]]:
    """Packed GPUs and unplaced entries in the real workloads' names.

    Instances keep their profile; `assemble.assemble_plan` then attaches each instance's
    configuration, renumbers the instances and derives the throughput workloads' unplaced
    entries (the packer's reason for a left-out instance is kept).
    """
    renamed = []
    for gpu in gpus:
        instances = [
            inst.model_copy(update={"workload": count.original[inst.workload]})
            if inst.workload in count.original
            else inst
            for inst in gpu.instances
        ]
        renamed.append(gpu.model_copy(update={"instances": instances}))
    entries: dict[str, Unplaced] = {}
    for entry in unplaced:
        name = count.original.get(entry.workload, entry.workload)
        if name not in entries:
            entries[name] = entry.model_copy(update={"workload": name})
    return renamed, list(entries.values())

"""Best-fit-decreasing packing: the greedy core under both the solver's warm start and the
best-fit-decreasing baseline.

Replicas are served together per workload in `serving_order`; each goes to the opened GPU it
leaves with the least free room, carving the smallest fitting profile that can still join that
GPU's instances. When no opened GPU has room, the pool whose GPU share (price x span / units of
the smallest fitting profile) is cheapest opens its next GPU. Plain profiles are preferred; `+me`
ones serve media only (`rules.carvable_for`). Opened GPUs sit in buckets keyed by (pool, profile
multiset), and layout look-ups are cached, so 100,000 replicas on 20,000 GPUs take seconds.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from recommender.catalog import Catalog
from recommender.layouts import find_layout
from recommender.plan import PlanGpu, PlanInstance, Unplaced
from recommender.problem import Problem, Workload
from recommender.reasons import capacity_reason, spread_blocked_reason, unfit_reason
from recommender.rules import carvable_for, fit_key, fits, smallest_first_key


def serving_order(problem: Problem) -> list[Workload]:
    """Workloads in the order greedy planners serve their replicas: priority, then memory (both
    high first), then name."""
    return sorted(problem.workloads, key=lambda w: (-w.priority, -w.memory_gb, w.name))


def merge_identical(problem: Problem) -> Problem:
    """The problem with interchangeable workloads merged: same demand, same priority, neither
    spread nor throughput. The merged workload keeps its first member's name.

    For the solver's warm start only: the hint is read back as counts per demand class (which
    such workloads share), so the merge changes nothing the model sees, while a greedy pass over
    a million single-replica rows becomes a pass over their few hundred distinct demands.
    """
    first_of: dict[tuple, Workload] = {}
    replicas: dict[tuple, int] = defaultdict(int)
    kept: list[Workload] = []
    for workload in problem.workloads:
        key = _merge_key(workload)
        if key is None:
            kept.append(workload)
            continue
        first_of.setdefault(key, workload)
        replicas[key] += workload.replicas
    if len(first_of) + len(kept) == len(problem.workloads):
        return problem
    merged = [w.model_copy(update={"replicas": replicas[key]}) for key, w in first_of.items()]
    return problem.model_copy(update={"workloads": (*kept, *merged)})


def identical_groups(problem: Problem) -> dict[str, list[Workload]]:
    """The workloads `merge_identical` merges: the merged workload's name (its first member's)
    -> its members in input order; unmerged workloads are not listed."""
    members: dict[tuple, list[Workload]] = defaultdict(list)
    for workload in problem.workloads:
        key = _merge_key(workload)
        if key is not None:
            members[key].append(workload)
    return {group[0].name: group for group in members.values() if len(group) > 1}


def _merge_key(workload: Workload) -> tuple | None:
    """What interchangeable workloads share (None: never merged): the demand and priority."""
    if workload.spread or workload.is_throughput:
        return None
    return (fit_key(workload), workload.priority)


# A carved GPU's content: its pool and its hosted instances as (start, profile, workload),
# by start. Identical contents are interchangeable for counting (`expand.solution_from_contents`).
GpuContent = tuple[str, tuple[tuple[int, str, str | None], ...]]


@dataclass
class Packing:
    """What a greedy planner decided: the GPUs it carved and the replicas it left out."""

    gpus: list[PlanGpu]
    unplaced: list[Unplaced]  # in the problem's workload order


class _Step(NamedTuple):
    """Adding one instance to a GPU: which profile, the multiset after, units left free."""

    profile: str
    state: tuple[str, ...]
    leftover_units: int


@dataclass
class _OpenGpu:
    pool: int  # index in problem.pools
    index: int
    state: tuple[str, ...] = ()  # sorted profile multiset carved so far
    hosted: list[tuple[str, str, int]] = field(default_factory=list)  # (profile, workload, replica)


class _BestFitFleet:
    """State of the best-fit-decreasing packing.

    Opened GPUs sit in buckets keyed by (pool, profile multiset): GPUs in one bucket accept the
    same instances and leave the same room, so a replica is matched to a bucket, not a GPU.
    """

    def __init__(self, problem: Problem, catalog: Catalog) -> None:
        self.problem = problem
        self.pools = problem.pools
        self.models = [catalog.model(p.gpu_model) for p in self.pools]
        self.gpus: list[_OpenGpu] = []
        self.opened = [0] * len(self.pools)
        self.buckets: dict[tuple[int, tuple[str, ...]], list[int]] = {}
        self._step_cache: dict[tuple[str, tuple[str, ...], tuple[str, ...]], _Step | None] = {}
        self._profile_cache: dict[tuple, tuple[str, ...]] = {}

    def serve(self, workload: Workload) -> Unplaced | None:
        choices = self._choices(workload)
        if not choices:
            return Unplaced(
                workload=workload.name, replicas=workload.replicas, reason=self._unfit(workload)
            )
        heap: list[tuple[float, float, int, tuple[str, ...]]] = []
        in_heap: set[tuple[int, tuple[str, ...]]] = set()
        for bucket in self.buckets:
            if bucket[0] in choices:
                self._push(bucket, choices, heap, in_heap)
        openable = self._open_order(choices)
        parked: list[int] = []  # GPUs hosting a spread workload sit out until it is served
        placed = 0
        while placed < workload.replicas:
            gid = self._pop_best(heap, in_heap)
            if gid is None:
                gid = self._open_next(openable)
                if gid is None:
                    break
            gpu = self.gpus[gid]
            step = self._step(gpu.pool, gpu.state, choices[gpu.pool])
            assert step is not None  # buckets in the heap and fresh GPUs have room
            gpu.state = step.state
            gpu.hosted.append((step.profile, workload.name, placed))
            placed += 1
            if workload.spread:
                parked.append(gid)
            else:
                self._file(gid)
                self._push((gpu.pool, gpu.state), choices, heap, in_heap)
        for gid in parked:
            self._file(gid)
        if placed == workload.replicas:
            return None
        blocked_by_spread = workload.spread and any(
            self._step(self.gpus[g].pool, self.gpus[g].state, choices[self.gpus[g].pool])
            for g in parked
        )
        if blocked_by_spread:
            reason = spread_blocked_reason(workload, placed)
        else:
            reason = capacity_reason([self.pools[i] for i in sorted(choices)])
        return Unplaced(workload=workload.name, replicas=workload.replicas - placed, reason=reason)

    def plan_gpus(self) -> list[PlanGpu]:
        gpus: list[PlanGpu] = []
        for gpu in sorted(self.gpus, key=lambda g: (g.pool, g.index)):
            starts = self._starts(gpu.pool, gpu.state, tuple(p for p, _, _ in gpu.hosted))
            instances = [
                PlanInstance(profile=profile, start=start, workload=workload, replica=replica)
                for start, (profile, workload, replica) in zip(starts, gpu.hosted, strict=True)
            ]
            instances.sort(key=lambda inst: inst.start)
            pool = self.pools[gpu.pool]
            gpus.append(
                PlanGpu(
                    pool=pool.pool, index=gpu.index, gpu_model=pool.gpu_model, instances=instances
                )
            )
        return gpus

    def gpu_contents(self) -> Counter[GpuContent]:
        """The GPUs `plan_gpus` builds, as counts of identical contents: what the solver's warm
        start reads, without building an object per GPU and instance (100,000s of them)."""
        alike = Counter(
            (gpu.pool, gpu.state, tuple((p, w) for p, w, _ in gpu.hosted)) for gpu in self.gpus
        )
        contents: Counter[GpuContent] = Counter()
        for (i, state, hosted), count in alike.items():
            starts = self._starts(i, state, tuple(p for p, _ in hosted))
            instances = sorted((start, p, w) for start, (p, w) in zip(starts, hosted, strict=True))
            contents[self.pools[i].pool, tuple(instances)] += count
        return contents

    def _starts(self, i: int, state: tuple[str, ...], hosted: tuple[str, ...]) -> list[int]:
        """The start of each hosted instance (profiles in hosting order) on a pool-i GPU carved
        `state`: the stored layout's placements of each profile, in order."""
        layout = find_layout(self.models[i], state)
        assert layout is not None  # every state was reached through find_layout
        starts: dict[str, list[int]] = defaultdict(list)
        for placement in layout.placements:
            starts[placement.profile].append(placement.start)
        return [starts[profile].pop(0) for profile in hosted]

    def _choices(self, workload: Workload) -> dict[int, tuple[str, ...]]:
        """Per pool the workload may use: its fitting profiles, smallest (and plainest) first."""
        choices: dict[int, tuple[str, ...]] = {}
        for i, pool in enumerate(self.pools):
            if not workload.allows(pool.gpu_model):
                continue
            cache_key = (
                pool.gpu_model,
                workload.memory_gb,
                workload.compute_slices,
                workload.media,
            )
            names = self._profile_cache.get(cache_key)
            if names is None:
                model = self.models[i]
                fitting = [
                    p
                    for p in carvable_for(model, workload.media)
                    if fits(workload, pool.gpu_model, model, p)
                ]
                fitting.sort(key=lambda p: smallest_first_key(model, p))
                names = tuple(p.name for p in fitting)
                self._profile_cache[cache_key] = names
            if names:
                choices[i] = names
        return choices

    def _unfit(self, workload: Workload) -> str:
        options = [
            (pool.gpu_model, profile)
            for i, pool in enumerate(self.pools)
            if workload.allows(pool.gpu_model)
            for profile in carvable_for(self.models[i], workload.media)
        ]
        kind = "media-capable" if workload.media else "allowed"
        return unfit_reason(workload, options, kind, self.problem)

    def _step(self, i: int, state: tuple[str, ...], names: tuple[str, ...]) -> _Step | None:
        """The smallest of `names` that can join `state` on pool i's model, or None."""
        model = self.models[i]
        key = (self.pools[i].gpu_model, state, names)
        if key in self._step_cache:
            return self._step_cache[key]
        step = None
        for name in names:
            after = tuple(sorted((*state, name)))
            if find_layout(model, after) is not None:
                used = sum(model.profile(n).span for n in after)
                step = _Step(name, after, model.placement_units - used)
                break
        self._step_cache[key] = step
        return step

    def _push(
        self,
        bucket: tuple[int, tuple[str, ...]],
        choices: dict[int, tuple[str, ...]],
        heap: list[tuple[float, float, int, tuple[str, ...]]],
        in_heap: set[tuple[int, tuple[str, ...]]],
    ) -> None:
        """Offer a bucket to the current workload: least room left after it, then cheapest."""
        i, state = bucket
        if bucket in in_heap:
            return
        step = self._step(i, state, choices[i])
        if step is None:
            return
        leftover = step.leftover_units / self.models[i].placement_units
        heapq.heappush(heap, (leftover, self.pools[i].cost_per_hour, i, state))
        in_heap.add(bucket)

    def _pop_best(
        self,
        heap: list[tuple[float, float, int, tuple[str, ...]]],
        in_heap: set[tuple[int, tuple[str, ...]]],
    ) -> int | None:
        """Take a GPU out of the best non-empty bucket (empty ones leave the heap lazily)."""
        while heap:
            _, _, i, state = heap[0]
            members = self.buckets.get((i, state))
            if not members:
                heapq.heappop(heap)
                in_heap.discard((i, state))
                continue
            gid = members.pop()
            if not members:
                del self.buckets[(i, state)]
            return gid
        return None

    def _file(self, gid: int) -> None:
        gpu = self.gpus[gid]
        self.buckets.setdefault((gpu.pool, gpu.state), []).append(gid)

    def _open_order(self, choices: dict[int, tuple[str, ...]]) -> deque[int]:
        """Pools by the price of the share of a GPU the smallest fitting profile takes."""
        shares: list[tuple[float, float, int]] = []
        for i, names in choices.items():
            step = self._step(i, (), names)
            if step is None or self.pools[i].gpus == 0:
                continue
            model = self.models[i]
            span = model.placement_units - step.leftover_units
            price = self.pools[i].cost_per_hour
            shares.append((price * span / model.placement_units, price, i))
        shares.sort()
        return deque(i for _, _, i in shares)

    def _open_next(self, openable: deque[int]) -> int | None:
        while openable and self.opened[openable[0]] >= self.pools[openable[0]].gpus:
            openable.popleft()
        if not openable:
            return None
        i = openable[0]
        self.gpus.append(_OpenGpu(pool=i, index=self.opened[i]))
        self.opened[i] += 1
        return len(self.gpus) - 1


def best_fit_decreasing(problem: Problem, catalog: Catalog) -> Packing:
    """Pack every workload's replicas best fit decreasing (see the module docstring)."""
    fleet, unplaced = _pack(problem, catalog)
    return Packing(fleet.plan_gpus(), unplaced)


def best_fit_contents(problem: Problem, catalog: Catalog) -> Counter[GpuContent]:
    """The GPUs `best_fit_decreasing` carves, as counts of identical contents (no objects)."""
    fleet, _ = _pack(problem, catalog)
    return fleet.gpu_contents()


def _pack(problem: Problem, catalog: Catalog) -> tuple[_BestFitFleet, list[Unplaced]]:
    fleet = _BestFitFleet(problem, catalog)
    return fleet, serve_in_order(fleet, problem)


class GreedyFleet(Protocol):
    """A greedy packer's fleet: it places a workload's replicas, saying what it left out."""

    def serve(self, workload: Workload) -> Unplaced | None: ...


def serve_in_order(fleet: GreedyFleet, problem: Problem) -> list[Unplaced]:
    """Serve every workload in `serving_order`; the unplaced entries, in the input's order."""
    missing: dict[str, Unplaced] = {}
    for workload in serving_order(problem):
        left_out = fleet.serve(workload)
        if left_out is not None:
            missing[workload.name] = left_out
    return [missing[w.name] for w in problem.workloads if w.name in missing]

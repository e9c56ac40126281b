"""Baseline planners people use today, shown next to the optimized plan and in the benchmarks.

- `whole-gpu`: no MIG sharing; every replica gets a whole GPU.
- `all-balanced`: mig-parted's `all-balanced` layout carved on every GPU that is used, filled
  first fit.
- `best-fit-decreasing`: free placement; each replica goes where it leaves the least room.

They never call a solver and work on groups, not single replicas where they can: the replicas of a
workload are served together, GPUs of one pool with the same profile multiset share a bucket, and
layout look-ups are cached, so 100,000 replicas on 20,000 GPUs take seconds.

Fitting rule (the same as the solver's, `formulation.fits`): a replica fits a profile when the
profile's usable memory and compute slices cover it, its GPU model is allowed, and a media
workload gets a media-capable profile. Replicas are served by priority (high first), then larger
memory first, then name. Every plan is a DESIGN.md §4 `Plan` with status `feasible` and a lower
bound of 0 (a heuristic proves none).
"""

from __future__ import annotations

import heapq
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from recommender.catalog import Catalog, GpuModel, Profile
from recommender.formulation import fits
from recommender.layouts import Layout, find_layout
from recommender.plan import Plan, PlanGpu, PlanInstance, SolverStats, Unplaced
from recommender.problem import Pool, Problem, Workload
from recommender.summary import inputs_digest, plan_cost, summarize

BaselinePlanner = Callable[[Problem, Catalog], Plan]

# How many pool names a reason lists before it says "and N more".
MAX_NAMED_POOLS = 4
ALL_BALANCED_NO_MEDIA = "all-balanced carves no media-capable profile"


# --- shared rules ------------------------------------------------------------------------------


def serving_order(problem: Problem) -> list[Workload]:
    """Workloads in the order their replicas are served: priority, then memory (both high
    first), then name."""
    return sorted(problem.workloads, key=lambda w: (-w.priority, -w.memory_gb, w.name))


def _suffix_rank(profile: Profile) -> int:
    """Plain profiles first, then the ones whose suffix restricts their neighbours more."""
    if profile.gfx:
        return 4
    if profile.has_me_all:
        return 3
    if profile.has_me:
        return 2
    if profile.no_me:
        return 1
    return 0


def _size_key(model: GpuModel, profile: Profile) -> tuple[int, int, float, int, str]:
    """Orders profiles smallest first: memory, compute, share of the GPU, plainness."""
    share = profile.span / model.placement_units
    return (profile.memory_mib, profile.compute_slices, share, _suffix_rank(profile), profile.name)


def _full_gpu_profile(model: GpuModel) -> Profile | None:
    """The plain profile that takes the whole GPU (not its +gfx twin)."""
    return next((p for p in model.profiles if model.is_full_gpu(p) and not p.attributes), None)


def _carvable_for(model: GpuModel, workload: Workload) -> list[Profile]:
    """Profiles a free-placement baseline may carve for this workload, fit or not.

    Media replicas need a media-capable profile; the others take plain or `-me` profiles, so a
    media engine is never spent on a replica that does not use it. `+gfx` profiles are left to
    graphics.
    """
    if workload.media:
        return [p for p in model.profiles if model.media_capable(p) and not p.gfx]
    return [p for p in model.profiles if not p.attributes or p.attributes == ["-me"]]


def _gib(mib: float) -> str:
    return f"{mib / 1024:.2f}".rstrip("0").rstrip(".")


def _unfit_reason(
    workload: Workload, options: Iterable[tuple[str, Profile]], kind: str, problem: Problem
) -> str:
    """Why no `kind` profile fits `workload`; `options` are the (model key, profile) pairs the
    baseline may carve on the pools the workload allows."""
    unique = {(key, p.name): (key, p) for key, p in options}
    choices = sorted(unique.values(), key=lambda o: (o[0], o[1].name))
    if not choices:
        models = sorted({p.gpu_model for p in problem.pools if workload.allows(p.gpu_model)})
        if not models:
            allowed = ", ".join(workload.gpu_models or ())
            return f"no pool has a GPU model it may run on ({allowed})"
        return f"no {kind} profile exists on the GPU models it may use ({', '.join(models)})"
    roomy = [o for o in choices if o[1].memory_mib >= workload.memory_mib - 1e-9]
    if not roomy:
        key, largest = max(choices, key=lambda o: (o[1].memory_mib, o[1].compute_slices))
        return (
            f"needs {workload.memory_gb:g} GiB; the largest {kind} profile "
            f"({key} {largest.name}) has {_gib(largest.memory_mib)} GiB"
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


def _pool_names(pools: list[Pool]) -> str:
    names = [p.pool for p in pools[:MAX_NAMED_POOLS]]
    if len(pools) > MAX_NAMED_POOLS:
        names.append(f"and {len(pools) - MAX_NAMED_POOLS} more")
    return ", ".join(names)


def _capacity_reason(pools: list[Pool]) -> str:
    gpus = sum(p.gpus for p in pools)
    if gpus == 0:
        return f"capacity exhausted: the pools it fits ({_pool_names(pools)}) have no GPUs"
    return (
        f"capacity exhausted: the {gpus} GPUs of the pools it fits ({_pool_names(pools)}) "
        "have no room left for it"
    )


def _spread_reason(workload: Workload, placed: int) -> str:
    return (
        f"spread needs {workload.replicas} distinct GPUs; it got {placed}, and the only room "
        "left is on GPUs already hosting one of its replicas"
    )


def _finish(
    name: str,
    problem: Problem,
    catalog: Catalog,
    gpus: list[PlanGpu],
    unplaced: dict[str, Unplaced],
    started: float,
) -> Plan:
    """The plan in the DESIGN.md §4 contract: cost from the GPUs hosting instances, bound 0."""
    # Imported here: the solver may use these baselines (e.g. as a hint), so a module-level
    # import would be circular.

    ordered_unplaced = [unplaced[w.name] for w in problem.workloads if w.name in unplaced]
    cost = plan_cost(gpus, problem)
    return Plan(
        status="feasible",
        cost_per_hour=round(cost, 6),
        lower_bound_per_hour=0.0,
        gpus=gpus,
        unplaced=ordered_unplaced,
        summary=summarize(gpus, ordered_unplaced, problem, catalog, 0.0),
        solver=SolverStats(
            formulation=f"baseline: {name}",
            wall_seconds=round(time.perf_counter() - started, 3),
            placement_status="feasible",
            cost_status="feasible",
            lower_bound_source="none (a greedy baseline proves no bound)",
        ),
        inputs_sha256=inputs_digest(problem, catalog),
    )


# --- whole GPU ---------------------------------------------------------------------------------


def whole_gpu_plan(problem: Problem, catalog: Catalog) -> Plan:
    """No MIG sharing: one replica per GPU on the model's full-GPU profile, cheapest pool first."""
    started = time.perf_counter()
    pools = problem.pools
    full = [_full_gpu_profile(catalog.model(p.gpu_model)) for p in pools]
    taken = [0] * len(pools)
    gpus: list[PlanGpu] = []
    unplaced: dict[str, Unplaced] = {}
    for workload in serving_order(problem):
        allowed = [i for i, p in enumerate(pools) if workload.allows(p.gpu_model)]
        fitting = [
            i
            for i in allowed
            if (profile := full[i]) is not None
            and fits(workload, pools[i].gpu_model, catalog.model(pools[i].gpu_model), profile)
        ]
        fitting.sort(key=lambda i: (pools[i].cost_per_hour, i))
        replica = 0
        for i in fitting:
            profile = full[i]
            assert profile is not None
            while replica < workload.replicas and taken[i] < pools[i].gpus:
                instance = PlanInstance(
                    profile=profile.name, start=0, workload=workload.name, replica=replica
                )
                gpus.append(
                    PlanGpu(
                        pool=pools[i].pool,
                        index=taken[i],
                        gpu_model=pools[i].gpu_model,
                        instances=[instance],
                    )
                )
                taken[i] += 1
                replica += 1
        if replica < workload.replicas:
            if fitting:
                reason = _capacity_reason([pools[i] for i in fitting])
            else:
                options = [(pools[i].gpu_model, p) for i in allowed if (p := full[i]) is not None]
                reason = _unfit_reason(workload, options, "full-GPU", problem)
            unplaced[workload.name] = Unplaced(
                workload=workload.name, replicas=workload.replicas - replica, reason=reason
            )
    rank = {p.pool: i for i, p in enumerate(pools)}
    gpus.sort(key=lambda g: (rank[g.pool], g.index))
    return _finish("whole-gpu", problem, catalog, gpus, unplaced, started)


# --- mig-parted all-balanced -------------------------------------------------------------------


@dataclass
class _CarvedPool:
    """A pool whose used GPUs all get the model's all-balanced layout."""

    position: int  # index in problem.pools
    pool: Pool
    model: GpuModel
    layout: Layout
    # Per opened GPU (index = GPU index), per placement of `layout`: (workload, replica) or None.
    opened: list[list[tuple[str, int] | None]] = field(default_factory=list)
    # Per profile, the first placement of `layout` carving it: where a new GPU's first replica goes.
    first_slot: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.first_slot = {}
        for slot, placement in enumerate(self.layout.placements):
            self.first_slot.setdefault(placement.profile, slot)

    @property
    def has_unopened(self) -> bool:
        return len(self.opened) < self.pool.gpus


def _all_balanced_layout(model: GpuModel) -> Layout | None:
    names = [name for name, count in model.all_balanced.items() for _ in range(count)]
    return find_layout(model, names) if names else None


class _AllBalancedFleet:
    """State of the all-balanced baseline: carved GPUs and their free instances.

    Free instances are queued per (pool, profile) in GPU order, so serving a workload scans a
    handful of queues instead of every GPU.
    """

    def __init__(self, problem: Problem, catalog: Catalog) -> None:
        self.problem = problem
        self.pools: list[_CarvedPool] = []
        for position, pool in enumerate(problem.pools):
            model = catalog.model(pool.gpu_model)
            layout = _all_balanced_layout(model)
            if layout is not None:
                self.pools.append(_CarvedPool(position, pool, model, layout))
        # (index in self.pools, profile name) -> deque of (GPU index, placement index).
        self.free: dict[tuple[int, str], deque[tuple[int, int]]] = defaultdict(deque)

    def serve(self, workload: Workload) -> Unplaced | None:
        candidates = self._candidates(workload)
        if not candidates:
            return Unplaced(
                workload=workload.name, replicas=workload.replicas, reason=self._unfit(workload)
            )
        hosts: set[tuple[int, int]] = set()  # (pool, GPU) already hosting it, for spread
        placed = self._take_free(workload, candidates, 0, hosts)
        openable = sorted(
            {k for k, _ in candidates}, key=lambda k: (self.pools[k].pool.cost_per_hour, k)
        )
        for k in openable:
            names = [name for pool_k, name in candidates if pool_k == k]
            while placed < workload.replicas and self.pools[k].has_unopened:
                self._open(k, names[0], workload, placed, hosts)
                placed += 1
                if not workload.spread:
                    # The new GPU's other instances are the only free ones that fit.
                    placed = self._take_free(workload, candidates, placed, hosts)
        if placed == workload.replicas:
            return None
        # For spread, what is still free and fitting sits on GPUs that already host it.
        if workload.spread and any(self.free.get(key) for key in candidates):
            reason = _spread_reason(workload, placed)
        else:
            reason = _capacity_reason([self.pools[k].pool for k in openable])
        return Unplaced(workload=workload.name, replicas=workload.replicas - placed, reason=reason)

    def plan_gpus(self) -> list[PlanGpu]:
        gpus: list[PlanGpu] = []
        for carved in sorted(self.pools, key=lambda c: c.position):
            for index, slots in enumerate(carved.opened):
                instances = [
                    PlanInstance(
                        profile=placement.profile,
                        start=placement.start,
                        workload=slot[0] if slot else None,
                        replica=slot[1] if slot else None,
                    )
                    for placement, slot in zip(carved.layout.placements, slots, strict=True)
                ]
                gpus.append(
                    PlanGpu(
                        pool=carved.pool.pool,
                        index=index,
                        gpu_model=carved.pool.gpu_model,
                        instances=instances,
                    )
                )
        return gpus

    def _candidates(self, workload: Workload) -> list[tuple[int, str]]:
        """(pool, profile) pairs that fit, smallest profile first, then cheapest pool."""
        pairs: list[tuple[tuple, tuple[int, str]]] = []
        for k, carved in enumerate(self.pools):
            key = carved.pool.gpu_model
            for name in carved.layout.counts:
                profile = carved.model.profile(name)
                if fits(workload, key, carved.model, profile):
                    order = (_size_key(carved.model, profile), carved.pool.cost_per_hour, k)
                    pairs.append((order, (k, name)))
        pairs.sort()
        return [pair for _, pair in pairs]

    def _unfit(self, workload: Workload) -> str:
        allowed = [c for c in self.pools if workload.allows(c.pool.gpu_model)]
        options = [
            (carved.pool.gpu_model, carved.model.profile(name))
            for carved in allowed
            for name in carved.layout.counts
        ]
        carves_media = any(
            carved.model.media_capable(carved.model.profile(name))
            for carved in allowed
            for name in carved.layout.counts
        )
        if workload.media and allowed and not carves_media:
            return ALL_BALANCED_NO_MEDIA
        return _unfit_reason(workload, options, "all-balanced", self.problem)

    def _take_free(
        self,
        workload: Workload,
        candidates: list[tuple[int, str]],
        placed: int,
        hosts: set[tuple[int, int]],
    ) -> int:
        """First fit into free instances of opened GPUs; returns the new count placed."""
        for k, name in candidates:
            if placed == workload.replicas:
                break
            queue = self.free.get((k, name))
            if not queue:
                continue
            skipped: list[tuple[int, int]] = []
            while queue and placed < workload.replicas:
                gpu, slot = queue.popleft()
                if workload.spread and (k, gpu) in hosts:
                    skipped.append((gpu, slot))
                    continue
                self._assign(k, gpu, slot, workload, placed, hosts)
                placed += 1
            queue.extendleft(reversed(skipped))
        return placed

    def _open(
        self, k: int, name: str, workload: Workload, replica: int, hosts: set[tuple[int, int]]
    ) -> None:
        """Open pool k's next GPU, put the replica on a `name` instance, free the others."""
        carved = self.pools[k]
        gpu = len(carved.opened)
        carved.opened.append([None] * len(carved.layout.placements))
        chosen = carved.first_slot[name]
        self._assign(k, gpu, chosen, workload, replica, hosts)
        for slot, placement in enumerate(carved.layout.placements):
            if slot != chosen:
                self.free[(k, placement.profile)].append((gpu, slot))

    def _assign(
        self,
        k: int,
        gpu: int,
        slot: int,
        workload: Workload,
        replica: int,
        hosts: set[tuple[int, int]],
    ) -> None:
        self.pools[k].opened[gpu][slot] = (workload.name, replica)
        hosts.add((k, gpu))


def all_balanced_plan(problem: Problem, catalog: Catalog) -> Plan:
    """mig-parted's `all-balanced` on every used GPU, replicas filled first fit.

    Each replica takes the smallest fitting free instance on a GPU already opened; when none is
    left, the cheapest pool that fits it opens its next GPU. GPUs never opened are not carved and
    cost nothing, as in every plan.
    """
    started = time.perf_counter()
    fleet = _AllBalancedFleet(problem, catalog)
    unplaced: dict[str, Unplaced] = {}
    for workload in serving_order(problem):
        missing = fleet.serve(workload)
        if missing is not None:
            unplaced[workload.name] = missing
    return _finish("all-balanced", problem, catalog, fleet.plan_gpus(), unplaced, started)


# --- best fit decreasing -----------------------------------------------------------------------


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
    """State of the best-fit-decreasing baseline.

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
            reason = _spread_reason(workload, placed)
        else:
            reason = _capacity_reason([self.pools[i] for i in sorted(choices)])
        return Unplaced(workload=workload.name, replicas=workload.replicas - placed, reason=reason)

    def plan_gpus(self) -> list[PlanGpu]:
        gpus: list[PlanGpu] = []
        for gpu in sorted(self.gpus, key=lambda g: (g.pool, g.index)):
            model = self.models[gpu.pool]
            layout = find_layout(model, gpu.state)
            assert layout is not None  # every state was reached through find_layout
            starts: dict[str, list[int]] = defaultdict(list)
            for placement in layout.placements:
                starts[placement.profile].append(placement.start)
            instances = [
                PlanInstance(
                    profile=profile,
                    start=starts[profile].pop(0),
                    workload=workload,
                    replica=replica,
                )
                for profile, workload, replica in gpu.hosted
            ]
            instances.sort(key=lambda inst: inst.start)
            pool = self.pools[gpu.pool]
            gpus.append(
                PlanGpu(
                    pool=pool.pool, index=gpu.index, gpu_model=pool.gpu_model, instances=instances
                )
            )
        return gpus

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
                    for p in _carvable_for(model, workload)
                    if fits(workload, pool.gpu_model, model, p)
                ]
                fitting.sort(key=lambda p: _size_key(model, p))
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
            for profile in _carvable_for(self.models[i], workload)
        ]
        kind = "media-capable" if workload.media else "allowed"
        return _unfit_reason(workload, options, kind, self.problem)

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


def best_fit_decreasing_plan(problem: Problem, catalog: Catalog) -> Plan:
    """Best fit decreasing with free placement.

    Replicas in serving order; each goes to the opened GPU it leaves with the least free room,
    carving the smallest fitting profile that can still join that GPU's instances. When no opened
    GPU has room, the pool whose GPU share (price x span / units of the smallest fitting profile)
    is cheapest opens its next GPU. Plain profiles are preferred; `+me` ones serve media only.
    """
    started = time.perf_counter()
    fleet = _BestFitFleet(problem, catalog)
    unplaced: dict[str, Unplaced] = {}
    for workload in serving_order(problem):
        missing = fleet.serve(workload)
        if missing is not None:
            unplaced[workload.name] = missing
    return _finish("best-fit-decreasing", problem, catalog, fleet.plan_gpus(), unplaced, started)


BASELINES: dict[str, BaselinePlanner] = {
    "whole-gpu": whole_gpu_plan,
    "all-balanced": all_balanced_plan,
    "best-fit-decreasing": best_fit_decreasing_plan,
}

BASELINE_DISPLAY_NAMES: dict[str, str] = {
    "whole-gpu": "Whole GPUs (no MIG)",
    "all-balanced": "mig-parted all-balanced",
    "best-fit-decreasing": "Best fit decreasing",
}

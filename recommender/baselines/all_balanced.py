"""Baseline `all-balanced`: mig-parted's `all-balanced` layout carved on every GPU that is
used, filled first fit.

Free instances are queued per (pool, profile) in GPU order, so serving a workload scans a handful
of queues instead of every GPU.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from recommender.assemble import heuristic_plan
from recommender.catalog import Catalog, GpuModel
from recommender.greedy import serve_in_order
from recommender.layouts import Layout, find_layout
from recommender.plan import Plan, PlanGpu, PlanInstance, Unplaced
from recommender.problem import Pool, Problem, Workload
from recommender.reasons import (
    ALL_BALANCED_NO_MEDIA,
    capacity_reason,
    spread_blocked_reason,
    unfit_reason,
)
from recommender.rules import expand_multiset, fits, smallest_first_key

NAME = "all-balanced"


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
    names = expand_multiset(model.all_balanced)
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
            reason = spread_blocked_reason(workload, placed)
        else:
            reason = capacity_reason([self.pools[k].pool for k in openable])
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
                    order = (
                        smallest_first_key(carved.model, profile),
                        carved.pool.cost_per_hour,
                        k,
                    )
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
        return unfit_reason(workload, options, "all-balanced", self.problem)

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
    unplaced = serve_in_order(fleet, problem)
    return heuristic_plan(problem, catalog, fleet.plan_gpus(), unplaced, NAME, started)

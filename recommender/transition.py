"""From the running fleet to a new plan: which GPUs change, which replicas move, and a
make-before-break rollout in waves of nodes (docs/design.md, "The running fleet").

The diff (the definitions the plan reports)
-------------------------------------------
A GPU hosting at least one replica now is *kept* when the plan gives it the same set of
(profile, start), *re-carved* when the plan gives it a different non-empty one, *released* when
the plan leaves it empty; a GPU hosting nothing now that the plan carves is *new*. A workload's
*moved replicas* are its placements in the plan minus the slots (pool, index, profile, start) it
holds both now and in the plan on kept GPUs: mig-parted re-creates a re-carved GPU whole, so a
replica there restarts even where its slot reappears. A replica of a workload the problem no
longer has, or beyond its workload's replica count, is not running (`reading.current.
stop_retired`, as the planner reads the fleet): its instance is a spare, so a GPU hosting only
such replicas hosts nothing.

The rollout
-----------
State: each GPU's physical layout, the workload running on each instance slot, and per workload
the running count R. A workload's *floor* is
``max(0, min(replicas - max_unavailable, replicas running now, replicas placed by the plan))``:
the PodDisruptionBudget rule, never asking for more than runs now (a workload already short is
not made shorter) nor more than the plan keeps (a workload shrinking by design is no dip).

Every wave runs four phases: (a) start replicas on destination instances that exist and are free;
(b) stop the replicas that leave (the drain); (c) relabel the wave's nodes, every changed GPU
taking its new layout; (d) start replicas on the instances that now exist. Phases (a) and (d)
only add replicas, so a wave's low point is after (b): that is where floors are checked.

Replicas. A destination (a plan slot not held by the same workload on a kept GPU) starts as soon
as its GPU has its final layout and the slot is free: more running replicas never hurt a floor,
so every destination starts at the first chance (a surge, like a Deployment's maxSurge). A replica
on a re-carved or released GPU (a *forced* departure) stops in its node's drain wave. A replica
leaving a kept GPU (its slot goes to another workload, or its workload shrinks or is gone: an
*optional* departure) stops when a destination waits for its slot and its workload keeps
``R - 1 >= floor + forced departures still pending``: then no later drain can push it below its
floor because of that stop. Optional departures nobody waits for stop in the last waves.

Order of the waves:
1. carve waves (no replica stops, so no floor can break): nodes with GPUs hosting nothing now
   that need a layout (new GPUs, and idle GPUs lent as temporary capacity), `wave_size` nodes at
   a time. A node that also has GPUs to drain gets an intermediate config there: the GPUs to drain
   keep their current layout, which mig-parted skips, so their replicas keep running.
2. drain waves, greedy. For a candidate node, its drop for workload w is w's replicas on the
   node's GPUs to drain, its deficit ``sum_w max(0, floor(w) - (R(w) - drop(w)))``, its gain the
   destinations on those GPUs (they start in phase (d)) minus its drops. Each round takes the
   node of highest gain among those without a deficit (it frees the capacity later waves need),
   then adds further deficit-free nodes while the wave's combined drop keeps every floor, up to
   `wave_size`. A node with a deficit is delayed while any deficit-free node remains: the waves
   before it start destinations and raise R. When every remaining node has a deficit, the one
   with the smallest worst dip goes alone and the dip is reported (workload, floor, lowest, waves).
3. moves waves, no nodes: optional departures stopped under the same rule, destinations started
   (also the destinations on spare or freed instances of kept GPUs when no carve or drain wave
   ran to start them: a re-plan that only fills kept GPUs is one moves wave).
4. cleanup: the remaining optional departures stop (reported if a floor breaks), the last
   destinations start; temporary replicas stop and lent GPUs are restored last.

Temporary capacity. When the rollout dips, the missing replicas are started as temporary
replicas before any drain, on spare instances the plan leaves free (kept GPUs, new GPUs) and on
idle GPUs (hosting nothing now and nothing in the plan, on nodes with nothing to drain) carved
for the purpose, packed smallest fitting profile first; the rollout is then simulated again (a
few rounds). The dips left are packed the same way onto hypothetical extra GPUs appended to the
pools; `extra_gpus_needed` is the count per pool, checked by simulating the fleet enlarged by it
(one more GPU per round while dips remain). The packing and the order are greedy: a dip means
this procedure found no order, not that none exists.

Cost. A wave looks only at what can change in it, so a rollout is near-linear in the fleet
(20,000 GPUs on 2,500 nodes: seconds per simulation; benchmarks/RESULTS.md, "replan"): start
phases visit the GPUs opened or freed since the last look, optional stops the GPUs whose
destinations wait for them, and the drain order keeps its candidates in heaps (`_DrainOrder`)
instead of re-evaluating every node per wave; temporary capacity is packed through indexes of
spare instances and of open GPUs by layout so far (`_SpareIndex`, `_OpenIndex`). What stays
proportional to waves times workloads is the dip record itself (every wave a workload is below
its floor is listed).
"""

from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from recommender import rules
from recommender.catalog import Catalog, GpuModel
from recommender.cluster.gpu_operator import (
    LAYOUT_SUFFIX_MAX,
    GpuOperatorExport,
    gpu_operator_export,
    node_config_entries,
)
from recommender.k8s import LABEL_VALUE_MAX, Rule, unique_names
from recommender.layouts import find_layout
from recommender.locate import node_locator
from recommender.plan import (
    CarvedInstance,
    Dip,
    GpuChange,
    GpuState,
    InstanceSlot,
    Plan,
    PlanGpu,
    PlanInstance,
    RolloutMove,
    Transition,
    Wave,
)
from recommender.problem import Pool, Problem, Workload
from recommender.reading.current import stop_retired

KEPT, RECARVED, RELEASED, NEW = "kept", "re-carved", "released", "new"
GPU_STATES = (KEPT, RECARVED, RELEASED, NEW)

GpuKey = tuple[str, int]
Slot = tuple[str, int, str, int]  # (pool, index, profile, start)
Carve = frozenset[tuple[str, int]]  # a layout: {(profile, start)}
Locate = Callable[[str, int], tuple[str, int]]  # (pool, index) -> (node, device)

# Rounds of "lend capacity, simulate again" and of "add extra GPUs, simulate again".
TEMPORARY_ROUNDS = 4
EXTRA_GPU_ROUNDS = 8
# Phases of a wave, in order.
PHASE_BEFORE, PHASE_DRAIN, PHASE_AFTER = 0, 1, 2


# --- the diff ----------------------------------------------------------------------------------


def _carve(gpu: PlanGpu | None) -> Carve:
    if gpu is None:
        return frozenset()
    return frozenset((i.profile, i.start) for i in gpu.instances)


def _hosts_replica(gpu: PlanGpu) -> bool:
    return any(instance.workload is not None for instance in gpu.instances)


def _occupants(gpus: Iterable[PlanGpu]) -> dict[Slot, str]:
    """Slot -> the workload running there."""
    return {
        (gpu.pool, gpu.index, i.profile, i.start): i.workload
        for gpu in gpus
        for i in gpu.instances
        if i.workload is not None
    }


def align_counted(current: list[PlanGpu], new: list[PlanGpu]) -> list[PlanGpu]:
    """The running fleet with each GPU compared by counts (`PlanGpu.compare`, starts unknown)
    that the plan gives the same profile counts moved onto the plan's starts: mig-parted leaves
    such a GPU alone, so it is kept, and its replicas stay (same workload on the same profile
    first). Every other GPU is returned as it is."""
    after = {(gpu.pool, gpu.index): gpu for gpu in new}
    aligned: list[PlanGpu] = []
    for gpu in current:
        planned = after.get((gpu.pool, gpu.index))
        if (
            gpu.compare != "counts"
            or planned is None
            or Counter(i.profile for i in gpu.instances)
            != Counter(i.profile for i in planned.instances)
        ):
            aligned.append(gpu)
            continue
        free: dict[str, list[PlanInstance]] = defaultdict(list)
        for instance in planned.instances:
            free[instance.profile].append(instance)
        ordered = sorted(gpu.instances, key=lambda i: i.workload is None)
        moved: list[PlanInstance] = []
        for instance in ordered:
            options = free[instance.profile]
            same = [p for p in options if instance.workload and p.workload == instance.workload]
            target = (same or options)[0]
            options.remove(target)
            moved.append(instance.model_copy(update={"start": target.start}))
        instances = sorted(moved, key=lambda i: i.start)
        aligned.append(gpu.model_copy(update={"instances": instances}))
    return aligned


def classify_gpus(current: list[PlanGpu], new: list[PlanGpu]) -> dict[GpuKey, str]:
    """ "kept" | "re-carved" | "released" | "new" for every GPU hosting a replica now or carved in
    the new plan (module docstring); GPUs hosting nothing now and nothing carved are left out.
    A GPU compared by counts is kept when its profile counts stay (`align_counted`)."""
    current = align_counted(current, new)
    now = {(gpu.pool, gpu.index): gpu for gpu in current}
    after = {(gpu.pool, gpu.index): gpu for gpu in new}
    classes: dict[GpuKey, str] = {}
    for key in [*now, *(k for k in after if k not in now)]:
        before, planned = now.get(key), after.get(key)
        carved_after = planned is not None and bool(planned.instances)
        if before is not None and _hosts_replica(before):
            if not carved_after:
                classes[key] = RELEASED
            elif _carve(before) == _carve(planned):
                classes[key] = KEPT
            else:
                classes[key] = RECARVED
        elif carved_after:
            classes[key] = NEW
    return classes


def _staying(current: list[PlanGpu], new: list[PlanGpu], classes: dict[GpuKey, str]) -> set[Slot]:
    """Slots on kept GPUs where the same workload runs now and in the plan (a slot is one
    instance, so the multiset intersection of the definition is a set intersection here)."""
    now, after = _occupants(current), _occupants(new)
    return {
        slot
        for slot, workload in now.items()
        if classes.get(slot[:2]) == KEPT and after.get(slot) == workload
    }


def moved_replicas(current: list[PlanGpu], new: list[PlanGpu]) -> dict[str, int]:
    """Per workload placed by the new plan: its placements minus the slots it keeps on kept
    GPUs (a replica on a re-carved or released GPU counts as moved)."""
    current = align_counted(current, new)
    classes = classify_gpus(current, new)
    placed = Counter(_occupants(new).values())
    now = _occupants(current)
    staying = Counter(now[slot] for slot in _staying(current, new, classes))
    return {workload: count - staying[workload] for workload, count in placed.items()}


def rollout_floors(problem: Problem, current: list[PlanGpu], new: list[PlanGpu]) -> dict[str, int]:
    """Per workload of the problem, the replicas that must keep running (module docstring)."""
    now = Counter(_occupants(current).values())
    after = Counter(_occupants(new).values())
    return {
        w.name: max(0, min(w.replicas - _max_unavailable(w), now[w.name], after[w.name]))
        for w in problem.workloads
    }


def _max_unavailable(workload: Workload) -> int:
    return getattr(workload, "max_unavailable", 1)


# --- the simulation ----------------------------------------------------------------------------


@dataclass
class _Event:
    wave: int
    phase: int
    stop: bool
    workload: str
    slot: Slot
    temporary: bool = False


@dataclass
class _WaveRecord:
    index: int
    kind: str
    nodes: list[str]
    changes: list[tuple[GpuKey, Carve, str]] = field(default_factory=list)
    # node -> {device: profile counts} after the relabel, for naming its config.
    node_layouts: dict[str, dict[int, dict[str, int]]] = field(default_factory=dict)
    events: list[_Event] = field(default_factory=list)
    lowest: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Temporary:
    """Capacity lent during the rollout: slots on spare instances and idle GPUs carved for it."""

    slots: dict[Slot, str] = field(default_factory=dict)  # slot -> workload
    carves: dict[GpuKey, Carve] = field(default_factory=dict)  # idle GPU -> temporary layout


class _Rollout:
    """One simulated rollout of `current` -> `new` (module docstring, "The rollout")."""

    def __init__(
        self,
        current: list[PlanGpu],
        new: list[PlanGpu],
        problem: Problem,
        catalog: Catalog,
        wave_size: int,
        locate: Locate,
        temporary: _Temporary,
    ) -> None:
        self.problem = problem
        self.catalog = catalog
        self.wave_size = wave_size
        self.locate = locate
        self._nodes: dict[GpuKey, str] = {}  # GPU -> node, as `locate` says
        self._models: dict[str, GpuModel | None] = {}  # pool -> its GPU model
        self.temporary = temporary
        self.classes = classify_gpus(current, new)
        self.floors = rollout_floors(problem, current, new)
        self.layout: dict[GpuKey, Carve] = {(g.pool, g.index): _carve(g) for g in current}
        self.final: dict[GpuKey, Carve] = {(g.pool, g.index): _carve(g) for g in new}
        self.occupant: dict[Slot, str] = _occupants(current)
        self.running: Counter[str] = Counter(self.occupant.values())
        staying = _staying(current, new, self.classes)
        # Departures: forced ones by node, optional ones by slot.
        self.forced: dict[str, list[Slot]] = defaultdict(list)
        self.forced_pending: Counter[str] = Counter()
        self.optional: dict[Slot, str] = {}
        for slot, workload in self.occupant.items():
            if slot in staying:
                continue
            if self.classes.get(slot[:2]) == KEPT:
                self.optional[slot] = workload
            else:
                self.forced[self.node(slot[:2])].append(slot)
                self.forced_pending[workload] += 1
        # Destinations per GPU, started once the GPU is settled (its layout final) and free.
        self.pending: dict[GpuKey, dict[Slot, str]] = defaultdict(dict)
        for slot, workload in _occupants(new).items():
            if slot not in staying:
                self.pending[slot[:2]][slot] = workload
        for slot, workload in temporary.slots.items():
            self.pending[slot[:2]][slot] = workload
        self.temporary_running: dict[Slot, str] = {}
        self.settled: set[GpuKey] = {
            key
            for key, state in self.classes.items()
            if state == KEPT
            or (state == NEW and self.layout.get(key, frozenset()) == self.final[key])
        }
        # Settled GPUs with destinations still waiting, in the order they opened (their rank),
        # and two indexes into them, so a wave looks only at GPUs where something can happen:
        # those where a slot may be free (opened, or a replica stopped there since the last
        # look) and those where a destination waits for an optional departure's slot.
        self.open: dict[GpuKey, None] = {}
        self._open_rank: dict[GpuKey, int] = {}
        self._startable: set[GpuKey] = set()
        self._awaiting: set[GpuKey] = set()
        self._changed: set[str] = set()  # workloads started or stopped since the drain order looked
        for key in list(self.pending):
            if key in self.settled:
                self._open(key)
        self.gpus_of_node: dict[str, list[GpuKey]] = defaultdict(list)
        for key in dict.fromkeys([*self.layout, *self.final, *temporary.carves]):
            self.gpus_of_node[self.node(key)].append(key)
        self.touched: set[str] = set()  # nodes relabelled for the plan (not for lent capacity)
        self.waves: list[_WaveRecord] = []
        self.deficits: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.below: set[str] = set()  # w -> [(wave, low)]

    # --- helpers -------------------------------------------------------------------------------

    def node(self, key: GpuKey) -> str:
        node = self._nodes.get(key)
        if node is None:
            node = self._nodes[key] = self.locate(*key)[0]
        return node

    def _gpu_busy(self, key: GpuKey) -> bool:
        return any((*key, p, s) in self.occupant for p, s in self.layout.get(key, frozenset()))

    def _start(self, record: _WaveRecord, phase: int, slot: Slot, workload: str) -> None:
        if phase == PHASE_AFTER:
            # A workload first starting in (d) is at its low point just before.
            record.lowest.setdefault(workload, self.running[workload])
        self.occupant[slot] = workload
        self.running[workload] += 1
        self._changed.add(workload)
        temporary = slot in self.temporary.slots
        if temporary:
            self.temporary_running[slot] = workload
        record.events.append(_Event(record.index, phase, False, workload, slot, temporary))

    def _stop(self, record: _WaveRecord, slot: Slot, temporary: bool = False) -> None:
        workload = self.occupant.pop(slot)
        self.running[workload] -= 1
        self._changed.add(workload)
        record.events.append(_Event(record.index, PHASE_DRAIN, True, workload, slot, temporary))
        key = slot[:2]
        if key in self.open and slot in self.pending.get(key, {}):
            self._startable.add(key)

    def _open(self, key: GpuKey) -> None:
        """`key` is settled with destinations waiting: look at it in the next start phase."""
        if key not in self.open:
            self.open[key] = None
            self._open_rank[key] = len(self._open_rank)
        self._startable.add(key)
        if any(slot in self.optional for slot in self.pending[key]):
            self._awaiting.add(key)

    def _in_open_order(self, keys: Iterable[GpuKey]) -> list[GpuKey]:
        return sorted((key for key in keys if key in self.open), key=self._open_rank.__getitem__)

    def _start_ready(self, record: _WaveRecord, phase: int) -> None:
        """Start every destination whose GPU is settled and whose slot is free (only open GPUs
        opened or with a stop since the last look can have one)."""
        for key in self._in_open_order(self._startable):
            waiting = self.pending[key]
            for slot, workload in list(waiting.items()):
                if slot not in self.occupant:
                    self._start(record, phase, slot, workload)
                    del waiting[slot]
            if not waiting:
                del self.open[key]
                self._awaiting.discard(key)
        self._startable.clear()

    def _optional_stops(self, record: _WaveRecord, force: bool) -> bool:
        """Stop optional departures whose slot a destination waits for, when their workload
        keeps its floor plus its pending forced departures without them (all of them when
        `force`). Returns whether any stopped."""
        stopped = False
        for key in self._in_open_order(self._awaiting):
            for slot in self.pending[key]:
                workload = self.optional.get(slot)
                if workload is None or slot not in self.occupant:
                    continue
                slack = self.running[workload] - 1 - self.forced_pending[workload]
                if force or slack >= self.floors.get(workload, 0):
                    self._stop(record, slot)
                    del self.optional[slot]
                    stopped = True
        return stopped

    def _relabel(self, record: _WaveRecord, key: GpuKey, layout: Carve, change: str) -> None:
        if self._gpu_busy(key):
            raise AssertionError(f"GPU {key} relabelled while hosting a replica")  # a bug
        self.layout[key] = layout
        record.changes.append((key, layout, change))
        if change in (NEW, RECARVED, "temporary"):
            self.settled.add(key)
            if self.pending.get(key):
                self._open(key)
        else:
            self.settled.discard(key)

    def _snapshot_nodes(self, record: _WaveRecord) -> None:
        """Each relabelled node's devices and their profile counts after the wave."""
        for node in record.nodes:
            devices = record.node_layouts[node] = {}
            for key in self.gpus_of_node[node]:
                layout = self.layout.get(key)
                if layout:
                    model = self._model(key[0])
                    counts = Counter(rules.largest_first(model, (p for p, _ in layout)))
                    devices[self.locate(*key)[1]] = dict(counts)

    def _model(self, pool: str) -> GpuModel | None:
        if pool not in self._models:
            self._models[pool] = self.catalog.models.get(self.problem.pool(pool).gpu_model)
        return self._models[pool]

    def _low_point(self, record: _WaveRecord) -> None:
        touched = {event.workload for event in record.events}
        record.lowest = {w: self.running[w] for w in sorted(touched)}
        # A workload stays below its floor through waves that do not touch it.
        for workload in self.below | touched:
            running = self.running[workload]
            if running < self.floors.get(workload, 0):
                self.below.add(workload)
                self.deficits[workload].append((record.index, running))
            else:
                self.below.discard(workload)

    # --- waves ---------------------------------------------------------------------------------

    def _wave(
        self,
        kind: str,
        nodes: list[str],
        changes: list[tuple[GpuKey, Carve, str]],
        stops: Callable[[_WaveRecord], None],
    ) -> _WaveRecord:
        record = _WaveRecord(len(self.waves) + 1, kind, nodes)
        self.waves.append(record)
        self._start_ready(record, PHASE_BEFORE)
        stops(record)
        self._low_point(record)
        for key, layout, change in changes:
            self._relabel(record, key, layout, change)
        self._start_ready(record, PHASE_AFTER)
        record.lowest = dict(sorted(record.lowest.items()))
        if nodes:
            self._snapshot_nodes(record)
        return record

    def _drain_stops(self, nodes: list[str]) -> Callable[[_WaveRecord], None]:
        def stops(record: _WaveRecord) -> None:
            self._optional_stops(record, force=False)
            for node in nodes:
                for slot in self.forced.pop(node, []):
                    self.forced_pending[self.occupant[slot]] -= 1
                    self._stop(record, slot)

        return stops

    def run(self) -> None:
        carve_nodes, drain_nodes = self._nodes_to_change()
        order = self._node_order()
        # 1. carve waves
        carving = sorted(carve_nodes, key=order)
        for first in range(0, len(carving), self.wave_size):
            nodes = carving[first : first + self.wave_size]
            changes = [change for node in nodes for change in carve_nodes[node]]
            self._wave("carve", nodes, changes, lambda record: None)
        # 2. drain waves
        remaining = dict(sorted(drain_nodes.items(), key=lambda item: order(item[0])))
        drops = {
            node: Counter(self.occupant[s] for s in self.forced.get(node, [])) for node in remaining
        }
        gains = {
            node: sum(len(self.pending.get(key, {})) for key, _, _ in changes)
            - sum(drops[node].values())
            for node, changes in remaining.items()
        }
        ranked = sorted(remaining, key=lambda node: (-gains[node], order(node)))
        self._changed.clear()
        candidates = _DrainOrder(ranked, drops, self.floors, self.running)
        while candidates:
            candidates.changed(self._changed)
            self._changed.clear()
            nodes = candidates.next_wave(self.wave_size)
            changes = [change for node in nodes for change in remaining[node]]
            self._wave("drain", nodes, changes, self._drain_stops(nodes))
        # 3. moves waves while destinations can start (on kept GPUs' spare instances, which no
        # carve or drain wave may have run to start) or optional departures can stop safely
        while (self._startable or self._waiting_on_optional()) and self._try_moves_wave():
            pass
        # 4. cleanup
        if self._waiting_on_optional() or self.optional:
            self._wave("cleanup", [], [], self._cleanup_optional)
        restores: dict[str, list[tuple[GpuKey, Carve, str]]] = defaultdict(list)
        for key in self.temporary.carves:
            restores[self.node(key)].append((key, frozenset(), "restored"))
        if self.temporary_running or restores:
            # Every temporary replica stops in the first of these waves; lent GPUs are given
            # back `wave_size` nodes at a time.
            nodes = sorted(restores, key=order)
            chunks = [nodes[i : i + self.wave_size] for i in range(0, len(nodes), self.wave_size)]
            for position, chunk in enumerate(chunks or [[]]):
                self._wave(
                    "cleanup",
                    chunk,
                    [change for node in chunk for change in restores[node]],
                    self._stop_temporary if position == 0 else lambda record: None,
                )
        leftover = {slot for waiting in self.pending.values() for slot in waiting}
        if leftover:
            raise AssertionError(f"destinations never started: {sorted(leftover)[:5]}")  # a bug

    def _waiting_on_optional(self) -> bool:
        """Whether a destination waits for an optional departure's slot (prunes the index)."""
        self._awaiting = {
            key
            for key in self._awaiting
            if key in self.open and any(slot in self.optional for slot in self.pending[key])
        }
        return bool(self._awaiting)

    def _try_moves_wave(self) -> bool:
        """A wave without nodes: optional departures stop where safe, destinations start."""
        record = _WaveRecord(len(self.waves) + 1, "moves", [])
        self.waves.append(record)
        self._start_ready(record, PHASE_BEFORE)
        if not self._optional_stops(record, force=False) and not record.events:
            self.waves.pop()
            return False
        self._low_point(record)
        self._start_ready(record, PHASE_AFTER)
        record.lowest = dict(sorted(record.lowest.items()))
        return True

    def _cleanup_optional(self, record: _WaveRecord) -> None:
        for slot in sorted(self.optional):
            self._stop(record, slot)
        self.optional.clear()

    def _stop_temporary(self, record: _WaveRecord) -> None:
        for slot in sorted(self.temporary_running):
            self._stop(record, slot, temporary=True)
        self.temporary_running.clear()

    def _nodes_to_change(
        self,
    ) -> tuple[
        dict[str, list[tuple[GpuKey, Carve, str]]], dict[str, list[tuple[GpuKey, Carve, str]]]
    ]:
        """Per node, the GPUs its carve wave and its drain wave relabel."""
        carve: dict[str, list[tuple[GpuKey, Carve, str]]] = defaultdict(list)
        drain: dict[str, list[tuple[GpuKey, Carve, str]]] = defaultdict(list)
        for key, state in self.classes.items():
            if state == NEW and key not in self.settled:
                carve[self.node(key)].append((key, self.final[key], NEW))
            elif state in (RECARVED, RELEASED):
                drain[self.node(key)].append((key, self.final.get(key, frozenset()), state))
        for key, layout in self.temporary.carves.items():
            carve[self.node(key)].append((key, layout, "temporary"))
        for changes in (*carve.values(), *drain.values()):
            changes.sort()
        self.touched = set(drain) | {
            node for node, changes in carve.items() if any(c[2] == NEW for c in changes)
        }
        return dict(carve), dict(drain)

    def _node_order(self) -> Callable[[str], tuple[int, int, str]]:
        """Nodes in pool order, then by their first GPU's index."""
        pool_rank = {pool.pool: rank for rank, pool in enumerate(self.problem.pools)}
        first: dict[str, tuple[int, int]] = {}
        for key in [*self.layout, *self.final, *self.temporary.carves]:
            node = self.node(key)
            place = (pool_rank.get(key[0], len(pool_rank)), key[1])
            if node not in first or place < first[node]:
                first[node] = place
        return lambda node: (*first.get(node, (len(pool_rank), 0)), node)

    # --- results -------------------------------------------------------------------------------

    def dips(self) -> list[Dip]:
        found = []
        for workload, lows in self.deficits.items():
            floor = self.floors[workload]
            lowest = min(low for _, low in lows)
            found.append(
                Dip(
                    workload=workload,
                    floor=floor,
                    lowest=lowest,
                    by=floor - lowest,
                    waves=sorted({wave for wave, _ in lows}),
                )
            )
        return sorted(found, key=lambda dip: dip.workload)

    def moves(self) -> list[RolloutMove]:
        """The events paired into moves per workload, in time order: a stop takes the earliest
        unpaired start (make-before-break) or waits for the next one; temporary replicas are
        their own moves."""
        by_workload: dict[str, list[_Event]] = defaultdict(list)
        moves: list[RolloutMove] = []
        temporary_start: dict[Slot, _Event] = {}
        for record in self.waves:
            for event in sorted(record.events, key=lambda e: e.phase):
                if event.temporary:
                    if event.stop:
                        start = temporary_start.pop(event.slot)
                        moves.append(
                            RolloutMove(
                                workload=event.workload,
                                to_slot=_instance_slot(event.slot),
                                start_wave=start.wave,
                                start_before_drain=start.phase == PHASE_BEFORE,
                                stop_wave=event.wave,
                                temporary=True,
                            )
                        )
                    else:
                        temporary_start[event.slot] = event
                    continue
                by_workload[event.workload].append(event)
        for workload, events in by_workload.items():
            starts: deque[_Event] = deque()
            stops: deque[_Event] = deque()
            for event in events:
                if event.stop:
                    if starts:
                        moves.append(_move(workload, event, starts.popleft()))
                    else:
                        stops.append(event)
                elif stops:
                    moves.append(_move(workload, stops.popleft(), event))
                else:
                    starts.append(event)
            moves += [_move(workload, None, start) for start in starts]
            moves += [_move(workload, stop, None) for stop in stops]
        return moves


class _DrainOrder:
    """The nodes left to drain and the choice of the next drain wave (module docstring, step 2),
    without a scan of every node per wave.

    Candidates keep their static order (gain, then node order: `rank`). A node whose drop keeps
    every floor now is *free*, kept in a heap by rank and checked again when it reaches the top
    (a start or stop since it was filed may have changed that). A node with a deficit is
    *blocked* and watches one workload w it would push below its floor, with the count w must
    reach (floor + the node's drop of w); starts of w past that count re-file it (`changed`).
    When no node is free, the blocked node of the smallest worst dip goes alone: blocked nodes
    sit in a second heap by (worst dip, total dip, rank), and only those dropping a workload
    whose count changed since the last such choice are keyed again (older entries are skipped
    by their version)."""

    def __init__(
        self,
        ranked: list[str],
        drops: dict[str, Counter[str]],
        floors: dict[str, int],
        running: Counter[str],
    ) -> None:
        self.rank = {node: position for position, node in enumerate(ranked)}
        self.drops = drops
        self.floors = floors
        self.running = running  # the rollout's live counts
        self.free: list[tuple[int, str]] = []
        self.blocked: set[str] = set()
        self.watchers: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        self.nodes_of: dict[str, list[str]] = defaultdict(list)
        for node in ranked:
            for workload in drops[node]:
                self.nodes_of[workload].append(node)
        self.dips: list[tuple[tuple[int, int, int], int, str]] = []
        self.version: Counter[str] = Counter()
        self.stale: set[str] = set()  # workloads whose count changed since the dips were keyed
        for node in ranked:
            self._file(node)

    def __bool__(self) -> bool:
        return bool(self.free or self.blocked)

    def _short(self, drop: Counter[str]) -> str | None:
        """A workload this drop would push below its floor, if any."""
        for workload, count in drop.items():
            if self.running[workload] - count < self.floors.get(workload, 0):
                return workload
        return None

    def _file(self, node: str) -> None:
        short = self._short(self.drops[node])
        if short is None:
            heapq.heappush(self.free, (self.rank[node], node))
            return
        self.blocked.add(node)
        need = self.floors.get(short, 0) + self.drops[node][short]
        heapq.heappush(self.watchers[short], (need, self.rank[node], node))
        self._key_dip(node)

    def _key_dip(self, node: str) -> None:
        found = [
            max(0, self.floors.get(w, 0) - (self.running[w] - count))
            for w, count in self.drops[node].items()
        ]
        self.version[node] += 1
        key = (max(found), sum(found), self.rank[node])
        heapq.heappush(self.dips, (key, self.version[node], node))

    def changed(self, workloads: Iterable[str]) -> None:
        """These workloads' counts changed: re-file the blocked nodes a rise releases."""
        for workload in workloads:
            self.stale.add(workload)
            heap = self.watchers.get(workload)
            while heap and heap[0][0] <= self.running[workload]:
                _, _, node = heapq.heappop(heap)
                if node in self.blocked:  # else chosen already (a stale entry)
                    self.blocked.discard(node)
                    self._file(node)

    def _pop_free(self) -> str | None:
        """The free node of lowest rank, filing nodes found blocked on the way."""
        while self.free:
            _, node = heapq.heappop(self.free)
            if self._short(self.drops[node]) is None:
                return node
            self._file(node)
        return None

    def next_wave(self, wave_size: int) -> list[str]:
        """The first free node and further free nodes (in rank order) while the combined drop
        keeps every floor, up to `wave_size`; with no free node, the blocked node of the
        smallest (worst dip, total dip, rank) alone."""
        first = self._pop_free()
        if first is None:
            for workload in self.stale:
                for node in self.nodes_of.get(workload, ()):
                    if node in self.blocked:
                        self._key_dip(node)
            self.stale.clear()
            while True:
                _, version, chosen = heapq.heappop(self.dips)
                if chosen in self.blocked and version == self.version[chosen]:
                    break
            self.blocked.discard(chosen)
            return [chosen]
        nodes = [first]
        combined = Counter(self.drops[first])
        passed: list[tuple[int, str]] = []
        while len(nodes) < wave_size:
            node = self._pop_free()
            if node is None:
                break
            trial = combined + self.drops[node]
            if self._short(trial) is None:
                nodes.append(node)
                combined = trial
            else:
                passed.append((self.rank[node], node))
        for item in passed:
            heapq.heappush(self.free, item)
        return nodes


def _instance_slot(slot: Slot) -> InstanceSlot:
    pool, index, profile, start = slot
    return InstanceSlot(pool=pool, index=index, profile=profile, start=start)


def _move(workload: str, stop: _Event | None, start: _Event | None) -> RolloutMove:
    return RolloutMove(
        workload=workload,
        from_slot=None if stop is None else _instance_slot(stop.slot),
        to_slot=None if start is None else _instance_slot(start.slot),
        start_wave=None if start is None else start.wave,
        start_before_drain=start is not None and start.phase == PHASE_BEFORE,
        stop_wave=None if stop is None else stop.wave,
    )


# --- temporary capacity and extra GPUs ---------------------------------------------------------


def _fitting_profiles(workload: Workload, pool: Pool, catalog: Catalog) -> list[str]:
    """Profiles of the pool's model a replica of `workload` may use, smallest first."""
    model = catalog.models.get(pool.gpu_model)
    if model is None or not workload.allows(pool.gpu_model):
        return []
    usable = [
        p
        for p in rules.carvable_for(model, workload.media)
        if rules.fits(workload, pool.gpu_model, model, p)
    ]
    return [p.name for p in sorted(usable, key=lambda p: rules.smallest_first_key(model, p))]


def _lend_capacity(
    needs: Counter[str],
    problem: Problem,
    catalog: Catalog,
    spare_slots: list[Slot],
    idle_gpus: Callable[[str], Iterable[int]],
) -> tuple[_Temporary, Counter[str]]:
    """Place `needs[w]` temporary replicas: spare instances first, then idle GPUs (a new GPU of
    the pool where the workload's smallest profile takes the smallest share is opened only when
    no open one takes another instance). Returns the capacity and what found no room."""
    workloads = {w.name: w for w in problem.workloads}
    pools = {p.pool: p for p in problem.pools}
    slots: dict[Slot, str] = {}
    unmet: Counter[str] = Counter()
    free_spares = _SpareIndex(spare_slots)
    opened: dict[GpuKey, list[tuple[str, str]]] = {}  # GPU -> [(profile, workload)]
    open_index = _OpenIndex(opened, pools, catalog)
    supply = {pool: iter(idle_gpus(pool)) for pool in pools}
    order = sorted(needs, key=lambda w: (-workloads[w].memory_gb, w))
    for name in order:
        workload = workloads[name]
        fitting = {pool: _fitting_profiles(workload, pools[pool], catalog) for pool in pools}
        for _ in range(needs[name]):
            spare = free_spares.take(fitting)
            if spare is not None:
                slots[spare] = name
                continue
            if open_index.add(name, fitting):
                continue
            if _open_gpu(opened, name, fitting, pools, catalog, supply):
                open_index.opened(next(reversed(opened)))
            else:
                unmet[name] += 1
    carves: dict[GpuKey, Carve] = {}
    for key, items in opened.items():
        model = catalog.model(pools[key[0]].gpu_model)
        layout = find_layout(model, [profile for profile, _ in items])
        assert layout is not None  # checked while packing
        by_profile: dict[str, list[str]] = defaultdict(list)
        for profile, workload_name in items:
            by_profile[profile].append(workload_name)
        carves[key] = frozenset((p.profile, p.start) for p in layout.placements)
        for placement in layout.placements:
            slots[(*key, placement.profile, placement.start)] = by_profile[placement.profile].pop()
    return _Temporary(slots, carves), unmet


class _SpareIndex:
    """Spare instances by (pool, profile), each queue in the order given: `take` returns the
    first spare in that order whose profile the workload may use, without a scan of all."""

    def __init__(self, spares: list[Slot]) -> None:
        self.queues: dict[tuple[str, str], deque[tuple[int, Slot]]] = defaultdict(deque)
        for position, slot in enumerate(spares):
            self.queues[(slot[0], slot[2])].append((position, slot))

    def take(self, fitting: dict[str, list[str]]) -> Slot | None:
        heads = [
            queue[0]
            for (pool, profile), queue in self.queues.items()
            if queue and profile in fitting.get(pool, ())
        ]
        if not heads:
            return None
        _, slot = min(heads)
        self.queues[(slot[0], slot[2])].popleft()
        return slot


class _OpenIndex:
    """The GPUs opened for temporary replicas, grouped by (pool, profiles carved so far): the
    first opened GPU (first fit) that takes one more instance a workload may use is found by
    looking at each group's earliest GPU (a heap, entries dropped lazily once a GPU changes
    group), and whether a group takes a profile is computed once per distinct group."""

    def __init__(
        self, opened: dict[GpuKey, list[tuple[str, str]]], pools: dict[str, Pool], catalog: Catalog
    ) -> None:
        self.items = opened
        self.pools = pools
        self.catalog = catalog
        self.rank: dict[GpuKey, int] = {}
        self.group: dict[GpuKey, tuple[str, tuple[str, ...]]] = {}
        self.heaps: dict[tuple[str, tuple[str, ...]], list[tuple[int, GpuKey]]] = {}
        self.addable_cache: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}

    def _addable(self, group: tuple[str, tuple[str, ...]]) -> frozenset[str]:
        """The profiles one more instance of which still forms a layout on a GPU of `group`."""
        found = self.addable_cache.get(group)
        if found is None:
            pool, carved = group
            model = self.catalog.model(self.pools[pool].gpu_model)
            found = frozenset(
                p.name for p in model.profiles if find_layout(model, [*carved, p.name]) is not None
            )
            self.addable_cache[group] = found
        return found

    def opened(self, key: GpuKey) -> None:
        """`key` was just opened (or given one more instance): file it under its group."""
        self.rank.setdefault(key, len(self.rank))
        group = (key[0], tuple(sorted(profile for profile, _ in self.items[key])))
        self.group[key] = group
        heapq.heappush(self.heaps.setdefault(group, []), (self.rank[key], key))

    def add(self, workload: str, fitting: dict[str, list[str]]) -> bool:
        """One instance for `workload` on the first opened GPU that takes one; False if none."""
        best: tuple[int, GpuKey, str] | None = None
        for group, heap in list(self.heaps.items()):
            while heap and self.group[heap[0][1]] != group:
                heapq.heappop(heap)
            if not heap:
                del self.heaps[group]
                continue
            addable = self._addable(group)
            profile = next((p for p in fitting.get(group[0], ()) if p in addable), None)
            if profile is not None and (best is None or heap[0][0] < best[0]):
                best = (heap[0][0], heap[0][1], profile)
        if best is None:
            return False
        _, key, profile = best
        self.items[key].append((profile, workload))
        self.opened(key)
        return True


def _open_gpu(
    opened: dict[GpuKey, list[tuple[str, str]]],
    workload: str,
    fitting: dict[str, list[str]],
    pools: dict[str, Pool],
    catalog: Catalog,
    supply: dict[str, Iterable[int]],
) -> bool:
    def share(pool: str) -> float:
        model = catalog.model(pools[pool].gpu_model)
        return model.profile(fitting[pool][0]).span / model.placement_units

    for pool in sorted((p for p in pools if fitting.get(p)), key=share):
        index = next(supply[pool], None)  # type: ignore[call-overload]
        if index is not None:
            opened[(pool, index)] = [(fitting[pool][0], workload)]
            return True
    return False


# --- building the transition -------------------------------------------------------------------


def _simulate(
    current: list[PlanGpu],
    new: list[PlanGpu],
    problem: Problem,
    catalog: Catalog,
    wave_size: int,
    locate: Locate,
    plain: _Rollout | None = None,
) -> tuple[_Rollout, Counter[str]]:
    """The rollout, lending spare instances and idle GPUs to workloads that dip; returns it and
    the temporary replicas that found no room. `plain`: the rollout without lent capacity when
    already simulated (idle GPUs added to the pools change nothing in it, since it lends none)."""
    rollout = plain
    if rollout is None:
        rollout = _Rollout(current, new, problem, catalog, wave_size, locate, _Temporary())
        rollout.run()
    needs: Counter[str] = Counter()
    unmet: Counter[str] = Counter()
    for _ in range(TEMPORARY_ROUNDS):
        dips = rollout.dips()
        if not dips:
            break
        needs += Counter({dip.workload: dip.by for dip in dips})
        spares, idle = _free_capacity(current, new, problem, rollout, locate)
        temporary, unmet = _lend_capacity(needs, problem, catalog, spares, idle)
        if not temporary.slots:
            break
        rollout = _Rollout(current, new, problem, catalog, wave_size, locate, temporary)
        rollout.run()
        if unmet:
            break  # no room for more; what was lent still helps
    return rollout, unmet


def _free_capacity(
    current: list[PlanGpu],
    new: list[PlanGpu],
    problem: Problem,
    rollout: _Rollout,
    locate: Locate,
) -> tuple[list[Slot], Callable[[str], Iterable[int]]]:
    """Spare instances of the plan on kept and new GPUs (free now on kept ones), and per pool
    the idle GPUs on nodes with nothing to drain."""
    occupied_now = _occupants(current)
    planned = _occupants(new)
    spares: list[Slot] = []
    for gpu in new:
        state = rollout.classes.get((gpu.pool, gpu.index))
        if state not in (KEPT, NEW):
            continue
        for instance in gpu.instances:
            slot = (gpu.pool, gpu.index, instance.profile, instance.start)
            if slot not in planned and slot not in occupied_now:
                spares.append(slot)
    hosting = {(g.pool, g.index) for g in current if _hosts_replica(g)}
    carved = {(g.pool, g.index) for g in new if g.instances}
    draining = {
        locate(*key)[0] for key, state in rollout.classes.items() if state in (RECARVED, RELEASED)
    }

    def idle(pool_name: str) -> Iterable[int]:
        pool = problem.pool(pool_name)
        for index in range(pool.gpus):
            key = (pool_name, index)
            if key not in hosting and key not in carved and locate(*key)[0] not in draining:
                yield index

    return sorted(spares), idle


def _with_extra_gpus(problem: Problem, extra: Counter[str]) -> Problem:
    pools = tuple(
        pool.model_copy(update={"gpus": pool.gpus + extra[pool.pool]}) for pool in problem.pools
    )
    return problem.model_copy(update={"pools": pools})


def _extra_gpus(
    current: list[PlanGpu],
    new: list[PlanGpu],
    problem: Problem,
    catalog: Catalog,
    wave_size: int,
    dips: list[Dip],
    plain: _Rollout,
) -> tuple[dict[str, int], bool]:
    """The fewest extra GPUs per pool found to avoid every dip, and whether a simulation with
    them confirmed it. `plain`: the rollout of the fleet as it is, without lent capacity."""
    needs = Counter({dip.workload: dip.by for dip in dips})
    # Pack the dips onto as many new GPUs as needed, as if every pool were unbounded.
    unbounded = {pool.pool: pool.gpus for pool in problem.pools}
    temporary, _ = _lend_capacity(
        needs, problem, catalog, [], lambda pool: iter(range(unbounded[pool], 10**9))
    )
    extra = Counter(key[0] for key in temporary.carves)
    for _ in range(EXTRA_GPU_ROUNDS):
        enlarged = _with_extra_gpus(problem, extra)
        locate = node_locator(enlarged)
        rollout, _ = _simulate(current, new, enlarged, catalog, wave_size, locate, plain)
        remaining = rollout.dips()
        if not remaining:
            return dict(sorted(extra.items())), True
        more, _ = _lend_capacity(
            Counter({dip.workload: dip.by for dip in remaining}),
            problem,
            catalog,
            [],
            lambda pool: iter(range(unbounded[pool] + extra[pool], 10**9)),
        )
        if not more.carves:
            break
        extra.update(Counter(key[0] for key in more.carves))
    return dict(sorted(extra.items())), False


def build_transition(
    current: list[PlanGpu],
    plan: Plan,
    problem: Problem,
    catalog: Catalog,
    wave_size: int = 1,
) -> Transition:
    """The diff between the running fleet and `plan`, and its rollout in waves of at most
    `wave_size` nodes. Nodes and devices come from `recommender.locate` (the problem's node
    inventory, else the node convention). Replicas of workloads `problem` no longer has (or
    beyond a workload's replica count) are read as stopped (`reading.current.stop_retired`)."""
    if wave_size < 1:
        raise ValueError(f"wave size must be at least 1, not {wave_size}")
    new = plan.gpus
    # Replicas the workloads no longer ask for count as stopped: a GPU hosting only those hosts
    # nothing (the planner read the fleet the same way).
    current = align_counted(stop_retired(current, problem), new)
    locate = node_locator(problem)
    plain = _Rollout(current, new, problem, catalog, wave_size, locate, _Temporary())
    plain.run()
    rollout, unmet = _simulate(current, new, problem, catalog, wave_size, locate, plain)
    dips = rollout.dips()
    notes: list[str] = []
    extra: dict[str, int] = {}
    if dips:
        extra, confirmed = _extra_gpus(current, new, problem, catalog, wave_size, dips, plain)
        if not confirmed:
            notes.append(
                "the extra GPUs listed were not enough in a simulation of the enlarged fleet; "
                "they are a lower estimate"
            )
    export = gpu_operator_export(plan, problem, catalog)
    waves, configs = _waves(rollout, export, problem, catalog)
    classes = rollout.classes
    moved = moved_replicas(current, new)
    notes += _notes(current, new, rollout, unmet, catalog, problem)
    pools = {pool.pool: pool for pool in problem.pools}
    return Transition(
        current_cost_per_hour=sum(
            pools[g.pool].cost_per_hour for g in current if g.instances and g.pool in pools
        ),
        kept=sum(state == KEPT for state in classes.values()),
        recarved=sum(state == RECARVED for state in classes.values()),
        released=sum(state == RELEASED for state in classes.values()),
        new=sum(state == NEW for state in classes.values()),
        moved_replicas=sum(moved.values()),
        moved_by_workload=moved,
        nodes_touched=len(rollout.touched),
        wave_size=wave_size,
        floors=rollout.floors,
        gpu_states=[
            GpuState(pool=key[0], index=key[1], state=state)  # type: ignore[arg-type]
            for key, state in sorted(classes.items())
        ],
        waves=waves,
        dips=dips,
        extra_gpus_needed=extra,
        mig_configs=configs,
        notes=notes,
    )


def _waves(
    rollout: _Rollout, export: GpuOperatorExport, problem: Problem, catalog: Catalog
) -> tuple[list[Wave], dict[str, list[dict]]]:
    """The simulated waves as plan models, node names as Kubernetes knows them, and every
    mig-parted config they label a node with (name -> entries)."""
    k8s = export.node_names
    final_entries = export.mig_parted["mig-configs"]
    node_size: Counter[str] = Counter()
    for pool in problem.pools:
        for index in range(pool.gpus):
            node, device = rollout.locate(pool.pool, index)
            node_size[node] = max(node_size[node], device + 1)
    drained = {
        rollout.node(key) for key, state in rollout.classes.items() if state in (RECARVED, RELEASED)
    }
    lent = {rollout.node(key) for key in rollout.temporary.carves}
    configs: dict[str, list[dict]] = {}
    temporary_names: dict[str, str] = {}
    per_pool: Counter[str] = Counter()
    pool_part = unique_names(
        [pool.pool for pool in problem.pools], Rule.LABEL_VALUE, LABEL_VALUE_MAX - LAYOUT_SUFFIX_MAX
    )
    moves_by_wave: dict[int, list[RolloutMove]] = defaultdict(list)
    for move in rollout.moves():
        wave = move.start_wave if move.from_slot is None or move.temporary else move.stop_wave
        assert wave is not None
        moves_by_wave[wave].append(move)
    waves: list[Wave] = []
    for record in rollout.waves:
        node_configs: dict[str, str] = {}
        for node in record.nodes:
            name = k8s.get(node, node)
            plain = record.kind == "drain" or (
                node not in drained and (record.kind == "cleanup" or node not in lent)
            )
            if plain and name in export.node_configs:
                config = export.node_configs[name]
                configs[config] = final_entries.get(config, [])
            else:
                entries = node_config_entries(record.node_layouts[node], node_size[node] or 1)
                key = json.dumps(entries, sort_keys=True)
                if key not in temporary_names:
                    pool = record.changes[0][0][0]
                    for change_key, _, _ in record.changes:
                        if rollout.node(change_key) == node:
                            pool = change_key[0]
                            break
                    per_pool[pool] += 1
                    temporary_names[key] = f"{pool_part[pool]}-rollout-{per_pool[pool]}"
                config = temporary_names[key]
                configs[config] = entries
            node_configs[name] = config
        changes = []
        for key, layout, change in record.changes:
            node, device = rollout.locate(*key)
            changes.append(
                GpuChange(
                    pool=key[0],
                    index=key[1],
                    node=k8s.get(node, node),
                    device=device,
                    change=change,  # type: ignore[arg-type]
                    instances=[
                        CarvedInstance(profile=p, start=s)
                        for p, s in sorted(layout, key=lambda item: item[1])
                    ],
                )
            )
        waves.append(
            Wave(
                index=record.index,
                kind=record.kind,  # type: ignore[arg-type]
                nodes=[k8s.get(node, node) for node in record.nodes],
                node_configs=node_configs,
                gpus=changes,
                moves=moves_by_wave.get(record.index, []),
                lowest_running=record.lowest,
            )
        )
    return waves, configs


def _notes(
    current: list[PlanGpu],
    new: list[PlanGpu],
    rollout: _Rollout,
    unmet: Counter[str],
    catalog: Catalog,
    problem: Problem,
) -> list[str]:
    """What an operator should know that the counts do not say."""
    notes: list[str] = []
    now = {(g.pool, g.index): g for g in current}
    after = {(g.pool, g.index): g for g in new}
    same_counts = [
        f"{key[0]}#{key[1]}"
        for key, state in sorted(rollout.classes.items())
        if state == RECARVED
        and Counter(p for p, _ in _carve(now[key])) == Counter(p for p, _ in _carve(after[key]))
    ]
    if same_counts:
        notes.append(
            "GPUs re-carved with the same profile counts at other starts ("
            + ", ".join(same_counts)
            + "): mig-parted skips a GPU whose counts match, so recreate them at the plan's "
            "starts with the nvidia-smi script export during their wave"
        )
    lent_slots = [s for s in rollout.temporary.slots if s[:2] not in rollout.temporary.carves]
    if rollout.temporary.slots:
        notes.append(
            f"{len(rollout.temporary.slots)} temporary replica(s) keep floors during the rollout: "
            f"{len(lent_slots)} on spare instances of the plan, the rest on "
            f"{len(rollout.temporary.carves)} idle GPU(s) carved for it and given back at the end"
        )
    if unmet:
        notes.append(
            "no spare capacity left for temporary replicas of "
            + ", ".join(f"{w} ({n})" for w, n in sorted(unmet.items()))
        )
    on_node: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for key, state in rollout.classes.items():
        if state in (KEPT, RECARVED, RELEASED):
            side = "kept" if state == KEPT else "drained"
            for workload in _occupants([now[key]]).values():
                on_node[rollout.node(key)][side].add(workload)
    mixed = {
        (workload, node)
        for node, sides in on_node.items()
        for workload in sides["kept"] & sides["drained"]
    }
    if mixed:
        notes.append(
            "workloads with replicas on kept and drained GPUs of one node ("
            + ", ".join(f"{w} on {n}" for w, n in sorted(mixed)[:10])
            + (", ..." if len(mixed) > 10 else "")
            + "): the rollout script evicts a workload's pods per node, so those on the kept GPUs "
            "restart too; their PodDisruptionBudget paces it"
        )
    return notes

"""From counts to concrete GPUs: indices, start slots and the replica on every instance.

Why the expansion always succeeds
- A pool's GPUs are numbered group by group (one group per layout with a positive count), each
  GPU getting its layout's stored placement, which is valid by construction.
- Spread replicas of one layout group: the model guarantees for the group of `n` GPUs that each
  spread workload has at most `n` replicas there and that profile p carries at most
  `count(L, p) * n` of them. Split each profile into `count(L, p)` copies carrying at most `n`
  replicas each; the result is a bipartite multigraph (workloads x profile copies) of maximum
  degree <= n, which König's theorem colours properly with n colours. Colour = GPU: every GPU gets
  at most one replica per workload and at most one per profile copy, i.e. at most count(L, p) on
  profile p, which its layout offers.
- Pooled replicas have no per-GPU rule; the model guarantees that the pool's p instances cover
  them all, so filling the free p instances in any order succeeds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from recommender.formulation import CurrentGroup, DemandClass, Formulation, PoolData
from recommender.greedy import GpuContent
from recommender.layouts import Layout, Placement, dominating_match, layout_violations
from recommender.model import Solution
from recommender.plan import PlanGpu, PlanInstance
from recommender.problem import Problem


@dataclass(slots=True)  # 100,000s of them on large fleets
class Slot:
    profile: str
    start: int
    workload: str | None = None
    replica: int | None = None


def edge_colouring(edges: list[tuple[int, int]], colours: int) -> list[int]:
    """Proper edge colouring of a bipartite multigraph with `colours` >= max degree colours.

    `edges` are (left vertex, right vertex) pairs; returns a colour per edge. Classic
    alternating-path algorithm: if the free colour `a` at the left end is used at the right end,
    swap colours a/b along the a/b path from the right end (it cannot reach the left end in a
    bipartite graph), which frees `a` there.
    """
    # at[vertex][colour] = edge index; vertices are ("L", i) / ("R", j)
    at: dict[tuple[str, int], dict[int, int]] = defaultdict(dict)
    cursor: dict[tuple[str, int], int] = defaultdict(int)
    colour_of = [-1] * len(edges)

    def free_colour(vertex: tuple[str, int]) -> int:
        used = at[vertex]
        start = cursor[vertex]
        for step in range(colours):
            c = (start + step) % colours
            if c not in used:
                cursor[vertex] = c
                return c
        raise ValueError("vertex degree exceeds the number of colours")

    for e, (left, right) in enumerate(edges):
        u, v = ("L", left), ("R", right)
        a = free_colour(u)
        if a in at[v]:
            b = free_colour(v)
            # Walk the path from v alternating a, b and swap the two colours along it.
            path: list[int] = []
            vertex, want = v, a
            while want in at[vertex]:
                edge = at[vertex][want]
                path.append(edge)
                l_end, r_end = ("L", edges[edge][0]), ("R", edges[edge][1])
                vertex = l_end if vertex == r_end else r_end
                want = b if want == a else a
            for edge in path:
                for end in (("L", edges[edge][0]), ("R", edges[edge][1])):
                    at[end].pop(colour_of[edge], None)
            for edge in path:
                colour_of[edge] = b if colour_of[edge] == a else a
                for end in (("L", edges[edge][0]), ("R", edges[edge][1])):
                    at[end][colour_of[edge]] = edge
        colour_of[e] = a
        at[u][a] = e
        at[v][a] = e
    return colour_of


class _ReplicaCounter:
    """Hands out (workload, replica index) for a class, members in input order.

    `reserved` replicas (staying where they run now) are counted as placed and never handed out.
    """

    def __init__(
        self, demand_class: DemandClass, reserved: dict[str, set[int]] | None = None
    ) -> None:
        # Members are read as replicas are handed out: a class may hold a million workloads.
        self.queue = demand_class.workloads
        self.position = 0
        self.next_index = 0
        self.reserved = reserved or {}
        self.placed: dict[str, int] = defaultdict(int)
        if self.reserved:
            for w in demand_class.workloads:
                if self.reserved.get(w.name):
                    self.placed[w.name] = len(self.reserved[w.name])

    def take(self) -> tuple[str, int]:
        while True:
            workload = self.queue[self.position]
            name = workload.name
            # A throughput workload's instance count is the model's decision, not `replicas`.
            replicas = UNBOUNDED if workload.is_throughput else workload.replicas
            replica = self.next_index
            self.next_index += 1
            if self.next_index == replicas:
                self.position += 1
                self.next_index = 0
            if replica not in self.reserved.get(name, ()):
                self.placed[name] += 1
                return name, replica


def _groups(pd: PoolData, solution: Solution) -> list[tuple[Layout, list[list[Slot]]]]:
    groups = []
    for lay in sorted(pd.layouts, key=lambda lay: lay.key):
        count = solution.gpus_with.get((pd.index, lay), 0)
        if count:
            gpus = [[Slot(p.profile, p.start) for p in lay.placements] for _ in range(count)]
            groups.append((lay, gpus))
    return groups


def _place_spread(
    gpus: list[list[Slot]],
    assignments: list[tuple[int, str, int]],
    counters: dict[int, _ReplicaCounter],
) -> None:
    """Spread replicas of one layout group: (class, profile, count) onto distinct GPUs."""
    items: list[tuple[int, str]] = []  # (class index, profile) per replica
    for c, name, count in sorted(assignments):
        items.extend([(c, name)] * count)
    if not items:
        return
    # Profile copies: copy k of profile p takes the k-th run of len(gpus) replicas on p.
    copy_of: list[int] = []
    copies: dict[tuple[str, int], int] = {}
    seen_on_profile: dict[str, int] = defaultdict(int)
    for _, name in items:
        k = seen_on_profile[name] // len(gpus)
        seen_on_profile[name] += 1
        copy_of.append(copies.setdefault((name, k), len(copies)))
    edges = [(c, copy) for (c, _), copy in zip(items, copy_of, strict=True)]
    colours = edge_colouring(edges, len(gpus))
    for (c, name), colour in zip(items, colours, strict=True):
        slot = next(s for s in gpus[colour] if s.profile == name and s.workload is None)
        slot.workload, slot.replica = counters[c].take()


def _place_pooled(
    pd: PoolData,
    groups: list[tuple[Layout, list[list[Slot]]]],
    solution: Solution,
    counters: dict[int, _ReplicaCounter],
    already: dict[tuple[int, int, str], int] | None = None,
) -> None:
    """Pooled replicas into the pool's free instances; `already` are placed ones (staying)."""
    free: dict[str, list[Slot]] = defaultdict(list)
    for _, gpus in groups:
        for gpu in gpus:
            for slot in gpu:
                if slot.workload is None:
                    free[slot.profile].append(slot)
    for name in free:
        free[name].reverse()  # pop() then fills GPUs in index order
    for (c, q, name), count in sorted(solution.placed.items()):
        if q != pd.index:
            continue
        for _ in range(count - (already or {}).get((c, q, name), 0)):
            slot = free[name].pop()
            slot.workload, slot.replica = counters[c].take()


def _plainer_profile(pd: PoolData, name: str) -> str | None:
    """The profile without +me/+me.all/-me suffix (same span and memory), if the model has it."""
    for suffix in ("+me.all", "+me", "-me"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if base in pd.model.profile_by_name:
                return base
    return None


_SUFFIXES = ("+me.all", "-me", "+me")


def _simplify(
    pd: PoolData, gpu: list[Slot], media_users: set[str], memo: dict[tuple, list[str]]
) -> None:
    """Use plain profiles where a suffixed one is not needed, if the layout stays valid.

    The model picks among non-dominated layouts, e.g. `2g.48gb+me.all | 2g.48gb-me` on RTX PRO;
    with no media workload on it, `2g.48gb | 2g.48gb` is what an operator expects to see.
    """
    if not any(s.profile.endswith(_SUFFIXES) for s in gpu):
        return  # the usual case: nothing to simplify, no key to build (100,000s of GPUs)
    key = (pd.index, *((s.profile, s.start, s.workload in media_users) for s in gpu))
    if key not in memo:
        profiles = [s.profile for s in gpu]
        for suffix in ("+me.all", "-me", "+me"):
            for i, slot in enumerate(gpu):
                if not profiles[i].endswith(suffix) or slot.workload in media_users:
                    continue
                plain = _plainer_profile(pd, profiles[i])
                if plain is None:
                    continue
                trial = [
                    (plain if j == i else name, s.start)
                    for j, (name, s) in enumerate(zip(profiles, gpu, strict=True))
                ]
                if not layout_violations(pd.model, trial):
                    profiles[i] = plain
        memo[key] = profiles
    for slot, name in zip(gpu, memo[key], strict=True):
        slot.profile = name


def keeps_its_profile(problem: Problem) -> set[str]:
    """Workloads whose instances the tidy-up must not turn into a plainer twin: media replicas
    need the engines, and throughput instances the profile whose measured configuration the model
    chose (the twin may have no row in the performance table)."""
    return {w.name for w in problem.workloads if w.media or w.is_throughput}


def expand(
    f: Formulation, solution: Solution, spare_instances: bool = True
) -> tuple[list[PlanGpu], dict[str, int]]:
    """Concrete GPUs for a solution, and the number of placed replicas per workload."""
    if f.replanning:
        return expand_replan(f, solution, spare_instances)
    counters = {c.index: _ReplicaCounter(c) for c in f.classes}
    media_users = keeps_its_profile(f.problem)
    spread_by_group = _spread_by_group(solution)
    simplified: dict[tuple, list[str]] = {}
    plan_gpus: list[PlanGpu] = []
    for pd in f.pools:
        groups = _groups_with_spread(pd, solution, spread_by_group, counters)
        _place_pooled(pd, groups, solution, counters)
        index = 0
        for lay, gpus in groups:
            plain = not any(p.profile.endswith(_SUFFIXES) for p in lay.placements)
            for gpu in gpus:
                # A GPU hosting no replica only costs money: leave it uncarved.
                if not any(s.workload is not None for s in gpu):
                    continue
                if not plain:
                    _simplify(pd, gpu, media_users, simplified)
                carved = [s for s in gpu if spare_instances or s.workload is not None]
                plan_gpus.append(_plan_gpu(pd, index, carved))
                index += 1
    return plan_gpus, _placed_replicas(counters)


# --- re-planning from the running fleet ----------------------------------------------------------
#
# Why the expansion succeeds with kept groups too
# - A kept GPU keeps its exact instances, so its layout is valid (the current state was checked).
# - Staying replicas keep their slot (profile, start) and their replica number; the model allows at
#   most one per kept GPU of the group per slot (stay <= kept).
# - Spread replicas on a kept group: the model guarantees per class at most `k` (kept GPUs) and per
#   profile spread replicas + pooled staying ones <= count(p) * k. Spread replicas not staying are
#   spread over the profile's slots within each slot's room (k minus the replicas staying there),
#   so every slot carries at most k spread replicas: a bipartite multigraph (classes x slots) of
#   maximum degree <= k, coloured with k colours (König); colour = kept GPU. Pooled staying
#   replicas of a slot then take the kept GPUs whose slot no spread replica took (enough remain).
# - Pooled replicas that do not stay fill any free instance of the pool, kept GPUs included.
# Fresh layouts go to GPUs hosting nothing now first, then to GPUs of groups that are not kept.


@dataclass
class _KeptGpu:
    """A GPU that keeps its exact layout: the current entry and its slots by start."""

    current: PlanGpu
    slots: list[Slot]


def _kept_gpus(group: CurrentGroup, count: int) -> list[_KeptGpu]:
    """The group's GPUs that keep their layout: the first `count` by index."""
    return [
        _KeptGpu(gpu, [Slot(p.profile, p.start) for p in group.layout.placements])
        for gpu in group.gpus[:count]
    ]


def _place_kept_group(
    f: Formulation,
    group: CurrentGroup,
    kept: list[_KeptGpu],
    solution: Solution,
    reserved: dict[str, set[int]],
    pending: list[tuple[Slot, int]],
) -> dict[tuple[int, int, str], int]:
    """Staying replicas and spread replicas of one kept group (see above).

    Staying replicas get their slot and replica number at once (added to `reserved`); spread
    replicas that do not stay are left in `pending` as (slot, class) for a replica number later.
    Returns the pooled staying replicas per (class, pool, profile).
    """
    k = len(kept)
    class_of = {w.name: c for c in f.classes for w in c.workloads}
    position = {p.start: i for i, p in enumerate(group.layout.placements)}
    room = [k] * len(position)
    spread_edges: list[tuple[int, int]] = []  # (class, slot position)
    spread_stays: dict[tuple[int, str], int] = defaultdict(int)
    pooled_stays: list[tuple[int, int]] = []  # (slot position, count)
    staying: dict[tuple[int, int, str], int] = defaultdict(int)
    for (workload, name), starts in group.tenants.items():
        count = solution.stay.get((group.index, workload, name), 0)
        c = class_of[workload]
        if c.spread:
            spread_stays[c.index, name] += count
        else:
            staying[c.index, group.pool, name] += count
        for start in starts:  # fill the workload's slots of this profile one after the other
            i, here = position[start], min(count, k)
            count -= here
            room[i] -= here
            if c.spread:
                spread_edges += [(c.index, i)] * here
            elif here:
                pooled_stays.append((i, here))
    stay_edges = len(spread_edges)
    for (c, g, name), count in sorted(solution.spread_kept.items()):
        if g != group.index:
            continue
        rest = count - spread_stays[c, name]
        for i, placement in enumerate(group.layout.placements):
            if placement.profile == name and rest > 0:
                take = min(rest, room[i])
                spread_edges += [(c, i)] * take
                room[i] -= take
                rest -= take
        if rest:
            raise AssertionError(f"kept group {group.index}: no room for spread class {c}")
    colours = edge_colouring(spread_edges, k) if spread_edges else []
    taken: dict[int, set[int]] = defaultdict(set)
    for e, ((c, i), colour) in enumerate(zip(spread_edges, colours, strict=True)):
        taken[i].add(colour)
        slot = kept[colour].slots[i]
        if e < stay_edges:
            _stay(kept[colour], slot, reserved)
        else:
            pending.append((slot, c))
    for i, count in pooled_stays:
        free = (colour for colour in range(k) if colour not in taken[i])
        for colour, _ in zip(free, range(count), strict=False):
            _stay(kept[colour], kept[colour].slots[i], reserved)
    return staying


def _stay(gpu: _KeptGpu, slot: Slot, reserved: dict[str, set[int]]) -> None:
    """The replica running on `slot` now stays there, with its replica number."""
    now = next(i for i in gpu.current.instances if i.start == slot.start)
    assert now.workload is not None and now.replica is not None
    slot.workload, slot.replica = now.workload, now.replica
    reserved.setdefault(now.workload, set()).add(now.replica)


def _fresh_indices(f: Formulation, pd: PoolData, released: list[int]) -> list[int]:
    """GPU indices for freshly carved GPUs: GPUs hosting nothing now first, then released ones."""
    hosting = {gpu.index for g in f.groups if g.pool == pd.index for gpu in g.gpus}
    return [i for i in range(pd.pool.gpus) if i not in hosting] + sorted(released)


def expand_replan(
    f: Formulation, solution: Solution, spare_instances: bool = True
) -> tuple[list[PlanGpu], dict[str, int]]:
    """Concrete GPUs for a re-planning solution: kept GPUs keep their index and instances (spares
    included, so mig-parted skips them), staying replicas their slot and replica number."""
    reserved: dict[str, set[int]] = {}
    pending: list[tuple[Slot, int]] = []
    kept_by_pool: dict[int, list[_KeptGpu]] = defaultdict(list)
    released_by_pool: dict[int, list[int]] = defaultdict(list)
    staying: dict[tuple[int, int, str], int] = defaultdict(int)
    for group in f.groups:
        kept = _kept_gpus(group, solution.kept.get(group.index, 0))
        kept_by_pool[group.pool] += kept
        released_by_pool[group.pool] += [gpu.index for gpu in group.gpus[len(kept) :]]
        if kept:
            for key, count in _place_kept_group(
                f, group, kept, solution, reserved, pending
            ).items():
                staying[key] += count
    simplified: dict[tuple, list[str]] = {}
    plan_gpus: list[PlanGpu] = []
    counters = {c.index: _ReplicaCounter(c, reserved) for c in f.classes}
    for slot, c in pending:
        slot.workload, slot.replica = counters[c].take()
    media_users = keeps_its_profile(f.problem)
    spread_by_group = _spread_by_group(solution)
    for pd in f.pools:
        groups = _groups_with_spread(pd, solution, spread_by_group, counters)
        kept = kept_by_pool.get(pd.index, [])
        everything = [*groups, *((None, [gpu.slots]) for gpu in kept)]
        _place_pooled(pd, everything, solution, counters, staying)  # type: ignore[arg-type]
        for gpu in kept:
            if any(s.workload is not None for s in gpu.slots):  # else released: costs only
                plan_gpus.append(_plan_gpu(pd, gpu.current.index, gpu.slots))
        indices = iter(_fresh_indices(f, pd, released_by_pool.get(pd.index, [])))
        for _, gpus in groups:
            for slots in gpus:
                _simplify(pd, slots, media_users, simplified)
                carved = [s for s in slots if spare_instances or s.workload is not None]
                if any(s.workload is not None for s in carved):
                    plan_gpus.append(_plan_gpu(pd, next(indices), carved))
    order = {pd.pool.pool: pd.index for pd in f.pools}
    plan_gpus.sort(key=lambda gpu: (order[gpu.pool], gpu.index))
    return plan_gpus, _placed_replicas(counters)


def _spread_by_group(solution: Solution) -> dict[tuple[int, Layout], list[tuple[int, str, int]]]:
    """The spread replicas the solution puts on each (pool, layout) group: (class, profile,
    count) lists, the input of `_place_spread`."""
    spread_by_group: dict[tuple[int, Layout], list[tuple[int, str, int]]] = defaultdict(list)
    for (c, q, lay, name), count in solution.spread_placed.items():
        if count:
            spread_by_group[q, lay].append((c, name, count))
    return spread_by_group


def _groups_with_spread(
    pd: PoolData,
    solution: Solution,
    spread_by_group: dict[tuple[int, Layout], list[tuple[int, str, int]]],
    counters: dict[int, _ReplicaCounter],
) -> list[tuple[Layout, list[list[Slot]]]]:
    """The pool's fresh GPUs grouped by layout, with the spread replicas already placed (each
    on distinct GPUs of its group, before the pooled replicas fill what is left)."""
    groups = _groups(pd, solution)
    for lay, gpus in groups:
        _place_spread(gpus, spread_by_group.get((pd.index, lay), []), counters)
    return groups


def _placed_replicas(counters: Mapping[int, _ReplicaCounter]) -> dict[str, int]:
    """Placed replicas per workload, summed over the demand classes' counters."""
    placed: dict[str, int] = defaultdict(int)
    for counter in counters.values():
        for name, count in counter.placed.items():
            placed[name] += count
    return dict(placed)


def _plan_instance(slot: Slot) -> PlanInstance:
    return PlanInstance(
        profile=slot.profile, start=slot.start, workload=slot.workload, replica=slot.replica
    )


def _plan_gpu(pd: PoolData, index: int, slots: list[Slot]) -> PlanGpu:
    return PlanGpu(
        pool=pd.pool.pool,
        index=index,
        gpu_model=pd.pool.gpu_model,
        instances=[_plan_instance(s) for s in slots],
    )


def solution_from_current(f: Formulation) -> Solution:
    """The counts of changing nothing: every group kept, every replica that still fits staying,
    no fresh GPU. Feasible under any budget (nothing moves, nothing is re-carved), so it is the
    re-planning model's first hint."""
    class_of = {w.name: c for c in f.classes for w in c.workloads}
    placed: dict[tuple[int, int, str], int] = defaultdict(int)
    spread_kept: dict[tuple[int, int, str], int] = defaultdict(int)
    stay: dict[tuple[int, str, str], int] = {}
    hosted: dict[int, int] = defaultdict(int)
    for group in f.groups:
        spread_here: set[int] = set()
        for (workload, name), starts in group.tenants.items():
            c = class_of[workload]
            if c.spread and c.index in spread_here:
                stay[group.index, workload, name] = 0  # a spread replica per GPU at most
                continue
            count = group.size * (1 if c.spread else len(starts))
            stay[group.index, workload, name] = count
            if c.spread:
                spread_here.add(c.index)
                spread_kept[c.index, group.index, name] += count
            else:
                placed[c.index, group.pool, name] += count
            hosted[c.index] += count
    return Solution(
        gpus_with={},
        placed=dict(placed),
        spread_placed={},
        unplaced={
            c.index: c.demand - hosted[c.index] if c.throughput is None else c.shortfall_cap
            for c in f.classes
        },
        kept={g.index: g.size for g in f.groups},
        stay=stay,
        spread_kept=dict(spread_kept),
        recarve={q: 0 for q in {g.pool for g in f.groups}},
    )


def solution_from_gpus(f: Formulation, gpus: Iterable[PlanGpu]) -> Solution:
    """The counts of concrete GPUs (e.g. a greedy packing), to warm-start the model.

    The inverse of `expand`: each GPU's layout is mapped instance by instance into a solver
    layout that covers it (one always exists, see `layouts.solver_layouts`), and each hosted
    replica is counted on the covering profile, which it fits as well.
    """
    contents: Counter[GpuContent] = Counter(
        (gpu.pool, tuple((i.start, i.profile, i.workload) for i in gpu.instances))
        for gpu in gpus
        if gpu.instances
    )
    return solution_from_contents(f, contents)


def solution_from_contents(f: Formulation, contents: Mapping[GpuContent, int]) -> Solution:
    """`solution_from_gpus` of GPUs given as counts of identical contents (pool, hosted
    (start, profile, workload) by start): each distinct content is mapped once."""
    pools = {pd.pool.pool: pd for pd in f.pools}
    class_of = {w.name: c for c in f.classes for w in c.workloads}
    gpus_with: dict[tuple[int, Layout], int] = defaultdict(int)
    placed: dict[tuple[int, int, str], int] = defaultdict(int)
    spread_placed: dict[tuple[int, int, Layout, str], int] = defaultdict(int)
    hosted: dict[int, int] = defaultdict(int)
    cover: dict[tuple[int, tuple[Placement, ...]], tuple[Layout, dict[int, int]] | None] = {}
    for (pool, instances), count in contents.items():
        pd = pools.get(pool)
        if pd is None or not instances or count <= 0:
            continue
        carved = Layout(tuple(Placement(start, profile) for start, profile, _ in instances))
        key = (pd.index, carved.placements)
        if key not in cover:
            cover[key] = next(
                (
                    (lay, match)
                    for lay in pd.layouts
                    if (match := dominating_match(pd.model, lay, carved)) is not None
                ),
                None,
            )
        found = cover[key]
        if found is None:
            continue
        layout, match = found
        gpus_with[pd.index, layout] += count
        by_start = {(p.start, p.profile): n for n, p in enumerate(carved.placements)}
        for start, name, workload in instances:
            if workload is None or workload not in class_of:
                continue
            c = class_of[workload]
            profile = layout.placements[match[by_start[start, name]]].profile
            if c.spread:
                spread_placed[c.index, pd.index, layout, profile] += count
            else:
                placed[c.index, pd.index, profile] += count
            hosted[c.index] += count
    return Solution(
        gpus_with=dict(gpus_with),
        placed=dict(placed),
        spread_placed=dict(spread_placed),
        unplaced={
            c.index: _hinted_shortfall(f, c, placed, spread_placed, hosted) for c in f.classes
        },
    )


UNBOUNDED = 2**62  # replica indices a throughput workload's counter may hand out


def _hinted_shortfall(
    f: Formulation,
    c: DemandClass,
    placed: dict[tuple[int, int, str], int],
    spread_placed: dict[tuple[int, int, Layout, str], int],
    hosted: dict[int, int],
) -> int:
    """The `unplaced` value of class c for these counts: replicas left out, or for a throughput
    class the smallest share its coverage constraints allow (`model.add_throughput_coverage`)."""
    need = c.throughput
    if need is None:
        return c.demand - hosted[c.index]
    counts = [(key[1], key[2], n) for key, n in placed.items() if key[0] == c.index]
    counts += [(key[1], key[3], n) for key, n in spread_placed.items() if key[0] == c.index]
    served = sum(need.served.get((q, name), 0) * n for q, name, n in counts)
    instances = sum(n for _, _, n in counts)
    scale = f.served_scale
    short = -(-scale * max(0, need.required - served) // need.required) if need.required else 0
    if need.minimum:
        short = max(short, -(-scale * max(0, need.minimum - instances) // need.minimum))
    return min(short, scale)

"""Valid MIG layouts of one GPU: profile multisets that some placement of start slots realizes.

A GPU model has a few tens to a few hundred of them, so they are enumerated once per model and
cached. The solver works with these layouts as whole units (docs/design.md, "The model").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from recommender import rules
from recommender.catalog import GpuModel, Profile


@dataclass(frozen=True, order=True)
class Placement:
    """One instance on the unit axis: `profile` occupying [start, start + span)."""

    start: int
    profile: str


@dataclass(frozen=True)
class Layout:
    """A multiset of profiles with one concrete placement that realizes it."""

    placements: tuple[Placement, ...]
    counts: dict[str, int] = field(compare=False, hash=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "placements", tuple(sorted(self.placements)))
        object.__setattr__(self, "counts", dict(Counter(p.profile for p in self.placements)))

    @property
    def key(self) -> tuple[str, ...]:
        """The profile multiset, as a sorted tuple: equal for layouts that differ only in starts."""
        return tuple(sorted(p.profile for p in self.placements))

    def label(self, model: GpuModel | None = None) -> str:
        """Largest instance first, e.g. `3g.20gb | 2g.10gb | 1g.5gb | 1g.5gb` (`rules.layout_label`,
        the order the CLI and the exports print too)."""
        return rules.layout_label(model, (p.profile for p in self.placements))


def layout_violations(model: GpuModel, placements: Iterable[tuple[str, int]]) -> list[str]:
    """Why a set of (profile, start) instances is not a valid layout of `model` (empty if valid).

    Rules (docs/design.md, "Placement rules"): legal starts, no overlap, at most one `+me`, only
    `-me` next to a `+me.all`, per-profile maximum count.
    """
    problems: list[str] = []
    items = list(placements)
    owner: dict[int, str] = {}
    counts: Counter[str] = Counter()
    profiles: list[Profile] = []
    for name, start in items:
        profile = model.profile_by_name.get(name)
        if profile is None:
            problems.append(f"unknown profile {name}")
            continue
        profiles.append(profile)
        counts[name] += 1
        if start not in profile.starts:
            problems.append(f"{name} cannot start at {start} (legal starts {profile.starts})")
            continue
        for unit in range(start, start + profile.span):
            if unit in owner:
                problems.append(f"{name}@{start} overlaps {owner[unit]} at unit {unit}")
                break
            owner[unit] = f"{name}@{start}"
    for name, count in counts.items():
        limit = model.profile_by_name[name].max_count
        if count > limit:
            problems.append(f"{count} x {name}, at most {limit} allowed")
    if sum(p.has_me for p in profiles) > 1:
        problems.append("more than one +me instance")
    if any(p.has_me_all for p in profiles):
        others = [p.name for p in profiles if not p.has_me_all and not p.no_me]
        if sum(p.has_me_all for p in profiles) > 1 or others:
            problems.append("a +me.all instance allows only -me instances beside it")
    if len(items) > model.max_instances:
        problems.append(f"{len(items)} instances, at most {model.max_instances}")
    return problems


_ALL_CACHE: dict[int, tuple[GpuModel, dict[tuple[str, ...], Layout]]] = {}
_SOLVER_CACHE: dict[int, tuple[GpuModel, tuple[Layout, ...]]] = {}


def _enumerate_all(model: GpuModel) -> dict[tuple[str, ...], Layout]:
    """Every non-empty valid profile multiset of `model`, each with the first placement found."""
    cached = _ALL_CACHE.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1]
    by_start: dict[int, list[Profile]] = {}
    for profile in model.profiles:
        for start in profile.starts:
            by_start.setdefault(start, []).append(profile)
    found: dict[tuple[str, ...], Layout] = {}
    units = model.placement_units

    # Depth-first along the axis: unit u is either left empty or is the start of an instance.
    # Every set of non-overlapping placements is reached by exactly one path.
    def walk(unit: int, chosen: list[tuple[str, int]]) -> None:
        if unit >= units:
            if chosen and not layout_violations(model, chosen):
                layout = Layout(tuple(Placement(s, n) for n, s in chosen))
                found.setdefault(layout.key, layout)
            return
        walk(unit + 1, chosen)
        for profile in by_start.get(unit, []):
            if unit + profile.span <= units:
                chosen.append((profile.name, unit))
                walk(unit + profile.span, chosen)
                chosen.pop()

    walk(0, [])
    _ALL_CACHE[id(model)] = (model, found)
    return found


def enumerate_layouts(model: GpuModel, allowed: Iterable[str] | None = None) -> list[Layout]:
    """All valid non-empty layouts using only `allowed` profiles (all profiles when None)."""
    allowed_set = set(allowed) if allowed is not None else set(model.profile_by_name)
    return [lay for key, lay in _enumerate_all(model).items() if set(key) <= allowed_set]


def maximal_layouts(model: GpuModel, allowed: Iterable[str] | None = None) -> list[Layout]:
    """Layouts to which no further instance of an `allowed` profile can be added.

    Validity is closed under removing instances, so a layout is maximal exactly when no
    one-instance extension is valid.
    """
    allowed_set = set(allowed) if allowed is not None else set(model.profile_by_name)
    layouts = enumerate_layouts(model, allowed_set)
    keys = {lay.key for lay in layouts}
    return [
        lay
        for lay in layouts
        if not any(tuple(sorted((*lay.key, name))) in keys for name in allowed_set)
    ]


def find_layout(model: GpuModel, profiles: Sequence[str]) -> Layout | None:
    """A placement realizing exactly this multiset of profiles, or None if none exists."""
    return _enumerate_all(model).get(tuple(sorted(profiles)))


def capability(model: GpuModel, profile: Profile) -> tuple[int, int, bool]:
    """What a profile offers a workload: usable memory, compute slices, media engines."""
    return (profile.memory_mib, profile.compute_slices, model.media_capable(profile))


def _covers(big: tuple[int, int, bool], small: tuple[int, int, bool]) -> bool:
    return big[0] >= small[0] and big[1] >= small[1] and (big[2] or not small[2])


def dominating_match(model: GpuModel, upper: Layout, lower: Layout) -> dict[int, int] | None:
    """Map each instance of `lower` to its own instance of `upper` that covers it, if possible.

    Returns {index in lower.placements: index in upper.placements}, or None. Bipartite matching
    by augmenting paths; layouts have at most a dozen instances.
    """
    up = [capability(model, model.profile(p.profile)) for p in upper.placements]
    low = [capability(model, model.profile(p.profile)) for p in lower.placements]
    if len(low) > len(up):
        return None
    match_of_up: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j, cap in enumerate(up):
            if j in seen or not _covers(cap, low[i]):
                continue
            seen.add(j)
            if j not in match_of_up or augment(match_of_up[j], seen):
                match_of_up[j] = i
                return True
        return False

    if not all(augment(i, set()) for i in range(len(low))):
        return None
    return {i: j for j, i in match_of_up.items()}


def _dominates(model: GpuModel, upper: Layout, lower: Layout) -> bool:
    return dominating_match(model, upper, lower) is not None


def solver_layouts(model: GpuModel) -> tuple[Layout, ...]:
    """The layouts the optimizer chooses from: valid, and not dominated by another layout.

    A layout is dominated when another one offers, instance by instance, at least the same
    memory, compute and media engines; any plan using it stays valid, at the same cost, with the
    dominating layout instead. `+gfx` profiles add graphics APIs, which no workload asks for, so
    they never beat their base profile and are left out here (they stay valid in plans).
    """
    cached = _SOLVER_CACHE.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1]
    allowed = [p.name for p in model.profiles if not p.gfx]
    candidates = maximal_layouts(model, allowed)

    # Prefer plain profiles among layouts of equal capability: fewer suffixes, then name order.
    def plainness(lay: Layout) -> tuple[int, tuple[str, ...]]:
        return (sum(len(model.profile(n).attributes) for n in lay.key), lay.key)

    candidates.sort(key=plainness)
    kept: list[Layout] = []
    for i, lay in enumerate(candidates):
        dominated = False
        for j, other in enumerate(candidates):
            if i == j or not _dominates(model, other, lay):
                continue
            # Equal capability: keep the first in preference order only.
            if not _dominates(model, lay, other) or j < i:
                dominated = True
                break
        if not dominated:
            kept.append(lay)
    result = tuple(kept)
    _SOLVER_CACHE[id(model)] = (model, result)
    return result

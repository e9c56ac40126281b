"""The MIG rules every planner, view and export shares, on top of the catalog's data.

One home for each rule: whether a replica fits a profile, which profile is the whole GPU, how
profiles are ordered by size, how a profile multiset is written out. `validate.py` keeps its own
copy of the fit rule on purpose (it must not trust this code); everything else uses these.
See `docs/design.md` ("Placement rules").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from recommender.catalog import GpuModel, Profile
from recommender.problem import Workload

# Usable memory is an integer number of MiB and demand is GiB * 1024; the slack only absorbs
# float rounding of `memory_gb * 1024`, never a real shortfall.
MEMORY_TOLERANCE_MIB = 1e-6


def fits_demand(
    memory_gb: float, compute_slices: int, media: bool, model: GpuModel, profile: Profile
) -> bool:
    """Whether one replica needing this memory, compute and media may run on `profile`."""
    return (
        profile.memory_mib + MEMORY_TOLERANCE_MIB >= memory_gb * 1024
        and profile.compute_slices >= compute_slices
        and (not media or model.media_capable(profile))
    )


def fits(workload: Workload, model_key: str, model: GpuModel, profile: Profile) -> bool:
    """Whether one replica of `workload` may run on an instance of `profile` of `model_key`."""
    return workload.allows(model_key) and fits_demand(
        workload.memory_gb, workload.compute_slices, workload.media, model, profile
    )


def fit_key(workload: Workload) -> tuple[float, int, bool, tuple[str, ...] | None]:
    """What `fits` reads of a workload: workloads with equal keys fit exactly the same profiles."""
    return (workload.memory_gb, workload.compute_slices, workload.media, workload.gpu_models)


def full_gpu_profile(model: GpuModel) -> Profile:
    """The plain profile that takes the whole GPU (not its `+gfx` twin); the largest one if a
    catalog entry has no plain full-GPU profile."""
    plain = [p for p in model.profiles if model.is_full_gpu(p) and not p.attributes]
    if plain:
        return plain[0]
    return max(model.profiles, key=lambda p: (p.span, p.memory_mib))


def full_gpu_memory_gib(model: GpuModel) -> float:
    """Usable memory of the whole GPU as one instance: a GPU's memory capacity in summaries."""
    return max(p.memory_mib for p in model.profiles if p.span == max_span(model)) / 1024


def max_span(model: GpuModel) -> int:
    return max(p.span for p in model.profiles)


def largest_first_key(model: GpuModel, name: str) -> tuple[int, int, str]:
    """Sort key: larger span first, then more compute, then name; unknown names last.

    The one order in which plans are printed, drawn and exported (and `nvidia-smi -cgi` creates
    instances: largest first).
    """
    profile = model.profile_by_name.get(name)
    if profile is None:
        return (1, 0, name)
    return (-profile.span, -profile.compute_slices, name)


def largest_first(model: GpuModel | None, names: Iterable[str]) -> list[str]:
    """Profile names, largest first (by name only when the model is unknown)."""
    if model is None:
        return sorted(names)
    return sorted(names, key=lambda name: largest_first_key(model, name))


def layout_label(model: GpuModel | None, names: Iterable[str]) -> str:
    """A profile multiset as people read it, largest first: `3g.40gb | 2g.20gb | 1g.10gb`."""
    return " | ".join(largest_first(model, names))


def expand_multiset(counts: Mapping[str, int]) -> list[str]:
    """`{"3g.20gb": 1, "1g.5gb": 2}` -> `["3g.20gb", "1g.5gb", "1g.5gb"]` (input order kept)."""
    return [name for name, count in counts.items() for _ in range(count)]


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


def smallest_first_key(model: GpuModel, profile: Profile) -> tuple[int, int, float, int, str]:
    """Sort key for right-sizing: memory, compute, share of the GPU, plainness (all ascending)."""
    share = profile.span / model.placement_units
    return (profile.memory_mib, profile.compute_slices, share, _suffix_rank(profile), profile.name)


def carvable_for(model: GpuModel, media: bool) -> list[Profile]:
    """Profiles a greedy planner may carve for a replica, fit or not.

    Media replicas need a media-capable profile; the others take plain or `-me` profiles, so a
    media engine is never spent on a replica that does not use it. `+gfx` profiles are left to
    graphics.
    """
    if media:
        return [p for p in model.profiles if model.media_capable(p) and not p.gfx]
    return [p for p in model.profiles if not p.attributes or p.attributes == ["-me"]]

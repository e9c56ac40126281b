"""Seeded generator of realistic benchmark instances: workloads.csv and fleet.csv as text.

An instance is a fleet of exactly `gpus` GPUs in pools of A100-40GB, A100-80GB, H100-80GB,
H200-141GB, B200-180GB and a few RTX-PRO-6000-96GB, priced per GPU-hour in the range public
clouds and GPU clouds charge (two or three pools of one model at different prices once a model
has 40+ GPUs), and workloads with exactly `replicas` replicas in all, drawn from public model
sizes: embedders and rerankers (1-5 GiB), Whisper, Stable Diffusion, notebooks, 3B-14B LLMs in
fp16, 32B-72B LLMs in int4 (AWQ) and 70B-72B LLMs in fp16 (H200/B200 only). A share of the
workloads is restricted to a list of GPU models, a few need the media engines or must spread
their (at most 8) replicas over distinct GPUs, and priorities run from 1 to 3.

Sizing: a replica's *GPU share* is the smallest fraction of one GPU that can host it on the models
it may use, `max(span / units, compute slices / GPU compute slices)` of its smallest fitting
profile. Replicas are split between the workloads so that the summed shares are a fixed fraction
of the fleet (`NORMAL_SHARE`, chosen so that the cheapest plan uses roughly 60-85% of the GPUs),
or more than the fleet holds (`SHORT_SHARE`) when `capacity_short` is set, so that some
low-priority demand cannot be placed. Restricted workloads get at most `RESTRICTED_BUDGET` of the
GPUs they may use, which keeps every non-short instance placeable (see `_restricted_caps`).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recommender.catalog import GpuModel
from recommender.reading import load_catalog
from recommender.rules import fits_demand

# Summed GPU shares of all replicas as a fraction of the fleet's GPUs. The share is a lower
# bound of what a replica really takes (fragmentation, and the cheapest plan need not be the
# densest); 0.72 lands the optimum at roughly 70-80% of the GPUs. At 5 replicas per GPU (the
# issue's sizes) the summed share cannot go below 5/7 (at most seven 1g instances per GPU), so
# there the split gives the multi-slice workloads as few replicas as it can.
NORMAL_SHARE = 0.72
SHORT_SHARE = 1.3
# Restricted workloads together take at most this fraction of the GPUs of the models they allow.
RESTRICTED_BUDGET = 0.35
RESTRICTED_PROBABILITY = 0.25
# Media and spread workloads: each about 2% of the workloads, at least 1, at most 40.
SPECIAL_SHARE = 0.02
MAX_SPECIAL_WORKLOADS = 40
MAX_SPREAD_REPLICAS = 8
UNCAPPED = 10**9
# Media replicas each need a GPU's single +me instance: keep them to a quarter of the hosts.
MEDIA_BUDGET = 0.25
REPLICAS_PER_WORKLOAD = 20
MIN_WORKLOADS = 10
MAX_WORKLOADS = 2000
PRIORITY_WEIGHTS = {1: 0.55, 2: 0.30, 3: 0.15}

# Share of the fleet's GPUs per model.
MODEL_SHARES = {
    "A100-40GB": 0.14,
    "A100-80GB": 0.22,
    "H100-80GB": 0.30,
    "H200-141GB": 0.14,
    "B200-180GB": 0.14,
    "RTX-PRO-6000-96GB": 0.06,
}
# $ per GPU-hour, from GPU clouds (low end) to hyperscaler on-demand (high end), 2024-2025.
PRICE_RANGES = {
    "A100-40GB": (1.29, 4.10),
    "A100-80GB": (1.79, 5.12),
    "H100-80GB": (2.49, 9.80),
    "H200-141GB": (3.29, 10.60),
    "B200-180GB": (4.99, 14.24),
    "RTX-PRO-6000-96GB": (1.49, 3.29),
}
POOL_PREFIX = {
    "A100-40GB": "a100-40",
    "A100-80GB": "a100-80",
    "H100-80GB": "h100-80",
    "H200-141GB": "h200-141",
    "B200-180GB": "b200-180",
    "RTX-PRO-6000-96GB": "rtx6000-96",
}
REGIONS = ("us-east", "us-west", "eu-central", "ap-south")
GPUS_PER_NODE = {"RTX-PRO-6000-96GB": 4}

# Model lists that real teams pin workloads to.
HOPPER_PLUS = ("H100-80GB", "H200-141GB", "B200-180GB")
VALIDATED_80GB = ("A100-80GB", "H100-80GB")
BIG_MEMORY = ("H200-141GB", "B200-180GB")
AMPERE = ("A100-40GB", "A100-80GB")
H100_ONLY = ("H100-80GB",)
RTX_OR_H100 = ("RTX-PRO-6000-96GB", "H100-80GB")
RESTRICTIONS = (HOPPER_PLUS, VALIDATED_80GB, BIG_MEMORY, AMPERE, H100_ONLY, RTX_OR_H100)

WORKLOAD_COLUMNS = (
    "name",
    "memory_gb",
    "compute_slices",
    "replicas",
    "gpu_models",
    "priority",
    "media",
    "spread",
)
FLEET_COLUMNS = ("pool", "gpu_model", "gpus", "cost_per_hour", "gpus_per_node")


@dataclass(frozen=True)
class Archetype:
    """A public model as a workload: memory per replica (weights + cache), compute slices."""

    name: str
    memory_gb: tuple[float, float]  # drawn uniformly, rounded to 0.5 GiB
    compute_slices: int
    weight: float  # how often it is drawn
    media: bool = False
    always_restricted_to: tuple[str, ...] | None = None


ARCHETYPES: tuple[Archetype, ...] = (
    # Embedders and rerankers.
    Archetype("bge-small-en-v1.5", (1.0, 1.5), 1, 4),
    Archetype("bge-base-en-v1.5", (1.5, 2.0), 1, 4),
    Archetype("bge-large-en-v1.5", (2.5, 3.0), 1, 4),
    Archetype("e5-large-v2", (2.5, 3.0), 1, 3),
    Archetype("multilingual-e5-large", (3.0, 3.5), 1, 3),
    Archetype("ms-marco-minilm-l6-reranker", (1.0, 1.0), 1, 2),
    Archetype("bge-reranker-base", (2.0, 3.0), 1, 3),
    Archetype("bge-reranker-v2-m3", (3.5, 4.5), 1, 3),
    # Speech and vision.
    Archetype("whisper-small", (2.5, 3.0), 1, 2),
    Archetype("whisper-medium", (5.0, 6.0), 1, 2),
    Archetype("whisper-large-v3", (9.0, 10.0), 1, 3),
    Archetype("clip-vit-large", (2.0, 3.0), 1, 2),
    Archetype("stable-diffusion-1.5", (5.0, 7.0), 1, 2),
    Archetype("sdxl-base-1.0", (10.0, 12.0), 2, 3),
    # Notebooks.
    Archetype("jupyter-small", (4.0, 4.0), 1, 3),
    Archetype("jupyter-medium", (9.0, 9.0), 1, 3),
    Archetype("jupyter-large", (19.0, 19.0), 2, 2),
    # LLMs in fp16.
    Archetype("llama-3.2-3b-instruct", (8.0, 9.0), 1, 3),
    Archetype("llama-3.1-8b-instruct", (18.0, 20.0), 2, 5),
    Archetype("mistral-7b-instruct-v0.3", (17.0, 19.0), 2, 4),
    Archetype("qwen2.5-7b-instruct", (18.0, 20.0), 3, 3),
    Archetype("gemma-2-9b-it", (21.0, 23.0), 3, 2),
    Archetype("llama-2-13b-chat", (28.0, 30.0), 3, 2),
    Archetype("qwen2.5-14b-instruct", (31.0, 34.0), 4, 2),
    # LLMs in int4 (AWQ) and fp8.
    Archetype("llama-3.1-8b-instruct-awq", (6.5, 8.0), 1, 3),
    Archetype("mistral-7b-instruct-v0.3-awq", (6.0, 7.5), 1, 2),
    Archetype("qwen2.5-7b-instruct-fp8", (10.0, 12.0), 1, 2),
    Archetype("qwen2.5-32b-instruct-awq", (20.0, 24.0), 3, 2),
    Archetype("mixtral-8x7b-instruct-awq", (25.0, 27.0), 3, 1),
    Archetype("llama-3.1-70b-instruct-awq", (37.0, 39.0), 4, 2),
    Archetype("qwen2.5-72b-instruct-awq", (40.0, 43.0), 4, 1),
    # 70B-class fp16: a whole H200 (139.75 GiB usable) or B200.
    Archetype("llama-3.1-70b-instruct", (138.0, 139.5), 7, 0.6, always_restricted_to=BIG_MEMORY),
    Archetype("qwen2.5-72b-instruct", (145.0, 150.0), 7, 0.4, always_restricted_to=BIG_MEMORY),
    # Media engines (NVDEC/NVJPG): one +me instance per GPU.
    Archetype("video-analytics-deepstream", (3.0, 4.0), 1, 1, media=True),
    Archetype("document-ocr-nvjpeg", (6.0, 8.0), 1, 1, media=True),
)
MEDIA_ARCHETYPES = tuple(a for a in ARCHETYPES if a.media)
PLAIN_ARCHETYPES = tuple(a for a in ARCHETYPES if not a.media)


@dataclass(frozen=True)
class GeneratedPool:
    pool: str
    gpu_model: str
    gpus: int
    cost_per_hour: float
    gpus_per_node: int


@dataclass
class GeneratedWorkload:
    """A workload being drawn; `replicas` is set by `_split_replicas`."""

    name: str
    memory_gb: float
    compute_slices: int
    gpu_models: tuple[str, ...] | None
    priority: int
    media: bool
    spread: bool
    weight: float  # relative demand, before calibration
    share: float  # GPU share of one replica on the best model it may use
    cap: int  # most replicas it may get
    replicas: int = 1


def generate_instance(
    gpus: int, replicas: int, seed: int, capacity_short: bool = False
) -> tuple[str, str]:
    """workloads.csv and fleet.csv text of one instance; the same arguments give the same text."""
    if gpus < 1 or replicas < MIN_WORKLOADS:
        raise ValueError(f"need gpus >= 1 and replicas >= {MIN_WORKLOADS}")
    catalog = load_catalog()
    rng = random.Random(f"mig-benchmark:{seed}:{gpus}:{replicas}:{capacity_short}")
    pools = _fleet(gpus, rng)
    present = {p.gpu_model: catalog.model(p.gpu_model) for p in pools}
    gpus_by_model = {m: sum(p.gpus for p in pools if p.gpu_model == m) for m in present}
    workloads = _workloads(workload_count(replicas), present, gpus_by_model, rng)
    share = SHORT_SHARE if capacity_short else NORMAL_SHARE
    _split_replicas(workloads, replicas, share * gpus)
    return _workloads_csv(workloads), _fleet_csv(pools)


def write_instance(
    directory: Path, gpus: int, replicas: int, seed: int, capacity_short: bool = False
) -> tuple[Path, Path]:
    """Write workloads.csv and fleet.csv of one instance into `directory`; return their paths."""
    workloads_text, fleet_text = generate_instance(gpus, replicas, seed, capacity_short)
    directory.mkdir(parents=True, exist_ok=True)
    workloads_path, fleet_path = directory / "workloads.csv", directory / "fleet.csv"
    workloads_path.write_text(workloads_text, encoding="utf-8")
    fleet_path.write_text(fleet_text, encoding="utf-8")
    return workloads_path, fleet_path


def workload_count(replicas: int) -> int:
    """About one workload per 20 replicas, at least 10, at most 2,000."""
    return max(MIN_WORKLOADS, min(MAX_WORKLOADS, round(replicas / REPLICAS_PER_WORKLOAD)))


# --- fleet -------------------------------------------------------------------------------------


def _fleet(gpus: int, rng: random.Random) -> list[GeneratedPool]:
    pools: list[GeneratedPool] = []
    for model, count in _gpus_per_model(gpus).items():
        if count == 0:
            continue
        sizes = _pool_sizes(count, rng)
        low, high = PRICE_RANGES[model]
        # One price per pool from distinct slices of the range, so pools of a model differ.
        slots = list(range(len(sizes)))
        rng.shuffle(slots)
        regions = rng.sample(REGIONS, len(sizes))
        for size, slot, region in zip(sizes, slots, regions, strict=True):
            fraction = (slot + rng.uniform(0.1, 0.9)) / len(sizes)
            pools.append(
                GeneratedPool(
                    pool=f"{POOL_PREFIX[model]}-{region}",
                    gpu_model=model,
                    gpus=size,
                    cost_per_hour=round(low + (high - low) * fraction, 2),
                    gpus_per_node=GPUS_PER_NODE.get(model, 8),
                )
            )
    return pools


def _gpus_per_model(gpus: int) -> dict[str, int]:
    """Exactly `gpus` GPUs split by MODEL_SHARES; every model gets one when there are enough."""
    counts = _largest_remainder(gpus, list(MODEL_SHARES.values()))
    by_model = dict(zip(MODEL_SHARES, counts, strict=True))
    if gpus >= len(MODEL_SHARES):
        for model in MODEL_SHARES:
            if by_model[model] == 0:
                donor = max(by_model, key=lambda m: by_model[m])
                by_model[donor] -= 1
                by_model[model] = 1
    return by_model


def _pool_sizes(count: int, rng: random.Random) -> list[int]:
    """A model's GPUs split into 1 pool (< 40 GPUs), 2 (< 4,000) or 3 pools."""
    pools = 1 if count < 40 else 2 if count < 4000 else 3
    weights = [rng.uniform(0.6, 1.4) for _ in range(pools)]
    return _largest_remainder(count, weights)


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Integers proportional to `weights` that sum to exactly `total`."""
    scale = sum(weights)
    exact = [total * w / scale for w in weights]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


# --- workloads ---------------------------------------------------------------------------------


def gpu_share(
    memory_gb: float, compute_slices: int, media: bool, models: dict[str, GpuModel]
) -> float | None:
    """Smallest fraction of one GPU that hosts a replica on any of `models` (None: none fits)."""
    shares = [
        max(p.span / model.placement_units, p.compute_slices / model.compute_slices)
        for model in models.values()
        for p in model.profiles
        if fits_demand(memory_gb, compute_slices, media, model, p)
    ]
    return min(shares) if shares else None


def _workloads(
    count: int,
    present: dict[str, GpuModel],
    gpus_by_model: dict[str, int],
    rng: random.Random,
) -> list[GeneratedWorkload]:
    media_count, spread_count = _special_count(count), _special_count(count)
    workloads = [
        _draw_workload(
            index, MEDIA_ARCHETYPES if index < media_count else PLAIN_ARCHETYPES, present, rng
        )
        for index in range(count)
    ]
    rng.shuffle(workloads)
    _choose_spread(workloads, spread_count, present, gpus_by_model, rng)
    _restricted_caps(workloads, gpus_by_model)
    _media_caps(workloads, present, gpus_by_model)
    return workloads


def _special_count(count: int) -> int:
    """How many media (and how many spread) workloads: about 2%, at least 1, at most 40."""
    return max(1, min(MAX_SPECIAL_WORKLOADS, round(count * SPECIAL_SHARE)))


def _draw_workload(
    index: int, archetypes: Sequence[Archetype], present: dict[str, GpuModel], rng: random.Random
) -> GeneratedWorkload:
    while True:
        arch = rng.choices(archetypes, weights=[a.weight for a in archetypes])[0]
        memory = round(rng.uniform(*arch.memory_gb) * 2) / 2
        models = _allowed_models(arch, memory, present, rng)
        if models is None:
            continue  # fits no GPU of this fleet (e.g. 70B fp16 without H200/B200): draw again
        allowed = {m: present[m] for m in (models or present)}
        share = gpu_share(memory, arch.compute_slices, arch.media, allowed)
        if share is None:
            continue
        priority = rng.choices(list(PRIORITY_WEIGHTS), weights=list(PRIORITY_WEIGHTS.values()))[0]
        return GeneratedWorkload(
            name=f"{arch.name}-{index:04d}",
            memory_gb=memory,
            compute_slices=arch.compute_slices,
            gpu_models=models or None,
            priority=priority,
            media=arch.media,
            spread=False,
            # Heavy-tailed demand: a few services take most replicas.
            weight=rng.lognormvariate(0.0, 1.0),
            share=share,
            cap=UNCAPPED,
        )


def _allowed_models(
    arch: Archetype, memory: float, present: dict[str, GpuModel], rng: random.Random
) -> tuple[str, ...] | None:
    """The workload's gpu_models: () for any model, None when nothing in the fleet fits."""

    def usable(models: Sequence[str]) -> tuple[str, ...]:
        kept = tuple(m for m in models if m in present)
        subset = {m: present[m] for m in kept}
        return kept if gpu_share(memory, arch.compute_slices, arch.media, subset) else ()

    if arch.always_restricted_to is not None:
        return usable(arch.always_restricted_to) or None
    if rng.random() < RESTRICTED_PROBABILITY:
        options = [r for r in (usable(r) for r in RESTRICTIONS) if r]
        if options:
            return rng.choice(options)
    if gpu_share(memory, arch.compute_slices, arch.media, present) is None:
        return None
    return ()


def _choose_spread(
    workloads: list[GeneratedWorkload],
    count: int,
    present: dict[str, GpuModel],
    gpus_by_model: dict[str, int],
    rng: random.Random,
) -> None:
    """Mark `count` non-media workloads spread; each gets at most 8 replicas (and its hosts)."""
    candidates = [w for w in workloads if not w.media]
    for w in rng.sample(candidates, min(count, len(candidates))):
        hosts = sum(gpus_by_model[m] for m in (w.gpu_models or present))
        if hosts >= 2:
            w.spread = True
            w.cap = min(MAX_SPREAD_REPLICAS, hosts)


def _restricted_caps(workloads: list[GeneratedWorkload], gpus_by_model: dict[str, int]) -> None:
    """Cap restricted workloads so that, together, they need at most RESTRICTED_BUDGET of the GPUs
    of the models they allow.

    Workload i with allowed set S_i gets at most `budget * gpus(S_i) / (share_i * n_i)` replicas,
    n_i = restricted workloads whose set meets S_i. For any union U of sets, the demand of the
    workloads inside U is then at most `budget * sum_{m in U} gpus(m) * sum_{i ∋ m} 1 / n_i`, and
    every i containing m meets all the others containing m, so the inner sum is at most 1: the
    restricted demand fits in `budget * gpus(U)`, leaving the rest of U for everything else.
    """
    restricted = [w for w in workloads if w.gpu_models]
    for w in restricted:
        allowed = set(w.gpu_models or ())
        meeting = sum(1 for other in restricted if allowed.intersection(other.gpu_models or ()))
        gpus = sum(gpus_by_model[m] for m in allowed)
        w.cap = min(w.cap, max(1, math.floor(RESTRICTED_BUDGET * gpus / (w.share * meeting))))


def _media_caps(
    workloads: list[GeneratedWorkload],
    present: dict[str, GpuModel],
    gpus_by_model: dict[str, int],
) -> None:
    """Media replicas together use at most MEDIA_BUDGET of the GPUs (one +me instance each)."""
    media = [w for w in workloads if w.media]
    for w in media:
        hosts = sum(gpus_by_model[m] for m in (w.gpu_models or present))
        w.cap = min(w.cap, max(1, math.floor(MEDIA_BUDGET * hosts / len(media))))


def _split_replicas(workloads: list[GeneratedWorkload], total: int, target_share: float) -> None:
    """Give every workload >= 1 replica, `total` in all, with summed GPU shares near the target.

    Workloads that fit a 1g instance somewhere ("small") and the rest ("large") split the total;
    moving a replica from small to large raises the summed share, so a bisection on the large
    group's replicas finds the split closest to the target.
    """
    small_limit = min(w.share for w in workloads) + 1e-9
    small = [w for w in workloads if w.share <= small_limit]
    large = [w for w in workloads if w.share > small_limit]
    low = len(large)
    high = min(total - len(small), sum(min(w.cap, total) for w in large))
    if high < low:  # caps leave no room: the small group absorbs the rest
        high = low

    def demand(large_replicas: int) -> float:
        _fill(large, large_replicas)
        _fill(small, total - large_replicas)
        return sum(w.share * w.replicas for w in workloads)

    while low < high:
        middle = (low + high + 1) // 2
        if demand(middle) <= target_share:
            low = middle
        else:
            high = middle - 1
    demand(low)


def _fill(group: list[GeneratedWorkload], total: int) -> None:
    """Replicas in proportion to weight, at least 1 and at most cap each, `total` in all.

    Workloads over their cap are fixed at the cap and the rest re-split until none is over. If
    the caps cannot take `total`, `_force_total` settles the difference.
    """
    free = list(group)
    remaining = total
    while free and remaining >= len(free):
        extra = _largest_remainder(remaining - len(free), [w.weight for w in free])
        over = [w for w, e in zip(free, extra, strict=True) if 1 + e > w.cap]
        if not over:
            for w, e in zip(free, extra, strict=True):
                w.replicas = 1 + e
            return
        for w in over:
            w.replicas = w.cap
            remaining -= w.cap
        capped = {id(w) for w in over}  # identity: equal-looking workloads are still distinct
        free = [w for w in free if id(w) not in capped]
    for w in free:
        w.replicas = 1
    _force_total(group, total)


def _force_total(group: list[GeneratedWorkload], total: int) -> None:
    """Trim the biggest workloads (down to 1) or grow the biggest non-spread one to hit `total`."""
    if not group:
        return
    surplus = sum(w.replicas for w in group) - total
    for w in sorted(group, key=lambda w: -w.replicas):
        cut = min(surplus, w.replicas - 1)
        w.replicas -= max(cut, 0)
        surplus -= max(cut, 0)
    if surplus < 0:
        biggest = max(group, key=lambda w: (not w.spread, w.replicas))
        biggest.replicas -= surplus


# --- CSV text ----------------------------------------------------------------------------------


def _workloads_csv(workloads: list[GeneratedWorkload]) -> str:
    out = io.StringIO()
    out.write(",".join(WORKLOAD_COLUMNS) + "\n")
    for w in sorted(workloads, key=lambda w: w.name):
        models = "|".join(w.gpu_models) if w.gpu_models else ""
        media, spread = str(w.media).lower(), str(w.spread).lower()
        row = f"{w.name},{w.memory_gb:g},{w.compute_slices},{w.replicas},{models},{w.priority}"
        out.write(f"{row},{media},{spread}\n")
    return out.getvalue()


def _fleet_csv(pools: list[GeneratedPool]) -> str:
    out = io.StringIO()
    out.write(",".join(FLEET_COLUMNS) + "\n")
    for p in pools:
        out.write(f"{p.pool},{p.gpu_model},{p.gpus},{p.cost_per_hour:.2f},{p.gpus_per_node}\n")
    return out.getvalue()

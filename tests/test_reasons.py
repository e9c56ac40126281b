"""Reasons for unplaced replicas: one vocabulary, whichever planner left a replica out."""

from __future__ import annotations

import pytest

from recommender.baselines import BASELINES
from recommender.catalog import Catalog
from recommender.pergpu import solve_per_gpu
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_catalog
from recommender.reasons import (
    MEDIA_PROFILES_TAKEN,
    capacity_reason,
    gib,
    pool_names,
    spread_blocked_reason,
    spread_short_reason,
    unfit_reason,
    unplaced_reason,
)
from recommender.solve import SolveOptions, solve

A100 = "A100-40GB"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _pool(name: str = "a100", gpus: int = 1, model: str = A100) -> Pool:
    return Pool(pool=name, gpu_model=model, gpus=gpus, cost_per_hour=4.0)


def _reason(workload: Workload, pools: tuple[Pool, ...], catalog: Catalog) -> str:
    return unplaced_reason(workload, Problem(workloads=(workload,), pools=pools), catalog)


def test_gib_has_two_decimals() -> None:
    assert gib(40448) == "39.50"
    assert gib(20096) == "19.62"
    assert gib(81152) == "79.25"
    assert gib(24576) == "24.00"


def test_pool_names_list_four_then_count_the_rest() -> None:
    pools = [_pool(f"p{i}") for i in range(6)]
    assert pool_names(pools[:4]) == "p0, p1, p2, p3"
    assert pool_names(pools) == "p0, p1, p2, p3, and 2 more"


def test_too_big_names_the_largest_profile(catalog: Catalog) -> None:
    reason = _reason(Workload(name="w", memory_gb=60), (_pool(),), catalog)
    assert reason == "needs 60 GiB; the largest allowed profile (A100-40GB 7g.40gb) has 39.50 GiB"


def test_too_big_for_media_names_the_largest_media_capable_profile(catalog: Catalog) -> None:
    reason = _reason(Workload(name="w", memory_gb=45, media=True), (_pool(),), catalog)
    assert reason == (
        "needs 45 GiB; the largest media-capable profile (A100-40GB 7g.40gb) has 39.50 GiB"
    )


def test_too_few_compute_slices_names_the_profile_with_most(catalog: Catalog) -> None:
    workload = Workload(name="w", memory_gb=4, compute_slices=7, gpu_models=("A30-24GB",))
    reason = _reason(workload, (_pool("a30", model="A30-24GB"),), catalog)
    assert reason == (
        "needs 7 compute slices; the allowed profiles with 4 GiB or more have at most 4 "
        "(A30-24GB 4g.24gb)"
    )


def test_no_pool_of_an_allowed_model(catalog: Catalog) -> None:
    workload = Workload(name="w", memory_gb=4, gpu_models=("H100-80GB", "B200-180GB"))
    assert _reason(workload, (_pool(),), catalog) == (
        "no pool of H100-80GB or B200-180GB in the fleet"
    )


def test_no_profile_of_a_kind(catalog: Catalog) -> None:
    problem = Problem(workloads=(Workload(name="w", memory_gb=4),), pools=(_pool(),))
    assert unfit_reason(problem.workloads[0], [], "all-balanced", problem) == (
        "no all-balanced profile exists on the GPU models it may use (A100-40GB)"
    )


def test_media_engines_missing_from_profiles_that_are_big_enough(catalog: Catalog) -> None:
    workload = Workload(name="w", memory_gb=4, media=True)
    problem = Problem(workloads=(workload,), pools=(_pool(),))
    plain = catalog.model(A100).profile("1g.5gb")
    assert unfit_reason(workload, [(A100, plain)], "all-balanced", problem) == (
        "needs media engines (NVDEC/NVJPG/OFA); no all-balanced profile with 4 GiB and 1g has them"
    )


def test_pools_without_gpus(catalog: Catalog) -> None:
    reason = _reason(Workload(name="w", memory_gb=4), (_pool(gpus=0),), catalog)
    assert reason == "capacity exhausted: the pools it fits (a100) have no GPUs"
    assert reason == capacity_reason([_pool(gpus=0)])


def test_spread_beyond_the_hosting_gpus(catalog: Catalog) -> None:
    workload = Workload(name="w", memory_gb=4, replicas=3, spread=True)
    reason = _reason(workload, (_pool(gpus=2),), catalog)
    assert reason == "spread needs 3 distinct GPUs; only 2 GPUs can host it (a100)"
    assert reason == spread_short_reason(workload, [_pool(gpus=2)])


def test_spread_blocked_by_siblings() -> None:
    workload = Workload(name="w", memory_gb=4, replicas=3, spread=True)
    assert spread_blocked_reason(workload, 2) == (
        "spread needs 3 distinct GPUs; it got 2, and the only room left is on GPUs already "
        "hosting one of its replicas"
    )


def test_media_and_plain_capacity(catalog: Catalog) -> None:
    pools = (_pool("a", gpus=2), _pool("b", gpus=1))
    media = Workload(name="v", memory_gb=4, replicas=9, media=True)
    assert _reason(media, pools, catalog) == MEDIA_PROFILES_TAKEN
    plain = Workload(name="w", memory_gb=4, replicas=99)
    assert _reason(plain, pools, catalog) == (
        "capacity exhausted: the 3 GPUs of the pools it fits (a, b) have no room left for it"
    )


def test_every_planner_words_the_same_cause_alike(catalog: Catalog) -> None:
    """Too big for every profile: the solver, the per-GPU model and the free-placement baseline
    say the same sentence (the whole-GPU and all-balanced ones name their own kind of profile)."""
    problem = Problem(
        workloads=(Workload(name="huge", memory_gb=50), Workload(name="ok", memory_gb=4)),
        pools=(_pool(gpus=1),),
    )
    expected = "needs 50 GiB; the largest allowed profile (A100-40GB 7g.40gb) has 39.50 GiB"
    plans = {
        "solve": solve(problem, catalog, SolveOptions(time_limit_seconds=5, workers=1)),
        "pergpu": solve_per_gpu(problem, catalog, time_limit_seconds=5).plan,
        "best-fit-decreasing": BASELINES["best-fit-decreasing"](problem, catalog),
    }
    for name, plan in plans.items():
        assert [(u.workload, u.reason) for u in plan.unplaced] == [("huge", expected)], name
    whole = BASELINES["whole-gpu"](problem, catalog)
    assert whole.unplaced[0].reason == expected.replace("allowed", "full-GPU")

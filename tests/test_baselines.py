"""Baseline planners: whole GPU, mig-parted all-balanced, best fit decreasing."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from recommender.baselines import (
    BASELINE_DISPLAY_NAMES,
    BASELINES,
    all_balanced_plan,
    best_fit_decreasing_plan,
    whole_gpu_plan,
)
from recommender.catalog import Catalog, Profile
from recommender.greedy import serving_order
from recommender.layouts import find_layout
from recommender.plan import Plan, PlanGpu
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_catalog
from recommender.reasons import ALL_BALANCED_NO_MEDIA
from recommender.rules import fits
from recommender.validate import validate_plan

A100 = "A100-40GB"
A100_80 = "A100-80GB"
RTX = "RTX-PRO-6000-96GB"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _valid(plan: Plan, problem: Problem, catalog: Catalog, name: str) -> Plan:
    """Every baseline plan: valid, feasible, bound 0, labelled, cost from the used GPUs."""
    assert validate_plan(plan, problem, catalog) == []
    assert plan.status == "feasible"
    assert plan.lower_bound_per_hour == 0.0
    assert plan.solver is not None and plan.solver.formulation == f"baseline: {name}"
    price = {p.pool: p.cost_per_hour for p in problem.pools}
    assert plan.cost_per_hour == pytest.approx(sum(price[g.pool] for g in plan.gpus))
    assert plan.summary is not None
    placed = sum(1 for g in plan.gpus for i in g.instances if i.workload is not None)
    assert plan.summary.replicas_placed == placed
    return plan


def _hosted(plan: Plan) -> Counter[str]:
    return Counter(i.workload for g in plan.gpus for i in g.instances if i.workload is not None)


def _unplaced(plan: Plan) -> dict[str, tuple[int, str]]:
    return {u.workload: (u.replicas, u.reason) for u in plan.unplaced}


def _profiles(gpu: PlanGpu) -> list[str]:
    return sorted(i.profile for i in gpu.instances)


def _one_pool(gpus: int, model: str = A100, price: float = 4.0) -> tuple[Pool, ...]:
    return (Pool(pool="only", gpu_model=model, gpus=gpus, cost_per_hour=price),)


# --- registry and shared order -----------------------------------------------------------------


def test_registry_names_every_baseline(catalog: Catalog) -> None:
    assert set(BASELINES) == {
        "whole-gpu",
        "all-balanced",
        "best-fit-decreasing",
        "biggest-instance",
        "best-per-slice",
    }
    assert set(BASELINE_DISPLAY_NAMES) == set(BASELINES)
    problem = Problem(workloads=(Workload(name="w", memory_gb=4),), pools=_one_pool(1))
    for name, planner in BASELINES.items():
        plan = _valid(planner(problem, catalog), problem, catalog, name)
        assert _hosted(plan) == {"w": 1}
        assert plan.inputs_sha256 is not None


def test_serving_order_is_priority_then_memory_then_name() -> None:
    workloads = (
        Workload(name="b-small", memory_gb=4),
        Workload(name="a-small", memory_gb=4),
        Workload(name="big", memory_gb=30),
        Workload(name="urgent-tiny", memory_gb=1, priority=5),
    )
    problem = Problem(workloads=workloads, pools=_one_pool(1))
    assert [w.name for w in serving_order(problem)] == ["urgent-tiny", "big", "a-small", "b-small"]


# --- whole GPU ---------------------------------------------------------------------------------


def test_whole_gpu_gives_every_replica_its_own_gpu_in_the_cheapest_pool(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="small", memory_gb=4, replicas=3),
            Workload(name="video", memory_gb=10, media=True),
        ),
        pools=(
            Pool(pool="pricey", gpu_model=A100, gpus=4, cost_per_hour=5.0),
            Pool(pool="cheap", gpu_model=A100, gpus=3, cost_per_hour=3.0),
        ),
    )
    plan = _valid(whole_gpu_plan(problem, catalog), problem, catalog, "whole-gpu")
    assert len(plan.gpus) == 4
    for gpu in plan.gpus:
        assert len(gpu.instances) == 1
        instance = gpu.instances[0]
        assert (instance.profile, instance.start) == ("7g.40gb", 0)
        assert instance.workload is not None
    # "small" (4 GiB) is served after "video" (10 GiB): video and two small fill the cheap pool.
    assert Counter(g.pool for g in plan.gpus) == {"cheap": 3, "pricey": 1}
    assert plan.cost_per_hour == pytest.approx(3 * 3.0 + 5.0)
    assert plan.unplaced == []


def test_whole_gpu_uses_the_plain_full_profile_not_gfx(catalog: Catalog) -> None:
    problem = Problem(workloads=(Workload(name="w", memory_gb=60),), pools=_one_pool(1, RTX))
    plan = _valid(whole_gpu_plan(problem, catalog), problem, catalog, "whole-gpu")
    assert _profiles(plan.gpus[0]) == ["4g.96gb"]


def test_whole_gpu_reports_too_big_and_capacity_short(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="huge", memory_gb=50, priority=9),
            Workload(name="vip", memory_gb=20, replicas=2, priority=3),
            Workload(name="batch", memory_gb=4, replicas=2),
            Workload(name="elsewhere", memory_gb=4, gpu_models=("H100-80GB",)),
        ),
        pools=_one_pool(3),
    )
    plan = _valid(whole_gpu_plan(problem, catalog), problem, catalog, "whole-gpu")
    assert _hosted(plan) == {"vip": 2, "batch": 1}
    unplaced = _unplaced(plan)
    assert unplaced["huge"] == (
        1,
        "needs 50 GiB; the largest full-GPU profile (A100-40GB 7g.40gb) has 39.50 GiB",
    )
    assert unplaced["batch"][0] == 1
    assert unplaced["batch"][1].startswith("capacity exhausted: the 3 GPUs of the pools it fits")
    assert "only" in unplaced["batch"][1]
    assert unplaced["elsewhere"] == (1, "no pool of H100-80GB in the fleet")


# --- all-balanced ------------------------------------------------------------------------------


def test_all_balanced_puts_four_small_jobs_on_one_a100(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="small", memory_gb=4, replicas=4),), pools=_one_pool(3)
    )
    plan = _valid(all_balanced_plan(problem, catalog), problem, catalog, "all-balanced")
    assert len(plan.gpus) == 1
    gpu = plan.gpus[0]
    assert _profiles(gpu) == ["1g.5gb", "1g.5gb", "2g.10gb", "3g.20gb"]
    # The two 1g.5gb instances fill first, then the next smallest (2g), then 3g.
    assert Counter(i.profile for i in gpu.instances if i.workload == "small") == {
        "1g.5gb": 2,
        "2g.10gb": 1,
        "3g.20gb": 1,
    }
    assert plan.cost_per_hour == pytest.approx(4.0)


def test_all_balanced_carves_the_whole_layout_and_keeps_spares(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="small", memory_gb=4, replicas=5),), pools=_one_pool(3)
    )
    plan = _valid(all_balanced_plan(problem, catalog), problem, catalog, "all-balanced")
    assert len(plan.gpus) == 2
    second = plan.gpus[1]
    assert _profiles(second) == ["1g.5gb", "1g.5gb", "2g.10gb", "3g.20gb"]
    assert sum(i.workload is None for i in second.instances) == 3
    assert plan.summary is not None and plan.summary.spare_instances == 3


def test_all_balanced_opens_the_cheapest_pool(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="small", memory_gb=4, replicas=2),),
        pools=(
            Pool(pool="pricey", gpu_model=A100, gpus=2, cost_per_hour=5.0),
            Pool(pool="cheap", gpu_model=A100, gpus=2, cost_per_hour=3.0),
        ),
    )
    plan = _valid(all_balanced_plan(problem, catalog), problem, catalog, "all-balanced")
    assert [g.pool for g in plan.gpus] == ["cheap"]


def test_all_balanced_explains_what_it_cannot_carve(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="video", memory_gb=4, media=True),
            Workload(name="big", memory_gb=30),
            Workload(name="wide", memory_gb=10, compute_slices=4),
            Workload(name="fine", memory_gb=4),
        ),
        pools=_one_pool(2),
    )
    plan = _valid(all_balanced_plan(problem, catalog), problem, catalog, "all-balanced")
    assert _hosted(plan) == {"fine": 1}
    unplaced = _unplaced(plan)
    assert unplaced["video"] == (1, ALL_BALANCED_NO_MEDIA)
    assert unplaced["big"] == (
        1,
        "needs 30 GiB; the largest all-balanced profile (A100-40GB 3g.20gb) has 19.62 GiB",
    )
    assert unplaced["wide"][1].startswith("needs 4 compute slices;")
    assert "at most 3 (A100-40GB 3g.20gb)" in unplaced["wide"][1]


# --- best fit decreasing -----------------------------------------------------------------------


def test_bfd_packs_3g_2g_1g_1g_into_one_a100(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="tiny-a", memory_gb=4),
            Workload(name="mid", memory_gb=8, compute_slices=2),
            Workload(name="large", memory_gb=15, compute_slices=3),
            Workload(name="tiny-b", memory_gb=4),
        ),
        pools=_one_pool(4),
    )
    plan = _valid(
        best_fit_decreasing_plan(problem, catalog), problem, catalog, "best-fit-decreasing"
    )
    assert len(plan.gpus) == 1
    assert _profiles(plan.gpus[0]) == ["1g.5gb", "1g.5gb", "2g.10gb", "3g.20gb"]
    assert plan.cost_per_hour == pytest.approx(4.0)
    assert plan.unplaced == []


def test_bfd_fills_the_tightest_gpu_first(catalog: Catalog) -> None:
    # Two 3g jobs spread over two GPUs leave 4 free units on each; a 2g job then goes to one of
    # them, and the 1g jobs go to that same GPU (less room left) before the other.
    problem = Problem(
        workloads=(
            Workload(name="large", memory_gb=15, compute_slices=3, replicas=2, spread=True),
            Workload(name="mid", memory_gb=8, compute_slices=2),
            Workload(name="tiny", memory_gb=4, replicas=2),
        ),
        pools=_one_pool(4),
    )
    plan = _valid(
        best_fit_decreasing_plan(problem, catalog), problem, catalog, "best-fit-decreasing"
    )
    layouts = sorted(_profiles(g) for g in plan.gpus)
    assert layouts == [["1g.5gb", "1g.5gb", "2g.10gb", "3g.20gb"], ["3g.20gb"]]


def test_bfd_opens_the_pool_with_the_cheapest_gpu_share(catalog: Catalog) -> None:
    # 18 GiB at 1g: on A100-40GB the smallest fit is 3g.20gb (half a GPU, 2.00 $/h); on
    # A100-80GB it is 1g.20gb (a quarter, 1.50 $/h), so the dearer GPU wins.
    problem = Problem(
        workloads=(Workload(name="w", memory_gb=18),),
        pools=(
            Pool(pool="a40", gpu_model=A100, gpus=2, cost_per_hour=4.0),
            Pool(pool="a80", gpu_model=A100_80, gpus=2, cost_per_hour=6.0),
        ),
    )
    plan = _valid(
        best_fit_decreasing_plan(problem, catalog), problem, catalog, "best-fit-decreasing"
    )
    assert [(g.pool, _profiles(g)) for g in plan.gpus] == [("a80", ["1g.20gb"])]


def test_bfd_uses_me_profiles_for_media_only(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="video", memory_gb=4, replicas=3, media=True),
            Workload(name="plain", memory_gb=4, replicas=4),
        ),
        pools=_one_pool(2),
    )
    plan = _valid(
        best_fit_decreasing_plan(problem, catalog), problem, catalog, "best-fit-decreasing"
    )
    by_workload: dict[str, Counter[str]] = {"video": Counter(), "plain": Counter()}
    for gpu in plan.gpus:
        for instance in gpu.instances:
            assert instance.workload is not None
            by_workload[instance.workload][instance.profile] += 1
    # One +me instance per GPU: two GPUs host two media replicas, the third cannot be placed
    # (both GPUs already carry a +me instance, so not even the full GPU is left).
    assert by_workload["video"] == {"1g.5gb+me": 2}
    assert by_workload["plain"] == {"1g.5gb": 4}
    replicas, reason = _unplaced(plan)["video"]
    assert replicas == 1 and reason.startswith("capacity exhausted")


def test_bfd_prefers_me_over_me_all_on_rtx_pro(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="video", memory_gb=20, media=True),
            Workload(name="plain", memory_gb=20, replicas=3),
        ),
        pools=_one_pool(1, RTX),
    )
    plan = _valid(
        best_fit_decreasing_plan(problem, catalog), problem, catalog, "best-fit-decreasing"
    )
    assert len(plan.gpus) == 1
    assert _profiles(plan.gpus[0]) == ["1g.24gb", "1g.24gb", "1g.24gb", "1g.24gb+me"]


def test_bfd_falls_back_to_no_me_profiles_next_to_me_all(catalog: Catalog) -> None:
    # RTX PRO has no 2g+me: a 30 GiB media job takes 2g.48gb+me.all, and beside it only -me
    # profiles are allowed, so the plain jobs get 1g.24gb-me instead of a second GPU.
    problem = Problem(
        workloads=(
            Workload(name="video", memory_gb=30, media=True, priority=2),
            Workload(name="plain", memory_gb=20, replicas=2),
        ),
        pools=_one_pool(2, RTX),
    )
    plan = _valid(
        best_fit_decreasing_plan(problem, catalog), problem, catalog, "best-fit-decreasing"
    )
    assert len(plan.gpus) == 1
    assert _profiles(plan.gpus[0]) == ["1g.24gb-me", "1g.24gb-me", "2g.48gb+me.all"]


def test_bfd_explains_too_big(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="huge", memory_gb=50),
            Workload(name="huge-video", memory_gb=45, media=True),
        ),
        pools=_one_pool(2),
    )
    plan = _valid(
        best_fit_decreasing_plan(problem, catalog), problem, catalog, "best-fit-decreasing"
    )
    assert plan.gpus == []
    assert plan.cost_per_hour == 0.0
    assert _unplaced(plan) == {
        "huge": (1, "needs 50 GiB; the largest allowed profile (A100-40GB 7g.40gb) has 39.50 GiB"),
        "huge-video": (
            1,
            "needs 45 GiB; the largest media-capable profile (A100-40GB 7g.40gb) has 39.50 GiB",
        ),
    }


# --- shared behaviour: priority under scarcity, spread -----------------------------------------


def _scarce_problem() -> Problem:
    """One A100-40GB: room for both `important` replicas, not for all of `batch` too."""
    return Problem(
        workloads=(
            Workload(name="batch", memory_gb=18, compute_slices=3, replicas=2),
            Workload(name="important", memory_gb=9, compute_slices=2, replicas=2, priority=3),
        ),
        pools=_one_pool(1),
    )


@pytest.mark.parametrize("name", ["all-balanced", "best-fit-decreasing"])
def test_capacity_short_leaves_the_low_priority_workload_out(catalog: Catalog, name: str) -> None:
    problem = _scarce_problem()
    plan = _valid(BASELINES[name](problem, catalog), problem, catalog, name)
    assert _hosted(plan)["important"] == 2
    unplaced = _unplaced(plan)
    assert set(unplaced) == {"batch"}
    missing, reason = unplaced["batch"]
    assert missing == (2 if name == "all-balanced" else 1)
    assert (
        reason
        == "capacity exhausted: the 1 GPUs of the pools it fits (only) have no room left for it"
    )


def test_whole_gpu_capacity_short_serves_priority_first(catalog: Catalog) -> None:
    problem = _scarce_problem()
    plan = _valid(whole_gpu_plan(problem, catalog), problem, catalog, "whole-gpu")
    assert _hosted(plan) == {"important": 1}
    unplaced = _unplaced(plan)
    assert unplaced["batch"][0] == 2 and unplaced["important"][0] == 1
    assert all(reason.startswith("capacity exhausted") for _, reason in unplaced.values())


def test_pool_without_gpus_is_reported_as_capacity(catalog: Catalog) -> None:
    problem = Problem(workloads=(Workload(name="w", memory_gb=4),), pools=_one_pool(0))
    for name, planner in BASELINES.items():
        plan = _valid(planner(problem, catalog), problem, catalog, name)
        assert _unplaced(plan) == {
            "w": (1, "capacity exhausted: the pools it fits (only) have no GPUs")
        }


@pytest.mark.parametrize("name", ["all-balanced", "best-fit-decreasing"])
def test_spread_replicas_take_distinct_gpus(catalog: Catalog, name: str) -> None:
    packed = Problem(workloads=(Workload(name="s", memory_gb=4, replicas=3),), pools=_one_pool(4))
    spread = Problem(
        workloads=(Workload(name="s", memory_gb=4, replicas=3, spread=True),), pools=_one_pool(4)
    )
    assert len(_valid(BASELINES[name](packed, catalog), packed, catalog, name).gpus) == 1
    plan = _valid(BASELINES[name](spread, catalog), spread, catalog, name)
    assert len(plan.gpus) == 3
    assert all(sum(i.workload == "s" for i in g.instances) == 1 for g in plan.gpus)


@pytest.mark.parametrize("name", ["all-balanced", "best-fit-decreasing"])
def test_spread_short_of_gpus_says_so(catalog: Catalog, name: str) -> None:
    problem = Problem(
        workloads=(Workload(name="s", memory_gb=4, replicas=3, spread=True),), pools=_one_pool(2)
    )
    plan = _valid(BASELINES[name](problem, catalog), problem, catalog, name)
    assert _hosted(plan) == {"s": 2}
    assert _unplaced(plan)["s"] == (
        1,
        "spread needs 3 distinct GPUs; it got 2, and the only room left is on GPUs already "
        "hosting one of its replicas",
    )


def test_spread_other_workloads_still_share_its_gpus(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="s", memory_gb=8, compute_slices=2, replicas=2, spread=True),
            Workload(name="t", memory_gb=4, replicas=6),
        ),
        pools=_one_pool(4),
    )
    plan = _valid(
        best_fit_decreasing_plan(problem, catalog), problem, catalog, "best-fit-decreasing"
    )
    assert len(plan.gpus) == 2
    assert plan.unplaced == []


# --- invariants on random problems -------------------------------------------------------------


def _random_problem(seed: int, gpus: int, replicas: int) -> Problem:
    rng = random.Random(seed)
    models = [A100, A100_80, "H100-80GB", "A30-24GB", RTX]
    pools = tuple(
        Pool(
            pool=f"p{i}-{m}",
            gpu_model=m,
            gpus=gpus // len(models),
            cost_per_hour=rng.choice([2, 3.5, 5]),
        )
        for i, m in enumerate(models)
    )
    workloads: list[Workload] = []
    total = 0
    while total < replicas:
        count = min(rng.choice([1, 2, 3, 5, 12]), replicas - total)
        workloads.append(
            Workload(
                name=f"w{len(workloads)}",
                memory_gb=rng.choice([1.5, 3, 4, 4.5, 6, 9, 12, 18, 19.5, 30, 45, 70, 100]),
                compute_slices=rng.choice([1, 1, 1, 2, 3, 4]),
                replicas=count,
                priority=rng.choice([1, 1, 2, 3]),
                media=rng.random() < 0.1,
                spread=rng.random() < 0.25,
                gpu_models=rng.choice([None, None, (A100, A100_80), (RTX,)]),
            )
        )
        total += count
    return Problem(workloads=tuple(workloads), pools=pools)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bfd_leaves_nothing_out_that_a_used_gpu_could_take(catalog: Catalog, seed: int) -> None:
    """Greedy means: an unplaced replica fits neither a used GPU's free room nor an unused GPU."""
    problem = _random_problem(seed, gpus=40, replicas=120)
    plan = _valid(
        best_fit_decreasing_plan(problem, catalog), problem, catalog, "best-fit-decreasing"
    )
    assert plan.unplaced  # the fleet is short, so the check below has something to check
    workloads = {w.name: w for w in problem.workloads}
    used = Counter(g.pool for g in plan.gpus)
    for entry in plan.unplaced:
        workload = workloads[entry.workload]
        for pool in problem.pools:
            model = catalog.model(pool.gpu_model)
            if used[pool.pool] < pool.gpus:
                assert not any(
                    _may_carve(workload, pool.gpu_model, p, catalog) for p in model.profiles
                )
        for gpu in plan.gpus:
            if workload.spread and any(i.workload == workload.name for i in gpu.instances):
                continue
            model = catalog.model(gpu.gpu_model)
            carved = [i.profile for i in gpu.instances]
            for profile in model.profiles:
                if _may_carve(workload, gpu.gpu_model, profile, catalog):
                    assert find_layout(model, [*carved, profile.name]) is None, (
                        f"{workload.name} fits {profile.name} on {gpu.pool}#{gpu.index}"
                    )


def _may_carve(workload: Workload, model_key: str, profile: Profile, catalog: Catalog) -> bool:
    """A profile best fit decreasing may carve for this workload: fits, no +gfx, and media
    engines only for media workloads."""
    if profile.gfx or (not workload.media and (profile.has_me or profile.has_me_all)):
        return False
    return fits(workload, model_key, catalog.model(model_key), profile)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_all_balanced_leaves_no_fitting_spare(catalog: Catalog, seed: int) -> None:
    problem = _random_problem(seed, gpus=40, replicas=120)
    plan = _valid(all_balanced_plan(problem, catalog), problem, catalog, "all-balanced")
    assert plan.unplaced and plan.summary is not None and plan.summary.spare_instances > 0
    workloads = {w.name: w for w in problem.workloads}
    for gpu in plan.gpus:
        model = catalog.model(gpu.gpu_model)
        expected = sorted(n for n, c in model.all_balanced.items() for _ in range(c))
        assert _profiles(gpu) == expected
        hosts = {i.workload for i in gpu.instances}
        for spare in (i for i in gpu.instances if i.workload is None):
            for entry in plan.unplaced:
                workload = workloads[entry.workload]
                if workload.spread and workload.name in hosts:
                    continue
                assert not fits(workload, gpu.gpu_model, model, model.profile(spare.profile))


@pytest.mark.parametrize("seed", [1, 2])
def test_random_problems_give_valid_plans_for_every_baseline(catalog: Catalog, seed: int) -> None:
    problem = _random_problem(seed, gpus=40, replicas=400)
    for name, planner in BASELINES.items():
        plan = _valid(planner(problem, catalog), problem, catalog, name)
        placed = sum(_hosted(plan).values())
        assert placed + sum(u.replicas for u in plan.unplaced) == problem.total_replicas
        assert all(u.reason for u in plan.unplaced)


def test_scale_smoke_2000_gpus_10000_replicas(catalog: Catalog) -> None:
    problem = _random_problem(7, gpus=2000, replicas=10_000)
    for name, planner in BASELINES.items():
        plan = _valid(planner(problem, catalog), problem, catalog, name)
        assert plan.gpus
        assert sum(_hosted(plan).values()) > 0

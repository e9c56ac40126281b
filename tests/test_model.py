"""The layout-count model and the solve pipeline on small, hand-checked instances."""

from __future__ import annotations

import pytest
from ortools.sat.python import cp_model

from recommender.catalog import Catalog
from recommender.formulation import build_formulation
from recommender.model import LayoutCountModel, run_stage
from recommender.plan import Plan
from recommender.problem import Pool, Problem, Workload
from recommender.solve import SolveOptions, solve
from tests.conftest import assert_valid

FAST = SolveOptions(time_limit_seconds=10, workers=2, seed=1)


def a100_pool(gpus: int, price: float = 2.0, name: str = "a100") -> Pool:
    return Pool(pool=name, gpu_model="A100-40GB", gpus=gpus, cost_per_hour=price)


# Memory that needs exactly a given A100-40GB profile: 3g.20gb = 19.62 GiB, 2g.10gb = 9.75 GiB,
# 1g.5gb = 4.75 GiB usable.
THREE_G = {"memory_gb": 15.0, "compute_slices": 3}
TWO_G = {"memory_gb": 8.0, "compute_slices": 2}
ONE_G = {"memory_gb": 4.0, "compute_slices": 1}


def solved(problem: Problem, catalog: Catalog, options: SolveOptions = FAST) -> Plan:
    plan = solve(problem, catalog, options)
    assert_valid(plan, problem, catalog)
    return plan


def test_3g_2g_1g_1g_fit_one_a100_40gb(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="big", **THREE_G),
            Workload(name="mid", **TWO_G),
            Workload(name="small", replicas=2, **ONE_G),
        ),
        pools=(a100_pool(3, price=2.5),),
    )
    plan = solved(problem, catalog)
    assert plan.status == "optimal"
    assert plan.cost_per_hour == pytest.approx(2.5)
    assert plan.lower_bound_per_hour == pytest.approx(2.5)
    assert len(plan.gpus) == 1
    assert plan.unplaced == []


def test_3g_3g_1g_need_two_a100_40gb(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="big", replicas=2, **THREE_G), Workload(name="small", **ONE_G)),
        pools=(a100_pool(3, price=2.5),),
    )
    plan = solved(problem, catalog)
    assert plan.status == "optimal"
    assert len(plan.gpus) == 2
    assert plan.cost_per_hour == pytest.approx(5.0)


def test_priorities_decide_what_is_left_out(catalog: Catalog) -> None:
    # One GPU holds two 3g instances; three 3g replicas are asked for.
    problem = Problem(
        workloads=(
            Workload(name="batch", priority=1, **THREE_G),
            Workload(name="prod", priority=5, replicas=2, **THREE_G),
        ),
        pools=(a100_pool(1),),
    )
    plan = solved(problem, catalog)
    assert [(u.workload, u.replicas) for u in plan.unplaced] == [("batch", 1)]
    assert "capacity exhausted" in plan.unplaced[0].reason
    hosted = {i.workload for g in plan.gpus for i in g.instances}
    assert hosted == {"prod"}


def test_cheaper_pool_wins_and_counts_are_exact(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="llm", replicas=4, memory_gb=30, compute_slices=3),),
        pools=(
            Pool(pool="h100", gpu_model="H100-80GB", gpus=4, cost_per_hour=10.0),
            Pool(pool="a100", gpu_model="A100-80GB", gpus=4, cost_per_hour=4.0),
        ),
    )
    plan = solved(problem, catalog)
    # 3g.40gb holds 30 GiB; two per GPU on either model: 2 GPUs of the cheaper pool.
    assert {g.pool for g in plan.gpus} == {"a100"}
    assert plan.cost_per_hour == pytest.approx(8.0)


def test_spread_replicas_land_on_distinct_gpus(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="ha", replicas=3, spread=True, **ONE_G),),
        pools=(a100_pool(4),),
    )
    plan = solved(problem, catalog)
    gpus = [(g.pool, g.index) for g in plan.gpus for i in g.instances if i.workload == "ha"]
    assert len(gpus) == len(set(gpus)) == 3


def test_spread_constraint_group_is_what_keeps_replicas_apart(catalog: Catalog) -> None:
    """Without add_spread_limits the cheapest plan stacks the replicas on one GPU."""
    problem = Problem(
        workloads=(Workload(name="ha", replicas=3, spread=True, **ONE_G),),
        pools=(a100_pool(4),),
    )
    f = build_formulation(problem, catalog)

    def gpus_needed(with_spread: bool) -> int:
        lcm = LayoutCountModel(f)
        lcm.add_pool_sizes()
        lcm.add_instance_capacity()
        lcm.add_demand_balance()
        if with_spread:
            lcm.add_spread_limits()
        lcm.model.add(lcm.shortfall() == 0)
        lcm.model.minimize(lcm.cost())
        result = run_stage(lcm, 5, 1, 0)
        assert result.status == "optimal"
        return sum(result.solution.gpus_with.values())

    assert gpus_needed(with_spread=False) == 1
    assert gpus_needed(with_spread=True) == 3


def test_pool_size_group_limits_carved_gpus(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="w", replicas=20, **THREE_G),), pools=(a100_pool(3),)
    )
    lcm = LayoutCountModel(build_formulation(problem, catalog))
    lcm.add_all_constraints()
    lcm.model.minimize(lcm.shortfall())
    result = run_stage(lcm, 5, 1, 0)
    assert sum(result.solution.gpus_with.values()) <= 3
    assert result.solution.unplaced[0] == 20 - 6  # two 3g per GPU


def test_media_workload_gets_a_media_profile(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="video", media=True, replicas=2, **ONE_G),
            Workload(name="x", **ONE_G),
        ),
        pools=(a100_pool(2),),
    )
    plan = solved(problem, catalog)
    profiles = {i.profile for g in plan.gpus for i in g.instances if i.workload == "video"}
    assert profiles <= {"1g.5gb+me", "7g.40gb"}
    # Plain replicas do not keep a +me profile they do not need.
    assert all(
        i.profile != "1g.5gb+me" for g in plan.gpus for i in g.instances if i.workload != "video"
    )


def test_rtx_pro_layouts_are_simplified_without_media(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="w", replicas=2, memory_gb=40, compute_slices=2),),
        pools=(Pool(pool="rtx", gpu_model="RTX-PRO-6000-96GB", gpus=1, cost_per_hour=1.0),),
    )
    plan = solved(problem, catalog)
    assert sorted(i.profile for i in plan.gpus[0].instances) == ["2g.48gb", "2g.48gb"]
    assert sorted(i.start for i in plan.gpus[0].instances) == [0, 6]


@pytest.mark.parametrize(
    ("workload", "pools", "fragment"),
    [
        (
            Workload(name="huge", memory_gb=60),
            (a100_pool(2),),
            "largest allowed profile (A100-40GB 7g.40gb) has 39.50 GiB",
        ),
        (
            Workload(
                name="wide", memory_gb=4, compute_slices=7, media=True, gpu_models=("A30-24GB",)
            ),
            (Pool(pool="a30", gpu_model="A30-24GB", gpus=1, cost_per_hour=1),),
            "needs 7 compute slices",
        ),
        (
            Workload(name="ha", replicas=3, spread=True, **ONE_G),
            (a100_pool(2),),
            "spread needs 3 distinct GPUs",
        ),
        (Workload(name="w", **ONE_G), (a100_pool(0),), "the pools it fits (a100) have no GPUs"),
    ],
)
def test_unplaced_reasons_are_specific(
    catalog: Catalog, workload: Workload, pools: tuple[Pool, ...], fragment: str
) -> None:
    problem = Problem(workloads=(workload,), pools=pools)
    plan = solved(problem, catalog)
    assert len(plan.unplaced) == 1
    assert fragment in plan.unplaced[0].reason


def test_media_profiles_taken_reason(catalog: Catalog) -> None:
    # One GPU has one +me instance; the second media replica finds none (7g would be a
    # whole GPU but the other GPU is not there).
    problem = Problem(
        workloads=(Workload(name="video", media=True, replicas=2, **ONE_G),), pools=(a100_pool(1),)
    )
    plan = solved(problem, catalog)
    assert plan.unplaced[0].replicas == 1
    assert "media-capable profiles are all taken" in plan.unplaced[0].reason


def test_no_spare_instances_option(catalog: Catalog) -> None:
    problem = Problem(workloads=(Workload(name="w", **THREE_G),), pools=(a100_pool(1),))
    plan = solved(problem, catalog, SolveOptions(time_limit_seconds=5, spare_instances=False))
    assert [i.workload for g in plan.gpus for i in g.instances] == ["w"]
    with_spares = solved(problem, catalog)
    assert any(i.workload is None for g in with_spares.gpus for i in g.instances)
    assert with_spares.cost_per_hour == plan.cost_per_hour


def test_free_pool_does_not_carve_idle_gpus(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="w", **ONE_G),),
        pools=(Pool(pool="free", gpu_model="A100-40GB", gpus=5, cost_per_hour=0.0),),
    )
    plan = solved(problem, catalog)
    assert len(plan.gpus) == 1
    assert plan.cost_per_hour == 0


def test_time_limit_returns_best_plan_with_bound(catalog: Catalog) -> None:
    workloads = tuple(
        Workload(
            name=f"w{i}", memory_gb=3 + (i * 7) % 70, compute_slices=1 + i % 4, replicas=5 + i % 9
        )
        for i in range(40)
    )
    pools = (
        Pool(pool="a", gpu_model="A100-80GB", gpus=60, cost_per_hour=4.1),
        Pool(pool="h", gpu_model="H100-80GB", gpus=60, cost_per_hour=9.3),
        Pool(pool="b", gpu_model="B200-180GB", gpus=20, cost_per_hour=14.0),
    )
    problem = Problem(workloads=workloads, pools=pools)
    plan = solved(problem, catalog, SolveOptions(time_limit_seconds=1.0, workers=2))
    assert plan.status in ("optimal", "feasible")
    assert 0 < plan.lower_bound_per_hour <= plan.cost_per_hour
    assert plan.summary is not None and plan.summary.gap is not None and plan.summary.gap >= 0
    assert plan.solver is not None and plan.solver.wall_seconds < 30


def test_progress_reports_improving_costs(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="w", replicas=9, **TWO_G),
            Workload(name="v", replicas=3, **THREE_G),
        ),
        pools=(a100_pool(6),),
    )
    events = []
    plan = solve(problem, catalog, FAST, progress=events.append)
    assert_valid(plan, problem, catalog)
    costs = [e.cost_per_hour for e in events if e.stage == "cost" and e.cost_per_hour is not None]
    assert costs and costs[-1] == pytest.approx(plan.cost_per_hour)
    assert all(b >= a - 1e-9 for a, b in zip(costs[1:], costs[:-1], strict=True))
    assert all(e.total_replicas == 12 for e in events)


def test_empty_fleet_places_nothing(catalog: Catalog) -> None:
    problem = Problem(workloads=(Workload(name="w", **ONE_G),), pools=(a100_pool(0),))
    plan = solved(problem, catalog)
    assert plan.gpus == [] and plan.cost_per_hour == 0
    assert plan.unplaced[0].replicas == 1


def test_cp_sat_api_is_the_snake_case_one() -> None:
    # Guards against an OR-Tools downgrade that lacks the API the model uses.
    assert hasattr(cp_model.CpModel(), "new_int_var")


def test_lp_relaxation_bounds_the_sample_optimum(catalog: Catalog) -> None:
    from pathlib import Path

    from recommender.model import lp_relaxation_bound
    from recommender.reading import load_problem

    data = Path(__file__).parent.parent / "data"
    problem = load_problem(data / "workloads.csv", data / "fleet.csv", catalog)
    lcm = LayoutCountModel(build_formulation(problem, catalog))
    lcm.add_all_constraints()
    lcm.model.add(lcm.shortfall() == 0)
    lcm.model.minimize(lcm.cost())
    relaxed = lp_relaxation_bound(lcm.model)
    exact = run_stage(lcm, 10, 2, 0)
    assert exact.status == "optimal"
    assert relaxed is not None
    assert 0.9 * exact.objective <= relaxed <= exact.objective + 1e-6


def test_lp_relaxation_refuses_non_linear_models() -> None:
    from recommender.model import lp_relaxation_bound

    model = cp_model.CpModel()
    x = model.new_int_var(0, 3, "x")
    y = model.new_int_var(0, 3, "y")
    model.add_max_equality(y, [x, 1])
    model.minimize(y)
    assert lp_relaxation_bound(model) is None

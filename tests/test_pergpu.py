"""The per-GPU Boolean CP-SAT model: small fleets whose optimum is known by hand."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest
from ortools.sat.python import cp_model

from recommender.catalog import Catalog
from recommender.pergpu import PerGpuModel, PerGpuResult, greedy_solution, solve_per_gpu
from recommender.plan import PlanGpu, PlanInstance
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_catalog
from recommender.validate import validate_plan

TIME_LIMIT = 5.0  # every problem here solves in well under a second


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def pool(name: str, model: str, gpus: int, price: float) -> Pool:
    return Pool(pool=name, gpu_model=model, gpus=gpus, cost_per_hour=price)


def solve_checked(problem: Problem, catalog: Catalog) -> PerGpuResult:
    """Solve, then check the plan independently and against the result's own numbers."""
    result = solve_per_gpu(problem, catalog, time_limit_seconds=TIME_LIMIT, workers=1, seed=0)
    plan = result.plan
    assert validate_plan(plan, problem, catalog) == []
    prices = {p.pool: p.cost_per_hour for p in problem.pools}
    assert result.cost_per_hour == pytest.approx(sum(prices[g.pool] for g in plan.gpus))
    assert plan.cost_per_hour == pytest.approx(result.cost_per_hour)
    assert result.gpus_used == len(plan.gpus)
    assert plan.lower_bound_per_hour <= plan.cost_per_hour + 1e-9
    placed = {w.name: 0 for w in problem.workloads}
    for _, instance in hosted(plan.gpus):
        placed[instance.workload] += 1
    weight = sum(w.priority * placed[w.name] for w in problem.workloads)
    assert result.placed_weight == weight
    unplaced = {u.workload: u.replicas for u in plan.unplaced}
    for w in problem.workloads:
        assert placed[w.name] + unplaced.get(w.name, 0) == w.replicas
    return result


def hosted(gpus: list[PlanGpu], workload: str | None = None) -> list[tuple[PlanGpu, PlanInstance]]:
    """(GPU, instance) of every instance hosting a replica (of `workload` if given)."""
    return [
        (gpu, inst)
        for gpu in gpus
        for inst in gpu.instances
        if inst.workload is not None and (workload is None or inst.workload == workload)
    ]


def profiles_of(gpu: PlanGpu) -> list[str]:
    return sorted(inst.profile for inst in gpu.instances)


def assert_optimal(result: PerGpuResult, cost: float) -> None:
    assert result.optimal
    assert result.plan.status == "optimal"
    assert result.cost_per_hour == pytest.approx(cost)
    assert result.plan.lower_bound_per_hour == pytest.approx(cost)


# --- packing on one A100-40GB ------------------------------------------------------------------


def test_3g_2g_1g_1g_fit_one_a100_40gb(catalog: Catalog) -> None:
    # 15 GiB with 3g only fits 3g.20gb or bigger; 8 GiB with 2g needs 2g.10gb or bigger; 4 GiB
    # fits 1g.5gb. Together they fill the 8 units of one GPU exactly.
    problem = Problem(
        workloads=(
            Workload(name="big", memory_gb=15, compute_slices=3),
            Workload(name="mid", memory_gb=8, compute_slices=2),
            Workload(name="small", memory_gb=4, compute_slices=1, replicas=2),
        ),
        pools=(pool("a100", "A100-40GB", gpus=3, price=1.75),),
    )
    result = solve_checked(problem, catalog)
    assert_optimal(result, cost=1.75)
    assert result.gpus_used == 1
    assert result.placed_weight == 4
    assert result.plan.unplaced == []
    (gpu,) = result.plan.gpus
    assert (gpu.pool, gpu.index, gpu.gpu_model) == ("a100", 0, "A100-40GB")
    # No spare instance, and no +me profile for work that needs no media engines.
    assert profiles_of(gpu) == ["1g.5gb", "1g.5gb", "2g.10gb", "3g.20gb"]
    assert all(inst.workload is not None for inst in gpu.instances)
    replicas = sorted(inst.replica for _, inst in hosted(result.plan.gpus, "small"))
    assert replicas == [0, 1]


def test_3g_3g_1g_need_two_a100_40gb(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="big", memory_gb=15, compute_slices=3, replicas=2),
            Workload(name="small", memory_gb=4),
        ),
        pools=(pool("a100", "A100-40GB", gpus=4, price=2.0),),
    )
    result = solve_checked(problem, catalog)
    assert_optimal(result, cost=4.0)
    assert result.gpus_used == 2
    assert [g.index for g in result.plan.gpus] == [0, 1]  # used GPUs come first in a pool
    assert result.plan.unplaced == []


def test_max_instances_is_respected(catalog: Catalog) -> None:
    # The real A100 axis already stops at 7 instances; a variant capped at 3 shows the cap itself.
    a100 = catalog.model("A100-40GB").model_copy(update={"max_instances": 3})
    capped = catalog.model_copy(update={"models": {**catalog.models, "A100-40GB": a100}})
    problem = Problem(
        workloads=(Workload(name="small", memory_gb=4, replicas=5),),
        pools=(pool("a100", "A100-40GB", gpus=1, price=1.0),),
    )
    result = solve_checked(problem, capped)
    assert len(result.plan.gpus[0].instances) == 3
    assert [(u.workload, u.replicas) for u in result.plan.unplaced] == [("small", 2)]


# --- not everything fits -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hi_priority", "lo_priority", "placed", "left_out", "weight"),
    [
        (3, 1, "hi", ("lo", 2), 3),  # 1 replica x 3 beats 2 replicas x 1
        (1, 1, "lo", ("hi", 1), 2),  # equal priorities: more replicas win
    ],
)
def test_short_capacity_places_the_heavier_demand(
    catalog: Catalog,
    hi_priority: int,
    lo_priority: int,
    placed: str,
    left_out: tuple[str, int],
    weight: int,
) -> None:
    # One A100-40GB holds either one 30 GiB replica (7g.40gb only) or two 15 GiB replicas.
    problem = Problem(
        workloads=(
            Workload(name="lo", memory_gb=15, compute_slices=3, replicas=2, priority=lo_priority),
            Workload(name="hi", memory_gb=30, replicas=1, priority=hi_priority),
        ),
        pools=(pool("a100", "A100-40GB", gpus=1, price=1.0),),
    )
    result = solve_checked(problem, catalog)
    assert result.optimal
    assert result.placed_weight == weight
    assert {inst.workload for _, inst in hosted(result.plan.gpus)} == {placed}
    assert [(u.workload, u.replicas) for u in result.plan.unplaced] == [left_out]
    assert result.plan.unplaced[0].reason == (
        "capacity exhausted: the 1 GPUs of the pools it fits (a100) have no room left for it"
    )


def test_workload_that_fits_no_profile_is_reported(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="huge", memory_gb=50, replicas=2),),
        pools=(pool("a100", "A100-40GB", gpus=2, price=1.0),),
    )
    result = solve_checked(problem, catalog)
    assert_optimal(result, cost=0.0)
    assert result.plan.gpus == []
    assert result.placed_weight == 0
    (unplaced,) = result.plan.unplaced
    assert (unplaced.workload, unplaced.replicas) == ("huge", 2)
    assert unplaced.reason.startswith("needs 50 GiB; the largest allowed profile")
    assert "50 GiB" in unplaced.reason


# --- pools, prices and model restrictions ------------------------------------------------------


def test_cheaper_pool_is_chosen_unless_the_workload_is_restricted(catalog: Catalog) -> None:
    pools = (
        pool("dear", "A100-80GB", gpus=1, price=3.0),
        pool("cheap", "A100-40GB", gpus=1, price=2.0),
    )
    free = Problem(workloads=(Workload(name="w", memory_gb=4),), pools=pools)
    result = solve_checked(free, catalog)
    assert_optimal(result, cost=2.0)
    assert [g.pool for g in result.plan.gpus] == ["cheap"]

    pinned = Problem(
        workloads=(Workload(name="w", memory_gb=4, gpu_models=("A100-80GB",)),), pools=pools
    )
    result = solve_checked(pinned, catalog)
    assert_optimal(result, cost=3.0)
    assert [g.pool for g in result.plan.gpus] == ["dear"]


# --- media ---------------------------------------------------------------------------------------


def test_media_workload_gets_an_me_profile(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="video", memory_gb=4, media=True),
            Workload(name="text", memory_gb=4, replicas=2),
        ),
        pools=(pool("a100", "A100-40GB", gpus=2, price=1.0),),
    )
    result = solve_checked(problem, catalog)
    assert_optimal(result, cost=1.0)
    model = catalog.model("A100-40GB")
    ((_, video),) = hosted(result.plan.gpus, "video")
    assert video.profile == "1g.5gb+me"
    assert model.media_capable(model.profile(video.profile))
    assert [inst.profile for _, inst in hosted(result.plan.gpus, "text")] == ["1g.5gb", "1g.5gb"]


def test_media_workload_with_2g_gets_the_full_gpu(catalog: Catalog) -> None:
    # A100 has no 2g/3g/4g +me profile: only the full 7g.40gb owns the media engines.
    problem = Problem(
        workloads=(Workload(name="video", memory_gb=8, compute_slices=2, media=True),),
        pools=(pool("a100", "A100-40GB", gpus=1, price=1.0),),
    )
    result = solve_checked(problem, catalog)
    assert_optimal(result, cost=1.0)
    ((_, video),) = hosted(result.plan.gpus, "video")
    assert video.profile == "7g.40gb"


@pytest.mark.parametrize(("gpus", "unplaced"), [(1, [("video", 1)]), (2, [])])
def test_one_me_instance_per_gpu(
    catalog: Catalog, gpus: int, unplaced: list[tuple[str, int]]
) -> None:
    problem = Problem(
        workloads=(Workload(name="video", memory_gb=4, replicas=2, media=True),),
        pools=(pool("a100", "A100-40GB", gpus=gpus, price=1.0),),
    )
    result = solve_checked(problem, catalog)
    assert result.optimal
    assert [(u.workload, u.replicas) for u in result.plan.unplaced] == unplaced
    on_gpu = [gpu.index for gpu, _ in hosted(result.plan.gpus, "video")]
    assert len(on_gpu) == len(set(on_gpu)) == 2 - sum(n for _, n in unplaced)


# --- spread --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spread", "gpus", "gpus_used", "unplaced"),
    [
        (False, 4, 1, []),  # without spread all three share one GPU
        (True, 4, 3, []),
        (True, 2, 2, [("web", 1)]),
    ],
)
def test_spread_replicas_land_on_distinct_gpus(
    catalog: Catalog, spread: bool, gpus: int, gpus_used: int, unplaced: list[tuple[str, int]]
) -> None:
    problem = Problem(
        workloads=(Workload(name="web", memory_gb=4, replicas=3, spread=spread),),
        pools=(pool("a100", "A100-40GB", gpus=gpus, price=1.5),),
    )
    result = solve_checked(problem, catalog)
    assert_optimal(result, cost=1.5 * gpus_used)
    assert result.gpus_used == gpus_used
    assert [(u.workload, u.replicas) for u in result.plan.unplaced] == unplaced
    if spread:
        on_gpu = [gpu.index for gpu, _ in hosted(result.plan.gpus, "web")]
        assert len(on_gpu) == len(set(on_gpu))


# --- RTX PRO 6000: 12-unit axis and +me.all ------------------------------------------------------


def test_rtx_pro_6000_packs_on_its_12_unit_axis(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="two", memory_gb=40, compute_slices=2),
            Workload(name="one", memory_gb=20, replicas=2),
        ),
        pools=(pool("rtx", "RTX-PRO-6000-96GB", gpus=2, price=0.9),),
    )
    result = solve_checked(problem, catalog)
    assert_optimal(result, cost=0.9)
    (gpu,) = result.plan.gpus
    assert profiles_of(gpu) == ["1g.24gb", "1g.24gb", "2g.48gb"]
    starts = sorted(inst.start for inst in gpu.instances)
    assert starts in ([0, 3, 6], [0, 6, 9])  # 1g spans 3 units, 2g spans 6


def test_rtx_pro_6000_me_all_sits_only_next_to_no_me(catalog: Catalog) -> None:
    # 40 GiB of media work needs 2g.48gb+me.all (or the full 4g.96gb); the 1g neighbours it
    # allows on the same GPU must then be -me profiles.
    problem = Problem(
        workloads=(
            Workload(name="video", memory_gb=40, compute_slices=2, media=True),
            Workload(name="one", memory_gb=20, replicas=2),
        ),
        pools=(pool("rtx", "RTX-PRO-6000-96GB", gpus=1, price=0.9),),
    )
    result = solve_checked(problem, catalog)
    assert_optimal(result, cost=0.9)
    (gpu,) = result.plan.gpus
    assert profiles_of(gpu) == ["1g.24gb-me", "1g.24gb-me", "2g.48gb+me.all"]


# --- greedy start and time limits ----------------------------------------------------------------


def mixed_problem() -> Problem:
    """Two pools, media, spread, a pinned model and a workload that fits only the 80 GB part."""
    return Problem(
        workloads=(
            Workload(name="a", memory_gb=15, compute_slices=3, replicas=3, priority=2),
            Workload(name="b", memory_gb=8, compute_slices=2, replicas=4),
            Workload(name="c", memory_gb=4, replicas=8),
            Workload(name="d", memory_gb=4, replicas=2, media=True),
            Workload(name="e", memory_gb=30, replicas=2, spread=True),
            Workload(name="f", memory_gb=60, gpu_models=("A100-80GB",)),
        ),
        pools=(
            pool("p40", "A100-40GB", gpus=4, price=1.2),
            pool("p80", "A100-80GB", gpus=3, price=1.9),
        ),
    )


def rtx_problem() -> Problem:
    return Problem(
        workloads=(
            Workload(name="video", memory_gb=40, compute_slices=2, media=True, replicas=2),
            Workload(name="one", memory_gb=20, replicas=3),
        ),
        pools=(pool("rtx", "RTX-PRO-6000-96GB", gpus=2, price=0.9),),
    )


def hint_is_feasible(pergpu: PerGpuModel, solution: dict[int, int]) -> bool:
    """Whether CP-SAT accepts `solution` with every variable fixed to it."""
    pergpu.model.clear_hints()
    for var in pergpu.all_variables():
        pergpu.model.add_hint(var, solution[var.index])
    solver = cp_model.CpSolver()
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.max_time_in_seconds = TIME_LIMIT
    solver.parameters.num_workers = 1
    return solver.solve(pergpu.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)


@pytest.mark.parametrize("make_problem", [mixed_problem, rtx_problem])
def test_greedy_start_is_a_feasible_solution_of_the_model(
    catalog: Catalog, make_problem: Callable[[], Problem]
) -> None:
    problem = make_problem()
    pergpu = PerGpuModel(problem, catalog)
    solution = greedy_solution(pergpu)
    placed = sum(w.replicas - solution[pergpu.unplaced[w.name].index] for w in problem.workloads)
    assert placed == problem.total_replicas  # both fleets have room for everything
    assert hint_is_feasible(pergpu, solution)


@pytest.mark.parametrize(("neighbour", "feasible"), [("1g.5gb", True), ("1g.5gb+me", False)])
def test_hint_check_rejects_a_rule_breaking_start(
    catalog: Catalog, neighbour: str, feasible: bool
) -> None:
    # The check above must be able to fail: a second +me instance on a GPU breaks only that rule.
    problem = Problem(
        workloads=(Workload(name="huge", memory_gb=50),),  # fits nowhere: nothing else carved
        pools=(pool("a100", "A100-40GB", gpus=2, price=1.0),),
    )
    pergpu = PerGpuModel(problem, catalog)
    solution = greedy_solution(pergpu)
    assert solution[pergpu.unplaced["huge"].index] == 1
    for profile, start in (("1g.5gb+me", 0), (neighbour, 1)):
        solution[pergpu.x[0, profile, start].index] = 1
    solution[pergpu.used[0].index] = 1
    assert hint_is_feasible(pergpu, solution) == feasible


def test_no_time_still_returns_a_valid_plan(catalog: Catalog) -> None:
    problem = mixed_problem()
    result = solve_per_gpu(problem, catalog, time_limit_seconds=0.0)
    assert validate_plan(result.plan, problem, catalog) == []
    assert result.plan.status in ("optimal", "feasible")
    assert result.optimal == (result.plan.status == "optimal")
    assert result.plan.unplaced == []  # the greedy start alone places everything here
    assert 0 <= result.plan.lower_bound_per_hour <= result.cost_per_hour


def test_mixed_fleet_is_solved_to_optimality(catalog: Catalog) -> None:
    problem = mixed_problem()
    result = solve_checked(problem, catalog)
    assert result.optimal
    assert result.plan.unplaced == []
    assert result.placed_weight == 23
    # "f" needs an A100-80GB (60 GiB only fits 7g.80gb), so at least one p80 GPU is paid for.
    assert "p80" in {g.pool for g in result.plan.gpus}
    assert result.plan.lower_bound_per_hour == pytest.approx(result.cost_per_hour)


# --- the model stays independent of the aggregated one -------------------------------------------


def test_pergpu_does_not_import_the_layout_model() -> None:
    source = Path(__file__).parents[1] / "recommender" / "pergpu.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    forbidden = {"recommender.layouts", "recommender.model", "recommender.solve"}
    assert imported & forbidden == set()
    assert "recommender.catalog" in imported

"""Re-planning from the running fleet: stability, budgets, what may stay and what must move."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, assume, given, settings

from recommender.baselines import all_balanced_plan, best_fit_decreasing_plan
from recommender.catalog import Catalog
from recommender.exports import plan_to_csv
from recommender.plan import Plan, PlanGpu, PlanInstance
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_problem
from recommender.reading.current import load_current
from recommender.solve import SolveOptions, solve
from recommender.validate import gpu_changes, moved_by_workload
from tests.conftest import assert_valid
from tests.test_properties import fleets, workloads

SAMPLE = ("recommender/data/workloads.csv", "recommender/data/fleet.csv")
FAST = SolveOptions(time_limit_seconds=10, workers=2, seed=0)


def replan(
    problem: Problem,
    catalog: Catalog,
    current: list[PlanGpu],
    max_recarve: int | None = None,
    max_moves: int | None = None,
    **more: object,
) -> Plan:
    """Re-plan, then check the plan and its transition independently (budgets included)."""
    options = SolveOptions(
        time_limit_seconds=10,
        current=current,
        max_recarve=max_recarve,
        max_moves=max_moves,
        **more,  # type: ignore[arg-type]
    )
    plan = solve(problem, catalog, options)
    assert_valid(plan, problem, catalog, current)
    return plan


def disruption(plan: Plan, current: list[PlanGpu], problem: Problem) -> tuple[int, int]:
    """(moved replicas, re-carved GPUs) by the validator's own reading of the definitions."""
    states = Counter(gpu_changes(current, plan.gpus, problem).values())
    return sum(moved_by_workload(current, plan.gpus, problem).values()), states["re-carved"]


def placed(plan: Plan) -> Counter[str]:
    return Counter(i.workload for g in plan.gpus for i in g.instances if i.workload is not None)


@pytest.fixture(scope="module")
def sample(catalog: Catalog) -> Problem:
    return load_problem(*SAMPLE, catalog)


@pytest.fixture(scope="module")
def sample_plan(sample: Problem, catalog: Catalog) -> Plan:
    plan = solve(sample, catalog, SolveOptions(time_limit_seconds=30))
    assert plan.status == "optimal"
    return plan


# --- stability -----------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["json", "csv"])
def test_replanning_from_our_own_plan_returns_it(
    sample: Problem, sample_plan: Plan, catalog: Catalog, form: str
) -> None:
    text = sample_plan.to_json() if form == "json" else plan_to_csv(sample_plan, sample, catalog)
    current = load_current(text.encode(), sample, catalog, f"plan.{form}")
    again = replan(sample, catalog, current)
    assert again.gpus == sample_plan.gpus
    assert again.cost_per_hour == sample_plan.cost_per_hour
    assert again.status == "optimal"
    assert disruption(again, current, sample) == (0, 0)
    assert again.transition is not None
    assert (again.transition.moved_replicas, again.transition.recarved) == (0, 0)
    assert again.transition.kept == len(sample_plan.gpus)
    assert again.transition.current_cost_per_hour == pytest.approx(sample_plan.cost_per_hour)


STABILITY = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@STABILITY
@given(workloads(count=(1, 5), replicas=4), fleets(max_gpus=4))
def test_stability_on_random_instances(catalog: Catalog, work, pools) -> None:
    problem = Problem(workloads=work, pools=pools)
    plan = solve(problem, catalog, FAST)
    assume(plan.status == "optimal")
    again = replan(problem, catalog, plan.gpus)
    assert again.gpus == plan.gpus
    assert again.cost_per_hour == plan.cost_per_hour
    assert disruption(again, plan.gpus, problem) == (0, 0)


# --- budgets -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def balanced(sample: Problem, catalog: Catalog) -> list[PlanGpu]:
    """The sample fleet carved all-balanced, replicas placed first fit (some do not fit)."""
    plan = all_balanced_plan(sample, catalog)
    assert plan.unplaced
    return plan.gpus


def test_change_nothing_keeps_every_gpu_and_starts_nothing(
    sample: Problem, catalog: Catalog, balanced: list[PlanGpu]
) -> None:
    plan = replan(sample, catalog, balanced, max_recarve=0, max_moves=0)
    assert plan.gpus == balanced
    assert disruption(plan, balanced, sample) == (0, 0)
    running = Counter(i.workload for g in balanced for i in g.instances if i.workload)
    assert placed(plan) == running


@pytest.mark.parametrize(("max_recarve", "max_moves"), [(0, None), (None, 5), (2, 12), (1, 30)])
def test_budgets_are_respected(
    sample: Problem,
    catalog: Catalog,
    balanced: list[PlanGpu],
    max_recarve: int | None,
    max_moves: int | None,
) -> None:
    free = replan(sample, catalog, balanced)
    plan = replan(sample, catalog, balanced, max_recarve, max_moves)
    moved, recarved = disruption(plan, balanced, sample)
    assert max_recarve is None or recarved <= max_recarve
    assert max_moves is None or moved <= max_moves
    assert plan.transition is not None
    assert (plan.transition.max_recarve, plan.transition.max_moves) == (max_recarve, max_moves)
    # A budget can only cost money (or placed replicas), never save it.
    assert plan.summary is not None and free.summary is not None
    if plan.summary.replicas_placed == free.summary.replicas_placed:
        assert plan.cost_per_hour >= free.cost_per_hour - 1e-6


def test_a_budget_equal_to_the_free_optimums_disruption_costs_nothing(
    sample: Problem, catalog: Catalog, balanced: list[PlanGpu]
) -> None:
    free = replan(sample, catalog, balanced)
    moved, recarved = disruption(free, balanced, sample)
    assert moved > 0
    tight = replan(sample, catalog, balanced, max_recarve=recarved, max_moves=moved)
    assert tight.cost_per_hour == pytest.approx(free.cost_per_hour)
    assert disruption(tight, balanced, sample) == (moved, recarved)
    fewer = replan(sample, catalog, balanced, max_moves=moved - 1)
    assert disruption(fewer, balanced, sample)[0] <= moved - 1
    assert (fewer.summary.replicas_placed, -fewer.cost_per_hour) < (  # type: ignore[union-attr]
        free.summary.replicas_placed,  # type: ignore[union-attr]
        -free.cost_per_hour,
    )


# --- what stays, what moves ----------------------------------------------------------------------

A100 = Pool(pool="a100", gpu_model="A100-40GB", gpus=3, cost_per_hour=2.0)


def running(*gpus: tuple[int, list[tuple[str, int, str | None, int | None]]]) -> list[PlanGpu]:
    return [
        PlanGpu(
            pool="a100",
            index=index,
            gpu_model="A100-40GB",
            instances=[
                PlanInstance(profile=p, start=s, workload=w, replica=r) for p, s, w, r in slots
            ],
        )
        for index, slots in gpus
    ]


def test_a_replica_that_no_longer_fits_must_move(catalog: Catalog) -> None:
    current = running((1, [("1g.5gb", 0, "web", 0), ("1g.5gb", 1, "web", 1)]))
    grown = Problem(workloads=(Workload(name="web", memory_gb=8, replicas=2),), pools=(A100,))
    plan = replan(grown, catalog, current, max_moves=0)
    assert placed(plan) == Counter()  # nothing may start, and nothing fits where it runs
    plan = replan(grown, catalog, current)
    assert placed(plan) == Counter({"web": 2})
    assert disruption(plan, current, grown)[0] == 2


def test_replicas_of_removed_workloads_stop_and_free_their_gpu(catalog: Catalog) -> None:
    current = running(
        (0, [("3g.20gb", 0, "old", 0), ("3g.20gb", 4, "old", 1)]),
        (2, [("7g.40gb", 0, "web", 0)]),
    )
    problem = Problem(workloads=(Workload(name="web", memory_gb=30, replicas=1),), pools=(A100,))
    plan = replan(problem, catalog, current, max_moves=0, max_recarve=0)
    assert [(g.index, [i.workload for i in g.instances]) for g in plan.gpus] == [(2, ["web"])]
    assert plan.cost_per_hour == pytest.approx(2.0)
    assert gpu_changes(current, plan.gpus, problem) == {("a100", 2): "kept"}


def test_kept_gpus_keep_indices_starts_spares_and_replica_numbers(catalog: Catalog) -> None:
    current = running(
        (2, [("1g.5gb", 6, "web", 2), ("3g.20gb", 0, None, None), ("2g.10gb", 4, "web", 0)]),
    )
    # One GPU holds 3 replicas either way: keeping this one moves the fewest.
    problem = Problem(workloads=(Workload(name="web", memory_gb=4, replicas=3),), pools=(A100,))
    plan = replan(problem, catalog, current, spare_instances=False)
    kept = next(g for g in plan.gpus if g.index == 2)
    assert {(i.profile, i.start) for i in kept.instances} == {
        ("1g.5gb", 6),
        ("3g.20gb", 0),
        ("2g.10gb", 4),
    }
    by_start = {i.start: (i.workload, i.replica) for i in kept.instances}
    assert by_start[6] == ("web", 2) and by_start[4] == ("web", 0)
    # The spare 3g.20gb takes a new replica: the kept GPU is already paid for.
    assert by_start[0][0] == "web"
    assert placed(plan) == Counter({"web": 3})
    assert disruption(plan, current, problem) == (1, 0)


def test_spread_replicas_stay_apart_on_kept_groups(catalog: Catalog) -> None:
    slots = [("3g.20gb", 0, "s", 0), ("2g.10gb", 4, "x", 0), ("1g.5gb", 6, None, None)]
    current = running((0, slots))
    current += running(
        (1, [("3g.20gb", 0, "s", 1), ("2g.10gb", 4, "x", 1), ("1g.5gb", 6, None, None)])
    )
    problem = Problem(
        workloads=(
            Workload(name="s", memory_gb=15, replicas=3, spread=True),
            Workload(name="x", memory_gb=9, replicas=2),
            Workload(name="t", memory_gb=4, replicas=2, spread=True),
        ),
        pools=(A100,),
    )
    plan = replan(problem, catalog, current, max_recarve=0)
    assert placed(plan) == Counter({"s": 3, "x": 2, "t": 2})
    states = gpu_changes(current, plan.gpus, problem)
    assert states[("a100", 0)] == states[("a100", 1)] == "kept"
    assert disruption(plan, current, problem)[0] == 3  # s replica 2 and both t start


def test_media_replica_stays_on_its_me_slot(catalog: Catalog) -> None:
    current = running((0, [("1g.5gb+me", 0, "video", 0), ("3g.20gb", 4, "llm", 0)]))
    problem = Problem(
        workloads=(
            Workload(name="video", memory_gb=4, replicas=2, media=True),
            Workload(name="llm", memory_gb=18, replicas=1),
        ),
        pools=(A100,),
    )
    plan = replan(problem, catalog, current, max_recarve=0)
    assert placed(plan) == Counter({"video": 2, "llm": 1})
    assert disruption(plan, current, problem) == (1, 0)


def test_groups_are_counts_not_gpus(catalog: Catalog) -> None:
    """Identical GPUs form one group: the model's size does not grow with their number."""
    from recommender.formulation import build_formulation

    pool = Pool(pool="a100", gpu_model="A100-40GB", gpus=5_000, cost_per_hour=2.0)
    problem = Problem(
        workloads=(Workload(name="web", memory_gb=4, replicas=35_000),), pools=(pool,)
    )
    current = [
        PlanGpu(
            pool="a100",
            index=i,
            gpu_model="A100-40GB",
            instances=[
                PlanInstance(profile="1g.5gb", start=s, workload="web", replica=7 * i + s)
                for s in range(7)
            ],
        )
        for i in range(4_000)
    ]
    f = build_formulation(problem, catalog, current)
    assert len(f.groups) == 1 and f.groups[0].size == 4_000 and f.idle[0] == 1_000
    plan = solve(problem, catalog, SolveOptions(time_limit_seconds=60, current=current))
    assert_valid(plan, problem, catalog, current)
    assert disruption(plan, current, problem) == (7_000, 0)  # 7,000 new replicas on idle GPUs
    assert plan.solver is not None and plan.solver.variables < 100


def test_without_a_current_state_nothing_changes(sample: Problem, catalog: Catalog) -> None:
    plan = solve(sample, catalog, FAST)
    assert plan.transition is None
    assert "transition" not in plan.model_dump(exclude_none=True)


def test_best_fit_current_state_replans_validly(sample: Problem, catalog: Catalog) -> None:
    current = best_fit_decreasing_plan(sample, catalog).gpus
    for budgets in [(None, None), (0, 10), (3, 3)]:
        replan(sample, catalog, current, *budgets)


def test_keep_running_carves_only_idle_gpus(
    sample: Problem, catalog: Catalog, balanced: list[PlanGpu]
) -> None:
    plan = replan(sample, catalog, balanced, keep_running=True)
    states = gpu_changes(balanced, plan.gpus, sample)
    hosting = [(g.pool, g.index) for g in balanced if any(i.workload for i in g.instances)]
    assert all(states[key] == "kept" for key in hosting)
    assert {s for key, s in states.items() if key not in hosting} <= {"new"}
    running = Counter(i.workload for g in balanced for i in g.instances if i.workload)
    # Every running replica stays on its slot: what moves is only what starts.
    assert disruption(plan, balanced, sample)[0] == sum((placed(plan) - running).values())
    assert all(placed(plan)[name] >= count for name, count in running.items())
    free = replan(sample, catalog, balanced)
    assert plan.cost_per_hour >= free.cost_per_hour - 1e-6

"""The per-GPU model with keep/stay variables cross-checks the aggregated re-planning model."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from recommender.baselines import all_balanced_plan, best_fit_decreasing_plan
from recommender.catalog import Catalog
from recommender.pergpu import solve_per_gpu_replan
from recommender.plan import Plan, PlanGpu, PlanInstance
from recommender.problem import Pool, Problem, Workload
from recommender.solve import SolveOptions, solve
from recommender.validate import gpu_changes, moved_by_workload
from tests.conftest import assert_valid
from tests.test_properties import workloads

AGREEMENT = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
BASELINES = {"all-balanced": all_balanced_plan, "best-fit": best_fit_decreasing_plan}
MODELS = ["A30-24GB", "A100-40GB", "A100-80GB", "H100-80GB", "RTX-PRO-6000-96GB"]


@st.composite
def running_fleets(draw: st.DrawFn) -> tuple[Pool, ...]:
    """One or two pools of 1-3 GPUs that are paid for (so the fleet is worth re-planning)."""
    return tuple(
        Pool(
            pool=f"p{i}",
            gpu_model=draw(st.sampled_from(MODELS)),
            gpus=draw(st.integers(1, 3)),
            cost_per_hour=draw(st.sampled_from([1.0, 1.5, 2.0, 3.3])),
        )
        for i in range(draw(st.integers(1, 2)))
    )


@st.composite
def unrestricted(draw: st.DrawFn) -> tuple[Workload, ...]:
    """Workloads allowed on every model, so a baseline places some of them."""
    return tuple(
        w.model_copy(update={"gpu_models": None}) for w in draw(workloads(count=(1, 4), replicas=4))
    )


def placed_weight(plan: Plan, problem: Problem) -> int:
    hosted = Counter(i.workload for g in plan.gpus for i in g.instances if i.workload)
    return sum(w.priority * hosted[w.name] for w in problem.workloads)


def disruption(plan: Plan, current: list[PlanGpu], problem: Problem) -> tuple[int, int]:
    states = Counter(gpu_changes(current, plan.gpus, problem).values())
    return sum(moved_by_workload(current, plan.gpus, problem).values()), states["re-carved"]


def test_per_gpu_replan_keeps_a_running_fleet_within_a_zero_budget(catalog: Catalog) -> None:
    pools = (Pool(pool="p", gpu_model="A100-40GB", gpus=3, cost_per_hour=2.0),)
    problem = Problem(workloads=(Workload(name="w", memory_gb=4, replicas=4),), pools=pools)
    current = [
        PlanGpu(
            pool="p",
            index=2,
            gpu_model="A100-40GB",
            instances=[
                PlanInstance(profile="3g.20gb", start=0, workload="w", replica=0),
                PlanInstance(profile="3g.20gb", start=4, workload="w", replica=1),
            ],
        )
    ]
    frozen = solve_per_gpu_replan(problem, catalog, current, max_recarve=0, max_moves=0)
    assert_valid(frozen.plan, problem, catalog, current)
    assert frozen.plan.gpus == current and (frozen.moved, frozen.recarved) == (0, 0)
    free = solve_per_gpu_replan(problem, catalog, current)
    assert_valid(free.plan, problem, catalog, current)
    # One GPU of 1g.5gb instances serves all four: cheapest. Re-carving the running GPU and
    # carving an idle one both move 4 replicas (2 moved, 2 started); re-carves decide: an idle
    # GPU is carved and the running one released.
    assert free.cost_per_hour == 2.0
    assert (free.moved, free.recarved) == (4, 0)
    assert disruption(free.plan, current, problem) == (4, 0)


@AGREEMENT
@given(
    unrestricted(),
    unrestricted(),
    running_fleets(),
    st.sampled_from(sorted(BASELINES)),
    st.one_of(st.none(), st.integers(0, 2)),
    st.one_of(st.none(), st.integers(0, 4)),
)
def test_aggregated_and_per_gpu_replans_agree(
    catalog: Catalog, before, after, pools, baseline, max_recarve, max_moves
) -> None:
    """Random running fleets (a baseline's plan of other workloads with the same names) and
    random budgets: both models reach the same placed weight, cost, moves and re-carves."""
    current = BASELINES[baseline](Problem(workloads=before, pools=pools), catalog).gpus
    problem = Problem(workloads=after, pools=pools)
    options = SolveOptions(
        time_limit_seconds=10,
        workers=2,
        current=current,
        max_recarve=max_recarve,
        max_moves=max_moves,
    )
    aggregated = solve(problem, catalog, options)
    per_gpu = solve_per_gpu_replan(
        problem, catalog, current, max_recarve, max_moves, time_limit_seconds=20, workers=2
    )
    assert_valid(aggregated, problem, catalog, current)
    assert_valid(per_gpu.plan, problem, catalog, current)
    moved, recarved = disruption(aggregated, current, problem)
    # Budgets hold, measured by the definitions.
    assert max_moves is None or moved <= max_moves
    assert max_recarve is None or recarved <= max_recarve
    assert disruption(per_gpu.plan, current, problem) == (per_gpu.moved, per_gpu.recarved)
    notes = aggregated.solver.notes if aggregated.solver else []
    assume(aggregated.status == "optimal" and per_gpu.optimal)
    assume(all(note.endswith("optimal") for note in notes if note.startswith("re-planning")))
    assert placed_weight(aggregated, problem) == per_gpu.placed_weight
    assert abs(aggregated.cost_per_hour - per_gpu.cost_per_hour) < 1e-6
    assert (moved, recarved) == (per_gpu.moved, per_gpu.recarved)

"""Property-based tests: random fleets and workloads, checked by the independent validator."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from recommender.catalog import Catalog
from recommender.pergpu import solve_per_gpu
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_catalog
from recommender.solve import SolveOptions, solve
from tests.conftest import assert_valid

MODELS = sorted(load_catalog().models)
OPTIONS = SolveOptions(time_limit_seconds=5, workers=2, seed=0)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def workloads(
    draw: st.DrawFn, count: tuple[int, int] = (1, 5), replicas: int = 4
) -> tuple[Workload, ...]:
    result = []
    for i in range(draw(st.integers(*count))):
        models = draw(
            st.one_of(
                st.none(), st.lists(st.sampled_from(MODELS), min_size=1, max_size=3, unique=True)
            )
        )
        result.append(
            Workload(
                name=f"w{i}",
                memory_gb=draw(st.sampled_from([1, 3, 4.5, 8, 9.5, 15, 19, 30, 39, 45, 70, 90])),
                compute_slices=draw(st.integers(1, 4)),
                replicas=draw(st.integers(1, replicas)),
                gpu_models=tuple(models) if models else None,
                priority=draw(st.integers(1, 3)),
                media=draw(st.booleans()) and draw(st.booleans()),
                spread=draw(st.booleans()),
            )
        )
    return tuple(result)


@st.composite
def fleets(draw: st.DrawFn, max_gpus: int = 4) -> tuple[Pool, ...]:
    return tuple(
        Pool(
            pool=f"p{i}",
            gpu_model=draw(st.sampled_from(MODELS)),
            gpus=draw(st.integers(0, max_gpus)),
            cost_per_hour=draw(st.sampled_from([0.0, 0.9, 1.5, 2.0, 3.3, 7.0])),
        )
        for i in range(draw(st.integers(1, 3)))
    )


def placed_weight(plan, problem: Problem) -> int:
    missing = {u.workload: u.replicas for u in plan.unplaced}
    return sum(w.priority * (w.replicas - missing.get(w.name, 0)) for w in problem.workloads)


@SETTINGS
@given(workloads(), fleets())
def test_every_plan_passes_the_validator(catalog: Catalog, work, pools) -> None:
    problem = Problem(workloads=work, pools=pools)
    plan = solve(problem, catalog, OPTIONS)
    assert_valid(plan, problem, catalog)
    assert plan.lower_bound_per_hour <= plan.cost_per_hour + 1e-9


@SETTINGS
@given(workloads(count=(1, 4), replicas=3))
def test_with_ample_capacity_everything_is_placed(catalog: Catalog, work) -> None:
    # Every workload fits a B200 7g.180gb (178.5 GiB, media-capable), and 20 GPUs exceed the
    # replicas, so spread can always be met.
    work = tuple(w.model_copy(update={"gpu_models": None}) for w in work)
    pools = (Pool(pool="big", gpu_model="B200-180GB", gpus=20, cost_per_hour=3.0),)
    problem = Problem(workloads=work, pools=pools)
    plan = solve(problem, catalog, OPTIONS)
    assert_valid(plan, problem, catalog)
    assert plan.unplaced == []


@SETTINGS
@given(workloads(count=(1, 4), replicas=3), fleets(max_gpus=3), st.data())
def test_adding_a_gpu_never_makes_the_optimum_worse(catalog: Catalog, work, pools, data) -> None:
    problem = Problem(workloads=work, pools=pools)
    grown_pool = data.draw(st.integers(0, len(pools) - 1))
    grown = Problem(
        workloads=work,
        pools=tuple(
            p.model_copy(update={"gpus": p.gpus + 1}) if i == grown_pool else p
            for i, p in enumerate(pools)
        ),
    )
    before, after = solve(problem, catalog, OPTIONS), solve(grown, catalog, OPTIONS)
    assert_valid(before, problem, catalog)
    assert_valid(after, grown, catalog)
    assume(before.status == "optimal" and after.status == "optimal")
    # Lexicographic: at least as much placed demand, and no higher cost at the same level.
    assert placed_weight(after, grown) >= placed_weight(before, problem)
    if placed_weight(after, grown) == placed_weight(before, problem):
        assert after.cost_per_hour <= before.cost_per_hour + 1e-6


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(workloads(count=(1, 3), replicas=3), fleets(max_gpus=2))
def test_aggregated_and_per_gpu_models_agree_on_small_instances(
    catalog: Catalog, work, pools
) -> None:
    problem = Problem(workloads=work, pools=pools)
    aggregated = solve(problem, catalog, OPTIONS)
    per_gpu = solve_per_gpu(problem, catalog, time_limit_seconds=10, workers=2)
    assert_valid(aggregated, problem, catalog)
    assert_valid(per_gpu.plan, problem, catalog)
    assume(aggregated.status == "optimal" and per_gpu.optimal)
    assert placed_weight(aggregated, problem) == per_gpu.placed_weight
    assert abs(aggregated.cost_per_hour - per_gpu.cost_per_hour) < 1e-6

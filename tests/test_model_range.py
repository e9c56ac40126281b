"""The model stays right for any pool size the inputs allow, and never fails quietly.

A pool of a million GPUs used to overflow the cost stage's integer coefficients: CP-SAT answered
MODEL_INVALID, the plan fell back to stage 1's solution and read as a time-out. Counts are now
bounded by the GPUs a plan can use, coefficient ranges are checked before solving, and a model
the solver rejects raises instead of returning a plan.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from recommender.catalog import Catalog
from recommender.cpsat import SAFE_MAGNITUDE, SolverError, check_magnitude
from recommender.formulation import build_formulation
from recommender.model import LayoutCountModel, run_stage
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_catalog, load_problem
from recommender.solve import SolveOptions, solve
from tests.conftest import assert_valid

OPTIONS = SolveOptions(time_limit_seconds=20, workers=2, seed=0)


def _resized(problem: Problem, gpus: int) -> Problem:
    pools = tuple(p.model_copy(update={"gpus": gpus}) for p in problem.pools)
    return problem.model_copy(update={"pools": pools})


def test_a_million_gpus_per_pool_plans_like_a_hundred(catalog: Catalog) -> None:
    """The sample needs 18 GPUs: pools of 100 and of 1,000,000 are equally non-binding."""
    sample = load_problem("data/workloads.csv", "data/fleet.csv", catalog)
    small = solve(_resized(sample, 100), catalog, OPTIONS)
    huge_problem = _resized(sample, 1_000_000)
    huge = solve(huge_problem, catalog, OPTIONS)
    assert_valid(huge, huge_problem, catalog)
    assert small.status == huge.status == "optimal"
    assert huge.cost_per_hour == pytest.approx(small.cost_per_hour)
    # Both are proven to the optimality tolerance; the bounds may differ within it.
    assert huge.lower_bound_per_hour == pytest.approx(small.lower_bound_per_hour, rel=2e-5)
    assert huge.solver is not None and huge.solver.cost_status == "optimal"


def test_usable_gpus_are_bounded_by_the_replicas_that_fit(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(
            Workload(name="a100-only", memory_gb=4, replicas=5, gpu_models=("A100-40GB",)),
            Workload(name="anywhere", memory_gb=4, replicas=2),
        ),
        pools=(
            Pool(pool="a", gpu_model="A100-40GB", gpus=10**9, cost_per_hour=1.0),
            Pool(pool="h", gpu_model="H100-80GB", gpus=10**9, cost_per_hour=3.0),
            Pool(pool="tiny", gpu_model="A30-24GB", gpus=1, cost_per_hour=0.5),
        ),
    )
    usable = {pd.pool.pool: pd.usable for pd in build_formulation(problem, catalog).pools}
    assert usable == {"a": 7, "h": 2, "tiny": 1}


@given(
    needed=st.integers(1, 12),
    extra=st.integers(0, 10**7),
    price=st.sampled_from([0.0, 0.01, 1.0, 4.1, 12.29, 98.5]),
)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_growing_a_pool_that_is_not_binding_keeps_the_optimum(
    needed: int, extra: int, price: float
) -> None:
    catalog = load_catalog()
    workloads = (
        Workload(name="mid", memory_gb=9, compute_slices=2, replicas=needed),
        Workload(name="small", memory_gb=4, replicas=needed),
    )
    # `needed` GPUs always suffice (one 2g + one 1g per GPU), so `needed + extra` is not binding.
    base = Problem(
        workloads=workloads,
        pools=(Pool(pool="a100", gpu_model="A100-40GB", gpus=needed, cost_per_hour=price),),
    )
    grown = _resized(base, needed + extra)
    plans = [solve(p, catalog, OPTIONS) for p in (base, grown)]
    for plan, problem in zip(plans, (base, grown), strict=True):
        assert_valid(plan, problem, catalog)
        assert plan.status == "optimal"
        assert plan.unplaced == []
    assert plans[1].cost_per_hour == pytest.approx(plans[0].cost_per_hour)
    assert len(plans[1].gpus) == len(plans[0].gpus)


def test_a_model_the_solver_rejects_raises(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="w", memory_gb=4),),
        pools=(Pool(pool="a", gpu_model="A100-40GB", gpus=2, cost_per_hour=1.0),),
    )
    lcm = LayoutCountModel(build_formulation(problem, catalog))
    lcm.add_all_constraints()
    a, b = (lcm.model.new_int_var(0, 2**62, name) for name in "ab")
    lcm.model.add(2**62 * a + 2**62 * b <= 5)  # overflows int64: CP-SAT says MODEL_INVALID
    lcm.model.minimize(lcm.shortfall())
    assert lcm.model.validate() != ""
    with pytest.raises(SolverError, match="CP-SAT rejected the model"):
        run_stage(lcm, 1.0, 1, 0)


def test_coefficient_ranges_are_checked_before_solving() -> None:
    check_magnitude("x", SAFE_MAGNITUDE - 1)
    with pytest.raises(SolverError, match="beyond what CP-SAT computes safely"):
        check_magnitude("the cost per hour", SAFE_MAGNITUDE)
    assert SAFE_MAGNITUDE < cp_model.INT_MAX

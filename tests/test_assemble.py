"""Plan assembly: every planner's plan is put together by `assemble_plan` the same way."""

from __future__ import annotations

import pytest

from recommender.assemble import assemble_plan, heuristic_stats, with_summary
from recommender.catalog import Catalog
from recommender.plan import Plan, PlanGpu, PlanInstance, PoolSummary, SolverStats, Unplaced
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_catalog
from recommender.rules import full_gpu_memory_gib
from recommender.summary import inputs_digest
from recommender.validate import validate_plan

A100 = "A100-40GB"
H100 = "H100-80GB"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _problem(llm_memory_gb: float = 15) -> Problem:
    return Problem(
        workloads=(
            Workload(name="llm", memory_gb=llm_memory_gb, compute_slices=3),
            Workload(name="tiny", memory_gb=4, replicas=3),
            Workload(name="huge", memory_gb=200),
        ),
        pools=(
            Pool(pool="a100", gpu_model=A100, gpus=3, cost_per_hour=4.0),
            Pool(pool="h100", gpu_model=H100, gpus=2, cost_per_hour=9.0),
            Pool(pool="idle", gpu_model=A100, gpus=1, cost_per_hour=1.0),
        ),
    )


def _instance(
    profile: str, start: int, workload: str | None, replica: int | None = None
) -> PlanInstance:
    return PlanInstance(profile=profile, start=start, workload=workload, replica=replica)


def _gpus() -> list[PlanGpu]:
    """a100#0: llm on 3g.20gb, tiny on 1g.5gb, one spare 1g.5gb; a100#1: tiny x2 on 1g.5gb;
    h100#0: nothing (listed but unused, so it costs nothing)."""
    return [
        PlanGpu(
            pool="a100",
            index=0,
            gpu_model=A100,
            instances=[
                _instance("1g.5gb", 0, "tiny", 0),
                _instance("1g.5gb", 1, None),
                _instance("3g.20gb", 4, "llm", 0),
            ],
        ),
        PlanGpu(
            pool="a100",
            index=1,
            gpu_model=A100,
            instances=[_instance("1g.5gb", 0, "tiny", 1), _instance("1g.5gb", 1, "tiny", 2)],
        ),
        PlanGpu(pool="h100", index=0, gpu_model=H100, instances=[]),
    ]


UNPLACED = [Unplaced(workload="huge", replicas=1, reason="too big")]
STATS = SolverStats(formulation="hand-made", placement_status="optimal", cost_status="optimal")


def _assembled(catalog: Catalog, bound: float = 7.0, problem: Problem | None = None) -> Plan:
    return assemble_plan(
        problem or _problem(),
        catalog,
        _gpus(),
        UNPLACED,
        status="optimal",
        lower_bound_per_hour=bound,
        solver=STATS,
    )


def test_plan_carries_decisions_cost_bound_and_stats(catalog: Catalog) -> None:
    plan = _assembled(catalog)
    assert validate_plan(plan, _problem(), catalog) == []
    assert plan.status == "optimal"
    assert plan.gpus == _gpus() and plan.unplaced == UNPLACED
    assert plan.cost_per_hour == pytest.approx(8.0)  # two used A100s; the empty H100 is free
    assert plan.lower_bound_per_hour == pytest.approx(7.0)
    assert plan.solver == STATS


def test_bound_never_exceeds_the_cost(catalog: Catalog) -> None:
    plan = _assembled(catalog, bound=8.00004)
    assert plan.lower_bound_per_hour == plan.cost_per_hour == pytest.approx(8.0)
    assert plan.summary is not None and plan.summary.gap == 0.0


def test_summary_is_always_present_and_right(catalog: Catalog) -> None:
    summary = _assembled(catalog).summary
    assert summary is not None
    assert summary.cost_per_hour == pytest.approx(8.0)
    assert summary.cost_per_month == pytest.approx(8.0 * 730)
    assert summary.lower_bound_per_hour == pytest.approx(7.0)
    assert summary.gap == pytest.approx(1 / 7)
    assert (summary.gpus_used, summary.gpus_available) == (2, 6)
    assert (summary.replicas_total, summary.replicas_placed, summary.replicas_unplaced) == (5, 4, 1)
    assert summary.spare_instances == 1
    # a100#0 carves 6 of 8 units, 5 of them hosting replicas; a100#1 hosts on 2 of 8.
    assert summary.stranded_units == (8 - 5) + (8 - 2)
    full_gib = full_gpu_memory_gib(catalog.model(A100))
    assert full_gib == pytest.approx(39.5)
    assert summary.compute_utilization == pytest.approx((3 + 3 * 1) / (2 * 7))
    assert summary.memory_utilization == pytest.approx((15 + 3 * 4) / (2 * full_gib))


def test_summary_has_per_pool_utilization(catalog: Catalog) -> None:
    summary = _assembled(catalog).summary
    assert summary is not None
    pools = {p.pool: p for p in summary.pools}
    assert list(pools) == ["a100", "h100", "idle"]
    a100 = pools["a100"]
    assert (a100.gpus_available, a100.gpus_used, a100.cost_per_hour) == (3, 2, 8.0)
    assert a100.compute_utilization == pytest.approx(summary.compute_utilization)
    assert a100.memory_utilization == pytest.approx(summary.memory_utilization)
    for unused in ("h100", "idle"):
        assert pools[unused].gpus_used == 0
        assert pools[unused].compute_utilization == pools[unused].memory_utilization == 0.0


def test_per_pool_utilization_of_two_used_pools(catalog: Catalog) -> None:
    gpus = [
        PlanGpu(
            pool="a100", index=0, gpu_model=A100, instances=[_instance("7g.40gb", 0, "llm", 0)]
        ),
        PlanGpu(
            pool="h100", index=0, gpu_model=H100, instances=[_instance("1g.10gb", 0, "tiny", 0)]
        ),
    ]
    problem = _problem()
    unplaced = [
        Unplaced(workload="tiny", replicas=2, reason="test"),
        Unplaced(workload="huge", replicas=1, reason="test"),
    ]
    plan = assemble_plan(
        problem, catalog, gpus, unplaced, status="feasible", lower_bound_per_hour=0.0, solver=STATS
    )
    assert validate_plan(plan, problem, catalog) == []
    assert plan.summary is not None
    pools = {p.pool: p for p in plan.summary.pools}
    h100_gib = full_gpu_memory_gib(catalog.model(H100))
    assert pools["a100"].compute_utilization == pytest.approx(3 / 7)
    assert pools["a100"].memory_utilization == pytest.approx(15 / 39.5)
    assert pools["h100"].compute_utilization == pytest.approx(1 / 7)
    assert pools["h100"].memory_utilization == pytest.approx(4 / h100_gib)
    assert plan.summary.memory_utilization == pytest.approx((15 + 4) / (39.5 + h100_gib))
    assert plan.cost_per_hour == pytest.approx(13.0)


def test_inputs_digest_identifies_the_inputs(catalog: Catalog) -> None:
    plan = _assembled(catalog)
    assert plan.inputs_sha256 == inputs_digest(_problem(), catalog)
    assert len(plan.inputs_sha256 or "") == 64
    other = _assembled(catalog, problem=_problem(llm_memory_gb=16))
    assert other.inputs_sha256 != plan.inputs_sha256


def test_heuristic_stats_prove_nothing() -> None:
    stats = heuristic_stats("whole-gpu", 0.12345)
    assert stats.formulation == "baseline: whole-gpu"
    assert stats.wall_seconds == 0.123
    assert (stats.placement_status, stats.cost_status) == ("feasible", "feasible")
    assert stats.lower_bound_source.startswith("none")


def test_with_summary_completes_a_plan_read_without_one(catalog: Catalog) -> None:
    assembled = _assembled(catalog)
    bare = Plan.from_json(assembled.model_copy(update={"summary": None}).to_json())
    assert bare.summary is None
    completed = with_summary(bare, _problem(), catalog)
    assert completed.summary == assembled.summary
    assert completed.model_copy(update={"summary": None}) == bare


def test_with_summary_fills_per_pool_utilization_of_an_older_summary(catalog: Catalog) -> None:
    """A summary written before per-pool utilization reads with 0.0; with_summary recomputes."""
    assembled = _assembled(catalog)
    data = assembled.model_dump()
    for pool in data["summary"]["pools"]:
        del pool["compute_utilization"], pool["memory_utilization"]
    older = Plan.model_validate(data)
    assert older.summary is not None and older.summary.pools[0] == PoolSummary(
        pool="a100", gpu_model=A100, gpus_available=3, gpus_used=2, cost_per_hour=8.0
    )
    assert with_summary(older, _problem(), catalog).summary == assembled.summary

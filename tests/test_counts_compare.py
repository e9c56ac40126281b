"""GPUs of a current state imported from a mig-parted config (`compare: counts`: starts unknown)
are kept when the plan gives them the same profile counts, mig-parted's own rule; the transition
and the independent validator agree on it."""

from __future__ import annotations

from recommender.catalog import Catalog
from recommender.plan import PlanGpu, PlanInstance
from recommender.problem import Pool, Problem, Workload
from recommender.solve import SolveOptions, solve
from recommender.transition import classify_gpus, moved_replicas
from recommender.validate import gpu_changes, moved_by_workload
from tests.conftest import assert_valid

PROBLEM = Problem(
    workloads=(Workload(name="web", memory_gb=4, replicas=2),),
    pools=(Pool(pool="a100", gpu_model="A100-40GB", gpus=2, cost_per_hour=1),),
)


def _gpu(placements: list[tuple[str, int, int | None]], compare: str | None) -> PlanGpu:
    instances = [
        PlanInstance(profile=p, start=s, workload=None if r is None else "web", replica=r)
        for p, s, r in placements
    ]
    return PlanGpu(pool="a100", index=0, gpu_model="A100-40GB", instances=instances,
                   compare=compare)  # type: ignore[arg-type]  # fmt: skip


def test_same_counts_at_other_starts_is_kept_only_when_compared_by_counts() -> None:
    planned = [_gpu([("1g.5gb", 0, 0), ("2g.10gb", 2, 1)], None)]
    for compare, state, moved in (("counts", "kept", 0), (None, "re-carved", 2)):
        current = [_gpu([("2g.10gb", 0, 1), ("1g.5gb", 2, 0)], compare)]
        assert classify_gpus(current, planned) == {("a100", 0): state}
        assert gpu_changes(current, planned, PROBLEM) == {("a100", 0): state}
        assert moved_replicas(current, planned) == {"web": moved}
        assert moved_by_workload(current, planned, PROBLEM) == {"web": moved}


def test_other_counts_are_re_carved_either_way() -> None:
    planned = [_gpu([("3g.20gb", 0, 0), ("1g.5gb", 4, 1)], None)]
    current = [_gpu([("2g.10gb", 0, 1), ("1g.5gb", 2, 0)], "counts")]
    assert classify_gpus(current, planned) == {("a100", 0): "re-carved"}
    assert gpu_changes(current, planned, PROBLEM) == {("a100", 0): "re-carved"}


def test_a_re_plan_from_counted_gpus_passes_the_validator(catalog: Catalog) -> None:
    current = [_gpu([("2g.10gb", 0, 1), ("1g.5gb", 2, 0)], "counts")]
    plan = solve(PROBLEM, catalog, SolveOptions(time_limit_seconds=10, current=current))
    assert_valid(plan, PROBLEM, catalog, current)
    assert plan.transition is not None and plan.transition.moved_replicas == 0
    assert "compare" not in plan.to_json()  # plan GPUs never carry it

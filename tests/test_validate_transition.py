"""The validator's own reading of the re-planning definitions, on hand-made cases."""

from __future__ import annotations

from recommender.assemble import assemble_plan
from recommender.catalog import Catalog
from recommender.plan import GpuState, Plan, PlanGpu, PlanInstance, SolverStats, Transition
from recommender.problem import Pool, Problem, Workload
from recommender.validate import gpu_changes, moved_by_workload, validate_plan

PROBLEM = Problem(
    workloads=(
        Workload(name="a", memory_gb=4, replicas=4),
        Workload(name="b", memory_gb=9, replicas=2),
    ),
    pools=(Pool(pool="p", gpu_model="A100-40GB", gpus=6, cost_per_hour=2.0),),
)

Slot = tuple[str, int, str | None, int | None]


def gpu(index: int, *slots: Slot) -> PlanGpu:
    return PlanGpu(
        pool="p",
        index=index,
        gpu_model="A100-40GB",
        instances=[PlanInstance(profile=p, start=s, workload=w, replica=r) for p, s, w, r in slots],
    )


# Now: GPU 0 and 1 host replicas, GPU 2 hosts only a replica of a workload that is gone, GPU 3
# is carved with spares only.
CURRENT = [
    gpu(0, ("1g.5gb", 0, "a", 0), ("1g.5gb", 1, "a", 1), ("2g.10gb", 2, "b", 0)),
    gpu(1, ("3g.20gb", 0, "a", 2), ("4g.20gb", 4, "b", 1)),
    gpu(2, ("7g.40gb", 0, "gone", 0)),
    gpu(3, ("3g.20gb", 0, None, None), ("3g.20gb", 4, None, None)),
]


def test_kept_needs_the_identical_set_of_slots_not_the_same_tenants() -> None:
    planned = [
        # Same (profile, start) set; tenants swapped: kept.
        gpu(0, ("1g.5gb", 0, "a", 1), ("1g.5gb", 1, None, None), ("2g.10gb", 2, "a", 0)),
        # Same profiles, different starts: re-carved.
        gpu(1, ("3g.20gb", 4, "a", 2), ("4g.20gb", 0, "b", 1)),
    ]
    states = gpu_changes(CURRENT, planned, PROBLEM)
    assert states == {("p", 0): "kept", ("p", 1): "re-carved"}


def test_released_new_and_gpus_hosting_nothing_now() -> None:
    planned = [
        gpu(2, ("1g.5gb", 0, "a", 0)),  # hosted only a stopped replica: hosting nothing, so new
        gpu(3, ("3g.20gb", 0, "a", 1), ("3g.20gb", 4, None, None)),  # spares only now: new
        gpu(4, ("7g.40gb", 0, "b", 0)),  # idle now: new
        gpu(5),  # listed with no instance: not carved, not classified
    ]
    states = gpu_changes(CURRENT, planned, PROBLEM)
    assert states == {
        ("p", 0): "released",
        ("p", 1): "released",
        ("p", 2): "new",
        ("p", 3): "new",
        ("p", 4): "new",
    }


def test_moved_counts_slots_held_before_and_after_on_kept_gpus_only() -> None:
    planned = [
        # kept: a stays on 1g.5gb@0 (the replica number does not matter); a moves from @1 to
        # the 2g.10gb@2 slot b held; b's replica goes elsewhere.
        gpu(0, ("1g.5gb", 0, "a", 3), ("1g.5gb", 1, None, None), ("2g.10gb", 2, "a", 1)),
        # re-carved: its slot 3g.20gb@0 reappears with a on it, still a move (mig-parted
        # re-creates the whole GPU).
        gpu(1, ("3g.20gb", 0, "a", 2), ("3g.20gb", 4, "b", 1)),
        gpu(4, ("3g.20gb", 0, "b", 0)),  # b replica 0 started on a new GPU
    ]
    assert moved_by_workload(CURRENT, planned, PROBLEM) == {"a": 2, "b": 2}


def test_moved_is_a_multiset_difference() -> None:
    current = [gpu(0, ("1g.5gb", 0, "a", 0), ("1g.5gb", 1, "a", 1), ("1g.5gb", 2, "b", 0))]
    problem = PROBLEM.model_copy(
        update={"workloads": (Workload(name="a", memory_gb=4, replicas=4),)}
    )
    planned = [gpu(0, ("1g.5gb", 0, "a", 0), ("1g.5gb", 1, "a", 3), ("1g.5gb", 2, "a", 1))]
    # a holds @0 and @1 before and after (replica numbers aside); @2 is new for a: one move.
    # b is gone, so GPU 0 still hosts running replicas (a's) and is kept.
    assert moved_by_workload(current, planned, problem) == {"a": 1}
    assert gpu_changes(current, planned, problem) == {("p", 0): "kept"}


def plan_with(planned: list[PlanGpu], catalog: Catalog, **transition: object) -> Plan:
    plan = assemble_plan(
        PROBLEM,
        catalog,
        planned,
        [],
        status="feasible",
        lower_bound_per_hour=0.0,
        solver=SolverStats(),
    )
    values: dict[str, object] = {
        "current_cost_per_hour": 8.0,
        "kept": 1,
        "recarved": 1,
        "released": 0,
        "new": 1,
        "moved_replicas": 4,
        "moved_by_workload": {"a": 2, "b": 2},
        "nodes_touched": 1,
    }
    values.update(transition)
    plan.transition = Transition(**values)  # type: ignore[arg-type]
    return plan


PLANNED = [
    gpu(0, ("1g.5gb", 0, "a", 3), ("1g.5gb", 1, None, None), ("2g.10gb", 2, "a", 1)),
    gpu(1, ("3g.20gb", 0, "a", 2), ("3g.20gb", 4, "b", 1)),
    gpu(4, ("3g.20gb", 0, "b", 0), ("3g.20gb", 4, "a", 0)),
]


def transition_violations(
    plan: Plan, catalog: Catalog, max_recarve: int | None = None, max_moves: int | None = None
) -> list[str]:
    """The violations about the transition and the budgets (the plan is otherwise valid)."""
    found = validate_plan(
        plan, PROBLEM, catalog, CURRENT, max_recarve=max_recarve, max_moves=max_moves
    )
    assert all(v.startswith("transition") or "budget" in v or "no transition" in v for v in found)
    return found


def test_a_correct_transition_passes(catalog: Catalog) -> None:
    plan = plan_with(PLANNED, catalog, moved_replicas=5, moved_by_workload={"a": 3, "b": 2})
    assert validate_plan(plan, PROBLEM, catalog, CURRENT) == []


def test_wrong_counts_are_each_reported(catalog: Catalog) -> None:
    plan = plan_with(
        PLANNED,
        catalog,
        kept=2,
        new=0,
        moved_replicas=4,
        moved_by_workload={"a": 2, "b": 2},
        current_cost_per_hour=6.0,
    )
    found = transition_violations(plan, catalog)
    assert "transition: 2 GPU(s) kept, but 1 are by the definitions" in found
    assert "transition: 0 GPU(s) new, but 1 are by the definitions" in found
    assert "transition: 4 replica(s) moved, but 5 are by the definitions" in found
    assert "transition: moved replicas per workload differ for a" in found
    assert any("current_cost_per_hour is 6, but the GPUs carved now cost 8" in v for v in found)


def test_per_gpu_states_are_checked(catalog: Catalog) -> None:
    states = [
        GpuState(pool="p", index=0, state="re-carved"),
        GpuState(pool="p", index=1, state="re-carved"),
        GpuState(pool="p", index=4, state="new"),
    ]
    plan = plan_with(
        PLANNED, catalog, moved_replicas=5, moved_by_workload={"a": 3, "b": 2}, gpu_states=states
    )
    assert transition_violations(plan, catalog) == [
        "transition: GPU p#0 is listed as re-carved, but it is kept by the definitions"
    ]


def test_budgets_from_the_plan_or_the_caller(catalog: Catalog) -> None:
    fine = {"moved_replicas": 5, "moved_by_workload": {"a": 3, "b": 2}}
    plan = plan_with(PLANNED, catalog, max_recarve=0, max_moves=4, **fine)
    assert transition_violations(plan, catalog) == [
        "1 GPU(s) re-carved, over the budget of 0",
        "5 replica(s) moved, over the budget of 4",
    ]
    plan = plan_with(PLANNED, catalog, **fine)
    assert transition_violations(plan, catalog) == []
    assert transition_violations(plan, catalog, max_recarve=1, max_moves=5) == []
    assert transition_violations(plan, catalog, max_moves=3) == [
        "5 replica(s) moved, over the budget of 3"
    ]


def test_a_replan_without_transition_is_reported(catalog: Catalog) -> None:
    plan = plan_with(PLANNED, catalog)
    plan.transition = None
    assert transition_violations(plan, catalog) == [
        "the plan was made from a current state but has no transition"
    ]
    # Without a current state nothing about transitions is checked.
    assert validate_plan(plan, PROBLEM, catalog) == []

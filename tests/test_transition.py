"""The re-plan diff (kept / re-carved / released / new, moved replicas) and the rollout waves.

Every rollout is replayed by the independent `validate.validate_rollout` (floors, double-booking,
relabel of a busy GPU, the final fleet equals the plan, dips reported exactly); every plan goes
through `validate_plan`.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender import rules
from recommender.assemble import assemble_plan
from recommender.catalog import Catalog
from recommender.layouts import enumerate_layouts
from recommender.plan import Plan, PlanGpu, PlanInstance, SolverStats, Unplaced
from recommender.problem import Pool, Problem, Workload
from recommender.transition import build_transition, classify_gpus, moved_replicas
from recommender.validate import validate_rollout
from tests.conftest import assert_valid

MODEL = "A100-40GB"

Spec = list[tuple[str, int, str | None]]  # [(profile, start, workload or None)]


def gpus(pool: str, layouts: dict[int, Spec]) -> list[PlanGpu]:
    """PlanGpus from {index: [(profile, start, workload)]}, replicas numbered per workload."""
    numbers: dict[str, int] = {}
    result = []
    for index, spec in sorted(layouts.items()):
        instances = []
        for profile, start, workload in spec:
            replica = None
            if workload is not None:
                replica = numbers.get(workload, 0)
                numbers[workload] = replica + 1
            instances.append(
                PlanInstance(profile=profile, start=start, workload=workload, replica=replica)
            )
        result.append(PlanGpu(pool=pool, index=index, gpu_model=MODEL, instances=instances))
    return result


def problem_of(workloads: list[Workload], count: int, per_node: int = 1) -> Problem:
    pool = Pool(pool="p", gpu_model=MODEL, gpus=count, cost_per_hour=2.0, gpus_per_node=per_node)
    return Problem(workloads=tuple(workloads), pools=(pool,))


def plan_of(
    problem: Problem,
    catalog: Catalog,
    new: list[PlanGpu],
    current: list[PlanGpu] | None = None,
    wave_size: int = 1,
) -> Plan:
    """A complete plan for `new` (assembled as every planner does), checked by the validator;
    with `current`, its transition and rollout replayed by `validate_rollout`."""
    placed: dict[str, int] = {}
    for gpu in new:
        for instance in gpu.instances:
            if instance.workload is not None:
                placed[instance.workload] = placed.get(instance.workload, 0) + 1
    unplaced = [
        Unplaced(workload=w.name, replicas=w.replicas - placed.get(w.name, 0), reason="test")
        for w in problem.workloads
        if placed.get(w.name, 0) < w.replicas
    ]
    plan = assemble_plan(
        problem,
        catalog,
        new,
        unplaced,
        status="feasible",
        lower_bound_per_hour=0.0,
        solver=SolverStats(),
    )
    assert_valid(plan, problem, catalog)
    if current is not None:
        plan.transition = build_transition(current, plan, problem, catalog, wave_size)
        assert validate_rollout(plan, current, problem) == []
        assert_valid(plan, problem, catalog, current)  # the diff counts recomputed on their own
    return plan


# --- the diff definitions ----------------------------------------------------------------------


def test_each_gpu_state_by_definition() -> None:
    current = gpus(
        "p",
        {
            0: [("3g.20gb", 0, "a"), ("3g.20gb", 4, None)],  # same set -> kept
            1: [("3g.20gb", 0, "a")],  # other set -> re-carved
            2: [("7g.40gb", 0, "b")],  # empty in the plan -> released
            3: [("3g.20gb", 0, None), ("3g.20gb", 4, None)],  # spares only, carved -> new
            4: [("7g.40gb", 0, None)],  # spares only, not carved -> not listed
        },
    )
    new = gpus(
        "p",
        {
            0: [("3g.20gb", 0, "a"), ("3g.20gb", 4, None)],
            1: [("3g.20gb", 4, "a")],
            3: [("7g.40gb", 0, "b")],
            5: [("3g.20gb", 0, "a")],  # not in the current state at all -> new
        },
    )
    assert classify_gpus(current, new) == {
        ("p", 0): "kept",
        ("p", 1): "re-carved",
        ("p", 2): "released",
        ("p", 3): "new",
        ("p", 5): "new",
    }
    # a: 3 placed, 1 kept slot on the kept GPU; b: its one replica moves to the new GPU.
    assert moved_replicas(current, new) == {"a": 2, "b": 1}


def test_a_slot_reappearing_on_a_recarved_gpu_counts_as_moved() -> None:
    current = gpus("p", {0: [("3g.20gb", 0, "a"), ("3g.20gb", 4, "a")]})
    # Same slot 3g.20gb@0 for a, but the GPU's set differs: mig-parted re-creates it whole.
    new = gpus("p", {0: [("3g.20gb", 0, "a"), ("2g.10gb", 4, "a")]})
    assert classify_gpus(current, new) == {("p", 0): "re-carved"}
    assert moved_replicas(current, new) == {"a": 2}


def test_a_replica_changing_slot_on_a_kept_gpu_is_moved_and_the_multiset_counts() -> None:
    current = gpus("p", {0: [("2g.10gb", 0, "a"), ("2g.10gb", 2, "b"), ("2g.10gb", 4, "a")]})
    new = gpus("p", {0: [("2g.10gb", 0, "b"), ("2g.10gb", 2, "a"), ("2g.10gb", 4, "a")]})
    assert classify_gpus(current, new) == {("p", 0): "kept"}
    # a keeps @4 only; b keeps nothing.
    assert moved_replicas(current, new) == {"a": 1, "b": 1}


def test_stopped_workloads_and_shrinking_counts(catalog: Catalog) -> None:
    # a#2 is beyond a's 2 replicas and "gone" is no longer a workload: neither runs (the
    # planner's `stop_retired`), so GPU 1 hosts nothing and a's instance @4 is a spare.
    current = gpus(
        "p",
        {
            0: [("2g.10gb", 0, "a"), ("2g.10gb", 2, "a"), ("2g.10gb", 4, "a")],
            1: [("7g.40gb", 0, "gone")],
        },
    )
    new = gpus("p", {0: [("2g.10gb", 0, "a"), ("2g.10gb", 2, "a"), ("2g.10gb", 4, None)]})
    problem = problem_of([Workload(name="a", memory_gb=9, replicas=2)], count=2)
    plan = plan_of(problem, catalog, new, current)
    transition = plan.transition
    assert transition is not None
    assert (transition.kept, transition.released, transition.new) == (1, 0, 0)
    assert transition.moved_replicas == 0
    assert transition.floors == {"a": 1}  # min(2 - 1, 2 running, 2 planned)
    assert [(s.pool, s.index, s.state) for s in transition.gpu_states] == [("p", 0, "kept")]
    assert transition.waves == [] and transition.dips == []


def test_a_gpu_hosting_only_retired_replicas_hosts_nothing(catalog: Catalog) -> None:
    # GPU 0 runs only "gone" (not a workload any more): the plan carving it makes it new, not
    # re-carved, and no wave stops "gone"; GPU 1 is kept and a's two replicas stay.
    current = gpus(
        "p",
        {0: [("7g.40gb", 0, "gone")], 1: [("3g.20gb", 0, "a"), ("3g.20gb", 4, "a")]},
    )
    new = gpus(
        "p",
        {
            0: [("2g.10gb", 0, "a"), ("2g.10gb", 2, None), ("2g.10gb", 4, None)],
            1: [("3g.20gb", 0, "a"), ("3g.20gb", 4, "a")],
        },
    )
    problem = problem_of([Workload(name="a", memory_gb=9, replicas=3)], count=2)
    plan = plan_of(problem, catalog, new, current)  # validator and replay agree inside
    transition = plan.transition
    assert transition is not None
    states = {(s.pool, s.index): s.state for s in transition.gpu_states}
    assert states == {("p", 0): "new", ("p", 1): "kept"}
    assert (transition.recarved, transition.released, transition.moved_replicas) == (0, 0, 1)
    assert [w.kind for w in transition.waves] == ["carve"]
    moves = [m for w in transition.waves for m in w.moves]
    assert all(m.workload == "a" and m.from_slot is None for m in moves) and len(moves) == 1


def test_replicas_start_on_a_kept_gpus_spare_and_freed_instances(catalog: Catalog) -> None:
    # Nothing is carved or drained: a's new replica takes the spare @4 of kept GPU 0, a second
    # one the slot @2 of kept GPU 1 that "gone" (no longer a workload) frees, and b's replica
    # on GPU 1 @4 leaves (the plan places none; floor 0) so c starts there. Only a moves wave
    # can start them (the rollout once never started destinations when no wave ran).
    current = gpus(
        "p",
        {
            0: [("3g.20gb", 0, "a"), ("3g.20gb", 4, None)],
            1: [("2g.10gb", 0, "a"), ("2g.10gb", 2, "gone"), ("3g.20gb", 4, "b")],
        },
    )
    new = gpus(
        "p",
        {
            0: [("3g.20gb", 0, "a"), ("3g.20gb", 4, "a")],
            1: [("2g.10gb", 0, "a"), ("2g.10gb", 2, "a"), ("3g.20gb", 4, "c")],
        },
    )
    problem = problem_of(
        [
            Workload(name="a", memory_gb=9, replicas=4, max_unavailable=0),
            Workload(name="b", memory_gb=18, replicas=1, max_unavailable=0),
            Workload(name="c", memory_gb=18, replicas=1),
        ],
        count=2,
    )
    plan = plan_of(problem, catalog, new, current)  # replayed with floors inside
    transition = plan.transition
    assert transition is not None
    assert (transition.kept, transition.recarved, transition.nodes_touched) == (2, 0, 0)
    assert {w.kind for w in transition.waves} <= {"moves", "cleanup"}
    assert transition.dips == [] and transition.floors == {"a": 2, "b": 0, "c": 0}
    started = sorted(
        (m.workload, m.to_slot.index, m.to_slot.start)
        for w in transition.waves
        for m in w.moves
        if m.to_slot is not None
    )
    assert started == [("a", 0, 4), ("a", 1, 2), ("c", 1, 4)]
    assert all(not m.temporary for w in transition.waves for m in w.moves)


def test_replanning_the_running_plan_changes_nothing(catalog: Catalog) -> None:
    spec = {0: [("3g.20gb", 0, "a"), ("3g.20gb", 4, "b")], 1: [("7g.40gb", 0, "b")]}
    problem = problem_of(
        [Workload(name="a", memory_gb=18), Workload(name="b", memory_gb=18, replicas=2)], 2
    )
    plan = plan_of(problem, catalog, gpus("p", spec), gpus("p", spec))
    transition = plan.transition
    assert transition is not None
    assert (transition.kept, transition.recarved, transition.moved_replicas) == (2, 0, 0)
    assert transition.waves == [] and transition.nodes_touched == 0
    assert transition.current_cost_per_hour == plan.cost_per_hour


# --- the rollout -------------------------------------------------------------------------------


def test_make_before_break_onto_a_new_gpu_keeps_a_zero_budget(catalog: Catalog) -> None:
    current = gpus("p", {0: [("3g.20gb", 0, "a"), ("3g.20gb", 4, "a")]})
    new = gpus("p", {0: [("7g.40gb", 0, "b")], 1: [("3g.20gb", 0, "a"), ("3g.20gb", 4, "a")]})
    problem = problem_of(
        [
            Workload(name="a", memory_gb=18, replicas=2, max_unavailable=0),
            Workload(name="b", memory_gb=30),
        ],
        count=2,
    )
    plan = plan_of(problem, catalog, new, current)
    transition = plan.transition
    assert transition is not None
    assert [w.kind for w in transition.waves] == ["carve", "drain"]
    a_moves = [m for w in transition.waves for m in w.moves if m.workload == "a"]
    assert len(a_moves) == 2
    assert all(m.start_wave == 1 and m.stop_wave == 2 for m in a_moves)
    assert transition.dips == [] and transition.waves[1].lowest_running["a"] == 2


def test_a_node_that_would_break_a_floor_waits_for_the_capacity_another_frees(
    catalog: Catalog,
) -> None:
    # a (floor 2) sits on node 0 and goes to GPU 1, which u holds now; u goes to the new GPU 2.
    # Node 0 frees the most (seven v replicas start there) but draining it first would stop a
    # before its destinations exist: it must wait for node 1.
    current = gpus(
        "p",
        {
            0: [("3g.20gb", 0, "a"), ("3g.20gb", 4, "a")],
            1: [("7g.40gb", 0, "u")],
        },
    )
    new = gpus(
        "p",
        {
            0: [("1g.5gb", start, "v") for start in range(7)],
            1: [("3g.20gb", 0, "a"), ("3g.20gb", 4, "a")],
            2: [("7g.40gb", 0, "u")],
        },
    )
    problem = problem_of(
        [
            Workload(name="a", memory_gb=18, replicas=2, max_unavailable=0),
            Workload(name="u", memory_gb=30, max_unavailable=0),
            Workload(name="v", memory_gb=4, replicas=7),
        ],
        count=3,
    )
    plan = plan_of(problem, catalog, new, current)
    transition = plan.transition
    assert transition is not None
    drains = [w.nodes for w in transition.waves if w.kind == "drain"]
    assert drains == [["p-node-1"], ["p-node-0"]]
    assert transition.dips == [] and transition.extra_gpus_needed == {}


def _swap_case(extra_gpus: int) -> tuple[Problem, list[PlanGpu], list[PlanGpu]]:
    """Two nodes trading layouts: whichever drains first stops replicas whose only new home is
    on the other, so some floor breaks in any order."""
    current = gpus(
        "p",
        {
            0: [("2g.10gb", 0, "a"), ("2g.10gb", 2, "a"), ("3g.20gb", 4, "b")],
            1: [("3g.20gb", 4, "b")],
        },
    )
    new = gpus(
        "p",
        {
            0: [("3g.20gb", 0, "b"), ("3g.20gb", 4, "b")],
            1: [("2g.10gb", 0, "a"), ("2g.10gb", 2, "a")],
        },
    )
    problem = problem_of(
        [Workload(name="a", memory_gb=9, replicas=2), Workload(name="b", memory_gb=18, replicas=2)],
        count=2 + extra_gpus,
    )
    return problem, current, new


def test_when_no_order_keeps_the_floor_the_dip_and_the_extra_gpus_are_reported(
    catalog: Catalog,
) -> None:
    problem, current, new = _swap_case(extra_gpus=0)
    plan = plan_of(problem, catalog, new, current)
    transition = plan.transition
    assert transition is not None
    assert len(transition.dips) == 1
    dip = transition.dips[0]
    assert (dip.floor, dip.by) == (1, 1)
    assert transition.extra_gpus_needed == {"p": 1}
    # Re-run with that many more idle GPUs: the rollout lends them and nothing dips.
    enlarged, _, _ = _swap_case(extra_gpus=transition.extra_gpus_needed["p"])
    replanned = plan_of(enlarged, catalog, new, current)
    assert replanned.transition is not None
    assert replanned.transition.dips == []
    assert any(m.temporary for w in replanned.transition.waves for m in w.moves)
    assert [w.kind for w in replanned.transition.waves][-1] == "cleanup"


@pytest.mark.parametrize("wave_size", [1, 2, 3])
def test_waves_hold_at_most_wave_size_nodes(catalog: Catalog, wave_size: int) -> None:
    spec_now = {i: [("7g.40gb", 0, f"w{i % 3}")] for i in range(6)}
    spec_new = {i: [("3g.20gb", 0, f"w{i % 3}")] for i in range(6)}
    problem = problem_of(
        [Workload(name=f"w{k}", memory_gb=18, replicas=2) for k in range(3)], count=6
    )
    plan = plan_of(problem, catalog, gpus("p", spec_new), gpus("p", spec_now), wave_size)
    assert plan.transition is not None
    assert all(len(w.nodes) <= wave_size for w in plan.transition.waves)
    assert plan.transition.recarved == 6 and plan.transition.nodes_touched == 6


def test_bad_wave_size_is_refused(catalog: Catalog) -> None:
    problem = problem_of([Workload(name="a", memory_gb=9)], count=1)
    plan = plan_of(problem, catalog, gpus("p", {0: [("7g.40gb", 0, "a")]}))
    with pytest.raises(ValueError, match="wave size"):
        build_transition([], plan, problem, catalog, wave_size=0)


# --- random fleets -----------------------------------------------------------------------------


def _random_fleet(
    rng: random.Random, catalog: Catalog, count: int, workloads: list[Workload], keep: dict
) -> dict[int, Spec]:
    model = catalog.model(MODEL)
    layouts = [
        lay
        for lay in enumerate_layouts(model)
        if not any(model.profile(p.profile).attributes for p in lay.placements)
    ]
    fleet: dict[int, Spec] = {}
    for index in range(count):
        if index in keep and rng.random() < 0.5:
            fleet[index] = keep[index]
            continue
        if rng.random() < 0.3:
            continue
        spec: Spec = []
        for placement in rng.choice(layouts).placements:
            profile = model.profile(placement.profile)
            fitting = [w for w in workloads if rules.fits(w, MODEL, model, profile)]
            chosen = rng.choice(fitting).name if fitting and rng.random() < 0.7 else None
            spec.append((placement.profile, placement.start, chosen))
        fleet[index] = spec
    return fleet


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), wave_size=st.sampled_from([1, 1, 2]))
def test_random_rollouts_replay_cleanly(catalog: Catalog, seed: int, wave_size: int) -> None:
    rng = random.Random(seed)
    count = rng.randint(1, 6)
    workloads = [
        Workload(
            name=f"w{k}",
            memory_gb=rng.choice([4, 9, 18, 30]),
            replicas=40,
            max_unavailable=rng.randint(0, 2),
        )
        for k in range(3)
    ]
    # "gone" runs now but is no longer a workload: its replicas count as stopped (spares).
    gone = Workload(name="gone", memory_gb=rng.choice([4, 9, 18]))
    current_spec = _random_fleet(rng, catalog, count, [*workloads, gone], {})
    kept_spec = {
        index: [(p, s, None if w == "gone" else w) for p, s, w in spec]
        for index, spec in current_spec.items()
    }
    new_spec = _random_fleet(rng, catalog, count, workloads, kept_spec)
    current, new = gpus("p", current_spec), gpus("p", new_spec)
    problem = problem_of(workloads, count + rng.randint(0, 2), per_node=rng.choice([1, 2, 3]))
    plan = plan_of(problem, catalog, new, current, wave_size)  # replayed inside
    transition = plan.transition
    assert transition is not None
    if transition.dips:
        enlarged = problem.model_copy(
            update={
                "pools": tuple(
                    p.model_copy(
                        update={"gpus": p.gpus + transition.extra_gpus_needed.get(p.pool, 0)}
                    )
                    for p in problem.pools
                )
            }
        )
        again = plan_of(enlarged, catalog, new, current, wave_size)
        assert again.transition is not None and again.transition.dips == []

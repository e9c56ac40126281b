"""The page's numbers for re-plans (GPU states in the layout view, the wave, move and dip
tables, the frontier chart) and for throughput demand (knobs scale rates, the editable tables
keep every column, served vs required), without Streamlit."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from recommender import charts
from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.frontier import frontier
from recommender.plan import Dip, Plan, PlanGpu, Transition
from recommender.problem import Node, Problem
from recommender.reading import load_problem
from recommender.reading.current import load_current
from recommender.reading.performance import MAX_RATE
from recommender.rollout import slot_label
from recommender.solve import SolveOptions, solve
from recommender.transition import classify_gpus
from recommender.whatif import (
    Knobs,
    apply_knobs,
    dip_table,
    extra_gpus_text,
    fleet_table,
    gpu_states,
    has_throughput_columns,
    layout_rows,
    move_table,
    performance_table,
    profile_mix_frame,
    profile_mix_text,
    rate_served_share,
    released_gpus,
    table_to_csv,
    throughput_table,
    wave_table,
    workloads_table,
)
from tests.conftest import assert_valid

DATA = Path(__file__).resolve().parent.parent / "data"
THROUGHPUT = DATA / "throughput"
QUICK = SolveOptions(time_limit_seconds=5, workers=2)


@pytest.fixture(scope="module")
def sample(catalog: Catalog) -> Problem:
    return load_problem(DATA / "workloads.csv", DATA / "fleet.csv", catalog)


@pytest.fixture(scope="module")
def throughput_problem(catalog: Catalog) -> Problem:
    return load_problem(
        THROUGHPUT / "workloads.csv",
        THROUGHPUT / "fleet.csv",
        catalog,
        performance=THROUGHPUT / "performance.csv",
    )


@pytest.fixture(scope="module")
def current(sample: Problem, catalog: Catalog) -> list[PlanGpu]:
    return load_current(DATA / "current.json", sample, catalog)


@pytest.fixture(scope="module")
def replanned(sample: Problem, catalog: Catalog, current: list[PlanGpu]) -> Plan:
    from dataclasses import replace

    plan = solve(sample, catalog, replace(QUICK, current=current))
    assert_valid(plan, sample, catalog, current)
    assert plan.transition is not None
    return plan


# --- the sample current state -----------------------------------------------------------------


def test_the_sample_current_state_is_the_all_balanced_baseline_of_the_sample(
    sample: Problem, catalog: Catalog, current: list[PlanGpu]
) -> None:
    from benchmarks.replan import _current_all_balanced

    document = json.loads((DATA / "current.json").read_text())
    expected = _current_all_balanced(sample, catalog)
    written = [PlanGpu.model_validate(g) for g in document["gpus"]]
    assert written == expected
    # Every GPU of the fleet is carved, and some replicas do not fit all-balanced.
    assert len(current) == sum(p.gpus for p in sample.pools)
    placed = sum(1 for g in current for i in g.instances if i.workload is not None)
    assert 0 < placed < sample.total_replicas


# --- knobs -------------------------------------------------------------------------------------


def test_the_demand_multiplier_scales_rates_and_keeps_minimum_instances(
    throughput_problem: Problem,
) -> None:
    scaled = apply_knobs(throughput_problem, Knobs(demand_multiplier=2.5))
    for before, after in zip(throughput_problem.workloads, scaled.workloads, strict=True):
        if before.requests_per_second is None:
            assert after.replicas == 3 * before.replicas - before.replicas // 2  # ceil(2.5 x)
        else:
            assert after.requests_per_second == pytest.approx(2.5 * before.requests_per_second)
            assert after.replicas == before.replicas
            assert (after.latency_ms, after.model) == (before.latency_ms, before.model)
    # The performance table stays with the problem.
    assert scaled.performance == throughput_problem.performance


def test_a_scaled_rate_over_the_readers_range_is_refused(throughput_problem: Problem) -> None:
    first = throughput_problem.workloads[0]
    assert first.requests_per_second is not None
    fast = first.model_copy(update={"requests_per_second": MAX_RATE / 2})
    problem = throughput_problem.model_copy(
        update={"workloads": (fast, *throughput_problem.workloads[1:])}
    )
    assert apply_knobs(problem, Knobs(demand_multiplier=2)).workloads[0].requests_per_second == (
        MAX_RATE
    )
    with pytest.raises(InputError) as caught:
        apply_knobs(problem, Knobs(demand_multiplier=2.5))
    report = caught.value.report()
    assert f"{first.name}'s rate" in report and "requests per second" in report


def test_knobs_keep_the_node_inventory(sample: Problem) -> None:
    nodes = (Node(node="gpu-a", pool=sample.pools[0].pool, gpus=8),)
    with_nodes = sample.model_copy(update={"nodes": nodes})
    assert apply_knobs(with_nodes, Knobs(demand_multiplier=2)).nodes == nodes


def test_a_knobbed_throughput_plan_serves_the_scaled_rates(
    throughput_problem: Problem, catalog: Catalog
) -> None:
    scaled = apply_knobs(throughput_problem, Knobs(demand_multiplier=0.5))
    plan = solve(scaled, catalog, QUICK)
    assert_valid(plan, scaled, catalog)
    table = throughput_table(plan).set_index("workload")
    for w in scaled.workloads:
        if w.requests_per_second is not None:
            assert table.loc[w.name, "required_rps"] == pytest.approx(w.requests_per_second)


# --- editable tables ---------------------------------------------------------------------------


def test_tables_keep_rates_budgets_and_the_performance_table(
    throughput_problem: Problem, sample: Problem, catalog: Catalog
) -> None:
    workloads = workloads_table(throughput_problem.workloads)
    assert has_throughput_columns(workloads)
    assert not has_throughput_columns(workloads_table(sample.workloads))
    again = load_problem(
        table_to_csv(workloads).encode(),
        table_to_csv(fleet_table(throughput_problem.pools)).encode(),
        catalog,
        performance=table_to_csv(performance_table(throughput_problem.performance)).encode(),
    )
    assert again == throughput_problem
    # The sample's max_unavailable survives the editor too.
    back = load_problem(
        table_to_csv(workloads_table(sample.workloads)).encode(), DATA / "fleet.csv", catalog
    )
    assert [w.max_unavailable for w in back.workloads] == [
        w.max_unavailable for w in sample.workloads
    ]
    assert {w.max_unavailable for w in sample.workloads} != {1}


# --- throughput on the Plan tab ----------------------------------------------------------------


def test_throughput_table_and_mix_agree_with_the_plan(
    throughput_problem: Problem, catalog: Catalog
) -> None:
    plan = solve(throughput_problem, catalog, QUICK)
    assert_valid(plan, throughput_problem, catalog)
    table = throughput_table(plan)
    rated = {w.name for w in throughput_problem.workloads if w.requests_per_second is not None}
    assert set(table["workload"]) == rated
    instances: dict[tuple[str, str], int] = {}
    for gpu in plan.gpus:
        for inst in gpu.instances:
            if inst.workload in rated:
                key = (inst.workload, inst.profile)
                instances[key] = instances.get(key, 0) + 1
    mix = profile_mix_frame(plan)
    assert {(r.workload, r.profile): r.instances for r in mix.itertuples()} == instances
    for row in table.itertuples():
        assert row.instances == sum(n for (w, _), n in instances.items() if w == row.workload)
        assert row.served_share == pytest.approx(row.served_rps / row.required_rps)
    chart = charts.served_share_chart(table).to_dict()
    assert chart["layer"][0]["mark"]["type"] == "bar"
    assert charts.profile_mix_chart(mix).to_dict()["mark"]["type"] == "bar"


def test_rate_served_share_counts_each_workload_up_to_its_rate(
    throughput_problem: Problem, catalog: Catalog
) -> None:
    from recommender.baselines import BASELINES

    whole = BASELINES["whole-gpu"](throughput_problem, catalog)
    assert_valid(whole, throughput_problem, catalog)
    assert whole.summary is not None
    served = whole.summary.throughput
    expected = sum(min(t.served_rps, t.required_rps) for t in served) / sum(
        t.required_rps for t in served
    )
    share = rate_served_share(whole)
    assert share == pytest.approx(expected)
    # Whole GPUs leave rated workloads unserved in the sample; over-serving one never makes up.
    assert whole.unplaced and share is not None and share < 1
    assert rate_served_share(solve(throughput_problem, catalog, QUICK)) == pytest.approx(1.0)


def test_profile_mix_text_orders_by_count() -> None:
    assert profile_mix_text({"7g.80gb": 1, "1g.10gb": 3}) == "3 x 1g.10gb + 1 x 7g.80gb"
    assert profile_mix_text({"1g.10gb": 0}) == ""


def test_a_plan_without_throughput_has_an_empty_table(replanned: Plan) -> None:
    assert rate_served_share(replanned) is None
    assert throughput_table(replanned).empty
    assert profile_mix_frame(replanned).empty


# --- the re-plan's GPU states in the layout view -------------------------------------------------


def test_gpu_states_are_the_definitions(
    replanned: Plan, current: list[PlanGpu], sample: Problem
) -> None:
    states = gpu_states(replanned, sample, current)
    assert states == classify_gpus(current, replanned.gpus)
    # Without a transition the definitions are applied to the current state given.
    bare = replanned.model_copy(update={"transition": None})
    assert gpu_states(bare, sample, current) == states
    assert gpu_states(bare, sample) == {}
    transition = replanned.transition
    assert transition is not None
    counts = pd.Series(list(states.values())).value_counts().to_dict()
    assert counts.get("kept", 0) == transition.kept
    assert counts.get("re-carved", 0) == transition.recarved
    assert counts.get("released", 0) == transition.released
    assert counts.get("new", 0) == transition.new


def test_layout_rows_carry_states_and_groups_never_mix_them(
    replanned: Plan, current: list[PlanGpu], sample: Problem, catalog: Catalog
) -> None:
    states = gpu_states(replanned, sample, current)
    released = released_gpus(states, sample)
    assert [(g.pool, g.index) for g in released] == sorted(
        k for k, s in states.items() if s == "released"
    )
    assert all(not g.instances for g in released)
    gpus = [g for g in replanned.gpus if g.instances] + released
    for group in (False, True):
        rows = layout_rows(gpus, catalog, group, states)
        assert sum(r.count for r in rows) == len(gpus)
        for row in rows:
            assert {states.get((row.pool, i)) for i in row.indices} == {row.state}
    # A pool filter applies to released GPUs too.
    pool = sample.pools[0].pool
    assert all(g.pool == pool for g in released_gpus(states, sample, pools=[pool]))


def test_the_layout_chart_draws_a_state_strip_left_of_unit_zero(
    replanned: Plan, current: list[PlanGpu], sample: Problem, catalog: Catalog
) -> None:
    states = gpu_states(replanned, sample, current)
    gpus = [g for g in replanned.gpus if g.instances and g.gpu_model == "A100-40GB"]
    gpus += released_gpus(states, sample, models=["A100-40GB"])
    rows = layout_rows(gpus, catalog, False, states)
    colors = charts.workload_colors([w.name for w in sample.workloads])
    frame = charts.layout_frame(rows, None, colors)
    strips = frame[frame["start"] < 0]
    assert len(strips) == len(rows)
    assert set(strips["line1"]) == {r.state for r in rows}
    assert set(strips["category"]) <= set(charts.STATE_COLORS)
    spec = charts.layout_chart(rows, colors).to_dict()
    x = spec["layer"][0]["encoding"]["x"]
    assert x["scale"]["domain"][0] == -charts.STATE_STRIP_UNITS
    domain = spec["layer"][0]["encoding"]["color"]["scale"]["domain"]
    assert {charts.STATE_CATEGORIES[r.state] for r in rows} <= set(domain)
    # A fresh plan's chart has no strip and starts at unit 0.
    fresh = charts.layout_chart(layout_rows(gpus[:1], catalog, False), colors).to_dict()
    assert fresh["layer"][0]["encoding"]["x"]["scale"]["domain"][0] == 0


# --- the rollout tables ------------------------------------------------------------------------


def test_wave_and_move_tables_list_every_wave_gpu_and_move(replanned: Plan) -> None:
    transition = replanned.transition
    assert transition is not None and transition.waves
    waves = wave_table(transition)
    assert list(waves["wave"]) == [w.index for w in transition.waves]
    assert list(waves["moves"]) == [len(w.moves) for w in transition.waves]
    for row, wave in zip(waves.itertuples(), transition.waves, strict=True):
        assert row.nodes == ", ".join(wave.nodes)
        listed = ", ".join(x for x in (row.gpus_recarved, row.gpus_released, row.gpus_carved) if x)
        assert sorted(listed.split(", ")) == sorted(f"{g.pool}#{g.index}" for g in wave.gpus)
    moves = move_table(transition)
    assert len(moves) == sum(len(w.moves) for w in transition.waves)
    first = next(m for w in transition.waves for m in w.moves)
    assert moves.iloc[0]["from"] == (slot_label(first.from_slot) or "new replica")
    assert moves.iloc[0]["to"] == (slot_label(first.to_slot) or "stopped")


def test_dips_and_extra_gpus_read_as_tables_and_words() -> None:
    transition = Transition(
        current_cost_per_hour=10.0,
        kept=1,
        recarved=1,
        released=0,
        new=0,
        moved_replicas=2,
        nodes_touched=1,
        dips=[Dip(workload="llm", floor=2, lowest=1, by=1, waves=[1, 3])],
        extra_gpus_needed={"a100": 2, "h100": 0},
    )
    dips = dip_table(transition)
    assert dips.to_dict(orient="records") == [
        {"workload": "llm", "floor": 2, "lowest": 1, "below_by": 1, "waves": "1, 3"}
    ]
    assert extra_gpus_text(transition) == "2 extra idle GPUs (2 in a100) would keep every floor."
    calm = transition.model_copy(update={"dips": [], "extra_gpus_needed": {}})
    assert dip_table(calm).empty and extra_gpus_text(calm) == ""
    assert wave_table(calm).empty and move_table(calm).empty


# --- the frontier chart ------------------------------------------------------------------------


def test_frontier_frame_and_chart(
    sample: Problem, catalog: Catalog, current: list[PlanGpu]
) -> None:
    result = frontier(sample, catalog, current, 3, SolveOptions(time_limit_seconds=9, workers=2))
    for point in result.points:
        assert point.plan is not None
        assert_valid(point.plan, sample, catalog, current)
    frame = charts.frontier_frame(result, picked=1)
    assert list(frame["moved_replicas"]) == [p.moved_replicas for p in result.points]
    assert list(frame["cost_per_hour"]) == [round(p.cost_per_hour, 4) for p in result.points]
    assert list(frame["picked"]) == [n == 1 for n in range(len(result.points))]
    for text, point in zip(frame["text"], result.points, strict=True):
        assert text.startswith(f"{point.recarved_gpus} GPU")
        assert ("places" in text) == (point.replicas_placed < point.replicas_total)
    # The ends: change nothing moves nothing; the fresh optimum is last (no move budget).
    assert (frame.iloc[0]["label"], frame.iloc[0]["moved_replicas"]) == ("change nothing", 0)
    assert frame.iloc[-1]["label"] == "fresh optimum"
    assert frame.iloc[-1]["cost_per_hour"] == round(result.fresh_cost_per_hour, 4)
    spec = json.dumps(charts.frontier_chart(frame, result.current_cost_per_hour).to_dict())
    assert f"running fleet now: ${result.current_cost_per_hour:,.2f}/h" in spec
    assert "fresh optimum" in spec and "change nothing" in spec


def test_a_frontier_point_label_says_what_it_leaves_unplaced() -> None:
    from recommender.frontier import FrontierPoint

    point = FrontierPoint(
        label="change nothing",
        max_moves=0,
        max_recarve=0,
        status="optimal",
        cost_per_hour=1.0,
        lower_bound_per_hour=1.0,
        gap=0.0,
        replicas_placed=60,
        replicas_total=69,
        moved_replicas=0,
        recarved_gpus=1,
        released_gpus=0,
        new_gpus=0,
        seconds=0.1,
    )
    assert charts.frontier_point_text(point) == "1 GPU re-carved, places 60 of 69"


def test_gpu_states_treat_replicas_of_retired_workloads_as_stopped(sample: Problem) -> None:
    """Without a stored transition the page applies the definitions itself, and like every
    re-plan it counts a GPU hosting only replicas of a workload that is gone as idle."""
    pool = sample.pools[0]
    where = {"pool": pool.pool, "index": 0, "gpu_model": pool.gpu_model}
    gone = {"profile": "7g.40gb", "start": 0, "workload": "gone", "replica": 0}
    kept_name = sample.workloads[0].name
    new = {"profile": "3g.20gb", "start": 4, "workload": kept_name, "replica": 0}
    hosting_gone = PlanGpu.model_validate({**where, "instances": [gone]})
    recarved = PlanGpu.model_validate({**where, "instances": [new]})
    plan = Plan(
        status="feasible", cost_per_hour=1, lower_bound_per_hour=0, gpus=[recarved], unplaced=[]
    )
    assert classify_gpus([hosting_gone], plan.gpus) == {(pool.pool, 0): "re-carved"}
    assert gpu_states(plan, sample, [hosting_gone]) == {(pool.pool, 0): "new"}

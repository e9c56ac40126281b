"""Throughput demand: the performance table, the selection rule, the model, baselines, exports.

Every plan a test makes goes through the independent validator (`assert_valid`), which
recomputes each instance's best qualifying configuration and the served rates on its own.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.baselines import BASELINES, baselines_for
from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.exports import plan_to_csv, plan_to_kubernetes, plan_to_nvidia_smi
from recommender.pergpu import solve_per_gpu
from recommender.plan import Plan
from recommender.problem import PerformanceRow, Pool, Problem, Workload
from recommender.reading import load_problem, read_performance
from recommender.solve import SolveOptions, solve
from recommender.throughput import PerformanceIndex, scaled_rate, scaled_throughput
from recommender.validate import validate_plan
from tests.conftest import assert_valid

SAMPLE = Path(__file__).parents[1] / "data" / "throughput"
PERF_HEADER = "model,gpu_model,profile,throughput_rps,latency_ms,batch_size,processes,memory_gb\n"


def quick(problem: Problem, catalog: Catalog, seconds: float = 20.0) -> Plan:
    plan = solve(problem, catalog, SolveOptions(time_limit_seconds=seconds, workers=2))
    assert_valid(plan, problem, catalog)
    return plan


def served_of(plan: Plan) -> dict[str, float]:
    assert plan.summary is not None
    return {row.workload: row.served_rps for row in plan.summary.throughput}


@pytest.fixture(scope="module")
def sample(catalog: Catalog) -> Problem:
    return load_problem(
        SAMPLE / "workloads.csv",
        SAMPLE / "fleet.csv",
        catalog,
        performance=SAMPLE / "performance.csv",
    )


# --- reading -------------------------------------------------------------------------------------


def test_sample_loads_with_nvidia_smi_aliases_and_defaults(catalog: Catalog) -> None:
    rows = read_performance(SAMPLE / "performance.csv", catalog)
    assert len(rows) == 12
    assert {r.model for r in rows} == {"resnet50", "bert-large", "ssd-resnet34", "rnnt"}
    assert all(r.processes == 1 and r.memory_gb is None for r in rows)
    alias = PERF_HEADER + "m,NVIDIA A100-SXM4-80GB,1g.10gb,10,,,,\n"
    (row,) = read_performance(alias.encode(), catalog)
    assert row.gpu_model == "A100-80GB"
    assert (row.latency_ms, row.batch_size, row.processes) == (None, None, 1)


def test_performance_errors_are_all_reported_with_line_and_column(catalog: Catalog) -> None:
    text = PERF_HEADER + (
        "a,A100-80GB,1g.10gb,10,,,,\n"  # fine
        "b,A100-99GB,1g.10gb,10,,,,\n"  # unknown GPU model
        "c,A100-80GB,1g.5gb,10,,,,\n"  # not a profile of that model
        "d,A100-80GB,1g.10gb,-3,,,,\n"  # throughput <= 0
        "e,A100-80GB,1g.10gb,fast,0,0.5,0,-1\n"  # not a number; latency, batch, processes, memory
        "f,A100-80GB,1g.10gb,20000000,,,,\n"  # beyond the largest rate
        ",A100-80GB,,10,,,,\n"  # empty model and profile
    )
    with pytest.raises(InputError) as caught:
        read_performance(text.encode(), catalog, "perf.csv")
    found = [(i.line, i.column) for i in caught.value.issues]
    assert (3, "gpu_model") in found
    assert (4, "profile") in found
    assert (5, "throughput_rps") in found
    for column in ("throughput_rps", "latency_ms", "batch_size", "processes", "memory_gb"):
        assert (6, column) in found
    assert (7, "throughput_rps") in found
    assert (8, "model") in found and (8, "profile") in found
    assert all(i.file == "perf.csv" for i in caught.value.issues)
    assert "1g.10gb" in next(i.message for i in caught.value.issues if i.line == 4)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"\x00\xff\xfe binary", "UTF-8"),
        (PERF_HEADER.encode(), "no data rows"),
        (b"model,gpu_model,profile\n", "throughput_rps"),
        (PERF_HEADER.encode() + b'a,A100-80GB,"1g.10gb,10\n', "quote"),
        (PERF_HEADER.encode() + b"a,A100-80GB,1g.10gb,10,,,,,extra\n", "fields"),
        (b"model,gpu_model,profile,throughput_rps,colour\n", "unknown column"),
    ],
)
def test_hostile_performance_files_are_input_errors(
    catalog: Catalog, content: bytes, needle: str
) -> None:
    with pytest.raises(InputError) as caught:
        read_performance(content, catalog)
    assert needle in str(caught.value)


def test_huge_performance_file_reads(catalog: Catalog) -> None:
    body = "".join(f"m{i},A100-80GB,1g.10gb,{i + 1},,,,\n" for i in range(50_000))
    rows = read_performance((PERF_HEADER + body).encode(), catalog)
    assert len(rows) == 50_000 and rows[-1].throughput_rps == 50_000


def test_duplicate_configuration_is_refused(catalog: Catalog) -> None:
    text = PERF_HEADER + "a,A100-80GB,1g.10gb,10,,1,,\na,A100-80GB,1g.10gb,12,,1,,\n"
    with pytest.raises(InputError) as caught:
        read_performance(text.encode(), catalog)
    assert "first on line 2" in str(caught.value)


def test_workload_throughput_columns_are_checked(catalog: Catalog) -> None:
    workloads = (
        "name,memory_gb,requests_per_second,latency_ms,model\n"
        "ok,2,100,5,resnet50\n"
        "slow,2,,5,\n"  # latency without a rate
        "named,2,,,resnet50\n"  # model without a rate
        "zero,2,0,,\n"  # rate not > 0
        "tiny,2,0.0001,,\n"  # below the smallest rate
    )
    fleet = "pool,gpu_model,gpus,cost_per_hour\np,A100-80GB,2,1\n"
    with pytest.raises(InputError) as caught:
        load_problem(
            workloads.encode(), fleet.encode(), catalog, performance=SAMPLE / "performance.csv"
        )
    found = {(i.line, i.column) for i in caught.value.issues}
    assert found == {
        (3, "latency_ms"),
        (4, "model"),
        (5, "requests_per_second"),
        (6, "requests_per_second"),
    }


def test_throughput_workloads_need_a_performance_table(catalog: Catalog) -> None:
    with pytest.raises(InputError) as caught:
        load_problem(SAMPLE / "workloads.csv", SAMPLE / "fleet.csv", catalog)
    lines = {i.line for i in caught.value.issues}
    assert lines == set(range(2, 9))  # every throughput row, not the count workload on line 9


# --- the selection rule -------------------------------------------------------------------------


def row(profile: str, rps: float, latency: float | None = None, **more: object) -> PerformanceRow:
    return PerformanceRow(
        model="m", gpu_model="A100-40GB", profile=profile, throughput_rps=rps, latency_ms=latency,
        **more,
    )  # fmt: skip


def test_best_row_respects_latency_memory_and_no_interpolation(catalog: Catalog) -> None:
    model = catalog.model("A100-40GB")
    index = PerformanceIndex(
        [
            row("1g.5gb", 100, latency=50),
            row("1g.5gb", 60, latency=5, batch_size=1),
            row("2g.10gb", 500, memory_gb=8),  # needs 8 GiB: fits 2g.10gb (9.75 GiB)
            row("3g.20gb", 900, memory_gb=30),  # needs 30 GiB: fits no 3g.20gb
        ]
    )
    relaxed = Workload(name="w", memory_gb=2, requests_per_second=1, model="m")
    strict = Workload(name="s", memory_gb=2, requests_per_second=1, model="m", latency_ms=10)
    one = model.profile("1g.5gb")
    assert index.best(relaxed, "A100-40GB", model, one).throughput_rps == 100
    assert index.best(strict, "A100-40GB", model, one).throughput_rps == 60
    assert index.best(relaxed, "A100-40GB", model, model.profile("2g.10gb")).throughput_rps == 500
    assert index.best(relaxed, "A100-40GB", model, model.profile("3g.20gb")) is None
    # No row for 4g.20gb or 7g.40gb: they serve nothing, whatever the neighbours serve.
    assert index.best(relaxed, "A100-40GB", model, model.profile("4g.20gb")) is None
    assert set(index.options(strict, "A100-40GB", model)) == {"1g.5gb", "2g.10gb"}
    # A workload restricted to another GPU model gets nothing here.
    elsewhere = relaxed.model_copy(update={"gpu_models": ("H100-80GB",)})
    assert index.best(elsewhere, "A100-40GB", model, one) is None


def test_integer_rates_never_overstate_coverage() -> None:
    for rps in (0.001, 0.3, 4.35, 1234.5678, 60000.0):
        assert scaled_rate(rps) / 1000 >= rps - 1e-12
        assert scaled_throughput(rps) / 1000 <= rps + 1e-12
    assert scaled_rate(0.3) == 300 and scaled_throughput(4.35) == 4350


# --- the model ---------------------------------------------------------------------------------


def test_sample_is_served_at_proven_minimum_cost(sample: Problem, catalog: Catalog) -> None:
    plan = quick(sample, catalog)
    assert plan.status == "optimal"
    assert plan.unplaced == []
    required = {w.name: w.requests_per_second for w in sample.workloads if w.is_throughput}
    for name, got in served_of(plan).items():
        assert got >= required[name]
    # The latency objectives leave only the batch-1 (SingleStream) rows for these two.
    on_instances = [
        i
        for g in plan.gpus
        for i in g.instances
        if i.workload in ("visual-search", "intent-online")
    ]
    assert on_instances and all(i.batch_size == 1 for i in on_instances)


def test_sample_beats_both_throughput_baselines(sample: Problem, catalog: Catalog) -> None:
    plan = quick(sample, catalog)
    for key in ("biggest-instance", "best-per-slice"):
        baseline = BASELINES[key](sample, catalog)
        assert_valid(baseline, sample, catalog)
        served_all = not baseline.unplaced
        assert not served_all or baseline.cost_per_hour >= plan.cost_per_hour - 1e-9
    # Biggest instance cannot meet the 1 ms and 10 ms objectives: no full-GPU row that fast.
    biggest = BASELINES["biggest-instance"](sample, catalog)
    assert {"visual-search", "intent-online"} <= {u.workload for u in biggest.unplaced}


def test_every_baseline_gives_valid_plans_on_throughput(sample: Problem, catalog: Catalog) -> None:
    keys = {b.key for b in baselines_for(sample)}
    assert {"biggest-instance", "best-per-slice", "whole-gpu"} <= keys
    for baseline in baselines_for(sample):
        assert_valid(baseline(sample, catalog), sample, catalog)


def test_throughput_baselines_are_not_offered_without_throughput(catalog: Catalog) -> None:
    problem = Problem(
        workloads=(Workload(name="w", memory_gb=4),),
        pools=(Pool(pool="p", gpu_model="A100-40GB", gpus=1, cost_per_hour=1),),
    )
    assert {b.key for b in baselines_for(problem)}.isdisjoint(
        {"biggest-instance", "best-per-slice"}
    )


def small_problem(
    rows: list[PerformanceRow], workloads: list[Workload], gpus: int = 3, model: str = "A100-40GB"
) -> Problem:
    return Problem(
        workloads=tuple(workloads),
        pools=(Pool(pool="p", gpu_model=model, gpus=gpus, cost_per_hour=2.0),),
        performance=tuple(rows),
    )


def test_mixed_count_and_throughput_share_gpus(catalog: Catalog) -> None:
    rows = [row("1g.5gb", 100), row("3g.20gb", 350), row("7g.40gb", 700)]
    problem = small_problem(
        rows,
        [
            Workload(name="tp", memory_gb=4, requests_per_second=300, model="m"),
            Workload(name="count", memory_gb=9, compute_slices=2, replicas=2),
        ],
    )
    plan = quick(problem, catalog)
    assert plan.unplaced == [] and len(plan.gpus) == 1
    # 2g.10gb x2 for the count workload and 1g.5gb x3 (300 rps) share one GPU.
    assert served_of(plan)["tp"] >= 300
    hosted = [i.workload for g in plan.gpus for i in g.instances if i.workload]
    assert hosted.count("count") == 2


def test_unusable_workload_is_unplaced_with_a_specific_reason(catalog: Catalog) -> None:
    rows = [row("1g.5gb", 100, latency=20)]
    workloads = [
        Workload(name="too-fast", memory_gb=2, requests_per_second=10, model="m", latency_ms=5),
        Workload(name="unknown", memory_gb=2, requests_per_second=10, model="nope"),
        Workload(name="too-big", memory_gb=30, requests_per_second=10, model="m"),
        Workload(name="fine", memory_gb=2, requests_per_second=150, model="m", replicas=3),
    ]
    plan = quick(small_problem(rows, workloads), catalog)
    reasons = {u.workload: u.reason for u in plan.unplaced}
    assert "latency_ms 5" in reasons["too-fast"]
    assert "no row for model 'nope'" in reasons["unknown"]
    assert "fits a profile" in reasons["too-big"]
    assert "fine" not in reasons  # 3 instances (its minimum) of 1g.5gb serve 300 >= 150
    entry = next(u for u in plan.unplaced if u.workload == "too-fast")
    assert entry.requests_per_second == 10 and entry.replicas == 1


def test_short_capacity_serves_as_much_as_it_can(catalog: Catalog) -> None:
    rows = [row("7g.40gb", 100)]
    workload = Workload(name="big", memory_gb=2, requests_per_second=1000, model="m")
    plan = quick(small_problem(rows, [workload], gpus=3), catalog)
    assert served_of(plan)["big"] == pytest.approx(300)
    (entry,) = plan.unplaced
    assert entry.requests_per_second == pytest.approx(700) and entry.replicas == 7


def test_priority_decides_who_is_served_when_short(catalog: Catalog) -> None:
    rows = [row("7g.40gb", 100)]
    workloads = [
        Workload(name="low", memory_gb=2, requests_per_second=200, model="m", priority=1),
        Workload(name="high", memory_gb=2, requests_per_second=200, model="m", priority=3),
    ]
    plan = quick(small_problem(rows, workloads, gpus=2), catalog)
    assert served_of(plan) == {"low": 0.0, "high": 200.0}


def test_spread_throughput_instances_sit_on_distinct_gpus(catalog: Catalog) -> None:
    rows = [row("1g.5gb", 100)]
    workload = Workload(name="s", memory_gb=2, requests_per_second=250, model="m", spread=True)
    plan = quick(small_problem(rows, [workload], gpus=4), catalog)
    hosting = [g.index for g in plan.gpus for i in g.instances if i.workload == "s"]
    assert len(hosting) == 3 == len(set(hosting))


def test_validator_catches_wrong_throughput_claims(sample: Problem, catalog: Catalog) -> None:
    plan = quick(sample, catalog)
    data = plan.model_dump()
    target = next(i for g in data["gpus"] for i in g["instances"] if i["workload"])
    target["throughput_rps"] = target["throughput_rps"] * 2
    assert any("best qualifying configuration" in v for v in validate_plan(data, sample, catalog))
    data = plan.model_dump()
    for gpu in data["gpus"]:
        gpu["instances"] = [i for i in gpu["instances"] if i["workload"] != "qa-batch"]
    assert any("not listed as unplaced" in v for v in validate_plan(data, sample, catalog))
    data = plan.model_dump()
    spare = next(i for g in data["gpus"] for i in g["instances"] if i["workload"] is None)
    spare["processes"] = 2
    assert any("hosts no throughput workload" in v for v in validate_plan(data, sample, catalog))


# --- exports and CLI -----------------------------------------------------------------------------


def test_exports_carry_the_configuration(sample: Problem, catalog: Catalog) -> None:
    plan = quick(sample, catalog)
    lines = plan_to_csv(plan, sample, catalog).splitlines()
    assert lines[0].endswith("batch_size,processes,throughput_rps")
    voice = [line for line in lines if ",voice-commands," in line]
    assert voice and all(line.endswith(",1,1,22.17") for line in voice)
    assert "serves 22.17 requests/s (batch 1, 1 process)" in plan_to_nvidia_smi(
        plan, sample, catalog
    )
    assert "processes: 1" in plan_to_kubernetes(plan, sample, catalog)


def test_cli_plan_and_check_with_performance(tmp_path: Path, catalog: Catalog) -> None:
    from tests.test_cli import run_cli

    args = [str(SAMPLE / "workloads.csv"), str(SAMPLE / "fleet.csv")]
    perf = ["--performance", str(SAMPLE / "performance.csv")]
    out = tmp_path / "plan.json"
    run = run_cli(["plan", *args, *perf, "--time-limit", "20", "--json", str(out)])
    assert run.code == 0, run.err
    assert "throughput (served vs required):" in run.out
    assert run_cli(["check", str(out), *args, *perf]).code == 0
    missing = run_cli(["plan", *args, "--time-limit", "5"])
    assert missing.code != 0 and "needs a performance table" in missing.err


# --- exactness: the GPU count is the proven minimum ----------------------------------------------

A30_PROFILES = ("1g.6gb", "2g.12gb", "4g.24gb")


def brute_force_gpus(problem: Problem, catalog: Catalog) -> int | None:
    """Fewest A30 GPUs serving every workload, by exhaustive search over per-GPU layouts.

    A30 layouts (4 units): 4g; 2g+2g; 2g+1g+1g; 1g x4 (and subsets). Each instance serves one
    workload; a GPU count works if some assignment of instances covers every rate and minimum.
    """
    model = catalog.model("A30-24GB")
    index = PerformanceIndex(problem.performance)
    layouts = [("4g.24gb",), ("2g.12gb", "2g.12gb"), ("2g.12gb", "1g.6gb", "1g.6gb")]
    layouts.append(("1g.6gb",) * 4)
    rate = {
        (w.name, p): scaled_throughput(r.throughput_rps)
        for w in problem.workloads
        for p in A30_PROFILES
        if (r := index.best(w, "A30-24GB", model, model.profile(p))) is not None
    }
    names = [w.name for w in problem.workloads]
    for gpus in range(0, problem.pools[0].gpus + 1):
        for carving in itertools.combinations_with_replacement(layouts, gpus):
            slots = [p for layout in carving for p in layout]
            for owners in itertools.product([*names, None], repeat=len(slots)):
                ok = True
                for w in problem.workloads:
                    mine = [p for p, o in zip(slots, owners, strict=True) if o == w.name]
                    served = sum(rate.get((w.name, p), 0) for p in mine)
                    unusable = any((w.name, p) not in rate for p in mine)
                    need = scaled_rate(w.requests_per_second or 0)
                    if unusable or served < need or len(mine) < w.replicas:
                        ok = False
                        break
                if ok:
                    return gpus
    return None


rates = st.integers(min_value=1, max_value=40).map(lambda n: n * 5.0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    one=rates,
    two=rates,
    four=rates,
    demand=st.lists(st.integers(min_value=5, max_value=120), min_size=1, max_size=2),
)
def test_gpu_count_is_the_exhaustive_minimum(
    catalog: Catalog, one: float, two: float, four: float, demand: list[int]
) -> None:
    rows = [
        PerformanceRow(model="m", gpu_model="A30-24GB", profile=p, throughput_rps=t)
        for p, t in zip(A30_PROFILES, (one, two, four), strict=True)
    ]
    workloads = [
        Workload(name=f"w{i}", memory_gb=2, requests_per_second=float(r), model="m")
        for i, r in enumerate(demand)
    ]
    problem = Problem(
        workloads=tuple(workloads),
        pools=(Pool(pool="a30", gpu_model="A30-24GB", gpus=2, cost_per_hour=1.0),),
        performance=tuple(rows),
    )
    expected = brute_force_gpus(problem, catalog)
    plan = quick(problem, catalog, seconds=10)
    if expected is None:
        assert plan.unplaced, "the exhaustive search found no plan serving everything"
        return
    assert plan.status == "optimal" and plan.unplaced == []
    assert len([g for g in plan.gpus if g.instances]) == expected


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    speeds=st.lists(st.integers(min_value=1, max_value=50), min_size=4, max_size=4),
    demand=st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=2),
    minimum=st.integers(min_value=1, max_value=3),
)
def test_layout_count_model_agrees_with_per_gpu_model(
    catalog: Catalog, speeds: list[int], demand: list[int], minimum: int
) -> None:
    profiles = ("1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb")
    rows = [
        row(p, float(s * (i + 1))) for i, (p, s) in enumerate(zip(profiles, speeds, strict=True))
    ]
    workloads = [
        Workload(
            name=f"w{i}", memory_gb=3, requests_per_second=float(r), model="m", replicas=minimum
        )
        for i, r in enumerate(demand)
    ]
    problem = small_problem(rows, workloads, gpus=2)
    plan = quick(problem, catalog, seconds=10)
    reference = solve_per_gpu(problem, catalog, time_limit_seconds=20, workers=2)
    assert_valid(reference.plan, problem, catalog)
    assert reference.optimal and plan.status == "optimal"
    shortfall = {u.workload: u.requests_per_second for u in plan.unplaced}
    reference_shortfall = {u.workload: u.requests_per_second for u in reference.plan.unplaced}
    if not shortfall and not reference_shortfall:
        assert math.isclose(plan.cost_per_hour, reference.cost_per_hour)


def test_replanning_a_throughput_plan_keeps_it_and_its_configurations(
    sample: Problem, catalog: Catalog
) -> None:
    """Stability with request rates: every instance keeps its profile and configuration (the
    re-plan's tidy-up must not swap a measured profile for a twin without a row)."""
    plan = quick(sample, catalog)
    current = [g.model_copy(deep=True) for g in plan.gpus]
    options = SolveOptions(time_limit_seconds=20, workers=2, current=current)
    replan = solve(sample, catalog, options)
    assert_valid(replan, sample, catalog, current)
    assert replan.transition is not None
    assert (replan.transition.moved_replicas, replan.transition.recarved) == (0, 0)
    assert replan.cost_per_hour == pytest.approx(plan.cost_per_hour)

    def configured(p: Plan) -> list[tuple]:
        return sorted(
            (g.pool, g.index, i.profile, i.start, i.workload, i.throughput_rps, i.batch_size)
            for g in p.gpus
            for i in g.instances
            if i.workload is not None
        )

    assert configured(replan) == configured(plan)

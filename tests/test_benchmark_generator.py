"""The benchmark's instance generator and runner (benchmarks/generate.py, benchmarks/run.py).

The generator must be reproducible and produce what the issue asks for (exact totals, realistic
mixes, placeable unless capacity-short); the runner must write RESULTS.md with the target and
baseline tables and say NOT MET when a target is missed. Every plan made here is validated.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from benchmarks.generate import (
    MAX_SPREAD_REPLICAS,
    NORMAL_SHARE,
    PRICE_RANGES,
    RESTRICTED_BUDGET,
    SHORT_SHARE,
    generate_instance,
    gpu_share,
    workload_count,
)
from benchmarks.run import SIZES, Size, evaluate, parse_sizes, render_markdown
from recommender.catalog import Catalog
from recommender.problem import Problem
from recommender.reading import load_catalog, load_problem
from recommender.solve import SolveOptions, solve
from recommender.validate import validate_plan

REPO = Path(__file__).resolve().parent.parent
BENCHMARK_SIZES = [(16, 60), (200, 1_000), (2_000, 10_000), (20_000, 100_000)]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def problem_of(
    gpus: int, replicas: int, seed: int, catalog: Catalog, short: bool = False
) -> Problem:
    workloads, fleet = generate_instance(gpus, replicas, seed, short)
    return load_problem(workloads.encode(), fleet.encode(), catalog)


def summed_share(problem: Problem, catalog: Catalog) -> float:
    """Sum over replicas of the smallest GPU fraction that hosts them (the generator's measure)."""
    present = {p.gpu_model: catalog.model(p.gpu_model) for p in problem.pools}
    total = 0.0
    for w in problem.workloads:
        allowed = {m: present[m] for m in (w.gpu_models or present) if m in present}
        share = gpu_share(w.memory_gb, w.compute_slices, w.media, allowed)
        assert share is not None, f"{w.name} fits no GPU of the fleet"
        total += share * w.replicas
    return total


# --- generator ---------------------------------------------------------------------------------


def test_same_seed_gives_the_same_text_and_another_seed_differs() -> None:
    first = generate_instance(200, 1_000, seed=7)
    assert generate_instance(200, 1_000, seed=7) == first
    assert generate_instance(200, 1_000, seed=8) != first
    assert generate_instance(200, 1_000, seed=7, capacity_short=True) != first


@pytest.mark.parametrize(("gpus", "replicas"), [*BENCHMARK_SIZES, (6, 20)])
def test_totals_match_and_the_csvs_load(gpus: int, replicas: int, catalog: Catalog) -> None:
    workloads_text, fleet_text = generate_instance(gpus, replicas, seed=0)
    assert sum(int(r["replicas"]) for r in rows(workloads_text)) == replicas
    assert sum(int(r["gpus"]) for r in rows(fleet_text)) == gpus
    problem = load_problem(workloads_text.encode(), fleet_text.encode(), catalog)
    assert problem.total_replicas == replicas
    assert sum(p.gpus for p in problem.pools) == gpus
    assert len(problem.workloads) == workload_count(replicas)


def test_workload_count_follows_replicas_with_bounds() -> None:
    assert workload_count(60) == 10
    assert workload_count(1_000) == 50
    assert workload_count(10_000) == 500
    assert workload_count(100_000) == 2_000


@pytest.mark.parametrize(("gpus", "replicas"), BENCHMARK_SIZES)
def test_instances_have_the_realistic_mix(gpus: int, replicas: int, catalog: Catalog) -> None:
    problem = problem_of(gpus, replicas, 3, catalog)
    models = {p.gpu_model for p in problem.pools}
    assert models == set(PRICE_RANGES)
    for pool in problem.pools:
        low, high = PRICE_RANGES[pool.gpu_model]
        assert low <= pool.cost_per_hour <= high, pool
    workloads = problem.workloads
    assert {w.priority for w in workloads} <= {1, 2, 3}
    assert any(w.media for w in workloads)
    spread = [w for w in workloads if w.spread]
    assert spread and all(w.replicas <= MAX_SPREAD_REPLICAS for w in spread)
    assert any(w.gpu_models for w in workloads)
    for w in workloads:
        if w.memory_gb > 100:  # 70B-class fp16 only on H200/B200
            assert set(w.gpu_models or ()) <= {"H200-141GB", "B200-180GB"}, w
    if gpus >= 200:
        assert len({w.priority for w in workloads}) == 3
        assert any(w.memory_gb < 3 for w in workloads)  # embedders
        assert any(w.memory_gb >= 18 for w in workloads)  # 7B+ LLMs


@pytest.mark.parametrize(("gpus", "replicas"), BENCHMARK_SIZES[1:])
def test_bigger_fleets_have_two_pools_of_a_model_at_different_prices(
    gpus: int, replicas: int, catalog: Catalog
) -> None:
    problem = problem_of(gpus, replicas, 0, catalog)
    prices: dict[str, list[float]] = defaultdict(list)
    for pool in problem.pools:
        prices[pool.gpu_model].append(pool.cost_per_hour)
    repeated = {m: p for m, p in prices.items() if len(p) >= 2}
    assert repeated
    assert all(len(set(p)) == len(p) for p in repeated.values())


@pytest.mark.parametrize(("gpus", "replicas"), BENCHMARK_SIZES)
def test_demand_is_calibrated_to_the_fleet(gpus: int, replicas: int, catalog: Catalog) -> None:
    normal = summed_share(problem_of(gpus, replicas, 1, catalog), catalog)
    # The target, or the least the replica count allows (7 replicas per GPU at best).
    floor = replicas / 7
    assert NORMAL_SHARE * gpus - 2 <= normal <= max(NORMAL_SHARE * gpus, floor) + 0.05 * gpus
    short = summed_share(problem_of(gpus, replicas, 1, catalog, short=True), catalog)
    assert short > gpus  # more demand than the whole fleet could hold even packed perfectly
    assert short <= SHORT_SHARE * gpus + 0.01


def test_restricted_workloads_fit_their_models(catalog: Catalog) -> None:
    # Restricted demand per model list stays within the generator's budget of those GPUs.
    problem = problem_of(2_000, 10_000, 0, catalog)
    present = {p.gpu_model: catalog.model(p.gpu_model) for p in problem.pools}
    gpus_of = Counter()
    for pool in problem.pools:
        gpus_of[pool.gpu_model] += pool.gpus
    demand: dict[tuple[str, ...], float] = defaultdict(float)
    for w in problem.workloads:
        if w.gpu_models:
            allowed = {m: present[m] for m in w.gpu_models}
            share = gpu_share(w.memory_gb, w.compute_slices, w.media, allowed)
            assert share is not None
            demand[w.gpu_models] += share * w.replicas
    assert len(demand) >= 3
    for models, need in demand.items():
        assert need <= RESTRICTED_BUDGET * sum(gpus_of[m] for m in models) + 1, models


@pytest.mark.parametrize(("gpus", "replicas"), BENCHMARK_SIZES[:2])
def test_normal_instances_are_placeable_and_use_most_of_the_fleet(
    gpus: int, replicas: int, catalog: Catalog
) -> None:
    problem = problem_of(gpus, replicas, 0, catalog)
    plan = solve(problem, catalog, SolveOptions(time_limit_seconds=4, workers=2, seed=0))
    assert validate_plan(plan, problem, catalog) == []
    assert plan.unplaced == []
    assert plan.summary is not None
    assert 0.6 <= plan.summary.gpus_used / plan.summary.gpus_available <= 0.85


def test_generator_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError):
        generate_instance(0, 100, seed=0)
    with pytest.raises(ValueError):
        generate_instance(10, 5, seed=0)


# --- solving generated instances ---------------------------------------------------------------


def test_capacity_short_instance_leaves_low_priority_demand_out(catalog: Catalog) -> None:
    problem = problem_of(16, 60, 0, catalog, short=True)
    plan = solve(problem, catalog, SolveOptions(time_limit_seconds=3, workers=2, seed=0))
    assert validate_plan(plan, problem, catalog) == []
    assert plan.unplaced
    priorities = Counter(problem.workload(u.workload).priority for u in plan.unplaced)
    assert min(priorities) == min(w.priority for w in problem.workloads)


# --- runner ------------------------------------------------------------------------------------


def test_run_tiny_writes_results_with_the_tables(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--sizes", "tiny", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    text = out.read_text(encoding="utf-8")
    for expected in (
        "# Benchmark results",
        "## Machine",
        "- CPU: ",
        "OR-Tools ",
        "pandas ",
        "python -m benchmarks.run --sizes tiny",
        "| size | GPUs | replicas | status | cost $/h | bound $/h | gap | time | peak memory",
        "## tiny: 6 GPUs, 20 replicas",
        "| target | required | measured | result |",
        "| time (read CSVs to plan JSON written) | <= 2 s |",
        "| plan | cost $/h | vs ours | GPUs used | unplaced replicas | validator | seconds |",
        "| ours (CP-SAT) |",
        "Whole GPUs (no MIG)",
        "mig-parted all-balanced",
        "Best fit decreasing",
    ):
        assert expected in text, expected
    report = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    (record,) = report["sizes"]
    assert record["error"] is None
    ours = record["ours"]
    assert ours["violations"] == 0
    assert ours["replicas_total"] == 20
    assert ours["peak_rss_bytes"] > 10 * 1024**2
    assert 0 < ours["total_seconds"] < 60
    assert [b["name"] for b in record["baselines"]] == [
        "whole-gpu",
        "all-balanced",
        "best-fit-decreasing",
    ]
    assert all(b["violations"] == 0 for b in record["baselines"])


def fake_record(**ours_changes: object) -> dict:
    ours = {
        "status": "feasible",
        "placement_status": "optimal",
        "cost_status": "feasible",
        "cost_per_hour": 101.0,
        "lower_bound_per_hour": 100.0,
        "gap": 0.01,
        "gpus_used": 150,
        "gpus_available": 200,
        "replicas_total": 1000,
        "replicas_unplaced": 0,
        "solver_time_limit_seconds": 19.9,
        "load_seconds": 0.1,
        "solve_seconds": 20.3,
        "write_seconds": 0.1,
        "total_seconds": 20.5,
        "peak_rss_bytes": 3 * 1024**3,
        "vm_hwm_bytes": 3 * 1024**3,
        "violations": 0,
        "violation_examples": [],
        "layouts": 96,
        "variables": 800,
        "constraints": 300,
        "lower_bound_source": "test",
        "notes": [],
    }
    ours.update(ours_changes)
    baseline = {
        "name": "best-fit-decreasing",
        "label": "Best fit decreasing",
        "cost_per_hour": 120.0,
        "gpus_used": 180,
        "replicas_unplaced": 0,
        "seconds": 0.1,
        "violations": 0,
        "violation_examples": [],
        "vs_ours": 120 / 101 - 1,
    }
    return {"ours": ours, "baselines": [baseline], "error": None, "workloads": 50, "pools": 8}


def test_missed_targets_are_reported_not_met() -> None:
    size = Size("check", 200, 1_000, 20, gap_target=0.005, memory_target_gib=2)
    record = fake_record()
    checks = {c.target: c for c in evaluate(size, record)}
    assert not checks["gap"].met
    assert not checks["time (read CSVs to plan JSON written)"].met
    assert not checks["peak memory (RSS)"].met
    assert checks["our plan passes the validator"].met
    record.update(size=size.__dict__, seed=0, checks=[c.__dict__ for c in checks.values()])
    page = render_markdown(
        {
            "date": "today",
            "command": "python -m benchmarks.run",
            "seed": 0,
            "machine": {
                "cpu": "test",
                "cores": 2,
                "usable_cores": 2,
                "ram_bytes": None,
                "os": "test",
                "python": "3",
                "ortools": "9",
                "pandas": "2",
                "pydantic": "2",
                "load_average": None,
            },
            "sizes": [record],
        }
    )
    assert "| gap | <= 0.50% | 1.00% | **NOT MET** |" in page
    assert "**NOT MET**: gap; time (read CSVs to plan JSON written); peak memory (RSS)" in page
    assert "| Best fit decreasing | 120.00 | +18.8% |" in page


def test_targets_met_and_failures_are_told_apart() -> None:
    size = SIZES["medium"]
    good = fake_record(gap=0.004, total_seconds=19.5)
    assert all(c.met for c in evaluate(size, good))
    invalid = fake_record(gap=0.004, total_seconds=19.5, violations=2)
    assert not {c.target: c for c in evaluate(size, invalid)}["our plan passes the validator"].met
    crashed = {"error": "the benchmark process failed", "baselines": []}
    assert [c.met for c in evaluate(size, crashed)] == [False]
    optimal_size = SIZES["small"]
    not_proven = fake_record(status="feasible", total_seconds=4.0)
    assert not {c.target: c for c in evaluate(optimal_size, not_proven)}["proven optimal"].met


def test_unknown_size_is_rejected() -> None:
    assert [s.name for s in parse_sizes("small,short")] == ["small", "short"]
    with pytest.raises(Exception, match="unknown size"):
        parse_sizes("small,huge")

"""One time limit for the whole run (issue 11, item 2): the CLI's clock starts before reading and
keeps time back for writing; `solve` honours a caller's deadline, says where its time went, and
returns the warm start's plan when CP-SAT finds nothing in time; the report stays short."""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from recommender import cli
from recommender import solve as solve_module
from recommender.catalog import Catalog
from recommender.expand import solution_from_contents, solution_from_gpus
from recommender.formulation import build_formulation
from recommender.greedy import (
    best_fit_contents,
    best_fit_decreasing,
    identical_groups,
    merge_identical,
)
from recommender.model import StageResult
from recommender.plan import Plan, SolverStats, Unplaced
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_problem
from recommender.report import UNPLACED_SHOWN, RunTiming, format_plan_summary
from recommender.solve import SolveOptions, solve
from tests.conftest import assert_valid

DATA = Path(__file__).resolve().parent.parent / "data"


def _problem(rows: int = 60) -> Problem:
    """Many small interchangeable rows, some restricted, some spread, on two pools."""
    shapes = [(4, 1), (9, 1), (19, 3), (30, 4)]
    workloads = [
        Workload(
            name=f"svc-{i}",
            memory_gb=shapes[i % 4][0],
            compute_slices=shapes[i % 4][1],
            replicas=1 + i % 3,
            priority=1 + i % 2,
            gpu_models=("H100-80GB",) if i % 5 == 0 else None,
            spread=i % 17 == 0,
        )
        for i in range(rows)
    ]
    pools = (
        Pool(pool="a100", gpu_model="A100-80GB", gpus=12, cost_per_hour=5.12),
        Pool(pool="h100", gpu_model="H100-80GB", gpus=6, cost_per_hour=12.29),
    )
    return Problem(workloads=tuple(workloads), pools=pools)


def test_greedy_contents_count_the_same_as_its_gpus(catalog: Catalog) -> None:
    """The warm start's object-free path gives the counts of the greedy plan's GPUs."""
    problem = _problem()
    f = build_formulation(problem, catalog)
    merged = merge_identical(problem)
    from_gpus = solution_from_gpus(f, best_fit_decreasing(merged, catalog).gpus)
    from_contents = solution_from_contents(f, best_fit_contents(merged, catalog))
    assert from_contents == from_gpus
    assert sum(from_contents.gpus_with.values()) > 0


def test_placement_without_solution_falls_back_to_the_warm_start(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CP-SAT out of time with nothing found: the plan is the greedy warm start's, not none."""

    def no_solution(*args: object, **kwargs: object) -> StageResult:
        return StageResult("unknown", None, None, 0.0, None)

    monkeypatch.setattr(solve_module, "run_stage", no_solution)
    problem = _problem()
    plan = solve(problem, catalog, SolveOptions(time_limit_seconds=5))
    assert_valid(plan, problem, catalog)
    assert plan.status == "feasible" and plan.solver is not None
    assert plan.solver.placement_status == "feasible"
    assert any("warm start" in note for note in plan.solver.notes)
    greedy = best_fit_decreasing(merge_identical(problem), catalog)  # the warm start
    assert plan.summary is not None
    assert plan.summary.replicas_unplaced == sum(u.replicas for u in greedy.unplaced)


def test_deadline_ends_the_solve_before_the_time_limit(catalog: Catalog) -> None:
    problem = _problem(400)
    started = time.monotonic()
    options = SolveOptions(time_limit_seconds=60, deadline=started + 2.0)
    plan = solve(problem, catalog, options)
    elapsed = time.monotonic() - started
    assert elapsed < 6.0  # the deadline, not the 60 s limit (slack for a busy machine)
    assert_valid(plan, problem, catalog)
    assert plan.solver is not None
    parts = plan.solver.seconds
    assert list(parts) == ["building", "warm start", "placement", "cost", "finishing"]
    assert sum(parts.values()) == pytest.approx(plan.solver.wall_seconds, abs=0.02)


def test_report_lists_the_first_unplaced_workloads_and_counts_the_rest(catalog: Catalog) -> None:
    problem = _problem(10)
    left_out = [Unplaced(workload=f"w{i}", replicas=1 + i % 2, reason="no room") for i in range(45)]
    plan = Plan(
        status="feasible", cost_per_hour=0, lower_bound_per_hour=0, gpus=[], unplaced=left_out
    )
    lines = format_plan_summary(plan, problem, catalog).splitlines()
    listed = [line for line in lines if re.match(r"  w\d+: ", line)]
    assert [line.split(":")[0].strip() for line in listed] == [
        f"w{i}" for i in range(UNPLACED_SHOWN)
    ]
    rest = left_out[UNPLACED_SHOWN:]
    assert (
        f"  ... and {len(rest)} more workloads ({sum(u.replicas for u in rest)} replicas); "
        "the plan JSON (--json) lists them all"
    ) in lines
    assert "unplaced workloads (45, 67 replicas):" in lines


def test_report_says_where_the_limit_went(catalog: Catalog) -> None:
    problem = _problem(10)
    stats = SolverStats(
        wall_seconds=1.5,
        time_limit_seconds=20,
        workers=2,
        seed=0,
        seconds={"building": 0.5, "placement": 0.25, "finishing": 0.75},
    )
    plan = Plan(
        status="feasible", cost_per_hour=0, lower_bound_per_hour=0, gpus=[], unplaced=[]
    ).model_copy(update={"solver": stats})
    timing = RunTiming(limit=20, reading=2.0, solving=1.5, writing=0.25)
    lines = format_plan_summary(plan, problem, catalog, timing).splitlines()
    assert (
        "solver:        3.8 s of 20 s limit (reading 2.0 s, solving 1.5 s, writing 0.2 s), "
        "2 workers, seed 0"
    ) in lines
    assert "               solving: building 0.5 s, placement 0.2 s, finishing 0.8 s" in lines
    # Without the CLI's timing: the solve's own time, as before.
    assert "solver:        1.5 s of 20 s limit, 2 workers, seed 0" in format_plan_summary(
        plan, problem, catalog
    )


def test_cli_limit_covers_reading_solving_and_writing(tmp_path: Path, catalog: Catalog) -> None:
    plan_path = tmp_path / "plan.json"
    workloads, fleet = DATA / "workloads.csv", DATA / "fleet.csv"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(
            ["plan", str(workloads), str(fleet), "--time-limit", "3", "--json", str(plan_path)]
        )
    assert code == 0
    found = re.search(
        r"solver: +([\d.]+) s of 3 s limit \(reading ([\d.]+) s, solving ([\d.]+) s, "
        r"writing ([\d.]+) s\)",
        out.getvalue(),
    )
    assert found is not None, out.getvalue()
    total, reading, solving, writing = (float(x) for x in found.groups())
    assert total == pytest.approx(reading + solving + writing, abs=0.15)
    assert total <= 3.0 + 1.5  # the limit, with slack for a busy machine
    plan = Plan.read(plan_path)
    assert_valid(plan, load_problem(workloads, fleet, catalog), catalog)
    assert json.loads(plan_path.read_text())["solver"]["seconds"]["building"] >= 0


def test_writing_reserve_grows_with_the_files_and_the_replicas() -> None:
    small, large = _problem(10), _problem(400)
    assert cli.writing_reserve(small, []) == 0
    assert cli.writing_reserve(small, ["json"]) < cli.writing_reserve(small, ["json", "csv"])
    assert cli.writing_reserve(small, ["csv"]) < cli.writing_reserve(large, ["csv"])


@pytest.mark.parametrize("key", ["whole-gpu", "all-balanced", "best-fit-decreasing"])
def test_baselines_on_many_rows_plan_merged_and_name_every_row(
    key: str, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above MERGE_ABOVE_ROWS a baseline plans the merged workloads, then hands every replica
    back to its row: a valid plan of the real inputs that places as much as the merged one."""
    from recommender.baselines import BASELINES, merged

    problem = _problem(90)
    merged_plan = BASELINES[key].planner(merge_identical(problem), catalog)
    monkeypatch.setattr(merged, "MERGE_ABOVE_ROWS", 0)
    monkeypatch.setattr("recommender.baselines.MERGE_ABOVE_ROWS", 0)
    plan = BASELINES[key](problem, catalog)
    assert_valid(plan, problem, catalog)
    assert plan.summary is not None and merged_plan.summary is not None
    assert plan.summary.replicas_placed == merged_plan.summary.replicas_placed
    assert plan.cost_per_hour == merged_plan.cost_per_hour
    # Each merged workload's replicas went to its own rows, as many as the merged plan placed.
    group_of = {m.name: first for first, ms in identical_groups(problem).items() for m in ms}
    by_group: Counter[str] = Counter()
    for gpu in plan.gpus:
        for instance in gpu.instances:
            if instance.workload is not None:
                by_group[group_of.get(instance.workload, instance.workload)] += 1
    merged_hosted = Counter(i.workload for g in merged_plan.gpus for i in g.instances if i.workload)
    assert by_group == merged_hosted


def test_collector_pauses_for_overlapping_phases_and_runs_again_after_the_last() -> None:
    import gc

    from recommender.gcpause import collector_paused

    assert gc.isenabled()
    first = collector_paused()
    first.__enter__()
    assert not gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("a phase failing")
    assert not gc.isenabled()  # the first phase still runs
    first.__exit__(None, None, None)
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()

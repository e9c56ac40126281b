"""`plan --current` with budgets, `check --current` and `frontier`, end to end in-process."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from recommender.baselines import all_balanced_plan
from recommender.catalog import Catalog
from recommender.frontier import CHANGE_NOTHING, FRESH_OPTIMUM, Frontier, frontier, move_budgets
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.reading import load_problem
from recommender.reading.current import load_current
from recommender.solve import SolveOptions
from recommender.validate import gpu_changes, moved_by_workload
from tests.conftest import assert_valid
from tests.test_cli import FLEET_CSV, WORKLOADS_CSV, run_cli

FILES = [str(WORKLOADS_CSV), str(FLEET_CSV)]


@pytest.fixture(scope="module")
def problem(catalog: Catalog) -> Problem:
    return load_problem(WORKLOADS_CSV, FLEET_CSV, catalog)


@pytest.fixture(scope="module")
def current_file(tmp_path_factory: pytest.TempPathFactory, problem: Problem, catalog) -> Path:
    """The sample fleet carved all-balanced, as a plan JSON."""
    path = tmp_path_factory.mktemp("current") / "current.json"
    path.write_text(all_balanced_plan(problem, catalog).to_json(), encoding="utf-8")
    return path


def test_plan_with_current_and_budgets_prints_the_transition(
    tmp_path: Path, current_file: Path, problem: Problem, catalog: Catalog
) -> None:
    out = tmp_path / "plan.json"
    args = ["--current", str(current_file), "--max-moves", "12", "--max-recarve", "1"]
    run = run_cli(
        ["plan", *FILES, *args, "--wave-size", "2", "--time-limit", "10", "--json", str(out)]
    )
    assert run.code == 0, run.err
    plan = Plan.read(out)
    current = load_current(current_file, problem, catalog)
    assert_valid(plan, problem, catalog, current)
    assert plan.transition is not None
    assert (plan.transition.max_moves, plan.transition.max_recarve) == (12, 1)
    assert plan.transition.wave_size == 2
    moved = sum(moved_by_workload(current, plan.gpus, problem).values())
    assert moved <= 12
    assert f"{moved} replica(s) moved or started" in run.out
    assert "budgets:       re-carved <= 1, moved <= 12" in run.out
    assert "running now:   $70.70/h" in run.out
    # `check --current` recomputes the transition and the budgets on its own.
    checked = run_cli(["check", str(out), *FILES, "--current", str(current_file)])
    assert checked.code == 0 and checked.out.startswith("plan is valid"), checked.out


def test_check_current_catches_a_broken_budget(
    tmp_path: Path, current_file: Path, problem: Problem, catalog: Catalog
) -> None:
    out = tmp_path / "plan.json"
    run = run_cli(
        ["plan", *FILES, "--current", str(current_file), "--time-limit", "5", "--json", str(out)]
    )
    assert run.code == 0, run.err
    data = json.loads(out.read_text())
    data["transition"]["max_moves"] = 0
    out.write_text(json.dumps(data))
    checked = run_cli(["check", str(out), *FILES, "--current", str(current_file)])
    assert checked.code == 1
    assert "over the budget of 0" in checked.out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--max-moves", "3"], "--max-moves needs --current"),
        (["--max-recarve", "0"], "--max-recarve needs --current"),
        (["--current", "nowhere.json"], "nowhere.json: file not found"),
        (["--current", "{file}", "--max-moves", "-1"], "-1 must be a whole number >= 0"),
        (["--current", "{file}", "--wave-size", "0"], "0 must be a whole number >= 1"),
        (["--rollout", "rollout.sh"], "--rollout needs --current"),
        (["--waves", "waves.csv"], "--waves needs --current"),
    ],
)
def test_plan_current_usage_errors(current_file: Path, args: list[str], expected: str) -> None:
    args = [a.replace("{file}", str(current_file)) for a in args]
    run = run_cli(["plan", *FILES, *args, "--time-limit", "2"])
    assert run.code == 2
    assert expected in run.err
    assert "Traceback" not in run.err


def test_out_dir_with_current_writes_the_rollout_script_and_wave_table(
    tmp_path: Path, current_file: Path, problem: Problem, catalog: Catalog
) -> None:
    out_dir = tmp_path / "plan"
    run = run_cli(
        [
            "plan",
            *FILES,
            "--current",
            str(current_file),
            "--time-limit",
            "5",
            "--out-dir",
            str(out_dir),
        ]
    )
    assert run.code == 0, run.err
    plan = Plan.read(out_dir / "plan.json")
    assert_valid(plan, problem, catalog, load_current(current_file, problem, catalog))
    assert plan.transition is not None and plan.transition.waves
    script = out_dir / "rollout.sh"
    assert script.stat().st_mode & 0o111, "the rollout script is executable"
    text = script.read_text(encoding="utf-8")
    for wave in plan.transition.waves:
        for node in wave.nodes:
            assert node in text
    rows = (out_dir / "rollout-waves.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) > 1
    assert "rollout.sh" in run.out and "rollout-waves.csv" in run.out
    # Without --current the same directory gets no rollout files.
    fresh_dir = tmp_path / "fresh"
    assert run_cli(["plan", *FILES, "--time-limit", "5", "--out-dir", str(fresh_dir)]).code == 0
    assert not (fresh_dir / "rollout.sh").exists()


def test_a_bad_current_state_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "current.json"
    bad.write_text(json.dumps({"gpus": [{"pool": "mars", "index": 0, "instances": []}]}))
    run = run_cli(["plan", *FILES, "--current", str(bad), "--time-limit", "2"])
    assert run.code == 2
    assert run.err.startswith(f"{bad}: gpu mars#0: unknown pool 'mars'")


def test_frontier_command_prints_a_table_and_writes_json(
    tmp_path: Path, current_file: Path
) -> None:
    out = tmp_path / "frontier.json"
    run = run_cli(
        [
            *("frontier", *FILES, "--current", str(current_file)),
            *("--points", "4", "--time-limit", "20", "--json", str(out)),
        ]
    )
    assert run.code == 0, run.err
    assert "running now $70.70/h" in run.out
    rows = [line for line in run.out.splitlines() if line.startswith(("change", "move", "fresh"))]
    assert rows[0].startswith(CHANGE_NOTHING) and rows[-1].startswith(FRESH_OPTIMUM)
    assert 3 <= len(rows) <= 4
    written = Frontier.model_validate_json(out.read_text())
    assert len(written.points) == len(rows)
    assert "plan" not in json.loads(out.read_text())["points"][0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "the following arguments are required: --current"),
        (["--current", "{file}", "--points", "1"], "1 is out of range (expected 2..50)"),
        (["--current", "{file}", "--json", "/no/such/dir/f.json"], "does not exist"),
    ],
)
def test_frontier_usage_errors(current_file: Path, args: list[str], expected: str) -> None:
    args = [a.replace("{file}", str(current_file)) for a in args]
    run = run_cli(["frontier", *FILES, *args, "--time-limit", "2"])
    assert run.code == 2
    assert expected in run.err


def test_move_budgets_spread_between_the_ends() -> None:
    assert move_budgets(40, 5) == [10, 20, 30]
    assert move_budgets(2, 6) == [1]  # duplicates and the ends themselves are dropped
    assert move_budgets(0, 5) == []
    assert move_budgets(40, 2) == []


def test_frontier_points_are_valid_plans_ordered_by_budget(
    problem: Problem, catalog: Catalog, current_file: Path
) -> None:
    current = load_current(current_file, problem, catalog)
    seen = []
    result = frontier(
        problem, catalog, current, 5, SolveOptions(time_limit_seconds=30), on_point=seen.append
    )
    assert len(seen) == len(result.points) >= 3
    nothing, fresh = result.points[0], result.points[-1]
    assert (nothing.label, fresh.label) == (CHANGE_NOTHING, FRESH_OPTIMUM)
    assert (nothing.moved_replicas, nothing.recarved_gpus) == (0, 0)
    assert result.current_cost_per_hour == pytest.approx(nothing.cost_per_hour)
    assert result.fresh_cost_per_hour == fresh.cost_per_hour
    for point in result.points:
        assert point.plan is not None
        assert_valid(point.plan, problem, catalog, current)
        changes = gpu_changes(current, point.plan.gpus, problem)
        moved = sum(moved_by_workload(current, point.plan.gpus, problem).values())
        assert point.moved_replicas == moved
        assert point.recarved_gpus == sum(s == "re-carved" for s in changes.values())
        assert point.max_moves is None or point.moved_replicas <= point.max_moves
    budgets = [p.max_moves for p in result.points[1:-1]]
    assert budgets == sorted(budgets) and all(0 < b < fresh.moved_replicas for b in budgets)
    # More moves allowed never makes a proven point worse (placed weight first, then cost).
    priority = {w.name: w.priority for w in problem.workloads}

    def rank(plan: Plan) -> tuple[int, float]:
        hosted = [i.workload for g in plan.gpus for i in g.instances if i.workload]
        return sum(priority[name] for name in hosted), -plan.cost_per_hour - 1e-6

    proven = [p for p in result.points if p.status == "optimal"]
    for before, after in itertools.pairwise(proven):
        assert after.plan and before.plan and rank(after.plan) >= rank(before.plan)


def test_frontier_needs_two_points(problem: Problem, catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="at least 2 points"):
        frontier(problem, catalog, [], 1)

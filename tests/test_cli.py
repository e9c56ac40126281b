"""The `mig-recommender` CLI: plan, check, catalog, and every way a user can feed it bad input.

Most tests call `main([...])` in-process; one runs the installed console script end to end.
Every plan a test produces goes through the independent validator.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from recommender import cli
from recommender.catalog import Catalog
from recommender.exports import CSV_COLUMNS, EXPORTS
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.progress import ProgressLine
from recommender.reading import load_problem
from recommender.solve import Progress
from recommender.validate import validate_plan

DATA = Path(__file__).resolve().parent.parent / "data"
WORKLOADS_CSV = DATA / "workloads.csv"
FLEET_CSV = DATA / "fleet.csv"
FAST = ["--time-limit", "5"]

SMALL_WORKLOADS = "name,memory_gb,compute_slices,replicas\nembed,4,1,3\nchat,18,2,2\n"
SMALL_FLEET = "pool,gpu_model,gpus,cost_per_hour\np1,A100-40GB,4,4.10\np2,H100-80GB,2,12.29\n"
LAYOUT_LINE = re.compile(r"^ +(\d+) x (\S+(?: \| \S+)*)$")


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_cli(args: list[str]) -> Run:
    """`main(args)` with stdout and stderr captured (usable in module-scoped fixtures too)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return Run(code, out.getvalue(), err.getvalue())


def assert_plan_file_valid(path: Path, workloads: Path, fleet: Path, catalog: Catalog) -> Plan:
    plan = Plan.read(path)
    problem = load_problem(workloads, fleet, catalog)
    violations = validate_plan(plan, problem, catalog)
    assert violations == [], "\n".join(violations)
    return plan


def write_inputs(tmp_path: Path, workloads: str | bytes, fleet: str) -> tuple[Path, Path]:
    workloads_path = tmp_path / "workloads.csv"
    fleet_path = tmp_path / "fleet.csv"
    if isinstance(workloads, bytes):
        workloads_path.write_bytes(workloads)
    else:
        workloads_path.write_text(workloads, encoding="utf-8")
    fleet_path.write_text(fleet, encoding="utf-8")
    return workloads_path, fleet_path


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    """One solve of the bundled sample, reused by the summary and `check` tests."""
    plan_path = tmp_path_factory.mktemp("sample") / "plan.json"
    run = run_cli(["plan", str(WORKLOADS_CSV), str(FLEET_CSV), *FAST, "--json", str(plan_path)])
    return run, plan_path


@pytest.fixture()
def sample_problem(catalog: Catalog) -> Problem:
    return load_problem(WORKLOADS_CSV, FLEET_CSV, catalog)


# --- plan: the summary -------------------------------------------------------------------------


def test_plan_on_sample_prints_summary_and_writes_valid_json(
    sample_run: tuple[Run, Path], catalog: Catalog
) -> None:
    run, plan_path = sample_run
    assert run.code == 0, run.err
    assert run.err == ""  # captured stderr is no terminal and --progress was not given
    plan = assert_plan_file_valid(plan_path, WORKLOADS_CSV, FLEET_CSV, catalog)
    assert plan.summary is not None
    out = run.out
    assert f"status:        {plan.status}" in out
    assert f"${plan.cost_per_hour:,.2f}/h" in out
    assert f"${plan.cost_per_hour * 730:,.2f}/month" in out
    assert f"lower bound:   ${plan.lower_bound_per_hour:,.2f}/h" in out
    assert "(gap " in out
    assert f"{plan.summary.replicas_placed} of {plan.summary.replicas_total} placed" in out
    assert f"compute {plan.summary.compute_utilization:.1%}" in out
    assert f"memory {plan.summary.memory_utilization:.1%}" in out
    assert f"{plan.summary.spare_instances} spare instances" in out
    for pool in plan.summary.pools:
        row = next(line for line in out.splitlines() if line.strip().startswith(pool.pool + " "))
        assert f"{pool.gpus_used}/{pool.gpus_available}" in row
        assert f"${pool.cost_per_hour:,.2f}" in row
    assert "solver:" in out
    assert "unplaced" not in out  # the sample fits
    assert f"json        {plan_path}" in out


def test_plan_layout_lines_count_every_used_gpu(sample_run: tuple[Run, Path]) -> None:
    run, plan_path = sample_run
    plan = Plan.read(plan_path)
    layout_section = run.out.split("layouts:\n", 1)[1].split("\n\n", 1)[0]
    counts = [LAYOUT_LINE.match(line) for line in layout_section.splitlines()]
    layout_rows = [match for match in counts if match]
    used = [gpu for gpu in plan.gpus if gpu.instances]
    assert sum(int(match.group(1)) for match in layout_rows) == len(used)
    # Every printed layout is the profile multiset of some used GPU.
    multisets = {tuple(sorted(i.profile for i in gpu.instances)) for gpu in used}
    for match in layout_rows:
        assert tuple(sorted(match.group(2).split(" | "))) in multisets
    for pool in {gpu.pool for gpu in used}:
        assert f"  {pool} (" in layout_section


def test_plan_lists_unplaced_workloads_with_reasons_and_still_succeeds(
    tmp_path: Path, catalog: Catalog
) -> None:
    workloads, fleet = write_inputs(tmp_path, SMALL_WORKLOADS + "giant,500,7,2\n", SMALL_FLEET)
    plan_path = tmp_path / "plan.json"
    run = run_cli(["plan", str(workloads), str(fleet), *FAST, "--json", str(plan_path)])
    assert run.code == 0, run.err
    assert "unplaced workloads (1, 2 replicas):" in run.out
    assert "giant: 2 replicas: needs 500 GiB" in run.out
    plan = assert_plan_file_valid(plan_path, workloads, fleet, catalog)
    assert [(u.workload, u.replicas) for u in plan.unplaced] == [("giant", 2)]


def test_quiet_prints_nothing_and_writes_files(tmp_path: Path, catalog: Catalog) -> None:
    workloads, fleet = write_inputs(tmp_path, SMALL_WORKLOADS, SMALL_FLEET)
    plan_path = tmp_path / "plan.json"
    run = run_cli(
        [
            "plan",
            str(workloads),
            str(fleet),
            *FAST,
            "--json",
            str(plan_path),
            "--quiet",
            "--progress",
        ]
    )
    assert (run.code, run.out, run.err) == (0, "", "")
    assert_plan_file_valid(plan_path, workloads, fleet, catalog)


def test_progress_flag_reports_stages_costs_and_bounds_on_stderr(tmp_path: Path) -> None:
    workloads, fleet = write_inputs(tmp_path, SMALL_WORKLOADS, SMALL_FLEET)
    run = run_cli(["plan", str(workloads), str(fleet), *FAST, "--progress"])
    assert run.code == 0, run.err
    lines = run.err.splitlines()
    assert "\r" not in run.err  # not a terminal: one line per report, no redrawing
    assert any("placement" in line for line in lines)
    final = lines[-1]
    assert "cost" in final and "best $" in final and "bound $" in final
    assert "placed 5/5" in final
    assert "status:" in run.out and "status:" not in run.err


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_redraws_in_place_on_a_terminal() -> None:
    terminal = FakeTerminal()
    with ProgressLine(terminal, enabled=True) as line:
        line.update(Progress("placement", 0.1, None, None, 3, 5))
        line.update(Progress("cost", 0.2, 123.456, 100.0, 5, 5))
    text = terminal.getvalue()
    assert text.count("\r") >= 2
    assert text.endswith("\n") and text.count("\n") == 1
    last = text.rstrip("\n").rsplit("\r", 1)[1]
    assert "cost" in last and "best $123.46/h" in last and "bound $100.00/h" in last
    # The longer line is fully overwritten: the redraw pads over what was there.
    assert "placed 5/5" in last


def test_progress_line_disabled_writes_nothing() -> None:
    terminal = FakeTerminal()
    with ProgressLine(terminal, enabled=False) as line:
        line.update(Progress("cost", 0.2, 1.0, 1.0, 5, 5))
    assert terminal.getvalue() == ""


# --- plan: outputs -----------------------------------------------------------------------------


def test_out_dir_is_created_and_explicit_paths_win(tmp_path: Path, catalog: Catalog) -> None:
    workloads, fleet = write_inputs(tmp_path, SMALL_WORKLOADS, SMALL_FLEET)
    out_dir = tmp_path / "new" / "nested"
    custom_csv = tmp_path / "custom.csv"
    run = run_cli(
        [
            "plan",
            str(workloads),
            str(fleet),
            *FAST,
            "--out-dir",
            str(out_dir),
            "--csv",
            str(custom_csv),
        ]
    )
    assert run.code == 0, run.err
    expected = {name for key, (name, _, _) in EXPORTS.items() if key != "csv"}
    assert {p.name for p in out_dir.iterdir()} == expected  # no temporary files left behind
    assert custom_csv.read_text(encoding="utf-8").startswith(",".join(CSV_COLUMNS))
    for key, (name, _, _) in EXPORTS.items():
        where = custom_csv if key == "csv" else out_dir / name
        assert f"{key:<10}  {where}" in run.out
    script = out_dir / EXPORTS["nvidia-smi"][0]
    assert script.stat().st_mode & stat.S_IXUSR
    assert_plan_file_valid(out_dir / "plan.json", workloads, fleet, catalog)


def test_write_text_atomically_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    target.write_text("old\n", encoding="utf-8")
    cli.write_text_atomically(target, "a,b\r\n1,2\r\n")
    assert target.read_bytes() == b"a,b\r\n1,2\r\n"  # written byte for byte
    cli.write_text_atomically(target, "no newline")
    assert target.read_text(encoding="utf-8") == "no newline\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.csv"]


def test_output_in_missing_directory_fails_before_solving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    solved: list[bool] = []
    monkeypatch.setattr(cli, "solve", lambda *args, **kwargs: solved.append(True))
    missing = tmp_path / "no-such-dir" / "plan.json"
    run = run_cli(["plan", str(WORKLOADS_CSV), str(FLEET_CSV), "--json", str(missing)])
    assert run.code == 2
    assert f"--json {missing}: directory {missing.parent} does not exist" in run.err
    assert solved == []
    assert "Traceback" not in run.err


def test_two_outputs_to_one_path_are_refused(tmp_path: Path) -> None:
    same = tmp_path / "out.txt"
    run = run_cli(
        ["plan", str(WORKLOADS_CSV), str(FLEET_CSV), "--json", str(same), "--csv", str(same)]
    )
    assert run.code == 2
    assert "--json and --csv both write to" in run.err


def test_no_plan_from_solver_exits_1_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = Plan(status="unknown", cost_per_hour=0, lower_bound_per_hour=0, gpus=[], unplaced=[])
    monkeypatch.setattr(cli, "solve", lambda *args, **kwargs: empty)
    plan_path = tmp_path / "plan.json"
    run = run_cli(["plan", str(WORKLOADS_CSV), str(FLEET_CSV), "--json", str(plan_path)])
    assert run.code == 1
    assert "found no plan" in run.err and "--time-limit" in run.err
    assert not plan_path.exists()


def test_internal_error_is_one_line_with_a_hint_and_exit_3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_solve(*args: object, **kwargs: object) -> Plan:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "solve", broken_solve)
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    run = run_cli(["plan", str(WORKLOADS_CSV), str(FLEET_CSV)])
    assert run.code == 3
    assert "internal error: RuntimeError: boom" in run.err
    assert "report" in run.err
    assert "Traceback" not in run.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-limit", "0"], "must be a number > 0"),
        (["--time-limit", "soon"], "'soon' is not a number"),
        (["--workers", "0"], "must be a whole number >= 1"),
        (["--seed", "-1"], "must be a whole number >= 0"),
        (["--gap", "1.5"], "1.5 is out of range (expected 0 <= F < 1)"),
        (["--gap", "-0.1"], "-0.1 is out of range (expected 0 <= F < 1)"),
        (["--gap", "abc"], "'abc' is not a number (expected 0 <= F < 1)"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_options_exit_2_with_usage(args: list[str], message: str) -> None:
    run = run_cli(["plan", str(WORKLOADS_CSV), str(FLEET_CSV), *args])
    assert run.code == 2
    assert message in run.err and "usage:" in run.err


def test_missing_command_exits_2() -> None:
    run = run_cli([])
    assert run.code == 2 and "usage:" in run.err


def test_version() -> None:
    run = run_cli(["--version"])
    assert run.code == 0
    assert run.out.strip() == f"mig-recommender {version('mig-recommender')}"


# --- plan: bad input ---------------------------------------------------------------------------

GOOD_FLEET = "pool,gpu_model,gpus,cost_per_hour\np1,A100-40GB,2,4.10\n"
GOOD_WORKLOADS = "name,memory_gb\na,4\nb,8\n"

# (workloads, fleet, messages that must appear; {w}/{f} stand for the two files' paths)
BAD_INPUTS = {
    "missing column": (
        "name,replicas\na,1\n",
        GOOD_FLEET,
        ["{w}:1: memory_gb: required column is missing"],
    ),
    "unknown column": (
        "name,memory_gb,colour\na,4,red\n",
        GOOD_FLEET,
        ["{w}:1: colour: unknown column (allowed: name, memory_gb"],
    ),
    "empty file": ("", GOOD_FLEET, ["{w}: file is empty"]),
    "header only": ("name,memory_gb\n", GOOD_FLEET, ["{w}: no data rows after the header"]),
    "wrong type": (
        "name,memory_gb\na,4\nb,abc\n",
        GOOD_FLEET,
        ["{w}:3: memory_gb: 'abc' is not a number"],
    ),
    "zero memory": ("name,memory_gb\na,0\n", GOOD_FLEET, ["{w}:2: memory_gb: 0 is out of range"]),
    "negative replicas": (
        "name,memory_gb,replicas\na,4,-1\n",
        GOOD_FLEET,
        ["{w}:2: replicas: -1 is out of range (expected a whole number >= 1)"],
    ),
    "negative gpus and price": (
        GOOD_WORKLOADS,
        "pool,gpu_model,gpus,cost_per_hour\np1,A100-40GB,-3,-1\n",
        ["{f}:2: gpus: -3 is out of range", "{f}:2: cost_per_hour: -1 is out of range"],
    ),
    "duplicate workload names": (
        "name,memory_gb\na,4\nb,2\na,3\n",
        GOOD_FLEET,
        ["{w}:4: name: 'a' is used twice (first on line 2)"],
    ),
    "duplicate pool names": (
        GOOD_WORKLOADS,
        GOOD_FLEET + "p1,H100-80GB,1,12\n",
        ["{f}:3: pool: 'p1' is used twice (first on line 2)"],
    ),
    "unknown fleet model": (
        GOOD_WORKLOADS,
        "pool,gpu_model,gpus,cost_per_hour\np1,A100-40G,2,4\n",
        ["{f}:2: gpu_model: unknown GPU model 'A100-40G' (did you mean A100-40GB?"],
    ),
    "unknown workload model": (
        "name,memory_gb,gpu_models\na,4,A100-40GB|H100-80G\n",
        GOOD_FLEET,
        ["{w}:2: gpu_models: unknown GPU model 'H100-80G' (did you mean H100-80GB?"],
    ),
    "non-UTF-8": (
        b"name,memory_gb\na,4\nb\xff,2\n",
        GOOD_FLEET,
        ["{w}:3: byte 0xff is not valid UTF-8"],
    ),
    "problems in both files at once": (
        "name,memory_gb\na,x\n",
        "pool,gpu_model,gpus,cost_per_hour\np1,A100-40GB,two,4\n",
        ["{w}:2: memory_gb: 'x' is not a number", "{f}:2: gpus: 'two' is not a whole number"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_exits_2_naming_file_line_and_column(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workloads_text, fleet_text, messages = BAD_INPUTS[case]
    workloads, fleet = write_inputs(tmp_path, workloads_text, fleet_text)
    solved: list[bool] = []
    monkeypatch.setattr(cli, "solve", lambda *args, **kwargs: solved.append(True))
    run = run_cli(["plan", str(workloads), str(fleet), *FAST])
    assert run.code == 2, run.out + run.err
    for message in messages:
        assert message.format(w=workloads, f=fleet) in run.err
    assert "Traceback" not in run.err
    assert run.out == ""
    assert solved == []


def test_missing_input_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    run = run_cli(["plan", str(missing), str(FLEET_CSV), *FAST])
    assert run.code == 2
    assert f"{missing}: file not found" in run.err
    assert "Traceback" not in run.err


def test_malformed_catalog_file_exits_2(tmp_path: Path) -> None:
    bad_catalog = tmp_path / "my-catalog.json"
    bad_catalog.write_text('{\n "models": {\n  "X": [1, 2,\n}\n', encoding="utf-8")
    run = run_cli(
        ["plan", str(WORKLOADS_CSV), str(FLEET_CSV), "--catalog", str(bad_catalog), *FAST]
    )
    assert run.code == 2
    assert re.search(r"my-catalog\.json:\d+: not valid JSON", run.err), run.err
    assert "Traceback" not in run.err


def test_quoted_name_with_a_comma_is_valid(tmp_path: Path, catalog: Catalog) -> None:
    workloads, fleet = write_inputs(
        tmp_path, 'name,memory_gb\n"llama, the big one",18\nsmall,4\n', GOOD_FLEET
    )
    plan_path = tmp_path / "plan.json"
    run = run_cli(["plan", str(workloads), str(fleet), *FAST, "--json", str(plan_path)])
    assert run.code == 0, run.err
    plan = assert_plan_file_valid(plan_path, workloads, fleet, catalog)
    hosted = {i.workload for gpu in plan.gpus for i in gpu.instances}
    assert "llama, the big one" in hosted


@pytest.mark.timeout(600)
def test_50mb_workloads_file_reports_bad_rows_by_line(tmp_path: Path) -> None:
    rows = 600_000
    bad = {2: "abc", 300_001: "-5", rows + 1: "0"}  # first, middle and last data line
    padding = "-replica-of-a-long-descriptive-workload-name-for-capacity-planning-tests"
    path = tmp_path / "workloads.csv"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("name,memory_gb\n")
        for index in range(rows):
            line = index + 2
            handle.write(f"w{index:07d}{padding},{bad.get(line, '1.5')}\n")
    assert path.stat().st_size >= 50_000_000
    run = run_cli(["plan", str(path), str(FLEET_CSV), *FAST])
    assert run.code == 2
    assert f"{path}:2: memory_gb: 'abc' is not a number" in run.err
    assert f"{path}:300001: memory_gb: -5 is out of range" in run.err
    assert f"{path}:{rows + 1}: memory_gb: 0 is out of range" in run.err
    assert len(run.err.splitlines()) == 3
    assert "Traceback" not in run.err


# --- check -------------------------------------------------------------------------------------


def test_check_accepts_the_plan_the_cli_wrote(sample_run: tuple[Run, Path]) -> None:
    _, plan_path = sample_run
    run = run_cli(["check", str(plan_path), str(WORKLOADS_CSV), str(FLEET_CSV)])
    assert run.code == 0, run.out + run.err
    assert run.out.startswith("plan is valid")
    assert "note:" not in run.out  # same inputs, same digest


def test_check_names_an_overlap_in_a_tampered_plan(
    sample_run: tuple[Run, Path], tmp_path: Path
) -> None:
    _, plan_path = sample_run
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    gpu = next(g for g in data["gpus"] if len(g["instances"]) >= 2)
    first, second = gpu["instances"][0], gpu["instances"][1]
    second["start"] = first["start"]
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data), encoding="utf-8")
    run = run_cli(["check", str(tampered), str(WORKLOADS_CSV), str(FLEET_CSV)])
    assert run.code == 1
    assert run.out.startswith("plan is NOT valid:")
    overlap = [line for line in run.out.splitlines() if "overlap" in line]
    assert overlap and f"GPU {gpu['pool']}#{gpu['index']}" in overlap[0]


def test_check_notes_a_plan_made_for_other_inputs(
    sample_run: tuple[Run, Path], tmp_path: Path
) -> None:
    _, plan_path = sample_run
    fleet_text = FLEET_CSV.read_text(encoding="utf-8")
    bigger = fleet_text.replace("a100-80-west,A100-80GB,10,", "a100-80-west,A100-80GB,11,")
    assert bigger != fleet_text
    fleet = tmp_path / "fleet.csv"
    fleet.write_text(bigger, encoding="utf-8")
    run = run_cli(["check", str(plan_path), str(WORKLOADS_CSV), str(fleet)])
    # One more spare GPU does not break the plan, but the plan was not made for this fleet.
    assert run.code == 0, run.out
    assert run.out.startswith("plan is valid")
    assert "note: the plan's inputs_sha256 differs" in run.out


def test_check_reports_schema_problems_as_violations(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    plan_path.write_text('{"status": "great", "gpus": []}', encoding="utf-8")
    run = run_cli(["check", str(plan_path), str(WORKLOADS_CSV), str(FLEET_CSV)])
    assert run.code == 1
    assert "plan does not fit the plan schema: status" in run.out
    assert "cost_per_hour" in run.out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "{p}: file not found"),
        (b'{"status": "optimal",\n  oops}', "{p}:2: not valid JSON"),
        (b"[1, 2]", "{p}: expected a JSON object (a plan), found a JSON list"),
        (b'{"status": "\xff"}', "{p}:1: byte 0xff is not valid UTF-8"),
    ],
    ids=["missing", "not json", "json list", "not utf-8"],
)
def test_check_unreadable_plan_exits_2(content: bytes | None, message: str, tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    if content is not None:
        plan_path.write_bytes(content)
    run = run_cli(["check", str(plan_path), str(WORKLOADS_CSV), str(FLEET_CSV)])
    assert run.code == 2
    assert message.format(p=plan_path) in run.err
    assert "Traceback" not in run.err


def test_check_with_bad_csv_exits_2(sample_run: tuple[Run, Path], tmp_path: Path) -> None:
    _, plan_path = sample_run
    workloads, fleet = write_inputs(tmp_path, "name,memory_gb\na,-1\n", GOOD_FLEET)
    run = run_cli(["check", str(plan_path), str(workloads), str(fleet)])
    assert run.code == 2
    assert f"{workloads}:2: memory_gb: -1 is out of range" in run.err


# --- catalog -----------------------------------------------------------------------------------


def test_catalog_lists_every_model_with_its_nvidia_smi_names(catalog: Catalog) -> None:
    run = run_cli(["catalog"])
    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0].split() == [
        "model",
        "memory",
        "compute",
        "slices",
        "axis",
        "units",
        "profiles",
        "nvidia-smi",
        "names",
    ]
    for key, model in catalog.models.items():
        row = next(line for line in lines if line.startswith(key + " "))
        cells = row.split()
        assert cells[1:6] == [
            f"{model.memory_gb:g}",
            "GB",
            str(model.compute_slices),
            str(model.placement_units),
            str(len(model.profiles)),
        ]
    a100 = next(line for line in lines if line.startswith("A100-40GB "))
    assert "NVIDIA A100-SXM4-40GB" in a100


@pytest.mark.parametrize("name", ["A100-40GB", "NVIDIA A100-SXM4-40GB", "nvidia a100-sxm4-40gb"])
def test_catalog_model_shows_profiles_and_all_balanced(name: str, catalog: Catalog) -> None:
    run = run_cli(["catalog", name])
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].startswith("A100-40GB: 40 GB, 7 compute slices, 8 axis units")
    model = catalog.model("A100-40GB")
    for profile in model.profiles:
        row = next(line for line in lines if line.startswith(profile.name + " "))
        cells = row.split()
        assert cells[:7] == [
            profile.name,
            str(profile.id),
            str(profile.compute_slices),
            f"{profile.memory_gib:.2f}",
            str(profile.span),
            ",".join(map(str, profile.starts)),
            str(profile.max_count),
        ]
    assert "1g.5gb+me  20  1        4.75        1     0,1,2,3,4,5,6  1    me" in run.out
    balanced = next(line for line in lines if line.startswith("all-balanced:"))
    assert "2 x 1g.5gb, 1 x 2g.10gb, 1 x 3g.20gb" in balanced
    assert "3g.20gb@4" in balanced  # the placement, not just the counts


def test_catalog_unknown_model_suggests_the_closest(catalog: Catalog) -> None:
    run = run_cli(["catalog", "H100-80G"])
    assert run.code == 2
    assert "unknown GPU model 'H100-80G'; did you mean H100-80GB?" in run.err
    assert run.out == ""


def test_catalog_option_adds_a_model(tmp_path: Path, catalog: Catalog) -> None:
    extra = {"models": {"A30-LAB": catalog.model("A30-24GB").model_dump()}}
    extra["models"]["A30-LAB"]["aliases"] = ["NVIDIA A30 LAB"]
    extra_path = tmp_path / "extra.json"
    extra_path.write_text(json.dumps(extra), encoding="utf-8")
    listing = run_cli(["catalog", "--catalog", str(extra_path)])
    assert listing.code == 0
    assert any(line.startswith("A30-LAB ") for line in listing.out.splitlines())
    details = run_cli(["catalog", "nvidia a30 lab", "--catalog", str(extra_path)])
    assert details.code == 0 and details.out.startswith("A30-LAB: 24 GB")


# --- the installed console script, end to end --------------------------------------------------


def test_console_script_end_to_end(tmp_path: Path, catalog: Catalog) -> None:
    executable = shutil.which("mig-recommender")
    assert executable is not None, "the package is not installed: pip install -e ."
    out_dir = tmp_path / "exports"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    solved = subprocess.run(
        [executable, "plan", str(WORKLOADS_CSV), str(FLEET_CSV), *FAST, "--out-dir", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert solved.returncode == 0, solved.stderr
    assert "Traceback" not in solved.stderr
    assert "status:" in solved.stdout

    plan = assert_plan_file_valid(out_dir / "plan.json", WORKLOADS_CSV, FLEET_CSV, catalog)
    instances = sum(len(gpu.instances) for gpu in plan.gpus)
    for _key, (name, _mime, _function) in EXPORTS.items():
        path = out_dir / name
        assert path.stat().st_size > 0, name
        text = path.read_text(encoding="utf-8")
        if name.endswith(".yaml"):
            assert isinstance(yaml.safe_load(text), dict), name
        elif name.endswith(".csv"):
            rows = list(csv.DictReader(io.StringIO(text)))
            assert list(rows[0]) == list(CSV_COLUMNS)
            assert len(rows) == instances
        elif name.endswith(".sh"):
            syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
            assert syntax.returncode == 0, syntax.stderr
        else:
            assert json.loads(text)["status"] == plan.status

    checked = subprocess.run(
        [executable, "check", str(out_dir / "plan.json"), str(WORKLOADS_CSV), str(FLEET_CSV)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("plan is valid")


def test_gap_option_stops_within_the_requested_gap(tmp_path: Path, catalog: Catalog) -> None:
    plan_path = tmp_path / "plan.json"
    run = run_cli(
        [
            "plan",
            str(WORKLOADS_CSV),
            str(FLEET_CSV),
            *FAST,
            "--gap",
            "0.05",
            "--json",
            str(plan_path),
        ]
    )
    assert run.code == 0, run.err
    plan = assert_plan_file_valid(plan_path, WORKLOADS_CSV, FLEET_CSV, catalog)
    assert plan.cost_per_hour <= plan.lower_bound_per_hour * 1.05 + 1e-6

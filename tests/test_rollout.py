"""The rollout exports (bash script, wave table) and the independent rollout replay on broken
transitions."""

from __future__ import annotations

import csv
import io
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from recommender.catalog import Catalog
from recommender.exports import ROLLOUT_EXPORTS
from recommender.plan import InstanceSlot, Plan
from recommender.problem import Problem, Workload
from recommender.rollout import NoTransitionError, rollout_script, waves_to_csv
from recommender.validate import validate_rollout
from tests.test_transition import _swap_case, gpus, plan_of, problem_of

BASH = shutil.which("bash")


@pytest.fixture
def lent(catalog: Catalog) -> tuple[Plan, Problem, list]:
    """The swap case with one idle GPU: carve, drain and cleanup waves, temporary replicas."""
    problem, current, new = _swap_case(extra_gpus=1)
    return plan_of(problem, catalog, new, current), problem, current


@pytest.fixture
def dipping(catalog: Catalog) -> tuple[Plan, Problem, list]:
    problem, current, new = _swap_case(extra_gpus=0)
    return plan_of(problem, catalog, new, current), problem, current


# --- the script --------------------------------------------------------------------------------


def _script(tmp_path: Path, plan: Plan, problem: Problem, catalog: Catalog) -> Path:
    path = tmp_path / "rollout.sh"
    path.write_text(rollout_script(plan, problem, catalog))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_script_parses_and_dry_runs_every_wave_in_order(
    tmp_path: Path, lent: tuple, catalog: Catalog
) -> None:
    plan, problem, _ = lent
    path = _script(tmp_path, plan, problem, catalog)
    subprocess.run([BASH, "-n", str(path)], check=True)
    result = subprocess.run(
        [BASH, str(path)], env={**os.environ, "DRY_RUN": "1"}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    headers = [line for line in result.stdout.splitlines() if line.startswith("== wave")]
    waves = plan.transition.waves
    assert [h.split()[2] for h in headers] == [str(w.index) for w in waves]
    assert len(waves) >= 3


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_script_drives_kubectl_wave_by_wave(tmp_path: Path, lent: tuple, catalog: Catalog) -> None:
    """With a stand-in kubectl that logs its calls: the ConfigMap holds every config a wave
    labels, and each drained node is cordoned, drained, labelled, waited for and uncordoned."""
    plan, problem, _ = lent
    path = _script(tmp_path, plan, problem, catalog)
    log = tmp_path / "calls.log"
    applied = tmp_path / "applied.yaml"
    fake = tmp_path / "bin" / "kubectl"
    fake.parent.mkdir()
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        f'if [[ "$*" == *apply* ]]; then cat > {applied}; fi\n'
        'if [[ "$1" == get && "$2" == node ]]; then echo success; fi\n'
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "MIG_SETTLE_SECONDS": "0"}
    result = subprocess.run([BASH, str(path)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    configmap = yaml.safe_load(applied.read_text())
    configs = yaml.safe_load(configmap["data"]["config.yaml"])["mig-configs"]
    position = 0
    for wave in plan.transition.waves:
        for node in wave.nodes:
            config = wave.node_configs[node]
            assert config in configs
            label = f"label node {node} nvidia.com/mig.config={config} --overwrite"
            steps = [label, f"get node {node}"]
            if wave.kind == "drain":
                steps = [f"cordon {node}", f"drain {node}", *steps, f"uncordon {node}"]
            for step in steps:
                found = next(i for i in range(position, len(calls)) if calls[i].startswith(step))
                position = found + 1


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_script_refuses_a_wave_number_out_of_range(
    tmp_path: Path, lent: tuple, catalog: Catalog
) -> None:
    plan, problem, _ = lent
    path = _script(tmp_path, plan, problem, catalog)
    for bad in ("0", "x", str(len(plan.transition.waves) + 1)):
        result = subprocess.run(
            [BASH, str(path), bad], env={**os.environ, "DRY_RUN": "1"}, capture_output=True
        )
        assert result.returncode == 2


def test_dips_are_written_into_the_script(dipping: tuple, catalog: Catalog) -> None:
    plan, problem, _ = dipping
    text = rollout_script(plan, problem, catalog)
    dip = plan.transition.dips[0]
    assert f"# WARNING: {dip.workload} runs {dip.lowest} of its floor {dip.floor}" in text


def test_hostile_workload_names_are_quoted_and_guarded(catalog: Catalog) -> None:
    current = gpus("p", {0: [("7g.40gb", 0, "=cmd; rm -rf /")]})
    new = gpus("p", {0: [("3g.20gb", 0, "=cmd; rm -rf /")]})
    problem = problem_of([Workload(name="=cmd; rm -rf /", memory_gb=9)], count=2)
    plan = plan_of(problem, catalog, new, current)
    script = rollout_script(plan, problem, catalog)
    assert "rm -rf /" not in "\n".join(
        line for line in script.splitlines() if not line.lstrip().startswith("#")
    )
    rows = list(csv.reader(io.StringIO(waves_to_csv(plan, problem, catalog))))
    assert any(row[7] == "'=cmd; rm -rf /" for row in rows[1:])


def test_exports_need_a_transition(catalog: Catalog) -> None:
    problem = problem_of([Workload(name="a", memory_gb=9)], count=1)
    plan = plan_of(problem, catalog, gpus("p", {0: [("7g.40gb", 0, "a")]}))
    for _name, _mime, export in ROLLOUT_EXPORTS.values():
        with pytest.raises(NoTransitionError):
            export(plan, problem, catalog)


def test_wave_table_lists_every_relabel_and_move(lent: tuple, catalog: Catalog) -> None:
    plan, problem, _ = lent
    rows = list(csv.DictReader(io.StringIO(waves_to_csv(plan, problem, catalog))))
    waves = plan.transition.waves
    assert len(rows) == sum(len(w.gpus) + len(w.moves) for w in waves)
    assert [int(r["wave"]) for r in rows] == sorted(int(r["wave"]) for r in rows)
    temporary = [r for r in rows if r["temporary"] == "yes"]
    assert temporary and all(r["from"] == "" and r["to"] for r in temporary)


# --- the replay on broken transitions -----------------------------------------------------------


def _broken(plan: Plan, change) -> Plan:
    broken = plan.model_copy(deep=True)
    change(broken.transition)
    return broken


def test_replay_accepts_the_built_rollouts(lent: tuple, dipping: tuple) -> None:
    for plan, problem, current in (lent, dipping):
        assert validate_rollout(plan, current, problem) == []


def test_replay_finds_a_double_booked_instance(lent: tuple) -> None:
    plan, problem, current = lent

    def book_twice(transition) -> None:
        moves = [m for w in transition.waves for m in w.moves if m.to_slot and not m.temporary]
        moves[1].to_slot = moves[0].to_slot.model_copy()
        moves[1].start_wave = moves[0].start_wave
        moves[1].start_before_drain = moves[0].start_before_drain

    violations = validate_rollout(_broken(plan, book_twice), current, problem)
    assert any("double-booked" in v for v in violations)


def test_replay_finds_a_gpu_relabelled_while_it_runs(lent: tuple) -> None:
    plan, problem, current = lent

    def stop_late(transition) -> None:
        drain = next(w for w in transition.waves if w.kind == "drain")
        move = next(m for m in drain.moves if m.from_slot is not None)
        move.stop_wave = len(transition.waves)

    violations = validate_rollout(_broken(plan, stop_late), current, problem)
    assert any("relabelled while" in v for v in violations)


def test_replay_finds_an_instance_started_before_it_is_carved(lent: tuple) -> None:
    plan, problem, current = lent

    def start_early(transition) -> None:
        drain = next(w for w in transition.waves if w.kind == "drain")
        move = next(
            m
            for w in transition.waves
            for m in w.moves
            if m.to_slot is not None
            and (m.to_slot.pool, m.to_slot.index) in {(g.pool, g.index) for g in drain.gpus}
        )
        move.start_wave = 1
        move.start_before_drain = True

    violations = validate_rollout(_broken(plan, start_early), current, problem)
    assert any("no such instance is carved" in v or "double-booked" in v for v in violations)


def test_replay_finds_unreported_and_misreported_dips(dipping: tuple) -> None:
    plan, problem, current = dipping

    def hide(transition) -> None:
        transition.dips = []

    def shrink(transition) -> None:
        transition.dips[0].lowest += 1

    assert any(
        "does not report" in v for v in validate_rollout(_broken(plan, hide), current, problem)
    )
    assert any(
        "rollout reports" in v for v in validate_rollout(_broken(plan, shrink), current, problem)
    )


def test_replay_finds_oversized_waves_wrong_counts_and_a_wrong_end(lent: tuple) -> None:
    plan, problem, current = lent

    def oversize(transition) -> None:
        transition.waves[0].nodes.append("another-node")

    def miscount(transition) -> None:
        wave = next(w for w in transition.waves if w.lowest_running)
        name = next(iter(wave.lowest_running))
        wave.lowest_running[name] += 1

    def lose_a_move(transition) -> None:
        wave = next(
            w for w in transition.waves if any(m.to_slot and not m.temporary for m in w.moves)
        )
        wave.moves = [m for m in wave.moves if m.to_slot is None or m.temporary]

    def elsewhere(transition) -> None:
        move = next(m for w in transition.waves for m in w.moves if m.to_slot and not m.temporary)
        move.to_slot = InstanceSlot(pool="p", index=2, profile="7g.40gb", start=0)

    assert any(
        "over the wave size" in v
        for v in validate_rollout(_broken(plan, oversize), current, problem)
    )
    assert any(
        "is stated to run" in v for v in validate_rollout(_broken(plan, miscount), current, problem)
    )
    assert any(
        "after the rollout" in v
        for v in validate_rollout(_broken(plan, lose_a_move), current, problem)
    )
    assert validate_rollout(_broken(plan, elsewhere), current, problem) != []

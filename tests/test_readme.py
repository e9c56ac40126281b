"""What the README tells a new user to run works as written (the cluster section has its own
test, tests/test_readme_cluster.py)."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path

import pytest

from recommender import cli
from recommender.plan import Plan
from recommender.reading import load_catalog, load_current, load_problem
from tests.conftest import assert_valid

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTIONS_WITH_COMMANDS = (
    "CLI",
    "Re-planning from the running fleet",
    "Request rates instead of replicas",
)


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no {title!r} section"
    return match.group(1)


def commands(text: str) -> list[str]:
    """The `mig-recommender ...` lines of the text's bash blocks, continuations joined, comments
    dropped."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("mig-recommender "):
                found.append(line)
    return found


@pytest.fixture
def in_a_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with the repository's `data/`, as in a fresh clone."""
    shutil.copytree(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(command: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(shlex.split(command)[1:])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("title", SECTIONS_WITH_COMMANDS)
def test_the_readme_commands_run_as_written(title: str, in_a_copy: Path) -> None:
    found = commands(section(title))
    assert found, f"no commands in {title!r}"
    for command in found:
        code, out, err = run(command)
        assert code == 0, f"{command}\n{err}"
        assert "Traceback" not in err
        if command.startswith("mig-recommender check "):
            assert out.startswith("plan is valid"), out


def test_the_replan_example_writes_a_valid_plan_with_its_rollout(in_a_copy: Path) -> None:
    for command in commands(section("Re-planning from the running fleet"))[:1]:
        assert run(command)[0] == 0
    catalog = load_catalog()
    problem = load_problem("data/workloads.csv", "data/fleet.csv", catalog)
    current = load_current("data/current.json", problem, catalog)
    plan = Plan.read(in_a_copy / "replan" / "plan.json")
    assert_valid(plan, problem, catalog, current)
    assert plan.transition is not None and plan.transition.moved_replicas <= 10
    assert (in_a_copy / "replan" / "rollout.sh").exists()


def test_the_python_example_runs(in_a_copy: Path) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", section("Python API"), re.S)
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md (Python API)", "exec"), namespace)
    plan = namespace["plan"]
    replan = namespace["replan"]
    assert isinstance(plan, Plan) and isinstance(replan, Plan)
    problem, catalog = namespace["problem"], namespace["catalog"]
    assert_valid(replan, problem, catalog, namespace["current"])  # type: ignore[arg-type]
    assert (in_a_copy / "mig-parted.yaml").read_text(encoding="utf-8").startswith("#")

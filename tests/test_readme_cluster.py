"""The README's "From a live cluster" commands run, as written, on the cluster fixtures."""

from __future__ import annotations

import contextlib
import glob
import io
import re
import shlex
import shutil
from pathlib import Path

import pytest

from recommender import cli

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "cluster"
# README file name -> the fixture standing in for the capture.
CAPTURES = {
    "nodes.json": "nodes.json",
    "pods.json": "pods.json",
    "prices.csv": "prices.csv",
    "dcgm.prom": "dcgm.prom",
    "mig-parted-config.yaml": "gpu-operator-default-mig-parted-config.yaml",
    "lgi/gpu-node-a.txt": "lgi/gpu-node-a.txt",
    "lgi/gpu-node-b.txt": "lgi/gpu-node-b.txt",
    "lgip.txt": "h100-80gb-lgip.txt",
    "lgipp.txt": "h100-80gb-lgipp.txt",
}


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## From a live cluster\n(.*?)^## ", text, re.S | re.M)
    assert match, "README has no 'From a live cluster' section"
    return match.group(1)


def test_readme_cluster_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, fixture in CAPTURES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / fixture, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    section = _section()
    commands = [line for line in section.splitlines() if line.startswith("mig-recommender ")]
    assert len(commands) >= 7
    for command in commands:
        words = shlex.split(command)[1:]
        argv = [match for word in words for match in (sorted(glob.glob(word)) or [word])]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
        assert code == 0, f"{command}\n{err.getvalue()}"
    # The apply example is what the plan asked for.
    written = (tmp_path / "gpu-operator.yaml").read_text()
    for line in section.splitlines():
        if line.startswith("kubectl label node") or line.startswith("kubectl patch"):
            assert line in written, line

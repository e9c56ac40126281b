"""The live-cluster CLI (`recommender/cli_cluster.py`): import nodes/pods/lgi/mig-parted,
check-config, catalog import, and `plan --inventory --gpu-operator`: a success and bad input
for each (exit 2, `file:line` messages, never a traceback). Every plan goes through the
independent validator."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from recommender import cli
from recommender.catalog import Catalog
from recommender.k8s import is_dns_subdomain, is_label_value
from recommender.layouts import layout_violations
from recommender.plan import Plan
from recommender.reading import load_catalog, load_problem
from recommender.reading.current import load_current
from tests.conftest import assert_valid

DATA = Path(__file__).resolve().parent / "data" / "cluster"
POOL_LABEL = "cloud.google.com/gke-nodepool"


@dataclass
class Run:
    code: int
    out: str
    err: str


def run(*argv: str | Path) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    assert "Traceback" not in err.getvalue()
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    """fleet.csv, inventory.json and workloads.csv imported from the fixtures into tmp_path."""
    nodes = run(
        "import", "nodes", DATA / "nodes.json", "--pool-label", POOL_LABEL,
        "--prices", DATA / "prices.csv", "-o", tmp_path / "fleet.csv",
        "--inventory", tmp_path / "inventory.json",
    )  # fmt: skip
    assert nodes.code == 0, nodes.err
    pods = run(
        "import", "pods", DATA / "pods.json", "--inventory", tmp_path / "inventory.json",
        "--dcgm", DATA / "dcgm.prom", "--headroom", "0.2", "-o", tmp_path / "workloads.csv",
    )  # fmt: skip
    assert pods.code == 0, pods.err
    return tmp_path


# --- import nodes / pods -----------------------------------------------------------------------


def test_import_nodes_writes_fleet_and_inventory(imported: Path) -> None:
    rows = list(csv.DictReader((imported / "fleet.csv").open()))
    assert [(r["pool"], r["gpus"], r["cost_per_hour"]) for r in rows] == [
        ("a100-pool", "4", "3.67"),
        ("h100-pool", "1", "9.8"),
    ]
    inventory = json.loads((imported / "inventory.json").read_text())
    assert [n["node"] for n in inventory["nodes"]] == ["gpu-node-a", "gpu-node-b", "gpu-node-c"]
    printed = run("import", "nodes", DATA / "nodes.json", "--price", "2")
    assert printed.code == 0 and printed.out.startswith("pool,gpu_model,gpus")
    assert "node cpu-node-1: no GPUs, skipped" in printed.err


def test_import_nodes_bad_input(tmp_path: Path) -> None:
    cut = tmp_path / "nodes.json"
    cut.write_text((DATA / "nodes.json").read_text()[:500])
    result = run("import", "nodes", cut, "--price", "1")
    assert result.code == 2 and result.err.startswith(f"{cut}:")
    assert "not valid JSON" in result.err
    prices = tmp_path / "prices.csv"
    prices.write_text("pool,cost_per_hour\na100-pool,cheap\n")
    result = run("import", "nodes", DATA / "nodes.json", "--prices", prices)
    assert result.code == 2 and f"{prices}:2: cost_per_hour:" in result.err
    assert run("import", "nodes", DATA / "nodes.json").code == 2  # a price is required
    missing = run("import", "nodes", DATA / "nodes.json", "--price", "1",
                  "-o", tmp_path / "no" / "fleet.csv")  # fmt: skip
    assert missing.code == 2 and "does not exist" in missing.err
    # Each output path is checked before anything is written, under its own flag.
    assert f": --output {tmp_path / 'no' / 'fleet.csv'}: directory" in missing.err
    inventory = tmp_path / "no" / "inventory.json"
    result = run("import", "nodes", DATA / "nodes.json", "--price", "1", "--inventory", inventory)
    assert result.code == 2 and f": --inventory {inventory}: directory" in result.err
    same = tmp_path / "both.out"
    result = run("import", "nodes", DATA / "nodes.json", "--price", "1",
                 "-o", same, "--inventory", same)  # fmt: skip
    assert result.code == 2 and "--output and --inventory both write to" in result.err
    assert not same.exists()


def test_import_pods(imported: Path, tmp_path: Path) -> None:
    rows = {r["name"]: r for r in csv.DictReader((imported / "workloads.csv").open())}
    assert set(rows) == {"serving/llm-small", "serving/embedder", "media/transcode"}
    # The imported files are valid inputs for the planner.
    problem = load_problem(imported / "workloads.csv", imported / "fleet.csv", load_catalog())
    assert problem.total_replicas == 4
    bad = tmp_path / "dcgm.prom"
    bad.write_text('DCGM_FI_DEV_FB_USED{pod="p",namespace="n"} 5\nDCGM_FI_DEV_FB_USED{pod=\n')
    result = run("import", "pods", DATA / "pods.json", "--dcgm", bad)
    assert result.code == 2 and f"{bad}:2:" in result.err
    assert run("import", "pods", DATA / "nodes.json").code == 2


# --- current state: lgi and mig-parted --------------------------------------------------------


def test_import_lgi(imported: Path, catalog: Catalog) -> None:
    out = imported / "current.json"
    result = run(
        "import", "lgi", DATA / "lgi" / "gpu-node-a.txt", DATA / "lgi" / "gpu-node-b.txt",
        "--inventory", imported / "inventory.json", "-o", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    problem = load_problem(imported / "workloads.csv", imported / "fleet.csv", catalog)
    current = load_current(out, problem, catalog)
    assert {(g.pool, g.index) for g in current} == {("a100-pool", 0), ("a100-pool", 2)}
    wrong = run("import", "lgi", DATA / "a100-40gb-lgip.txt", "--inventory",
                imported / "inventory.json")  # fmt: skip
    assert wrong.code == 2 and "a100-40gb-lgip.txt" in wrong.err


def test_import_mig_parted_marks_gpus_compared_by_counts(imported: Path, catalog: Catalog) -> None:
    out = imported / "current.json"
    result = run(
        "import", "mig-parted", DATA / "gpu-operator-default-mig-parted-config.yaml",
        "--nodes", DATA / "nodes.json", "--inventory", imported / "inventory.json", "-o", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    state = json.loads(out.read_text())
    assert state["gpus"] and all(g["compare"] == "counts" for g in state["gpus"])
    # gpu-node-a runs all-balanced, gpu-node-b all-3g.20gb, gpu-node-c all-1g.10gb.
    counts = {
        (g["pool"], g["index"]): sorted(i["profile"] for i in g["instances"]) for g in state["gpus"]
    }
    assert counts[("a100-pool", 0)] == ["1g.5gb", "1g.5gb", "2g.10gb", "3g.20gb"]
    assert counts[("a100-pool", 3)] == ["3g.20gb", "3g.20gb"]
    assert counts[("h100-pool", 0)] == ["1g.10gb"] * 7
    for gpu in state["gpus"]:
        model = catalog.model(gpu["gpu_model"])
        assert (
            layout_violations(model, [(i["profile"], i["start"]) for i in gpu["instances"]]) == []
        )
    problem = load_problem(imported / "workloads.csv", imported / "fleet.csv", catalog)
    assert all(g.compare == "counts" for g in load_current(out, problem, catalog))


def test_import_mig_parted_bad_label_and_config(imported: Path, tmp_path: Path) -> None:
    nodes = json.loads((DATA / "nodes.json").read_text())
    nodes["items"][0]["metadata"]["labels"]["nvidia.com/mig.config"] = "no-such-config"
    relabelled = tmp_path / "relabelled.json"
    relabelled.write_text(json.dumps(nodes))
    config = DATA / "gpu-operator-default-mig-parted-config.yaml"
    result = run("import", "mig-parted", config, "--nodes", relabelled,
                 "--inventory", imported / "inventory.json")  # fmt: skip
    assert result.code == 2 and "no-such-config" in result.err and "gpu-node-a" in result.err
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "version: v1\nmig-configs:\n  a:\n    - devices: 0\n      mig-enabled: true\n"
    )
    result = run("import", "mig-parted", broken, "--nodes", DATA / "nodes.json",
                 "--inventory", imported / "inventory.json")  # fmt: skip
    assert result.code == 2 and f"{broken}:4:" in result.err


# --- check-config and catalog import ------------------------------------------------------------


def test_check_config_exit_codes(tmp_path: Path) -> None:
    config = DATA / "gpu-operator-default-mig-parted-config.yaml"
    ok = run("check-config", config, "--gpu-model", "A100-40GB", "--config", "all-balanced")
    assert ok.code == 0 and "all placeable" in ok.out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: v1\nmig-configs:\n  odd:\n    - devices: all\n      mig-enabled: true\n"
        '      mig-devices: {"4g.20gb": 1, "2g.10gb": 2, "1g.5gb": 1}\n'
    )
    result = run("check-config", bad, "--gpu-model", "A100-40GB")
    assert result.code == 1 and f"{bad}:4: odd[0]: NOT placeable" in result.out
    assert "placeable instead" in result.out
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\x00\x01")
    assert run("check-config", binary, "--gpu-model", "A100-40GB").code == 2
    assert run("check-config", config, "--gpu-model", "Z900").code == 2
    missing = run("check-config", config, "--gpu-model", "A100-40GB", "--config", "nope")
    assert missing.code == 2 and "no config named 'nope'" in missing.err


def test_catalog_import_reproduces_the_builtin_entry(tmp_path: Path, catalog: Catalog) -> None:
    out = tmp_path / "h100.json"
    result = run("catalog", "import", "--lgip", DATA / "h100-80gb-lgip.txt", "--lgipp",
                 DATA / "h100-80gb-lgipp.txt", "--model", "H100-NEW", "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    imported = load_catalog(out).model("H100-NEW")
    builtin = catalog.model("H100-80GB")
    shape = [(p.name, p.id, p.span, p.starts, p.compute_slices) for p in builtin.profiles]
    assert [(p.name, p.id, p.span, p.starts, p.compute_slices) for p in imported.profiles] == shape
    listed = run("catalog", "H100-NEW", "--catalog", out)
    assert listed.code == 0 and "1g.10gb" in listed.out
    assert run("catalog").code == 0 and run("catalog", "A100-40GB").code == 0
    assert run("catalog", "import", "--lgip", DATA / "h100-80gb-lgip.txt").code == 2
    wrong = run("catalog", "import", "--lgip", DATA / "h100-80gb-lgipp.txt",
                "--lgipp", DATA / "h100-80gb-lgipp.txt", "--model", "X")  # fmt: skip
    assert wrong.code == 2 and "h100-80gb-lgipp.txt" in wrong.err


# --- plan --inventory --gpu-operator ------------------------------------------------------------


def _plan(directory: Path, *extra: str | Path) -> tuple[Run, Plan]:
    result = run(
        "plan", directory / "workloads.csv", directory / "fleet.csv", "--time-limit", "10",
        "--inventory", directory / "inventory.json", "--json", directory / "plan.json",
        "--csv", directory / "plan.csv", "--gpu-operator", directory / "gpu-operator.yaml", *extra,
    )  # fmt: skip
    assert result.code == 0, result.err
    return result, Plan.read(directory / "plan.json")


def test_plan_uses_real_node_names(imported: Path, catalog: Catalog) -> None:
    result, plan = _plan(imported)
    problem = load_problem(imported / "workloads.csv", imported / "fleet.csv", catalog)
    assert_valid(plan, problem, catalog)
    assert "gpu-operator" in result.out
    nodes = {row["node"] for row in csv.DictReader((imported / "plan.csv").open())}
    assert nodes and nodes <= {"gpu-node-a", "gpu-node-b", "gpu-node-c"}
    text = (imported / "gpu-operator.yaml").read_text()
    (configmap,) = [d for d in yaml.safe_load_all(text) if d]
    assert configmap["kind"] == "ConfigMap"
    configs = yaml.safe_load(configmap["data"]["config.yaml"])["mig-configs"]
    labels = [line.split()[4:6] for line in text.splitlines() if "kubectl label node" in line]
    assert {node for node, _ in labels} == {"gpu-node-a", "gpu-node-b", "gpu-node-c"}
    for node, label in labels:
        config = label.split("=", 1)[1]
        assert is_dns_subdomain(node) and is_label_value(config) and config in configs


def test_plan_from_the_config_in_use_labels_in_waves(imported: Path, catalog: Catalog) -> None:
    current = imported / "current.json"
    assert run(
        "import", "mig-parted", DATA / "gpu-operator-default-mig-parted-config.yaml",
        "--nodes", DATA / "nodes.json", "--inventory", imported / "inventory.json", "-o", current,
    ).code == 0  # fmt: skip
    _, plan = _plan(imported, "--current", current)
    assert plan.transition is not None
    checked = run("check", imported / "plan.json", imported / "workloads.csv",
                  imported / "fleet.csv", "--current", current)  # fmt: skip
    assert checked.code == 0, checked.out
    text = (imported / "gpu-operator.yaml").read_text()
    assert "# 3. Label the nodes wave by wave" in text and "#    wave 1 (" in text


def test_plan_with_a_bad_inventory(imported: Path, tmp_path: Path) -> None:
    inventory = json.loads((imported / "inventory.json").read_text())
    inventory["nodes"][0]["pool"] = "elsewhere"
    inventory["nodes"][1]["node"] = "Not A Node"
    bad = tmp_path / "bad-inventory.json"
    bad.write_text(json.dumps(inventory))
    result = run("plan", imported / "workloads.csv", imported / "fleet.csv", "--inventory", bad)
    assert result.code == 2
    assert "bad-inventory.json: nodes[1]: node name 'Not A Node'" in result.err
    inventory["nodes"][1]["node"] = "gpu-node-b"
    bad.write_text(json.dumps(inventory))
    result = run("plan", imported / "workloads.csv", imported / "fleet.csv", "--inventory", bad)
    assert result.code == 2 and "pool 'elsewhere' is not in the fleet" in result.err
    bad.write_bytes(b"")
    result = run("plan", imported / "workloads.csv", imported / "fleet.csv", "--inventory", bad)
    assert result.code == 2 and "empty" in result.err


def test_plan_notes_mapped_pool_names(tmp_path: Path) -> None:
    (tmp_path / "w.csv").write_text("name,memory_gb,replicas\nweb,4,2\n")
    (tmp_path / "f.csv").write_text("pool,gpu_model,gpus,cost_per_hour\nGPU Pool ü,A100-40GB,2,1\n")
    result = run("plan", tmp_path / "w.csv", tmp_path / "f.csv", "--time-limit", "5",
                 "--out-dir", tmp_path / "out", "--gpu-operator", tmp_path / "g.yaml")  # fmt: skip
    assert result.code == 0, result.err
    assert "note: 1 pool name(s) are not valid Kubernetes names" in result.out
    for written in [*(tmp_path / "out").iterdir(), tmp_path / "g.yaml"]:
        if written.suffix == ".yaml":
            assert "# Names: 1 pool name(s)" in written.read_text()

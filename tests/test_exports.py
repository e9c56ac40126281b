"""Exports of a plan: CSV, mig-parted YAML, nvidia-smi script, Kubernetes resources."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from recommender.catalog import Catalog
from recommender.exports import (
    CSV_COLUMNS,
    EXPORTS,
    FORMULA_PREFIXES,
    guard_cell,
    k8s_resource_name,
    kubernetes_resources,
    plan_to_csv,
    plan_to_kubernetes,
    plan_to_mig_parted,
    plan_to_nvidia_smi,
)
from recommender.locate import node_locator
from recommender.plan import Plan, PlanGpu, PlanInstance
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_catalog
from recommender.validate import validate_plan

BASH = shutil.which("bash") or "bash"
A100 = "A100-40GB"
RTX = "RTX-PRO-6000-96GB"
QUOTED_NAME = 'big, "quoted"'


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _problem() -> Problem:
    """Pool `a100` has 2 GPUs per node (GPUs spread over nodes); pool `rtx` has the default 8."""
    return Problem(
        workloads=(
            Workload(name="llm", memory_gb=18, compute_slices=3, replicas=2),
            Workload(name="=cmd()", memory_gb=9, compute_slices=2, replicas=2),
            Workload(name="+x", memory_gb=4),
            Workload(name="-x", memory_gb=4),
            Workload(name="@x", memory_gb=4),
            Workload(name="\ttab", memory_gb=4),
            Workload(name=QUOTED_NAME, memory_gb=30, compute_slices=7),
            Workload(name="video", memory_gb=20, media=True, gpu_models=(RTX,)),
            Workload(name="rtx-llm", memory_gb=40, compute_slices=2, gpu_models=(RTX,)),
        ),
        pools=(
            Pool(pool="a100", gpu_model=A100, gpus=6, cost_per_hour=2.0, gpus_per_node=2),
            Pool(pool="rtx", gpu_model=RTX, gpus=2, cost_per_hour=3.0),
        ),
    )


def _instance(profile: str, start: int, workload: str | None = None, replica: int = 0):
    return PlanInstance(
        profile=profile,
        start=start,
        workload=workload,
        replica=None if workload is None else replica,
    )


def _plan() -> Plan:
    """A valid hand-made plan.

    a100 GPUs 0 and 1 (node 0) share the 3-2-1-1 multiset at different starts, GPU 2 (node 1,
    device 0) is a full 7g, GPU 3 is listed without instances, GPUs 4-5 (node 2) are unused.
    rtx GPU 0 carries a `+me`, a spare `-me` and a 2g.
    """
    gpus = [
        PlanGpu(
            pool="a100",
            index=0,
            gpu_model=A100,
            instances=[
                _instance("1g.5gb", 0, "+x"),
                _instance("1g.5gb", 1, "-x"),
                _instance("2g.10gb", 2, "=cmd()", 0),
                _instance("3g.20gb", 4, "llm", 0),
            ],
        ),
        PlanGpu(
            pool="a100",
            index=1,
            gpu_model=A100,
            instances=[
                _instance("3g.20gb", 4, "llm", 1),
                _instance("2g.10gb", 0, "=cmd()", 1),
                _instance("1g.5gb", 2, "@x"),
                _instance("1g.5gb", 3, "\ttab"),
            ],
        ),
        PlanGpu(
            pool="a100", index=2, gpu_model=A100, instances=[_instance("7g.40gb", 0, QUOTED_NAME)]
        ),
        PlanGpu(pool="a100", index=3, gpu_model=A100, instances=[]),
        PlanGpu(
            pool="rtx",
            index=0,
            gpu_model=RTX,
            instances=[
                _instance("1g.24gb+me", 0, "video"),
                _instance("1g.24gb-me", 3),
                _instance("2g.48gb", 6, "rtx-llm"),
            ],
        ),
    ]
    return Plan(
        status="optimal",
        cost_per_hour=3 * 2.0 + 3.0,
        lower_bound_per_hour=9.0,
        gpus=gpus,
        unplaced=[],
    )


@pytest.fixture(scope="module")
def problem() -> Problem:
    return _problem()


@pytest.fixture(scope="module")
def plan(problem: Problem, catalog: Catalog) -> Plan:
    built = _plan()
    assert validate_plan(built, problem, catalog) == []
    return built


def _instance_count(plan: Plan) -> int:
    return sum(len(gpu.instances) for gpu in plan.gpus)


# --- node convention ---------------------------------------------------------------------------


def _locate(*pools: Pool):
    return node_locator(Problem(workloads=(), pools=pools))


def test_node_of_splits_pool_indices_into_nodes_and_devices() -> None:
    pool = Pool(pool="a100", gpu_model=A100, gpus=6, cost_per_hour=1.0, gpus_per_node=2)
    assert [_locate(pool)("a100", i) for i in range(5)] == [
        ("a100-node-0", 0),
        ("a100-node-0", 1),
        ("a100-node-1", 0),
        ("a100-node-1", 1),
        ("a100-node-2", 0),
    ]
    default = Pool(pool="p", gpu_model=A100, gpus=9, cost_per_hour=1.0)
    assert _locate(default)("p", 7) == ("p-node-0", 7)
    assert _locate(default)("p", 8) == ("p-node-1", 0)


# --- CSV ---------------------------------------------------------------------------------------


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_has_one_row_per_instance_with_catalog_facts(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    text = plan_to_csv(plan, problem, catalog)
    rows = _csv_rows(text)
    assert next(csv.reader(io.StringIO(text))) == list(CSV_COLUMNS)
    assert len(rows) == _instance_count(plan) == 12
    first = rows[0]
    assert first == {
        "pool": "a100",
        "node": "a100-node-0",
        "device": "0",
        "gpu_index": "0",
        "gpu_model": A100,
        "profile": "1g.5gb",
        "profile_id": "19",
        "start": "0",
        "span": "1",
        "memory_gib": "4.75",
        "compute_slices": "1",
        "workload": "'+x",
        "replica": "0",
        "batch_size": "",  # throughput workloads only
        "processes": "",
        "throughput_rps": "",
    }
    by_start = {(r["pool"], r["gpu_index"], r["start"]): r for r in rows}
    three_g = by_start[("a100", "0", "4")]
    assert (three_g["profile"], three_g["profile_id"], three_g["span"]) == ("3g.20gb", "9", "4")
    assert three_g["compute_slices"] == "3"
    two_g = by_start[("a100", "1", "0")]
    assert (two_g["profile"], two_g["profile_id"], two_g["span"]) == ("2g.10gb", "14", "2")
    seven_g = by_start[("a100", "2", "0")]
    assert (seven_g["node"], seven_g["device"], seven_g["span"]) == ("a100-node-1", "0", "8")
    media = by_start[("rtx", "0", "0")]
    assert (media["profile"], media["profile_id"], media["span"]) == ("1g.24gb+me", "21", "3")
    assert media["node"] == "rtx-node-0"


def test_csv_spare_instance_has_empty_workload_and_replica(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    rows = _csv_rows(plan_to_csv(plan, problem, catalog))
    spares = [r for r in rows if r["workload"] == ""]
    assert len(spares) == 1
    assert spares[0]["profile"] == "1g.24gb-me"
    assert spares[0]["profile_id"] == "67"
    assert spares[0]["replica"] == ""


def test_csv_guards_formula_injection_and_quotes_commas(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    text = plan_to_csv(plan, problem, catalog)
    workloads = Counter(r["workload"] for r in _csv_rows(text))
    for dangerous in ("=cmd()", "+x", "-x", "@x", "\ttab"):
        assert workloads["'" + dangerous] >= 1, dangerous
        assert dangerous not in workloads
    assert workloads["'=cmd()"] == 2
    # No data cell may start with a formula character once parsed back.
    for row in _csv_rows(text):
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    # Commas and quotes in a name are quoted by the csv module and survive the round trip.
    assert workloads[QUOTED_NAME] == 1
    assert '"big, ""quoted"""' in text


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_guard_cell_quotes_text_a_spreadsheet_would_run(prefix: str) -> None:
    assert guard_cell(prefix + "SUM(A1)") == "'" + prefix + "SUM(A1)"


@pytest.mark.parametrize("value", ["plain", "a=b", "", -1, 2.5, None])
def test_guard_cell_leaves_other_values_alone(value: object) -> None:
    assert guard_cell(value) == value


def test_csv_guards_pool_and_node_names(catalog: Catalog) -> None:
    pool = Pool(pool="-pool", gpu_model=A100, gpus=1, cost_per_hour=1.0)
    problem = Problem(workloads=(Workload(name="w", memory_gb=1),), pools=(pool,))
    plan = Plan(
        status="optimal",
        cost_per_hour=1.0,
        lower_bound_per_hour=1.0,
        gpus=[
            PlanGpu(pool="-pool", index=0, gpu_model=A100, instances=[_instance("1g.5gb", 0, "w")])
        ],
        unplaced=[],
    )
    assert validate_plan(plan, problem, catalog) == []
    (row,) = _csv_rows(plan_to_csv(plan, problem, catalog))
    assert row["pool"] == "'-pool"
    # The node name is the pool's mapped to a Kubernetes name: nothing left to guard.
    assert row["node"] == node_locator(problem)("-pool", 0)[0] == "pool-68632d-node-0"
    assert row["workload"] == "w"


# --- mig-parted --------------------------------------------------------------------------------


def test_mig_parted_groups_devices_by_identical_layout(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    text = plan_to_mig_parted(plan, problem, catalog)
    config = yaml.safe_load(text)
    assert config["version"] == "v1"
    configs = config["mig-configs"]
    # a100-node-2 (GPUs 4-5) and rtx GPU 1 are unused: no empty nodes.
    assert list(configs) == ["a100-node-0", "a100-node-1", "rtx-node-0"]
    # GPUs 0 and 1 carry the same multiset at different starts: one entry, both devices.
    assert configs["a100-node-0"] == [
        {
            "devices": [0, 1],
            "mig-enabled": True,
            "mig-devices": {"3g.20gb": 1, "2g.10gb": 1, "1g.5gb": 2},
        }
    ]
    # GPU 3 (device 1 of node 1) has no instance, so only device 0 is listed.
    assert configs["a100-node-1"] == [
        {"devices": [0], "mig-enabled": True, "mig-devices": {"7g.40gb": 1}}
    ]
    assert configs["rtx-node-0"] == [
        {
            "devices": [0],
            "mig-enabled": True,
            "mig-devices": {"2g.48gb": 1, "1g.24gb+me": 1, "1g.24gb-me": 1},
        }
    ]


def test_mig_parted_counts_equal_plan_instances(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    configs = yaml.safe_load(plan_to_mig_parted(plan, problem, catalog))["mig-configs"]
    exported: Counter[tuple[str, str]] = Counter()
    for node, entries in configs.items():
        for entry in entries:
            for profile, count in entry["mig-devices"].items():
                exported[(node, profile)] += count * len(entry["devices"])
    planned: Counter[tuple[str, str]] = Counter()
    for gpu in plan.gpus:
        node, _ = node_locator(problem)(gpu.pool, gpu.index)
        for instance in gpu.instances:
            planned[(node, instance.profile)] += 1
    assert exported == planned
    assert sum(exported.values()) == _instance_count(plan)


def test_mig_parted_splits_different_layouts_on_one_node(catalog: Catalog) -> None:
    pool = Pool(pool="n", gpu_model=A100, gpus=3, cost_per_hour=1.0)
    problem = Problem(workloads=(Workload(name="w", memory_gb=1, replicas=3),), pools=(pool,))
    plan = Plan(
        status="feasible",
        cost_per_hour=3.0,
        lower_bound_per_hour=2.0,
        gpus=[
            PlanGpu(pool="n", index=2, gpu_model=A100, instances=[_instance("1g.5gb", 0, "w", 0)]),
            PlanGpu(pool="n", index=0, gpu_model=A100, instances=[_instance("1g.10gb", 0, "w", 1)]),
            PlanGpu(pool="n", index=1, gpu_model=A100, instances=[_instance("1g.5gb", 6, "w", 2)]),
        ],
        unplaced=[],
    )
    assert validate_plan(plan, problem, catalog) == []
    entries = yaml.safe_load(plan_to_mig_parted(plan, problem, catalog))["mig-configs"]["n-node-0"]
    assert sorted((e["devices"], e["mig-devices"]) for e in entries) == [
        ([0], {"1g.10gb": 1}),
        ([1, 2], {"1g.5gb": 1}),
    ]


def test_mig_parted_header_names_cost_and_placement_caveat(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    text = plan_to_mig_parted(plan, problem, catalog)
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert text.startswith("# ")
    joined = "\n".join(header)
    assert "cost 9 per hour" in joined
    assert "picks the instance placements itself" in joined
    assert "nvidia-smi script" in joined
    assert "leaves unlisted" in joined


def test_mig_parted_of_an_empty_plan_has_no_configs(problem: Problem, catalog: Catalog) -> None:
    empty = Plan(status="optimal", cost_per_hour=0, lower_bound_per_hour=0, gpus=[], unplaced=[])
    assert yaml.safe_load(plan_to_mig_parted(empty, problem, catalog)) == {
        "version": "v1",
        "mig-configs": {},
    }


def test_plan_gpu_in_unknown_pool_is_a_clear_error(problem: Problem, catalog: Catalog) -> None:
    stray = Plan(
        status="optimal",
        cost_per_hour=1.0,
        lower_bound_per_hour=1.0,
        gpus=[PlanGpu(pool="nope", index=0, gpu_model=A100, instances=[_instance("1g.5gb", 0)])],
        unplaced=[],
    )
    with pytest.raises(ValueError, match="pool 'nope'"):
        plan_to_mig_parted(stray, problem, catalog)


# --- nvidia-smi script -------------------------------------------------------------------------


def _write_script(tmp_path: Path, text: str) -> Path:
    script = tmp_path / "create-mig-instances.sh"
    script.write_text(text, encoding="utf-8")
    return script


def _fake_nvidia_smi(tmp_path: Path) -> tuple[Path, Path]:
    """A `nvidia-smi` on PATH that only records its arguments, one call per line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    fake = bin_dir / "nvidia-smi"
    fake.write_text(f'#!/usr/bin/env bash\necho "$*" >> {log}\n', encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return bin_dir, log


def _run(script: Path, bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [BASH, str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=script.parent,
        timeout=20,
        check=False,
    )


def test_nvidia_smi_creates_a100_3_2_1_1_at_explicit_starts(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    text = plan_to_nvidia_smi(plan, problem, catalog)
    lines = [line.strip() for line in text.splitlines()]
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in lines
    assert "nvidia-smi mig -i 0 -cgi 9:4,14:2,19:0,19:1 -C" in lines
    assert "nvidia-smi mig -i 1 -cgi 9:4,14:0,19:2,19:3 -C" in lines
    assert "nvidia-smi mig -i 0 -cgi 0:0 -C" in lines
    assert "nvidia-smi mig -i 0 -cgi 5:6,21:0,67:3 -C" in lines
    assert "reset" in text and "Ampere" in text


def test_nvidia_smi_creates_larger_instances_first(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    """Each `-cgi` list runs largest span first (then more compute), never a smaller one first."""
    model = None
    checked = 0
    for line in (line.strip() for line in plan_to_nvidia_smi(plan, problem, catalog).splitlines()):
        if line.startswith("# device "):  # `# device 0: pool a100 GPU 0 (A100-40GB)`
            model = catalog.model(line.rsplit("(", 1)[1].rstrip(")"))
        if " -cgi " not in line:
            continue
        assert model is not None
        by_id = {p.id: p for p in model.profiles}
        ids = [int(item.split(":")[0]) for item in line.split(" -cgi ")[1].split()[0].split(",")]
        sizes = [(by_id[i].span, by_id[i].compute_slices) for i in ids]
        assert sizes == sorted(sizes, reverse=True), line
        checked += 1
    assert checked == 4


def test_nvidia_smi_comments_name_each_instance_workload(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    text = plan_to_nvidia_smi(plan, problem, catalog)
    assert "#   3g.20gb (id 9) at start 4: llm replica 0" in text
    assert "#   1g.24gb-me (id 67) at start 3: spare (no workload)" in text
    # The tab in a workload name is neutralized inside the comment.
    assert "#   1g.5gb (id 19) at start 3: ?tab replica 0" in text


def test_nvidia_smi_script_parses_with_bash_n(
    plan: Plan, problem: Problem, catalog: Catalog, tmp_path: Path
) -> None:
    script = _write_script(tmp_path, plan_to_nvidia_smi(plan, problem, catalog))
    result = subprocess.run([BASH, "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_nvidia_smi_script_runs_exact_calls_for_a_known_node(
    plan: Plan, problem: Problem, catalog: Catalog, tmp_path: Path
) -> None:
    script = _write_script(tmp_path, plan_to_nvidia_smi(plan, problem, catalog))
    bin_dir, log = _fake_nvidia_smi(tmp_path)
    result = _run(script, bin_dir, "a100-node-0")
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "-i 0 -mig 1",
        "mig -i 0 -cgi 9:4,14:2,19:0,19:1 -C",
        "-i 1 -mig 1",
        "mig -i 1 -cgi 9:4,14:0,19:2,19:3 -C",
    ]


@pytest.mark.parametrize("args", [(), ("a100-node-2",), ("rtx-node-1",), ("*",), ("a", "b")])
def test_nvidia_smi_script_rejects_missing_or_unknown_node(
    plan: Plan, problem: Problem, catalog: Catalog, tmp_path: Path, args: tuple[str, ...]
) -> None:
    script = _write_script(tmp_path, plan_to_nvidia_smi(plan, problem, catalog))
    bin_dir, log = _fake_nvidia_smi(tmp_path)
    result = _run(script, bin_dir, *args)
    assert result.returncode != 0
    assert "usage:" in result.stderr
    assert "a100-node-0" in result.stderr  # the usage lists the nodes the plan configures
    assert not log.exists()  # nvidia-smi was never called


def test_nvidia_smi_script_is_safe_with_hostile_names(catalog: Catalog, tmp_path: Path) -> None:
    pool_name = "evil $(touch pwned) `touch pwned2` 'q\" *"
    workload_name = "w\ntouch pwned3"
    pool = Pool(pool=pool_name, gpu_model=A100, gpus=1, cost_per_hour=1.0)
    problem = Problem(workloads=(Workload(name=workload_name, memory_gb=1),), pools=(pool,))
    plan = Plan(
        status="optimal",
        cost_per_hour=1.0,
        lower_bound_per_hour=1.0,
        gpus=[
            PlanGpu(
                pool=pool_name,
                index=0,
                gpu_model=A100,
                instances=[_instance("1g.5gb", 0, workload_name)],
            )
        ],
        unplaced=[],
    )
    assert validate_plan(plan, problem, catalog) == []
    script = _write_script(tmp_path, plan_to_nvidia_smi(plan, problem, catalog))
    bin_dir, log = _fake_nvidia_smi(tmp_path)
    node, _ = node_locator(problem)(pool.pool, 0)
    assert _run(script, bin_dir, "other").returncode != 0
    result = _run(script, bin_dir, node)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == ["-i 0 -mig 1", "mig -i 0 -cgi 19:0 -C"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bin",
        "calls.log",
        "create-mig-instances.sh",
    ]


# --- Kubernetes --------------------------------------------------------------------------------


def test_k8s_resource_names_follow_mixed_strategy() -> None:
    assert k8s_resource_name("1g.24gb+me") == "nvidia.com/mig-1g.24gb.me"
    assert k8s_resource_name("1g.24gb-me") == "nvidia.com/mig-1g.24gb-me"
    assert k8s_resource_name("1g.24gb+me.all") == "nvidia.com/mig-1g.24gb.me.all"
    assert k8s_resource_name("3g.20gb") == "nvidia.com/mig-3g.20gb"


def test_kubernetes_resources_count_every_instance_per_node(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    resources = kubernetes_resources(plan, problem, catalog)
    assert resources == {
        "a100-node-0": {
            "nvidia.com/mig-3g.20gb": 2,
            "nvidia.com/mig-2g.10gb": 2,
            "nvidia.com/mig-1g.5gb": 4,
        },
        "a100-node-1": {"nvidia.com/mig-7g.40gb": 1},
        "rtx-node-0": {
            "nvidia.com/mig-2g.48gb": 1,
            "nvidia.com/mig-1g.24gb.me": 1,
            "nvidia.com/mig-1g.24gb-me": 1,
        },
    }
    assert sum(sum(c.values()) for c in resources.values()) == _instance_count(plan)


def test_kubernetes_yaml_has_config_label_and_mixed_strategy_note(
    plan: Plan, problem: Problem, catalog: Catalog
) -> None:
    text = plan_to_kubernetes(plan, problem, catalog)
    assert "nvidia.com/mig.strategy=mixed" in text
    nodes = yaml.safe_load(text)["nodes"]
    assert list(nodes) == ["a100-node-0", "a100-node-1", "rtx-node-0"]
    for name, node in nodes.items():
        assert node["labels"] == {"nvidia.com/mig.config": name}
    assert {n: node["resources"] for n, node in nodes.items()} == kubernetes_resources(
        plan, problem, catalog
    )
    # The label names a config the mig-parted export defines.
    configs = yaml.safe_load(plan_to_mig_parted(plan, problem, catalog))["mig-configs"]
    assert set(nodes) == set(configs)


# --- the export table --------------------------------------------------------------------------


def test_exports_table_covers_every_format(plan: Plan, problem: Problem, catalog: Catalog) -> None:
    assert list(EXPORTS) == ["json", "csv", "mig-parted", "nvidia-smi", "kubernetes"]
    file_names = [file_name for file_name, _, _ in EXPORTS.values()]
    assert len(set(file_names)) == len(file_names)
    assert Plan.from_json(EXPORTS["json"][2](plan, problem, catalog)) == plan
    assert json.loads(EXPORTS["json"][2](plan, problem, catalog))["cost_per_hour"] == 9.0
    assert EXPORTS["csv"][:2] == ("plan.csv", "text/csv")
    assert EXPORTS["csv"][2] is plan_to_csv
    assert EXPORTS["mig-parted"][2] is plan_to_mig_parted
    assert EXPORTS["nvidia-smi"][2] is plan_to_nvidia_smi
    assert EXPORTS["kubernetes"][2] is plan_to_kubernetes
    for key, (_, mime, export) in EXPORTS.items():
        text = export(plan, problem, catalog)
        assert isinstance(text, str) and text, key
        assert "/" in mime

"""GPU Operator export: a valid ConfigMap (mig-parted v1 inside), the ClusterPolicy patch and
one valid config label per node, with one named config per distinct node layout."""

from __future__ import annotations

import shlex

import yaml

from recommender.cluster.gpu_operator import gpu_operator_export, plan_to_gpu_operator
from recommender.cluster.migparted import check_config, read_mig_parted
from recommender.cluster.nodes import NodeInfo, NodeInventory
from recommender.k8s import is_dns_subdomain, is_label_value
from recommender.plan import Plan, PlanGpu, PlanInstance
from recommender.problem import Pool, Problem, Workload
from recommender.reading import load_catalog

HALVES = [("3g.20gb", 0), ("3g.20gb", 4)]


def _gpu(pool: str, index: int, placements: list[tuple[str, int]]) -> PlanGpu:
    instances = [PlanInstance(profile=p, start=s) for p, s in placements]
    return PlanGpu(pool=pool, index=index, gpu_model="A100-40GB", instances=instances)


def _case(pool: str = "A100 East/1") -> tuple[Plan, Problem]:
    problem = Problem(
        workloads=(Workload(name="w", memory_gb=4),),
        pools=(Pool(pool=pool, gpu_model="A100-40GB", gpus=13, cost_per_hour=1, gpus_per_node=4),),
    )
    gpus = [_gpu(pool, i, HALVES) for i in range(4)]
    gpus += [_gpu(pool, i, HALVES) for i in range(4, 8)]
    gpus.append(_gpu(pool, 8, [("7g.40gb", 0)]))
    plan = Plan(status="optimal", cost_per_hour=9, lower_bound_per_hour=9, gpus=gpus, unplaced=[])
    return plan, problem


def _check_mig_parted_schema(document: dict) -> None:
    assert document["version"] == "v1"
    for entries in document["mig-configs"].values():
        assert isinstance(entries, list) and entries
        for entry in entries:
            assert set(entry) <= {"device-filter", "devices", "mig-enabled", "mig-devices"}
            assert entry["devices"] == "all" or all(isinstance(d, int) for d in entry["devices"])
            assert isinstance(entry["mig-enabled"], bool)
            if entry["mig-enabled"]:
                assert all(isinstance(n, int) and n > 0 for n in entry["mig-devices"].values())


def test_export_shapes_and_one_config_per_distinct_layout() -> None:
    plan, problem = _case()
    export = gpu_operator_export(plan, problem, load_catalog())
    configmap = export.configmap
    assert (configmap["apiVersion"], configmap["kind"]) == ("v1", "ConfigMap")
    assert is_dns_subdomain(configmap["metadata"]["name"])
    document = export.mig_parted
    _check_mig_parted_schema(document)
    # Nodes 0 and 1 carry the same layout: one config; node 2 its own; all-disabled for empties.
    assert len(document["mig-configs"]) == 3
    assert len(set(export.node_configs.values())) == 3
    for node, config in export.node_configs.items():
        assert is_dns_subdomain(node) and is_label_value(config)
        assert config in document["mig-configs"]
    assert export.cluster_policy_patch == {
        "spec": {"migManager": {"config": {"name": configmap["metadata"]["name"]}}}
    }
    # The exported config passes check-config.
    text = yaml.safe_dump(document)
    result = check_config(
        read_mig_parted(text.encode(), "c.yaml"), "A100-40GB", load_catalog().model("A100-40GB")
    )
    assert result.exit_code == 0


def test_rendered_file_parses_and_commands_are_shell_safe() -> None:
    plan, problem = _case()
    text = plan_to_gpu_operator(plan, problem, load_catalog())
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    assert len(documents) == 1 and documents[0]["kind"] == "ConfigMap"
    _check_mig_parted_schema(yaml.safe_load(documents[0]["data"]["config.yaml"]))
    commands = [line[1:].strip() for line in text.splitlines() if "kubectl label node" in line]
    assert len(commands) == 4
    for command in commands:
        words = shlex.split(command)
        assert words[:3] == ["kubectl", "label", "node"] and words[-1] == "--overwrite"


def test_inventory_names_nodes() -> None:
    plan, problem = _case("east")
    inventory = NodeInventory(
        tuple(
            NodeInfo(f"gke-node-{i}", "east", "A100-40GB", 4 if i < 3 else 1, "x") for i in range(4)
        )
    )
    export = gpu_operator_export(plan, inventory.attach(problem), load_catalog())
    assert set(export.node_configs) == {f"gke-node-{i}" for i in range(4)}
    assert export.node_configs["gke-node-0"] == export.node_configs["gke-node-1"] == "east-layout-1"


def test_hostile_pool_names_map_to_valid_distinct_values() -> None:
    plan, problem = _case("pool " + "é" * 80)
    export = gpu_operator_export(plan, problem, load_catalog())
    assert all(is_label_value(v) for v in export.node_configs.values())
    assert all(is_dns_subdomain(n) for n in export.node_configs)

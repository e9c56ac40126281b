"""Kubernetes names (issue 11.5): every label value, node name and object name an export writes
passes Kubernetes' own syntax rules, and no two distinct names of ours meet in one value.

The rules are checked here with regexes written out from the Kubernetes documentation
(https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set,
https://kubernetes.io/docs/concepts/overview/working-with-objects/names/), independently of the
ones `recommender.k8s` uses.
"""

from __future__ import annotations

import csv
import io
import re
import shlex

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import Catalog
from recommender.cluster.gpu_operator import gpu_operator_export
from recommender.exports import (
    plan_to_csv,
    plan_to_kubernetes,
    plan_to_mig_parted,
    plan_to_nvidia_smi,
)
from recommender.k8s import Rule, is_dns_label, is_dns_subdomain, is_label_value, unique_names
from recommender.locate import node_locator
from recommender.plan import Plan, PlanGpu, PlanInstance
from recommender.problem import Node, Pool, Problem, Workload
from recommender.rollout import rollout_script
from recommender.solve import SolveOptions, solve
from tests.conftest import assert_valid

# "Valid label value: must be 63 characters or less (can be empty), unless empty, must begin
# and end with an alphanumeric character ([a-z0-9A-Z]), could contain dashes (-), underscores
# (_), dots (.), and alphanumerics between."
DOC_LABEL_VALUE = re.compile(r"|[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9_.-]*[a-zA-Z0-9]")
# "DNS Subdomain Names: no more than 253 characters, only lowercase alphanumeric characters, '-'
# or '.', start with an alphanumeric character, end with an alphanumeric character."
# (each dot-separated part a DNS label, as RFC 1123 and the apimachinery regex require)
DOC_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def doc_label_value(value: str) -> bool:
    return len(value) <= 63 and DOC_LABEL_VALUE.fullmatch(value) is not None


def doc_dns_label(value: str) -> bool:
    return 0 < len(value) <= 63 and DOC_DNS_LABEL.fullmatch(value) is not None


def doc_dns_subdomain(value: str) -> bool:
    parts = value.split(".")
    return 0 < len(value) <= 253 and all(DOC_DNS_LABEL.fullmatch(part) for part in parts)


HOSTILE_POOLS = [
    "gpu pool",
    "GPU Pool",
    "gpu-pool",
    "gpu_pool",
    "pööl ünïcode",
    "x" * 100,
    "x" * 99 + "y",
    "a/b",
    "-.-",
    "ok",
]
HOSTILE_WORKLOADS = ["web app", "Web App", "web-app", "wëb", "w" * 100, "w" * 99 + "v", "=cmd"]


def test_doc_regexes_agree_with_the_rules_on_known_cases() -> None:
    for value, label, dns_label, subdomain in [
        ("", True, False, False),
        ("a", True, True, True),
        ("A-b_c.d", True, False, False),
        ("-a", False, False, False),
        ("a.b", True, False, True),
        ("a" * 63, True, True, True),
        ("a" * 64, False, False, True),
        ("a" * 254, False, False, False),
        ("ü", False, False, False),
        ("a\n", False, False, False),
    ]:
        assert is_label_value(value) == doc_label_value(value) == label, value
        assert is_dns_label(value) == doc_dns_label(value) == dns_label, value
        assert is_dns_subdomain(value) == doc_dns_subdomain(value) == subdomain, value


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=120), min_size=1, max_size=12))
def test_mapping_is_valid_and_injective_for_any_names(names: list[str]) -> None:
    for rule, check in (
        (Rule.LABEL_VALUE, doc_label_value),
        (Rule.DNS_LABEL, doc_dns_label),
        (Rule.DNS_SUBDOMAIN, doc_dns_subdomain),
    ):
        mapped = unique_names(names, rule)
        assert set(mapped) == set(names)
        assert len(set(mapped.values())) == len(mapped)
        assert all(check(value) for value in mapped.values()), mapped
        for name, value in mapped.items():
            if rule.check(name):
                assert value == name  # valid names are kept


def test_names_differing_in_case_or_dropped_characters_stay_apart() -> None:
    mapped = unique_names(["A B", "a b", "a-b", "a--b", "a_b"], Rule.DNS_LABEL)
    assert len(set(mapped.values())) == 5 and mapped["a-b"] == "a-b"


# --- every export, with hostile pool and workload names ----------------------------------------


@pytest.fixture(scope="module")
def hostile(catalog: Catalog) -> tuple[Plan, Problem, list[PlanGpu]]:
    pools = tuple(
        Pool(pool=name, gpu_model="A100-40GB", gpus=2, cost_per_hour=1 + i / 10, gpus_per_node=1)
        for i, name in enumerate(HOSTILE_POOLS)
    )
    workloads = tuple(
        Workload(name=name, memory_gb=9 + i, compute_slices=2, replicas=2)
        for i, name in enumerate(HOSTILE_WORKLOADS)
    )
    problem = Problem(workloads=workloads, pools=pools)
    first = HOSTILE_WORKLOADS[0]
    current = [
        PlanGpu(
            pool=HOSTILE_POOLS[-2],
            index=0,
            gpu_model="A100-40GB",
            instances=[PlanInstance(profile="7g.40gb", start=0, workload=first, replica=0)],
        )
    ]
    plan = solve(problem, catalog, SolveOptions(time_limit_seconds=20, current=current))
    assert_valid(plan, problem, catalog, current)
    assert plan.transition is not None and plan.transition.waves
    return plan, problem, current


def _assert_distinct_and_valid(values: dict[str, str], check, what: str) -> None:
    """`values`: our name -> the Kubernetes value written for it."""
    assert all(check(v) for v in values.values()), (what, values)
    assert len(set(values.values())) == len(values), (what, values)


def test_csv_and_nvidia_smi_node_names(hostile: tuple, catalog: Catalog) -> None:
    plan, problem, _ = hostile
    rows = list(csv.DictReader(io.StringIO(plan_to_csv(plan, problem, catalog))))
    node_of_gpu = {(r["pool"].removeprefix("'"), r["gpu_index"]): r["node"] for r in rows}
    nodes = set(node_of_gpu.values())
    assert nodes and all(doc_dns_subdomain(n) and doc_label_value(n) for n in nodes)
    pools_of_node: dict[str, set[str]] = {}
    for (pool, _), node in node_of_gpu.items():
        pools_of_node.setdefault(node, set()).add(pool)
    assert all(len(p) == 1 for p in pools_of_node.values())  # no two pools share a node
    script = plan_to_nvidia_smi(plan, problem, catalog)
    patterns = {
        shlex.split(line.strip()[:-1])[0]
        for line in script.splitlines()
        if line.startswith("  ") and line.endswith(")") and line.strip()[0] not in "*#"
    }
    assert patterns == nodes
    assert "# Names:" in script  # the mapping is said


def test_mig_parted_and_kubernetes_exports(hostile: tuple, catalog: Catalog) -> None:
    plan, problem, _ = hostile
    text = plan_to_mig_parted(plan, problem, catalog)
    configs = yaml.safe_load(text)["mig-configs"]
    nodes = {
        node
        for node, _ in (node_locator(problem)(g.pool, g.index) for g in plan.gpus if g.instances)
    }
    assert len(configs) == len(nodes)  # one config per node: no two nodes met in one name
    assert all(doc_label_value(name) for name in configs)
    assert "# Names:" in text
    k8s = yaml.safe_load(plan_to_kubernetes(plan, problem, catalog))["nodes"]
    assert set(k8s) == nodes and all(doc_dns_subdomain(node) for node in k8s)
    labels = {node: entry["labels"]["nvidia.com/mig.config"] for node, entry in k8s.items()}
    _assert_distinct_and_valid(labels, doc_label_value, "kubernetes labels")
    assert set(labels.values()) == set(configs)


def test_gpu_operator_export(hostile: tuple, catalog: Catalog) -> None:
    plan, problem, _ = hostile
    export = gpu_operator_export(plan, problem, catalog)
    assert doc_dns_subdomain(export.configmap["metadata"]["name"])
    assert doc_dns_label(export.configmap["metadata"]["namespace"])
    assert all(doc_dns_subdomain(node) for node in export.node_configs)
    configs = export.mig_parted["mig-configs"]
    assert all(doc_label_value(name) for name in configs)
    assert set(export.node_configs.values()) <= set(configs)
    # Distinct layouts never share a name: each name's entries are one layout.
    layout_of: dict[str, str] = {}
    for node, config in export.node_configs.items():
        layout_of.setdefault(config, node)
    assert len(configs) == len({str(entries) for entries in configs.values()})


def test_rollout_script_names(hostile: tuple, catalog: Catalog) -> None:
    plan, problem, _ = hostile
    script = rollout_script(plan, problem, catalog)
    labelled = [
        shlex.split(line.strip())
        for line in script.splitlines()
        if line.strip().startswith("run kubectl label node")
    ]
    assert labelled
    for words in labelled:
        node, label = words[4], words[5]
        assert doc_dns_subdomain(node)
        assert doc_label_value(label.split("=", 1)[1])
    workloads: set[str] = set()
    for line in script.splitlines():
        command = line.startswith(("  scale ", "  evict ", "  retire "))
        words = shlex.split(line.strip()) if command else []
        if words[:1] == ["scale"]:
            workloads.add(words[1])
        if words[:1] in (["evict"], ["retire"]):
            assert doc_dns_subdomain(words[1])
            workloads.update(words[2:])
    assert workloads and all(doc_dns_label(w) for w in workloads)
    heredoc = script.split("<<'MIG_RECOMMENDER_CONFIGMAP'\n", 1)[1].split(
        "\nMIG_RECOMMENDER_CONFIGMAP", 1
    )[0]
    configmap = yaml.safe_load(heredoc)
    assert all(
        doc_label_value(n) for n in yaml.safe_load(configmap["data"]["config.yaml"])["mig-configs"]
    )
    # Workload names map one to one (names differing in case stay apart).
    moving = {m.workload for w in plan.transition.waves for m in w.moves}
    mapped = unique_names(moving, Rule.DNS_LABEL)
    assert len(set(mapped.values())) == len(moving)


def test_long_real_node_names_become_distinct_config_names(catalog: Catalog) -> None:
    long_a, long_b = "n" * 70 + ".example.com", "n" * 70 + ".example.org"
    pool = Pool(pool="p", gpu_model="A100-40GB", gpus=2, cost_per_hour=1, gpus_per_node=1)
    problem = Problem(
        workloads=(Workload(name="w", memory_gb=30, replicas=2),),
        pools=(pool,),
        nodes=(Node(node=long_a, pool="p", gpus=1), Node(node=long_b, pool="p", gpus=1)),
    )
    plan = solve(problem, catalog, SolveOptions(time_limit_seconds=10))
    assert_valid(plan, problem, catalog)
    configs = yaml.safe_load(plan_to_mig_parted(plan, problem, catalog))["mig-configs"]
    assert len(configs) == 2 and all(doc_label_value(name) for name in configs)
    k8s = yaml.safe_load(plan_to_kubernetes(plan, problem, catalog))["nodes"]
    assert set(k8s) == {long_a, long_b}
    assert {e["labels"]["nvidia.com/mig.config"] for e in k8s.values()} == set(configs)

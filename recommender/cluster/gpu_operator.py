"""Hand a plan to the NVIDIA GPU Operator: a mig-parted ConfigMap, the ClusterPolicy patch that
selects it, and one `nvidia.com/mig.config` node label per node.

The MIG manager applies the config named by each node's `nvidia.com/mig.config` label, taken from
the ConfigMap named in `ClusterPolicy.spec.migManager.config.name`. Nodes with the same layout
share one named config. Config names are label values and the ConfigMap name is a DNS-1123
subdomain (Kubernetes object-name rules), so pool-derived names are mapped to valid,
collision-free values.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from dataclasses import dataclass, field

import yaml

from recommender.catalog import Catalog
from recommender.exports import name_notes
from recommender.k8s import LABEL_VALUE_MAX, Rule, is_dns_label, is_dns_subdomain, unique_names
from recommender.locate import node_locator
from recommender.plan import Plan, Transition
from recommender.problem import Problem
from recommender.rules import largest_first

CONFIG_LABEL = "nvidia.com/mig.config"
CONFIG_KEY = "config.yaml"
DISABLED_CONFIG = "all-disabled"
DEFAULT_CONFIGMAP = "mig-recommender-config"
DEFAULT_NAMESPACE = "gpu-operator"
CLUSTER_POLICY = "clusterpolicies.nvidia.com/cluster-policy"
# `<pool>-layout-<n>` stays a label value for up to a million layouts of one pool.
LAYOUT_SUFFIX_MAX = len("-layout-999999")


def label_command(node: str, config: str) -> str:
    """The `kubectl label` that makes the MIG manager apply `config` on `node`."""
    return (
        f"kubectl label node {shlex.quote(node)} {CONFIG_LABEL}={shlex.quote(config)} --overwrite"
    )


@dataclass(frozen=True)
class GpuOperatorExport:
    """What to apply: the ConfigMap, the ClusterPolicy patch and each node's config label."""

    configmap: dict
    cluster_policy_patch: dict
    node_configs: dict[str, str]
    # Plan node name (`recommender.locate`) -> the Kubernetes node name used in `node_configs`;
    # the locator's names are valid node names already, so this is the identity.
    node_names: dict[str, str] = field(default_factory=dict)
    # Which names had to be mapped to valid Kubernetes names (comment lines).
    notes: tuple[str, ...] = ()

    @property
    def mig_parted(self) -> dict:
        return yaml.safe_load(self.configmap["data"][CONFIG_KEY])

    def label_commands(self) -> list[str]:
        return [label_command(node, config) for node, config in self.node_configs.items()]

    def patch_command(self) -> str:
        patch = json.dumps(self.cluster_policy_patch, separators=(",", ":"))
        return f"kubectl patch {CLUSTER_POLICY} --type merge -p {shlex.quote(patch)}"

    def render(self, header: str = "", transition: Transition | None = None) -> str:
        """One YAML file: the ConfigMap to `kubectl apply -f`, the commands as comments; with a
        `transition` (a re-plan), the labels in its rollout waves and its intermediate configs
        in the ConfigMap."""
        namespace = self.configmap["metadata"]["namespace"]
        configmap = self.configmap
        if transition is None:
            step3 = [
                "# 3. Label each node with its config; the MIG manager then re-partitions it:",
                *(f"#      {command}" for command in self.label_commands()),
            ]
        else:
            mig_parted = self.mig_parted
            mig_parted["mig-configs"].update(transition.mig_configs)
            text = yaml.dump(mig_parted, Dumper=_BlockDumper, sort_keys=False)
            configmap = {**configmap, "data": {CONFIG_KEY: text}}
            step3 = [
                "# 3. Label the nodes wave by wave, waiting after each for",
                f"#    {CONFIG_LABEL}.state=success before the next (the rollout script export",
                "#    also drains and scales workloads make-before-break):",
            ]
            for wave in transition.waves:
                step3.append(f"#    wave {wave.index} ({wave.kind}):")
                step3 += [
                    f"#      {label_command(node, config)}"
                    for node, config in wave.node_configs.items()
                ] or ["#      (no node relabelled: replicas move)"]
        lines = [
            "# GPU Operator MIG configuration from a MIG recommender plan." + header,
            "# 1. Create the ConfigMap (this file):",
            f"#      kubectl apply -n {shlex.quote(namespace)} -f <this file>",
            "# 2. Point the MIG manager at it (ClusterPolicy spec.migManager.config.name):",
            f"#      {self.patch_command()}",
            *step3,
            "# mig-parted picks start slots itself; the nvidia-smi script export creates every",
            "# instance at the plan's exact start.",
            *self.notes,
        ]
        body = yaml.dump(configmap, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False)
        return "\n".join(lines) + "\n---\n" + body


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (config.yaml) as literal blocks, as the operator's own does."""


_BlockDumper.add_representer(str, _str_presenter)


def gpu_operator_export(
    plan: Plan,
    problem: Problem,
    catalog: Catalog,
    *,
    configmap_name: str = DEFAULT_CONFIGMAP,
    namespace: str = DEFAULT_NAMESPACE,
) -> GpuOperatorExport:
    """The GPU Operator objects for `plan`; nodes and devices from `recommender.locate` (the
    problem's node inventory, else the node convention)."""
    if not is_dns_subdomain(configmap_name):
        raise ValueError(f"ConfigMap name {configmap_name!r} is not a DNS-1123 subdomain")
    if not is_dns_label(namespace):
        raise ValueError(f"namespace {namespace!r} is not a valid Kubernetes namespace")
    pools = {pool.pool: pool for pool in problem.pools}
    node_pool: dict[str, str] = {}
    node_devices: dict[str, dict[int, dict[str, int]]] = {}
    node_size: dict[str, int] = {}

    locate = node_locator(problem)
    # Every node of the fleet, so nodes the plan leaves empty get `all-disabled`.
    for pool in problem.pools:
        for index in range(pool.gpus):
            node, device = locate(pool.pool, index)
            node_pool.setdefault(node, pool.pool)
            node_devices.setdefault(node, {})
            node_size[node] = max(node_size.get(node, 0), device + 1)
    for gpu in plan.gpus:
        if not gpu.instances:
            continue
        if gpu.pool not in pools:
            raise ValueError(f"plan GPU is in pool {gpu.pool!r}, which the problem does not have")
        node, device = locate(gpu.pool, gpu.index)
        model = catalog.model(gpu.gpu_model)
        ordered = largest_first(model, [i.profile for i in gpu.instances])
        node_devices.setdefault(node, {})[device] = dict(Counter(ordered))
        node_pool.setdefault(node, gpu.pool)
        node_size[node] = max(node_size.get(node, 0), device + 1)

    safe_nodes = {node: node for node in node_devices}  # the locator's names are valid
    pool_names = list(dict.fromkeys(node_pool[n] for n in node_devices))
    # `-layout-<n>` is parsed back from the end, so distinct pool parts give distinct names.
    safe_pools = unique_names(pool_names, Rule.LABEL_VALUE, LABEL_VALUE_MAX - LAYOUT_SUFFIX_MAX)

    configs: dict[str, list[dict]] = {DISABLED_CONFIG: [{"devices": "all", "mig-enabled": False}]}
    name_of_layout: dict[str, str] = {}
    per_pool_count: Counter[str] = Counter()
    node_configs: dict[str, str] = {}
    for node, devices in node_devices.items():
        if not devices:
            node_configs[safe_nodes[node]] = DISABLED_CONFIG
            continue
        entries = _node_entries(devices, node_size[node])
        key = json.dumps(entries, sort_keys=True)
        if key not in name_of_layout:
            pool = node_pool[node]
            per_pool_count[pool] += 1
            name = f"{safe_pools[pool]}-layout-{per_pool_count[pool]}"
            name_of_layout[key] = name
            configs[name] = entries
        node_configs[safe_nodes[node]] = name_of_layout[key]
    mig_parted = {"version": "v1", "mig-configs": configs}
    config_text = yaml.dump(
        mig_parted, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False
    )
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": configmap_name, "namespace": namespace},
        "data": {CONFIG_KEY: config_text},
    }
    patch = {"spec": {"migManager": {"config": {"name": configmap_name}}}}
    return GpuOperatorExport(
        configmap,
        patch,
        dict(sorted(node_configs.items())),
        dict(safe_nodes),
        tuple(name_notes(problem)),
    )


def node_config_entries(devices: dict[int, dict[str, int]], size: int) -> list[dict]:
    """The mig-parted entries of one node whose `size` devices carry `devices` ({device: profile
    counts, largest first}); the rollout's intermediate configs are written with it so they read
    like the export's own."""
    return _node_entries(devices, size)


def _node_entries(devices: dict[int, dict[str, int]], size: int) -> list[dict]:
    """mig-parted entries of one node: devices grouped by identical profile counts; `all` when
    one layout covers every device of the node."""
    groups: dict[str, list[int]] = {}
    counts_of: dict[str, dict[str, int]] = {}
    for device in sorted(devices):
        key = json.dumps(devices[device])
        groups.setdefault(key, []).append(device)
        counts_of[key] = devices[device]
    if len(groups) == 1 and len(devices) == size:
        (key,) = groups
        return [{"devices": "all", "mig-enabled": True, "mig-devices": counts_of[key]}]
    return [
        {"devices": listed, "mig-enabled": True, "mig-devices": counts_of[key]}
        for key, listed in groups.items()
    ]


def plan_to_gpu_operator(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """The export as text, with the same signature as every entry of `exports.EXPORTS`; a plan
    made from a current state gets its labels in rollout waves."""
    return gpu_operator_export(plan, problem, catalog).render(transition=plan.transition)

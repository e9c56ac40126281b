"""Hand a plan to the NVIDIA GPU Operator: a mig-parted ConfigMap, the ClusterPolicy patch that
selects it, and one `nvidia.com/mig.config` node label per node.

The MIG manager applies the config named by each node's `nvidia.com/mig.config` label, taken from
the ConfigMap named in `ClusterPolicy.spec.migManager.config.name`. Nodes with the same layout
share one named config. Config names are label values and the ConfigMap name is a DNS-1123
subdomain (Kubernetes object-name rules), so pool-derived names are mapped to valid,
collision-free values.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections import Counter
from dataclasses import dataclass, field

import yaml

from recommender.catalog import Catalog
from recommender.cluster.nodes import NodeInventory
from recommender.exports import node_of
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.rules import largest_first

CONFIG_LABEL = "nvidia.com/mig.config"
CONFIG_KEY = "config.yaml"
DISABLED_CONFIG = "all-disabled"
DEFAULT_CONFIGMAP = "mig-recommender-config"
DEFAULT_NAMESPACE = "gpu-operator"
CLUSTER_POLICY = "clusterpolicies.nvidia.com/cluster-policy"
LABEL_VALUE_MAX = 63
DNS_SUBDOMAIN_MAX = 253
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def is_label_value(value: str) -> bool:
    """Kubernetes label value syntax: at most 63 characters, alphanumeric at both ends."""
    return len(value) <= LABEL_VALUE_MAX and bool(LABEL_VALUE.match(value))


def is_dns_subdomain(value: str) -> bool:
    """Kubernetes object-name syntax (DNS-1123 subdomain)."""
    return 0 < len(value) <= DNS_SUBDOMAIN_MAX and bool(DNS_SUBDOMAIN.match(value))


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]


def label_safe(text: str, max_length: int = LABEL_VALUE_MAX, lowercase: bool = False) -> str:
    """`text` made a valid label value (or DNS label when `lowercase`): invalid characters become
    `-`, ends trimmed, long names cut with a hash of the original so they stay distinct."""
    allowed = r"[^a-z0-9-]" if lowercase else r"[^A-Za-z0-9_.-]"
    value = re.sub(allowed, "-", text.lower() if lowercase else text)
    value = re.sub(r"-{2,}", "-", value).strip("-_.")
    if not value:
        value = "x" + _short_hash(text)
    if len(value) > max_length:
        value = value[: max_length - 7].rstrip("-_.") + "-" + _short_hash(text)
    return value


def unique_safe_names(names: list[str], max_length: int, lowercase: bool) -> dict[str, str]:
    """{name: safe name}, distinct even where two names map to the same safe text."""
    safe = {name: label_safe(name, max_length, lowercase) for name in names}
    clashes = Counter(safe.values())
    for name in names:
        if clashes[safe[name]] > 1:
            base = safe[name][: max_length - 7].rstrip("-_.")
            safe[name] = f"{base}-{_short_hash(name)}"
    return safe


@dataclass(frozen=True)
class GpuOperatorExport:
    """What to apply: the ConfigMap, the ClusterPolicy patch and each node's config label."""

    configmap: dict
    cluster_policy_patch: dict
    node_configs: dict[str, str]
    # Plan node name (`exports.node_of` or the inventory) -> the Kubernetes node name used in
    # `node_configs`; the rollout export labels nodes by these names.
    node_names: dict[str, str] = field(default_factory=dict)

    @property
    def mig_parted(self) -> dict:
        return yaml.safe_load(self.configmap["data"][CONFIG_KEY])

    def label_commands(self) -> list[str]:
        return [
            f"kubectl label node {shlex.quote(node)} {CONFIG_LABEL}={shlex.quote(config)} "
            "--overwrite"
            for node, config in self.node_configs.items()
        ]

    def patch_command(self) -> str:
        patch = json.dumps(self.cluster_policy_patch, separators=(",", ":"))
        return f"kubectl patch {CLUSTER_POLICY} --type merge -p {shlex.quote(patch)}"

    def render(self, header: str = "") -> str:
        """One YAML file: the ConfigMap to `kubectl apply -f`, the commands as comments."""
        namespace = self.configmap["metadata"]["namespace"]
        lines = [
            "# GPU Operator MIG configuration from a MIG recommender plan." + header,
            "# 1. Create the ConfigMap (this file):",
            f"#      kubectl apply -n {shlex.quote(namespace)} -f <this file>",
            "# 2. Point the MIG manager at it (ClusterPolicy spec.migManager.config.name):",
            f"#      {self.patch_command()}",
            "# 3. Label each node with its config; the MIG manager then re-partitions it:",
            *(f"#      {command}" for command in self.label_commands()),
            "# mig-parted picks start slots itself; the nvidia-smi script export creates every",
            "# instance at the plan's exact start.",
        ]
        body = yaml.dump(
            self.configmap, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False
        )
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
    inventory: NodeInventory | None = None,
    configmap_name: str = DEFAULT_CONFIGMAP,
    namespace: str = DEFAULT_NAMESPACE,
) -> GpuOperatorExport:
    """The GPU Operator objects for `plan`; real node names come from `inventory` when given,
    else from the fleet's node convention (`exports.node_of`)."""
    if not is_dns_subdomain(configmap_name):
        raise ValueError(f"ConfigMap name {configmap_name!r} is not a DNS-1123 subdomain")
    if not is_dns_subdomain(namespace) or len(namespace) > LABEL_VALUE_MAX:
        raise ValueError(f"namespace {namespace!r} is not a valid Kubernetes namespace")
    pools = {pool.pool: pool for pool in problem.pools}
    node_pool: dict[str, str] = {}
    node_devices: dict[str, dict[int, dict[str, int]]] = {}
    node_size: dict[str, int] = {}

    def locate(pool_name: str, index: int) -> tuple[str, int]:
        if inventory is not None:
            return inventory.node_of(pool_name, index)
        return node_of(pools[pool_name], index)

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

    safe_nodes = unique_safe_names(list(node_devices), DNS_SUBDOMAIN_MAX, lowercase=True)
    if inventory is not None:
        safe_nodes = {node: node for node in node_devices}  # real names are valid already
    pool_names = list(dict.fromkeys(node_pool[n] for n in node_devices))
    safe_pools = unique_safe_names(pool_names, LABEL_VALUE_MAX - len("-layout-999"), False)

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
    return GpuOperatorExport(configmap, patch, dict(sorted(node_configs.items())), dict(safe_nodes))


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
    """The export as text, with the same signature as every entry of `exports.EXPORTS`."""
    return gpu_operator_export(plan, problem, catalog).render()

"""Views of a plan for the tools that apply it (docs/design.md, "The plan contract").

Every export is a pure function `(plan, problem, catalog) -> str`: CSV for spreadsheets, a
mig-parted config, an `nvidia-smi` script that creates every instance at its exact start slot,
and the Kubernetes resources each node then advertises. `EXPORTS` is the one table the CLI and
the page use to offer them.

Which node and device GPU i of a pool is: `recommender.locate` (the node inventory when the
problem has one, else the node convention `<pool>-node-<n>`), the only place that knows it. Every
node name, config name and label value written here is a valid Kubernetes name (`recommender.k8s`);
names that had to be mapped are listed in the export's header.
"""

from __future__ import annotations

import csv
import io
import shlex
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from recommender import rules
from recommender.catalog import Catalog, GpuModel, Profile
from recommender.locate import node_locator
from recommender.plan import Plan, PlanGpu, PlanInstance
from recommender.problem import Pool, Problem

ExportFunction = Callable[[Plan, Problem, Catalog], str]

CSV_COLUMNS = (
    "pool",
    "node",
    "device",
    "gpu_index",
    "gpu_model",
    "profile",
    "profile_id",
    "start",
    "span",
    "memory_gib",
    "compute_slices",
    "workload",
    "replica",
    # The measured configuration of a throughput workload's instance (empty otherwise).
    "batch_size",
    "processes",
    "throughput_rps",
)
# A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
K8S_RESOURCE_PREFIX = "nvidia.com/mig-"
K8S_CONFIG_LABEL = "nvidia.com/mig.config"


# --- grouping the plan by node -----------------------------------------------------------------


@dataclass(frozen=True)
class NodeGpu:
    """A planned GPU with where it sits and its catalog entry."""

    pool: Pool
    node: str
    device: int
    gpu: PlanGpu
    model: GpuModel

    def profile(self, instance: PlanInstance) -> Profile:
        return self.model.profile(instance.profile)


def _pool(problem: Problem, name: str) -> Pool:
    for pool in problem.pools:
        if pool.pool == name:
            return pool
    raise ValueError(f"plan GPU is in pool '{name}', which the problem does not have")


def _planned_gpus(plan: Plan, problem: Problem, catalog: Catalog) -> list[NodeGpu]:
    """GPUs hosting at least one instance, in the problem's pool order, then by index."""
    pool_order = {pool.pool: position for position, pool in enumerate(problem.pools)}
    pools = {pool.pool: pool for pool in problem.pools}
    locate = node_locator(problem)
    gpus: list[NodeGpu] = []
    for gpu in plan.gpus:
        if not gpu.instances:
            continue  # an empty GPU is left alone, not configured
        pool = pools.get(gpu.pool) or _pool(problem, gpu.pool)
        node, device = locate(pool.pool, gpu.index)
        gpus.append(NodeGpu(pool, node, device, gpu, catalog.model(gpu.gpu_model)))
    gpus.sort(key=lambda g: (pool_order[g.pool.pool], g.gpu.index))
    return gpus


def _gpus_by_node(plan: Plan, problem: Problem, catalog: Catalog) -> dict[str, list[NodeGpu]]:
    """Node name -> its planned GPUs by device; only nodes with at least one planned GPU."""
    nodes: dict[str, list[NodeGpu]] = {}
    seen: set[tuple[str, int]] = set()
    for node_gpu in _planned_gpus(plan, problem, catalog):
        on_node = nodes.setdefault(node_gpu.node, [])
        where = (node_gpu.node, node_gpu.device)
        if where in seen:
            raise ValueError(
                f"pool '{node_gpu.pool.pool}' GPU {node_gpu.gpu.index} appears twice in the plan"
            )
        seen.add(where)
        on_node.append(node_gpu)
    for on_node in nodes.values():
        on_node.sort(key=lambda g: g.device)
    return nodes


def _creation_order(model: GpuModel, instances: list[PlanInstance]) -> list[PlanInstance]:
    """Largest profile first (`rules.largest_first_key`), then by start: the order
    `nvidia-smi -cgi` creates them in."""
    return sorted(instances, key=lambda i: (rules.largest_first_key(model, i.profile), i.start))


def _profile_counts(node_gpu: NodeGpu) -> dict[str, int]:
    """{profile: count} of one GPU, largest profile first."""
    names = rules.largest_first(node_gpu.model, (i.profile for i in node_gpu.gpu.instances))
    return dict(Counter(names))


def name_notes(problem: Problem) -> list[str]:
    """Comment lines saying which names were mapped to valid Kubernetes names (none usually)."""
    return [f"# Names: {note}." for note in node_locator(problem).notes()]


def _cost_line(plan: Plan) -> str:
    return (
        f"status {plan.status}, cost {plan.cost_per_hour:g} per hour "
        f"(proven lower bound {plan.lower_bound_per_hour:g})"
    )


# --- CSV ---------------------------------------------------------------------------------------


def guard_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading quote; other values pass.

    The one CSV-injection guard: every CSV the CLI or the page offers passes its cells here.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def unguard_cell(text: str) -> str:
    """The cell as it was before `guard_cell`: reading a CSV this tool wrote gives back names."""
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def plan_to_csv(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """One row per instance (spares have empty workload and replica), GPUs in pool order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    # Text cells are guarded once per distinct value: a plan has 100,000s of rows, few names.
    guarded: dict[object, object] = {}

    def guard(cell: object) -> object:
        if cell not in guarded:
            guarded[cell] = guard_cell(cell)
        return guarded[cell]

    sizes: dict[tuple[str, str], tuple[object, ...]] = {}  # (model, profile) -> its cells
    for node_gpu in _planned_gpus(plan, problem, catalog):
        gpu = node_gpu.gpu
        where = (guard(node_gpu.pool.pool), guard(node_gpu.node), node_gpu.device, gpu.index)
        model_cell = guard(gpu.gpu_model)
        for instance in sorted(gpu.instances, key=lambda i: i.start):
            key = (gpu.gpu_model, instance.profile)
            if key not in sizes:
                p = node_gpu.profile(instance)
                sizes[key] = (guard(p.name), p.id, p.span, round(p.memory_gib, 3), p.compute_slices)
            name, profile_id, span, memory_gib, compute_slices = sizes[key]
            writer.writerow(
                (
                    *where,
                    model_cell,
                    name,
                    profile_id,
                    instance.start,
                    span,
                    memory_gib,
                    compute_slices,
                    "" if instance.workload is None else guard_cell(instance.workload),
                    "" if instance.replica is None else instance.replica,
                    *("" if value is None else value for value in _configuration(instance)),
                )
            )
    return out.getvalue()


# --- mig-parted --------------------------------------------------------------------------------


def _node_mig_parted_config(on_node: list[NodeGpu]) -> list[dict]:
    """One entry per distinct profile multiset of the node, with the devices that carry it."""
    devices_by_layout: dict[tuple[tuple[str, int], ...], list[int]] = {}
    counts_by_layout: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}
    for node_gpu in on_node:
        counts = _profile_counts(node_gpu)
        layout = tuple(counts.items())
        devices_by_layout.setdefault(layout, []).append(node_gpu.device)
        counts_by_layout[layout] = counts
    return [
        {"devices": sorted(devices), "mig-enabled": True, "mig-devices": counts_by_layout[layout]}
        for layout, devices in devices_by_layout.items()
    ]


def plan_to_mig_parted(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """mig-parted `v1` config: one config per node, named after the node."""
    nodes = _gpus_by_node(plan, problem, catalog)
    config_name = node_locator(problem).config_name
    config = {
        "version": "v1",
        "mig-configs": {
            config_name(node): _node_mig_parted_config(gpus) for node, gpus in nodes.items()
        },
    }
    header = [
        f"# mig-parted config from a MIG recommender plan: {_cost_line(plan)}.",
        "# One config per node, named after the node:",
        "#   nvidia-mig-parted apply -f mig-parted.yaml -c <node name>",
        "# mig-parted picks the instance placements itself (its config has no start slots), so",
        "# the layout it builds may differ from the plan's; the nvidia-smi script export creates",
        "# every instance at the plan's exact start slot.",
        "# GPUs of a node that the plan leaves empty are not listed: mig-parted leaves unlisted",
        "# devices alone.",
        *name_notes(problem),
    ]
    body = dump_yaml(config)
    return "\n".join(header) + "\n" + body


def dump_yaml(data: object) -> str:
    """Block-style YAML in the given key order; libyaml's emitter when PyYAML has it (the pure
    Python one takes seconds per 100,000 nodes). Both write the same values; libyaml only
    escapes a few control characters (e.g. NEL) that Kubernetes names cannot hold anyway."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(
        data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


# --- nvidia-smi script -------------------------------------------------------------------------


def comment_text(text: str) -> str:
    """User text made safe for a one-line shell comment (a line break would end the comment)."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _configuration(instance: PlanInstance) -> tuple[int | None, int | None, float | None]:
    """(batch_size, processes, throughput_rps) of a throughput instance; Nones otherwise."""
    return instance.batch_size, instance.processes, instance.throughput_rps


def _configuration_text(instance: PlanInstance) -> str:
    """`, serves 5170.99 requests/s (batch 8, 1 process)`, or nothing for count workloads."""
    if instance.throughput_rps is None:
        return ""
    batch = "batch -" if instance.batch_size is None else f"batch {instance.batch_size}"
    processes = instance.processes or 1
    plural = "process" if processes == 1 else "processes"
    return f", serves {instance.throughput_rps:g} requests/s ({batch}, {processes} {plural})"


def _instance_comment(node_gpu: NodeGpu, instance: PlanInstance) -> str:
    profile = node_gpu.profile(instance)
    if instance.workload is None:
        hosts = "spare (no workload)"
    else:
        hosts = f"{comment_text(instance.workload)} replica {instance.replica}"
        hosts += _configuration_text(instance)
    return f"#   {profile.name} (id {profile.id}) at start {instance.start}: {hosts}"


def _gpu_commands(node_gpu: NodeGpu) -> list[str]:
    gpu = node_gpu.gpu
    device = node_gpu.device
    ordered = _creation_order(node_gpu.model, gpu.instances)
    placements = ",".join(f"{node_gpu.profile(i).id}:{i.start}" for i in ordered)
    lines = [
        f"# device {device}: pool {comment_text(gpu.pool)} GPU {gpu.index} ({gpu.gpu_model})",
        *(_instance_comment(node_gpu, instance) for instance in ordered),
        f"nvidia-smi -i {device} -mig 1",
        f"nvidia-smi mig -i {device} -cgi {placements} -C",
    ]
    return lines


def _script_header(plan: Plan, node_names: list[str]) -> list[str]:
    known = " ".join(shlex.quote(name) for name in node_names)
    return [
        "#!/usr/bin/env bash",
        f"# Creates the MIG instances of a MIG recommender plan: {_cost_line(plan)}.",
        "# Run as root on each node with the node's name: ./create-mig-instances.sh <node name>",
        "# Every instance is created at the plan's exact start slot (-cgi <profile id>:<start>),",
        "# largest first. Destroy existing instances first:",
        "#   nvidia-smi mig -dci && nvidia-smi mig -dgi",
        "# Enabling MIG mode on Ampere GPUs (A30, A100) may need a GPU reset",
        "# (nvidia-smi -i <device> -r) or a reboot before instances can be created.",
        "set -euo pipefail",
        "",
        "usage() {",
        '  echo "usage: $0 <node name>" >&2',
        f"  echo {shlex.quote('nodes in this plan:')} {known} >&2",
        "}",
        "",
        "if [[ $# -ne 1 ]]; then",
        "  usage",
        "  exit 2",
        "fi",
        "",
    ]


def plan_to_nvidia_smi(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """Bash script taking the node name as `$1`; one `case` branch per node with planned GPUs."""
    nodes = _gpus_by_node(plan, problem, catalog)
    lines = _script_header(plan, list(nodes))
    lines[2:2] = name_notes(problem)
    lines.append('case "$1" in')
    for node, on_node in nodes.items():
        # Quoted patterns match literally, so pool names cannot inject shell code.
        lines.append(f"  {shlex.quote(node)})")
        for node_gpu in on_node:
            lines.extend(f"    {line}" for line in _gpu_commands(node_gpu))
        lines.append("    ;;")
    lines += [
        "  *)",
        '    echo "unknown node: $1" >&2',
        "    usage",
        "    exit 2",
        "    ;;",
        "esac",
    ]
    return "\n".join(lines) + "\n"


# --- Kubernetes --------------------------------------------------------------------------------


def k8s_resource_name(profile: str) -> str:
    """Device-plugin resource of a profile under the mixed strategy (docs/design.md, "Placement
    rules": k8s-device-plugin).

    `+` becomes `.` (`1g.24gb+me` -> `nvidia.com/mig-1g.24gb.me`); the `-me` hyphen stays.
    """
    return K8S_RESOURCE_PREFIX + profile.replace("+", ".")


def kubernetes_resources(
    plan: Plan, problem: Problem, catalog: Catalog
) -> dict[str, dict[str, int]]:
    """Per node, {`nvidia.com/mig-<profile>`: count} over every carved instance (spares too)."""
    resources: dict[str, dict[str, int]] = {}
    for node, on_node in _gpus_by_node(plan, problem, catalog).items():
        # A node's GPUs are of one pool, hence of one model.
        names = rules.largest_first(
            on_node[0].model,
            (instance.profile for node_gpu in on_node for instance in node_gpu.gpu.instances),
        )
        resources[node] = dict(Counter(k8s_resource_name(name) for name in names))
    return resources


def plan_to_kubernetes(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """YAML: per node, the mig-parted config label and the MIG resources it will advertise."""
    config_name = node_locator(problem).config_name
    nodes: dict[str, dict] = {
        node: {"labels": {K8S_CONFIG_LABEL: config_name(node)}, "resources": counts}
        for node, counts in kubernetes_resources(plan, problem, catalog).items()
    }
    for node, sharing in _processes_per_instance(plan, problem, catalog).items():
        nodes[node]["processes"] = sharing
    header = [
        f"# Kubernetes MIG resources per node for a MIG recommender plan: {_cost_line(plan)}.",
        "# Resource names follow the device plugin's mixed strategy: the node needs",
        "# nvidia.com/mig.strategy=mixed (GPU Operator: mig.strategy=mixed).",
        f"# Label each node {K8S_CONFIG_LABEL}=<its label below> so the MIG manager applies the",
        "# mig-parted config of that name (mig-parted export; the node's name, as a label value).",
        "# Counts include spare instances: carved, advertised, not used by a planned workload.",
        "# `processes` (throughput workloads only): the processes each instance runs (MPS when",
        "# more than 1), from the measured configuration the plan chose.",
        *name_notes(problem),
    ]
    body = dump_yaml({"nodes": nodes})
    return "\n".join(header) + "\n" + body


def _processes_per_instance(
    plan: Plan, problem: Problem, catalog: Catalog
) -> dict[str, list[dict]]:
    """Per node with throughput instances: device, profile, start, workload and processes."""
    sharing: dict[str, list[dict]] = {}
    if all(i.processes is None for gpu in plan.gpus for i in gpu.instances):
        return sharing  # count workloads only: no need to group 100,000s of GPUs by node
    for node, on_node in _gpus_by_node(plan, problem, catalog).items():
        for node_gpu in on_node:
            for instance in sorted(node_gpu.gpu.instances, key=lambda i: i.start):
                if instance.processes is None:
                    continue
                sharing.setdefault(node, []).append(
                    {
                        "device": node_gpu.device,
                        "profile": instance.profile,
                        "start": instance.start,
                        "workload": instance.workload,
                        "processes": instance.processes,
                    }
                )
    return sharing


# --- the table the CLI and the page use --------------------------------------------------------


def plan_to_json(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """The plan itself, the stable contract (docs/design.md, "The plan contract")."""
    return plan.to_json()


EXPORTS: dict[str, tuple[str, str, ExportFunction]] = {
    "json": ("plan.json", "application/json", plan_to_json),
    "csv": ("plan.csv", "text/csv", plan_to_csv),
    "mig-parted": ("mig-parted.yaml", "application/yaml", plan_to_mig_parted),
    "nvidia-smi": ("create-mig-instances.sh", "text/x-shellscript", plan_to_nvidia_smi),
    "kubernetes": ("kubernetes-mig-resources.yaml", "application/yaml", plan_to_kubernetes),
}


# --- the rollout of a re-plan (plans made with --current) --------------------------------------


def plan_to_rollout_script(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """Bash script applying the plan's rollout waves (`recommender.rollout`)."""
    from recommender.rollout import rollout_script  # rollout -> cluster -> exports: import late

    return rollout_script(plan, problem, catalog)


def plan_to_waves_csv(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """The rollout's wave table: GPUs relabelled and replica moves, per wave."""
    from recommender.rollout import waves_to_csv

    return waves_to_csv(plan, problem, catalog)


ROLLOUT_EXPORTS: dict[str, tuple[str, str, ExportFunction]] = {
    "rollout": ("rollout.sh", "text/x-shellscript", plan_to_rollout_script),
    "waves": ("rollout-waves.csv", "text/csv", plan_to_waves_csv),
}
"""Exports only a plan with a `transition` has; each raises `rollout.NoTransitionError` (a
ValueError) on a plan without one."""

"""`kubectl get pods -A -o json` -> workloads.csv rows, optionally sized by DCGM samples.

Pods are grouped by the workload that owns them (a Deployment through its ReplicaSet, whose name
is the Deployment's plus the pod-template hash; a StatefulSet; a Job); each running pod is one
replica. Demand comes from the pod's GPU request: `nvidia.com/mig-<profile>` asks for what that
profile offers (usable memory, compute slices, media), `nvidia.com/gpu` for a whole GPU. DCGM
exporter samples (`DCGM_FI_DEV_FB_USED`, MiB, with `pod`/`namespace` labels) replace the memory
with the observed peak plus a stated headroom.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from recommender.catalog import Catalog, GpuModel, Profile
from recommender.cluster.kubectl import items_of_list
from recommender.errors import InputError, InputIssue
from recommender.reading.source import Source, parse_json, read_text, source_label
from recommender.rules import full_gpu_memory_gib, full_gpu_profile

MIG_RESOURCE_PREFIX = "nvidia.com/mig-"
GPU_RESOURCE = "nvidia.com/gpu"
FB_USED = "DCGM_FI_DEV_FB_USED"
WORKLOAD_COLUMNS = ("name", "memory_gb", "compute_slices", "replicas", "gpu_models", "media")
_DONE_PHASES = ("Succeeded", "Failed")
_SAMPLE = re.compile(
    r"^(?P<metric>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+\S+)?$"
)
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class WorkloadRow:
    """One workloads.csv row and where its numbers came from."""

    name: str
    memory_gb: float
    compute_slices: int
    replicas: int
    gpu_models: tuple[str, ...] = ()
    media: bool = False
    source: str = ""


@dataclass(frozen=True)
class PodsImport:
    rows: tuple[WorkloadRow, ...]
    notes: tuple[str, ...]

    def workloads_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(WORKLOAD_COLUMNS)
        for row in self.rows:
            writer.writerow(
                (
                    row.name,
                    f"{row.memory_gb:g}",
                    row.compute_slices,
                    row.replicas,
                    "|".join(row.gpu_models),
                    "true" if row.media else "false",
                )
            )
        return out.getvalue()


def resource_profile(resource: str) -> str:
    """`nvidia.com/mig-1g.10gb.me` -> `1g.10gb+me` (the device plugin's `+` -> `.` undone)."""
    name = resource[len(MIG_RESOURCE_PREFIX) :]
    match = re.match(r"^(\d+g\.\d+gb)(.*)$", name)
    if match is None:
        return name
    base, rest = match.groups()
    if rest.startswith("."):
        rest = "+" + rest[1:]
    return base + rest


def owner_name(pod: dict) -> tuple[str, str]:
    """(kind, name) of the workload owning `pod`: the Deployment behind a ReplicaSet."""
    metadata = pod.get("metadata") or {}
    labels = metadata.get("labels") or {}
    for ref in metadata.get("ownerReferences") or []:
        if not isinstance(ref, dict) or not ref.get("controller", True):
            continue
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if kind == "ReplicaSet":
            template_hash = labels.get("pod-template-hash")
            if template_hash and name.endswith(f"-{template_hash}"):
                return "Deployment", name[: -len(template_hash) - 1]
            stripped = re.sub(r"-[a-z0-9]{6,10}$", "", name)
            return ("Deployment", stripped) if stripped != name else (kind, name)
        if kind and name:
            return kind, name
    return "Pod", str(metadata.get("name", ""))


def _gpu_requests(pod: dict) -> dict[str, int]:
    """GPU resources one pod asks for, summed over its containers (limits, else requests)."""
    totals: dict[str, int] = {}
    spec = pod.get("spec") or {}
    for container in spec.get("containers") or []:
        resources = (container or {}).get("resources") or {}
        asked = {**(resources.get("requests") or {}), **(resources.get("limits") or {})}
        for resource, value in asked.items():
            if resource == GPU_RESOURCE or resource.startswith(MIG_RESOURCE_PREFIX):
                try:
                    count = int(str(value))
                except ValueError:
                    count = -1
                totals[resource] = totals.get(resource, 0) + count
    return totals


def _profile_demand(
    profile_name: str, node_model: str | None, catalog: Catalog
) -> tuple[Profile, GpuModel, str] | None:
    """The profile a MIG request names, on the pod's node model or the smallest one offering it."""
    candidates = [
        (model.profile_by_name[profile_name], model, key)
        for key, model in catalog.models.items()
        if profile_name in model.profile_by_name and (node_model is None or key == node_model)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c[0].memory_mib, c[2]))


def read_pods(
    source: Source,
    catalog: Catalog,
    *,
    label: str | None = None,
    node_models: Mapping[str, str] | None = None,
    peaks_mib: Mapping[tuple[str, str], float] | None = None,
    headroom: float = 0.1,
) -> PodsImport:
    """Workloads of a pod listing; `node_models` {node: model key} from the nodes import, and
    `peaks_mib` {(namespace, pod): MiB} from `read_dcgm`, are optional."""
    name = label or source_label(source, "pods.json")
    if headroom < 0 or not math.isfinite(headroom):
        raise InputError.single(
            "--headroom", f"{headroom} is not a headroom (a fraction >= 0, e.g. 0.1)"
        )
    data = parse_json(source, name, "the output of `kubectl get pods -A -o json`")
    issues: list[InputIssue] = []
    notes: list[str] = []
    groups: dict[str, dict] = {}
    for index, pod in items_of_list(data, name, "Pod"):
        where = f"items[{index}]"
        metadata = pod.get("metadata") or {}
        pod_name = str(metadata.get("name", where))
        namespace = str(metadata.get("namespace", "default"))
        phase = (pod.get("status") or {}).get("phase")
        if phase in _DONE_PHASES:
            continue
        requests = _gpu_requests(pod)
        if not requests:
            continue
        bad = [r for r, n in requests.items() if n < 0]
        if bad:
            msg = f"pod {namespace}/{pod_name}: {bad[0]} is not a whole number of devices"
            issues.append(InputIssue(name, None, where, msg))
            continue
        requests = {r: n for r, n in requests.items() if n > 0}
        if not requests:
            continue
        if len(requests) > 1:
            asked = sorted(requests)
            msg = f"pod {namespace}/{pod_name} asks for {asked}: one GPU resource per pod"
            issues.append(InputIssue(name, None, where, msg))
            continue
        ((resource, devices),) = requests.items()
        kind, owner = owner_name(pod)
        key = f"{namespace}/{owner}"
        node = (pod.get("spec") or {}).get("nodeName")
        node_model = (node_models or {}).get(str(node)) if node else None
        group = groups.setdefault(
            key,
            {"resource": resource, "devices": devices, "pods": [], "models": set(), "where": where},
        )
        if group["resource"] != resource or group["devices"] != devices:
            msg = (
                f"pods of {kind} {key} ask for different GPUs ({group['resource']} x "
                f"{group['devices']} and {resource} x {devices})"
            )
            issues.append(InputIssue(name, None, where, msg))
            continue
        group["pods"].append((namespace, pod_name))
        if node_model:
            group["models"].add(node_model)
        group["kind"] = kind
    rows: list[WorkloadRow] = []
    for key, group in sorted(groups.items()):
        row = _row(key, group, catalog, peaks_mib, headroom, notes, issues, name)
        if row is not None:
            rows.append(row)
    if issues:
        raise InputError(issues)
    return PodsImport(tuple(rows), tuple(notes))


def _row(
    key: str,
    group: dict,
    catalog: Catalog,
    peaks_mib: Mapping[tuple[str, str], float] | None,
    headroom: float,
    notes: list[str],
    issues: list[InputIssue],
    label: str,
) -> WorkloadRow | None:
    resource, devices = group["resource"], group["devices"]
    models = sorted(group["models"])
    node_model = models[0] if len(models) == 1 else None
    replicas = len(group["pods"]) * devices
    if devices > 1:
        notes.append(f"{key}: {devices} devices per pod counted as {devices} replicas each")
    media = False
    if resource == GPU_RESOURCE:
        if node_model is None:
            notes.append(
                f"{key}: asks for whole GPUs but runs on no node of a known model; skipped "
                "(import nodes first)"
            )
            return None
        model = catalog.model(node_model)
        memory_gb = full_gpu_memory_gib(model)
        compute = full_gpu_profile(model).compute_slices
        gpu_models: tuple[str, ...] = (node_model,)
        source = f"whole {node_model}"
    else:
        profile_name = resource_profile(resource)
        found = _profile_demand(profile_name, node_model, catalog)
        if found is None:
            msg = f"{key}: {resource} names profile {profile_name}, which no catalog model has"
            issues.append(InputIssue(label, None, group["where"], msg))
            return None
        profile, model, model_key = found
        memory_gb = profile.memory_mib / 1024
        compute = profile.compute_slices
        media = profile.has_me or profile.has_me_all
        gpu_models = ()
        source = f"{profile_name} on {model_key}"
    peaks = [(peaks_mib or {}).get(pod) for pod in group["pods"] if (peaks_mib or {}).get(pod)]
    if peaks:
        peak = max(p for p in peaks if p is not None)
        memory_gb = peak * (1 + headroom) / 1024
        source = f"DCGM peak {peak:g} MiB + {headroom:.0%}"
    memory_gb = math.ceil(memory_gb * 1000 - 1e-9) / 1000
    return WorkloadRow(key, memory_gb, compute, replicas, gpu_models, media, source)


def read_dcgm(source: Source, label: str | None = None) -> dict[tuple[str, str], float]:
    """Peak `DCGM_FI_DEV_FB_USED` (MiB) per (namespace, pod), from Prometheus text exposition or
    a Prometheus query result JSON (vector or matrix)."""
    name = label or source_label(source, "dcgm.txt")
    expected = f"DCGM exporter samples ({FB_USED} as Prometheus text or query JSON)"
    text = read_text(source, name, expected)
    if text.lstrip().startswith("{"):
        return _dcgm_json(parse_json(text.encode(), name, expected), name)
    peaks: dict[tuple[str, str], float] = {}
    issues: list[InputIssue] = []
    seen_metric = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            issues.append(InputIssue(name, number, None, f"not a Prometheus sample: {line[:80]!r}"))
            continue
        if match["metric"] != FB_USED:
            continue
        seen_metric = True
        labels = dict(_LABEL.findall(match["labels"] or ""))
        _add_peak(peaks, labels, match["value"], name, number, issues)
    if issues:
        raise InputError(issues)
    if not seen_metric:
        raise InputError.single(name, f"no {FB_USED} samples ({expected})")
    return peaks


def _add_peak(
    peaks: dict[tuple[str, str], float],
    labels: Mapping[str, str],
    value: str,
    label: str,
    line: int | None,
    issues: list[InputIssue],
) -> None:
    pod = labels.get("pod") or labels.get("exported_pod")
    namespace = labels.get("namespace") or labels.get("exported_namespace")
    try:
        mib = float(value)
    except ValueError:
        mib = -1.0
    if not math.isfinite(mib) or mib < 0:
        issues.append(InputIssue(label, line, None, f"{value!r} is not a memory figure in MiB"))
        return
    if not pod or not namespace:
        return  # a GPU no pod holds
    key = (namespace, pod)
    peaks[key] = max(peaks.get(key, 0.0), mib)


def _dcgm_json(data: object, label: str) -> dict[tuple[str, str], float]:
    result = data.get("data", {}).get("result") if isinstance(data, dict) else None
    if not isinstance(result, list):
        raise InputError.single(
            label, 'expected a Prometheus query result: {"data": {"result": [...]}}'
        )
    peaks: dict[tuple[str, str], float] = {}
    issues: list[InputIssue] = []
    for index, series in enumerate(result):
        if not isinstance(series, dict):
            continue
        metric = series.get("metric") or {}
        if metric.get("__name__", FB_USED) != FB_USED:
            continue
        values = series.get("values") or ([series["value"]] if "value" in series else [])
        for pair in values:
            if not isinstance(pair, list) or len(pair) != 2:
                issues.append(InputIssue(label, None, f"data.result[{index}]", "bad sample"))
                continue
            _add_peak(peaks, metric, str(pair[1]), label, None, issues)
    if issues:
        raise InputError(issues)
    return peaks

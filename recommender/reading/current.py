"""The fleet as it runs now (`plan --current FILE`): a plan JSON of this tool or its plan CSV.

Only what identifies a running instance is read: per GPU its pool and index, per instance its
profile, start slot and the (workload, replica) it hosts. A plan JSON needs only `gpus` (every
other key is ignored); a plan CSV needs `pool`, `gpu_index`, `profile` and `start` (the other
columns of the CSV export are accepted and ignored, `gpu_model` is checked when present).

Problems are reported all at once, each naming the GPU: `current.json: gpu a100#3: problem`
(`current.csv:12: gpu a100#3: problem` for a CSV row). A current state that breaks the MIG rules,
names an unknown pool or profile, an index outside its pool, a GPU twice or a replica hosted
twice is refused. Replicas of workloads no longer in the workloads file, and replica indices the
workload no longer has, are simply stopped: their instances stay carved, as spares.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recommender.catalog import Catalog
from recommender.errors import InputError, InputIssue
from recommender.exports import CSV_COLUMNS, unguard_cell
from recommender.layouts import layout_violations
from recommender.plan import PlanGpu, PlanInstance
from recommender.problem import Pool, Problem
from recommender.reading.source import Source, parse_json, read_bytes, source_label
from recommender.reading.tables import check_integer, check_text, read_table

# Columns of the plan CSV export; these identify an instance, the others are derived from them.
CURRENT_CSV_REQUIRED = ("pool", "gpu_index", "profile", "start")
_CSV_COLUMNS = {name: name in CURRENT_CSV_REQUIRED for name in CSV_COLUMNS}
_NOT_A_STATE = (
    "expected a plan JSON object with a `gpus` list (a plan written by `plan --json`) "
    "or the plan CSV export"
)


@dataclass
class _Instance:
    profile: str
    start: int
    workload: str | None
    replica: int | None
    line: int | None = None


@dataclass
class _Gpu:
    """One GPU as read, before its checks; `line` is its first CSV row (None for JSON)."""

    pool: str
    index: int
    line: int | None
    gpu_model: str | None = None
    instances: list[_Instance] = field(default_factory=list)
    compare: str | None = None  # "counts": starts unknown (PlanGpu.compare)

    @property
    def where(self) -> str:
        return f"gpu {self.pool}#{self.index}"


def load_current(
    source: Source, problem: Problem, catalog: Catalog, label: str | None = None
) -> list[PlanGpu]:
    """The GPUs carved now (pool order, then index), their instances by start slot.

    Raises InputError with every problem found. Stopped replicas (workload gone, or replica index
    beyond the workload's replicas) are returned as spare instances (workload and replica null).
    """
    name = label or source_label(source, "current.json")
    raw = read_bytes(source, name)
    if not raw.strip():
        raise InputError([InputIssue(name, None, None, f"file is empty ({_NOT_A_STATE})")])
    issues: list[InputIssue] = []
    gpus = _read_csv(raw, name, issues) if _is_csv(raw, name) else _read_json(raw, name, issues)
    if issues:
        raise InputError(issues)
    result = _check(gpus, problem, catalog, name, issues)
    if issues:
        raise InputError(issues)
    return result


def _is_csv(raw: bytes, label: str) -> bool:
    """A `.csv` name, or (any other name) content that does not start like JSON."""
    lowered = label.lower()
    if lowered.endswith(".csv"):
        return True
    if lowered.endswith(".json"):
        return False
    start = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return start not in (b"{", b"[")


# --- JSON --------------------------------------------------------------------------------------


def _read_json(raw: bytes, label: str, issues: list[InputIssue]) -> list[_Gpu]:
    document = parse_json(raw, label)
    if not isinstance(document, dict) or not isinstance(document.get("gpus"), list):
        raise InputError([InputIssue(label, None, None, _NOT_A_STATE)])
    gpus: list[_Gpu] = []
    for position, entry in enumerate(document["gpus"]):
        gpu = _json_gpu(entry, f"gpus[{position}]", label, issues)
        if gpu is not None:
            gpus.append(gpu)
    return gpus


def _json_gpu(entry: Any, where: str, label: str, issues: list[InputIssue]) -> _Gpu | None:
    """One `gpus` entry; None (with issues) when it cannot even be named by pool and index."""
    problems = _object_problems(entry, _GPU_FIELDS)
    if problems:
        issues.extend(InputIssue(label, None, where, message) for message in problems)
        return None
    gpu = _Gpu(entry["pool"], entry["index"], None)
    model = entry.get("gpu_model")
    if model is not None and not isinstance(model, str):
        issues.append(InputIssue(label, None, gpu.where, f"gpu_model {_json_text(model)}"))
    gpu.gpu_model = model if isinstance(model, str) else None
    compare = entry.get("compare")
    if compare not in (None, "counts", "slots"):
        message = f'compare must be "counts" or "slots", not {_json_text(compare)}'
        issues.append(InputIssue(label, None, gpu.where, message))
    gpu.compare = "counts" if compare == "counts" else None
    instances = entry.get("instances", [])
    if not isinstance(instances, list):
        message = f"instances must be a list, not {_json_text(instances)}"
        issues.append(InputIssue(label, None, gpu.where, message))
        return gpu
    for number, item in enumerate(instances):
        instance = _json_instance(item, f"{gpu.where}: instances[{number}]", label, issues)
        if instance is not None:
            gpu.instances.append(instance)
    return gpu


def _json_instance(item: Any, where: str, label: str, issues: list[InputIssue]) -> _Instance | None:
    problems = _object_problems(item, _INSTANCE_FIELDS)
    if not problems and (item.get("workload") is None) != (item.get("replica") is None):
        problems.append("workload and replica must both be set or both be null")
    if problems:
        issues.extend(InputIssue(label, None, where, message) for message in problems)
        return None
    return _Instance(item["profile"], item["start"], item.get("workload"), item.get("replica"))


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_position(value: Any) -> bool:
    """A whole number >= 0: a GPU index, a start slot, a replica number."""
    return _is_whole(value) and value >= 0


# A field of a JSON object that must be right: (name, check, what it must be).
_FieldCheck = tuple[str, Callable[[Any], bool], str]
# The fields of a `gpus` entry and of an instance.
_GPU_FIELDS: tuple[_FieldCheck, ...] = (
    ("pool", _is_name, "a non-empty text"),
    ("index", _is_position, "a whole number >= 0"),
)
_INSTANCE_FIELDS: tuple[_FieldCheck, ...] = (
    ("profile", _is_name, "a profile name"),
    ("start", _is_position, "a whole number >= 0"),
    ("workload", lambda v: v is None or _is_name(v), "a name or null"),
    ("replica", lambda v: v is None or _is_position(v), "a whole number >= 0 or null"),
)


def _object_problems(entry: Any, fields: tuple[_FieldCheck, ...]) -> list[str]:
    """What is wrong with a JSON value that must be an object with `fields`: that it is none
    (naming the first two fields), or one message per field that is not what it must be."""
    if not isinstance(entry, dict):
        return [f"expected an object with {fields[0][0]} and {fields[1][0]}"]
    return [
        f"{name} must be {meaning}, not {_json_text(entry.get(name))}"
        for name, is_valid, meaning in fields
        if not is_valid(entry.get(name))
    ]


def _is_whole(value: Any) -> bool:
    """A JSON whole number (true/false are not numbers here, though Python says they are ints)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _json_text(value: Any) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- CSV ---------------------------------------------------------------------------------------


def _read_csv(raw: bytes, label: str, issues: list[InputIssue]) -> list[_Gpu]:
    """Rows of the plan CSV export, grouped by (pool, gpu_index) into GPUs."""
    table = read_table(raw, label, _CSV_COLUMNS)
    pools = check_text(table, "pool")
    profiles = check_text(table, "profile")
    indices = check_integer(table, "gpu_index", minimum=0)
    starts = check_integer(table, "start", minimum=0)
    replicas = check_integer(table, "replica", minimum=0, default=-1)
    workloads = (
        table.text("workload") if "workload" in table.cells else np.full(table.rows, "", object)
    )
    models = table.text("gpu_model") if "gpu_model" in table.cells else None
    issues.extend(table.issues.in_file_order())
    if issues:
        return []
    gpus: dict[tuple[str, int], _Gpu] = {}
    for row in range(table.rows):
        line = int(table.lines[row])
        pool = str(unguard_cell(pools[row]))
        key = (pool, int(indices[row]))
        gpu = gpus.get(key)
        if gpu is None:
            gpu = gpus[key] = _Gpu(pool, key[1], line)
            if models is not None and models[row]:
                gpu.gpu_model = str(unguard_cell(models[row]))
        workload = str(unguard_cell(workloads[row])) or None
        replica = None if replicas[row] < 0 else int(replicas[row])
        if (workload is None) != (replica is None):
            message = "workload and replica must both be set or both be empty"
            issues.append(InputIssue(label, line, gpu.where, message))
            continue
        gpu.instances.append(
            _Instance(str(profiles[row]), int(starts[row]), workload, replica, line)
        )
    return list(gpus.values())


# --- checks both formats share -----------------------------------------------------------------


def _check(
    gpus: list[_Gpu], problem: Problem, catalog: Catalog, label: str, issues: list[InputIssue]
) -> list[PlanGpu]:
    """Identity, layout and replica checks; the GPUs as plan GPUs with stopped replicas spare."""
    pools = {pool.pool: pool for pool in problem.pools}
    seen = Counter((gpu.pool, gpu.index) for gpu in gpus)
    reported_twice: set[tuple[str, int]] = set()
    hosts: dict[tuple[str, int], list[str]] = {}
    result: list[PlanGpu] = []
    for gpu in gpus:
        key = (gpu.pool, gpu.index)
        if seen[key] > 1:
            if key not in reported_twice:
                reported_twice.add(key)
                message = f"listed {seen[key]} times (a GPU appears once)"
                issues.append(InputIssue(label, gpu.line, gpu.where, message))
            continue
        pool = pools.get(gpu.pool)
        problems = _gpu_problems(gpu, pool, problem, catalog)
        if problems:
            issues.extend(InputIssue(label, gpu.line, gpu.where, m) for m in problems)
            continue
        assert pool is not None
        plan_gpu = _plan_gpu(gpu, pool, problem)
        for instance in plan_gpu.instances:
            if instance.workload is not None:  # running: stopped replicas may repeat
                where = f"{gpu.where} {instance.profile}@{instance.start}"
                replica = f"{instance.workload} replica {instance.replica}"
                hosts.setdefault(replica, []).append(where)
        result.append(plan_gpu)
    issues.sort(key=lambda issue: issue.line or 0)  # a CSV's GPUs in file order
    for replica, places in hosts.items():
        if len(places) > 1:
            message = f"{replica} is hosted {len(places)} times ({'; '.join(places)})"
            issues.append(InputIssue(label, None, None, message))
    order = {pool.pool: position for position, pool in enumerate(problem.pools)}
    result.sort(key=lambda g: (order[g.pool], g.index))
    return result


def _gpu_problems(gpu: _Gpu, pool: Pool | None, problem: Problem, catalog: Catalog) -> list[str]:
    if pool is None:
        known = ", ".join(p.pool for p in problem.pools) or "none"
        return [f"unknown pool '{gpu.pool}' (pools of the fleet: {known})"]
    problems: list[str] = []
    if gpu.index >= pool.gpus:
        problems.append(
            f"index {gpu.index} is outside pool '{pool.pool}' "
            f"({pool.gpus} GPU(s): indices 0..{pool.gpus - 1})"
        )
    if gpu.gpu_model is not None and catalog.resolve(gpu.gpu_model) != pool.gpu_model:
        problems.append(
            f"gpu_model is {gpu.gpu_model}, but pool '{pool.pool}' has {pool.gpu_model}"
        )
    model = catalog.model(pool.gpu_model)
    unknown = sorted({i.profile for i in gpu.instances if i.profile not in model.profile_by_name})
    for name in unknown:
        profiles = ", ".join(model.profile_by_name)
        problems.append(f"unknown profile {name} for {pool.gpu_model} (profiles: {profiles})")
    if not unknown:
        placements = [(i.profile, i.start) for i in gpu.instances]
        problems.extend(
            f"breaks the MIG rules: {why}" for why in layout_violations(model, placements)
        )
    return problems


def _plan_gpu(gpu: _Gpu, pool: Pool, problem: Problem) -> PlanGpu:
    """The GPU as the plan writes it; replicas the workloads file no longer has become spares."""
    instances = [
        PlanInstance(profile=i.profile, start=i.start, workload=i.workload, replica=i.replica)
        for i in sorted(gpu.instances, key=lambda i: i.start)
    ]
    entry = PlanGpu(
        pool=pool.pool,
        index=gpu.index,
        gpu_model=pool.gpu_model,
        instances=instances,
        compare=gpu.compare,  # type: ignore[arg-type]
    )
    return stop_retired([entry], problem)[0]


def stop_retired(current: list[PlanGpu], problem: Problem) -> list[PlanGpu]:
    """The running fleet with the replicas `problem` no longer asks for stopped: their instances
    stay carved, as spares. A replica runs on when its workload is still there and still has
    its replica index (a throughput workload's instance count is the planner's: every index).

    Every re-plan starts from this, so the planner and the transition agree on which GPUs host a
    replica now (a GPU hosting only stopped replicas hosts nothing: it is free to carve).
    """
    workloads = {w.name: w for w in problem.workloads}

    def runs(instance: PlanInstance) -> bool:
        workload = workloads.get(instance.workload or "")
        return (
            workload is not None
            and instance.replica is not None
            and (workload.is_throughput or instance.replica < workload.replicas)
        )

    result = []
    for gpu in current:
        if all(runs(i) or i.workload is None for i in gpu.instances):
            result.append(gpu)
            continue
        instances = [
            i if runs(i) else i.model_copy(update={"workload": None, "replica": None})
            for i in gpu.instances
        ]
        result.append(gpu.model_copy(update={"instances": instances}))
    return result

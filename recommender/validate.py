"""The referee: an independent check of a plan against the catalog and the inputs.

Written apart from the solver on purpose: it reads the placement rules straight from the catalog's
data (`GpuModel` / `Profile` fields) and shares no code with `recommender.layouts` or the CP-SAT
model, so a bug in one shows up as a disagreement with the other. Rules: DESIGN.md §2 (placement)
and §4 (the plan contract).

Every violation is one sentence that names the GPU (`pool#index`) and the instance
(`profile@start`) it is about; an empty list means the plan is valid.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from pydantic import ValidationError

from recommender.catalog import Catalog, GpuModel, Profile
from recommender.plan import Plan, PlanGpu, PlanInstance
from recommender.problem import Pool, Problem, Workload

# Costs are sums of a few prices; anything beyond rounding noise is a real disagreement.
COST_TOLERANCE = 1e-6
# `memory_gb * 1024` is exact in binary floating point; this only absorbs noise from upstream.
MEMORY_TOLERANCE_MIB = 1e-6


def validate_plan(plan: Plan | dict | str | bytes, problem: Problem, catalog: Catalog) -> list[str]:
    """Every way `plan` breaks the placement rules or the plan contract (empty list = valid).

    `plan` may be a `Plan`, a dict or JSON text; if it does not fit the plan schema the schema
    errors are returned as the violations (nothing is raised).
    """
    parsed, schema_errors = _parse_plan(plan)
    if parsed is None:
        return schema_errors
    gpus = [_view_gpu(gpu, problem, catalog) for gpu in parsed.gpus]
    violations: list[str] = []
    violations += _check_status(parsed)
    violations += _check_pools_in_catalog(problem, catalog)
    violations += _check_gpu_identity(gpus, catalog)
    for gpu in gpus:
        violations += _check_layout(gpu)
    hosting_violations, placed = _check_hosting(gpus, problem)
    violations += hosting_violations
    violations += _check_replica_counts(parsed, problem, placed)
    violations += _check_cost(parsed, gpus)
    violations += _check_summary(parsed, gpus, placed)
    return violations


def profile_carries_media(model: GpuModel, profile: Profile) -> bool:
    """Whether a media workload (NVDEC/NVJPG/OFA) may run on `profile`, from its attributes alone.

    `-me` profiles have no media engines; `+me` and `+me.all` profiles have them; a profile that
    spans the whole axis owns every engine of the GPU (DESIGN.md §3).
    """
    if "-me" in profile.attributes:
        return False
    has_media_suffix = "me" in profile.attributes or "me.all" in profile.attributes
    return has_media_suffix or profile.span == model.placement_units


# --- parsing -----------------------------------------------------------------------------------


def _parse_plan(plan: object) -> tuple[Plan | None, list[str]]:
    """The plan validated against the schema, or None and the schema errors."""
    try:
        if isinstance(plan, Plan):
            # Re-validate: a Plan object may have been mutated after construction, which pydantic
            # does not check.
            return Plan.model_validate(plan.model_dump(warnings=False)), []
        if isinstance(plan, dict):
            return Plan.model_validate(plan), []
        if isinstance(plan, (str, bytes)):
            return Plan.model_validate_json(plan), []
    except ValidationError as exc:
        return None, [_schema_error_sentence(error) for error in exc.errors()]
    return None, [f"plan must be a Plan, a dict or JSON text, not {type(plan).__name__}"]


def _schema_error_sentence(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"])
    if where:
        return f"plan does not fit the plan schema: {where}: {error['msg']}"
    return f"plan does not fit the plan schema: {error['msg']}"


# --- per-GPU context ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _GpuView:
    """One plan GPU with what the inputs say about it."""

    entry: PlanGpu
    pool: Pool | None
    # The hardware model: the pool's when the pool is known (the entry's own claim is checked
    # separately), else the entry's claim, so layout rules can still be checked.
    model_key: str
    model: GpuModel | None

    @property
    def label(self) -> str:
        return f"GPU {self.entry.pool}#{self.entry.index}"

    @property
    def key(self) -> tuple[str, int]:
        return (self.entry.pool, self.entry.index)


def _view_gpu(entry: PlanGpu, problem: Problem, catalog: Catalog) -> _GpuView:
    pool = next((p for p in problem.pools if p.pool == entry.pool), None)
    model_key = pool.gpu_model if pool is not None else entry.gpu_model
    return _GpuView(entry, pool, model_key, catalog.models.get(model_key))


def _instance_label(instance: PlanInstance) -> str:
    return f"{instance.profile}@{instance.start}"


# --- status and GPU identity -------------------------------------------------------------------


def _check_status(plan: Plan) -> list[str]:
    if plan.status == "infeasible" and plan.gpus:
        return [
            f"status is infeasible but the plan lists {len(plan.gpus)} GPU(s); "
            "an infeasible plan must list none"
        ]
    return []


def _check_pools_in_catalog(problem: Problem, catalog: Catalog) -> list[str]:
    return [
        f"pool '{pool.pool}': GPU model '{pool.gpu_model}' is not in the catalog"
        for pool in problem.pools
        if pool.gpu_model not in catalog.models
    ]


def _check_gpu_identity(gpus: list[_GpuView], catalog: Catalog) -> list[str]:
    violations: list[str] = []
    for gpu in gpus:
        entry = gpu.entry
        if gpu.pool is None:
            violations.append(f"{gpu.label}: pool '{entry.pool}' is not in the fleet")
            if entry.gpu_model not in catalog.models:
                violations.append(
                    f"{gpu.label}: GPU model '{entry.gpu_model}' is not in the catalog"
                )
            continue
        if entry.gpu_model != gpu.pool.gpu_model:
            violations.append(
                f"{gpu.label}: gpu_model is '{entry.gpu_model}' but pool '{gpu.pool.pool}' "
                f"has {gpu.pool.gpu_model}"
            )
        if not 0 <= entry.index < gpu.pool.gpus:
            violations.append(
                f"{gpu.label}: index {entry.index} is out of range "
                f"(pool '{gpu.pool.pool}' has {gpu.pool.gpus} GPU(s): 0..{gpu.pool.gpus - 1})"
            )
    appearances = Counter(gpu.key for gpu in gpus)
    for (pool, index), count in appearances.items():
        if count > 1:
            violations.append(f"GPU {pool}#{index} appears {count} times (a GPU may appear once)")
    return violations


# --- layout rules (DESIGN.md §2) ---------------------------------------------------------------


def _check_layout(gpu: _GpuView) -> list[str]:
    if gpu.model is None:
        return []  # reported by _check_gpu_identity / _check_pools_in_catalog
    violations, known = _check_profiles_and_starts(gpu)
    violations += _check_overlaps(gpu, known)
    violations += _check_media_exclusivity(gpu, known)
    violations += _check_instance_counts(gpu, known)
    return violations


def _check_profiles_and_starts(
    gpu: _GpuView,
) -> tuple[list[str], list[tuple[PlanInstance, Profile]]]:
    """Unknown profiles, illegal starts and instances leaving the axis; the known instances."""
    assert gpu.model is not None
    units = gpu.model.placement_units
    violations: list[str] = []
    known: list[tuple[PlanInstance, Profile]] = []
    profiles = {p.name: p for p in gpu.model.profiles}
    for instance in gpu.entry.instances:
        profile = profiles.get(instance.profile)
        if profile is None:
            violations.append(
                f"{gpu.label}: {_instance_label(instance)}: profile '{instance.profile}' does "
                f"not exist on {gpu.model_key} (profiles: {', '.join(profiles)})"
            )
            continue
        known.append((instance, profile))
        if instance.start not in profile.starts:
            legal = ", ".join(str(s) for s in profile.starts)
            violations.append(
                f"{gpu.label}: {_instance_label(instance)}: start {instance.start} is not a "
                f"legal start of {profile.name} on {gpu.model_key} (legal starts: {legal})"
            )
        end = instance.start + profile.span
        if instance.start < 0 or end > units:
            violations.append(
                f"{gpu.label}: {_instance_label(instance)}: occupies units "
                f"{instance.start}..{end - 1}, outside the {units}-unit axis (0..{units - 1})"
            )
    return violations, known


def _check_overlaps(gpu: _GpuView, known: list[tuple[PlanInstance, Profile]]) -> list[str]:
    """Every pair of instances whose [start, start + span) intervals intersect."""
    violations: list[str] = []
    for i, (first, first_profile) in enumerate(known):
        for second, second_profile in known[i + 1 :]:
            low = max(first.start, second.start)
            high = min(first.start + first_profile.span, second.start + second_profile.span)
            if low < high:
                violations.append(
                    f"{gpu.label}: {_instance_label(first)} and {_instance_label(second)} "
                    f"overlap on units {low}..{high - 1}"
                )
    return violations


def _check_media_exclusivity(gpu: _GpuView, known: list[tuple[PlanInstance, Profile]]) -> list[str]:
    """At most one `+me` and one `+me.all` instance; only `-me` instances next to `+me.all`."""
    violations: list[str] = []
    me = [_instance_label(i) for i, p in known if "me" in p.attributes]
    if len(me) > 1:
        violations.append(
            f"{gpu.label}: {len(me)} +me instances ({', '.join(me)}); at most one per GPU"
        )
    me_all = [(i, p) for i, p in known if "me.all" in p.attributes]
    if len(me_all) > 1:
        names = ", ".join(_instance_label(i) for i, _ in me_all)
        violations.append(
            f"{gpu.label}: {len(me_all)} +me.all instances ({names}); at most one per GPU"
        )
    if me_all:
        owner = _instance_label(me_all[0][0])
        for instance, profile in known:
            if "me.all" in profile.attributes or "-me" in profile.attributes:
                continue
            violations.append(
                f"{gpu.label}: {_instance_label(instance)} shares the GPU with +me.all "
                f"instance {owner}; only -me profiles may do that"
            )
    return violations


def _check_instance_counts(gpu: _GpuView, known: list[tuple[PlanInstance, Profile]]) -> list[str]:
    assert gpu.model is not None
    violations: list[str] = []
    per_profile = Counter(profile.name for _, profile in known)
    for profile in gpu.model.profiles:
        count = per_profile[profile.name]
        if count > profile.max_count:
            violations.append(
                f"{gpu.label}: {count} instances of {profile.name}; {gpu.model_key} allows at "
                f"most {profile.max_count}"
            )
    total = len(gpu.entry.instances)
    if total > gpu.model.max_instances:
        violations.append(
            f"{gpu.label}: {total} instances; {gpu.model_key} allows at most "
            f"{gpu.model.max_instances} per GPU"
        )
    return violations


# --- workloads on instances --------------------------------------------------------------------


def _check_hosting(gpus: list[_GpuView], problem: Problem) -> tuple[list[str], dict[str, set[int]]]:
    """Per hosting instance: the reference is sound and the profile fits the workload.

    Returns the violations and, per workload, the valid replica indices the plan places.
    """
    violations: list[str] = []
    workloads = {w.name: w for w in problem.workloads}
    hosts: dict[tuple[str, int], list[str]] = defaultdict(list)
    # Keyed by (pool, index), not by entry: a GPU listed twice is still one GPU for spread.
    spread_replicas: dict[tuple[str, int], dict[str, list[int]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for gpu in gpus:
        profiles = {p.name: p for p in gpu.model.profiles} if gpu.model is not None else {}
        for instance in gpu.entry.instances:
            where = f"{gpu.label}: {_instance_label(instance)}"
            hosted, problems = _hosted_replica(where, instance, workloads)
            violations += problems
            if hosted is None:
                continue
            workload, replica = hosted
            hosts[(workload.name, replica)].append(where)
            if workload.spread:
                spread_replicas[gpu.key][workload.name].append(replica)
            profile = profiles.get(instance.profile)
            if profile is not None:  # an unknown profile is reported by the layout check
                violations += _check_fit(where, workload, replica, profile, gpu)
    for (pool, index), replicas_by_workload in spread_replicas.items():
        violations += _check_spread(f"GPU {pool}#{index}", replicas_by_workload)
    for (name, replica), places in hosts.items():
        if len(places) > 1:
            violations.append(
                f"{name} replica {replica} is hosted {len(places)} times: {'; '.join(places)}"
            )
    placed: dict[str, set[int]] = defaultdict(set)
    for name, replica in hosts:
        placed[name].add(replica)
    return violations, placed


def _hosted_replica(
    where: str, instance: PlanInstance, workloads: dict[str, Workload]
) -> tuple[tuple[Workload, int] | None, list[str]]:
    """The (workload, replica) an instance hosts if its reference is sound, and why not if not.

    None without violations is a spare instance.
    """
    if (instance.workload is None) != (instance.replica is None):
        return None, [
            f"{where}: workload ({instance.workload!r}) and replica ({instance.replica!r}) "
            "must both be set or both be null"
        ]
    if instance.workload is None or instance.replica is None:
        return None, []
    workload = workloads.get(instance.workload)
    if workload is None:
        return None, [f"{where}: hosts unknown workload '{instance.workload}'"]
    if not 0 <= instance.replica < workload.replicas:
        return None, [
            f"{where}: hosts {workload.name} replica {instance.replica}, but {workload.name} "
            f"has {workload.replicas} replica(s) (0..{workload.replicas - 1})"
        ]
    return (workload, instance.replica), []


def _check_fit(
    where: str, workload: Workload, replica: int, profile: Profile, gpu: _GpuView
) -> list[str]:
    """Memory, compute, allowed model and media of one replica on one profile."""
    assert gpu.model is not None
    what = f"{where}: hosts {workload.name} replica {replica}"
    violations: list[str] = []
    needed_mib = workload.memory_gb * 1024
    if profile.memory_mib + MEMORY_TOLERANCE_MIB < needed_mib:
        violations.append(
            f"{what}, which needs {workload.memory_gb:g} GiB of memory; {profile.name} has "
            f"{profile.memory_mib / 1024:.2f} GiB ({profile.memory_mib} MiB usable)"
        )
    if profile.compute_slices < workload.compute_slices:
        violations.append(
            f"{what}, which needs {workload.compute_slices} compute slices; {profile.name} has "
            f"{profile.compute_slices}"
        )
    if workload.gpu_models is not None and gpu.model_key not in workload.gpu_models:
        violations.append(
            f"{what}, which may run only on {', '.join(workload.gpu_models)}, not on "
            f"{gpu.model_key}"
        )
    if workload.media and not profile_carries_media(gpu.model, profile):
        violations.append(
            f"{what}, which needs media engines; {profile.name} has none (only +me, +me.all "
            "and full-GPU profiles do)"
        )
    return violations


def _check_spread(gpu_label: str, spread_replicas: dict[str, list[int]]) -> list[str]:
    return [
        f"{gpu_label}: hosts {name} replicas {', '.join(str(r) for r in sorted(replicas))}, but "
        f"{name} is spread (at most one replica per GPU)"
        for name, replicas in spread_replicas.items()
        if len(replicas) > 1
    ]


# --- replica counts ----------------------------------------------------------------------------


def _check_replica_counts(plan: Plan, problem: Problem, placed: dict[str, set[int]]) -> list[str]:
    violations: list[str] = []
    workloads = {w.name: w for w in problem.workloads}
    unplaced: Counter[str] = Counter()
    listed: Counter[str] = Counter()
    for entry in plan.unplaced:
        if entry.workload not in workloads:
            violations.append(f"unplaced: unknown workload '{entry.workload}'")
            continue
        listed[entry.workload] += 1
        unplaced[entry.workload] += entry.replicas
    for name, times in listed.items():
        if times > 1:
            violations.append(f"unplaced: {name} is listed {times} times (list a workload once)")
    for workload in problem.workloads:
        placed_count = len(placed.get(workload.name, set()))
        unplaced_count = unplaced[workload.name]
        if placed_count + unplaced_count != workload.replicas:
            violations.append(
                f"{workload.name}: {placed_count} replica(s) placed + {unplaced_count} unplaced "
                f"= {placed_count + unplaced_count}, but it has {workload.replicas}"
            )
    return violations


# --- cost and summary --------------------------------------------------------------------------


def _used_gpu_cost(gpus: list[_GpuView]) -> tuple[float, int]:
    """Cost per hour and count of the distinct known GPUs that host at least one instance."""
    prices: dict[tuple[str, int], float] = {}
    for gpu in gpus:
        if gpu.pool is not None and gpu.entry.instances:
            prices[gpu.key] = gpu.pool.cost_per_hour
    return sum(prices.values()), len(prices)


def _costs_agree(stated: float, expected: float) -> bool:
    return math.isclose(stated, expected, rel_tol=COST_TOLERANCE, abs_tol=COST_TOLERANCE)


def _check_cost(plan: Plan, gpus: list[_GpuView]) -> list[str]:
    violations: list[str] = []
    numbers = {
        "cost_per_hour": plan.cost_per_hour,
        "lower_bound_per_hour": plan.lower_bound_per_hour,
    }
    for field, value in numbers.items():
        if not math.isfinite(value):
            violations.append(f"{field} is {value}, not a finite number")
        elif value < 0:
            violations.append(f"{field} is negative ({value:g})")
    if violations:
        return violations
    expected, used = _used_gpu_cost(gpus)
    if not _costs_agree(plan.cost_per_hour, expected):
        violations.append(
            f"cost_per_hour is {plan.cost_per_hour:g}, but the {used} GPU(s) hosting "
            f"instances cost {expected:g} per hour"
        )
    if plan.lower_bound_per_hour > plan.cost_per_hour + COST_TOLERANCE:
        violations.append(
            f"lower_bound_per_hour {plan.lower_bound_per_hour:g} is above cost_per_hour "
            f"{plan.cost_per_hour:g}"
        )
    return violations


def _check_summary(plan: Plan, gpus: list[_GpuView], placed: dict[str, set[int]]) -> list[str]:
    if plan.summary is None:
        return []
    summary = plan.summary
    violations: list[str] = []
    expected_cost, used = _used_gpu_cost(gpus)
    # NaN never agrees, so a non-finite summary cost is reported here too.
    if not _costs_agree(summary.cost_per_hour, expected_cost):
        violations.append(
            f"summary.cost_per_hour is {summary.cost_per_hour:g}, but the GPUs hosting "
            f"instances cost {expected_cost:g} per hour"
        )
    if summary.gpus_used != used:
        violations.append(
            f"summary.gpus_used is {summary.gpus_used}, but {used} GPU(s) host an instance"
        )
    placed_count = sum(len(replicas) for replicas in placed.values())
    if summary.replicas_placed != placed_count:
        violations.append(
            f"summary.replicas_placed is {summary.replicas_placed}, but the plan places "
            f"{placed_count} replica(s)"
        )
    return violations

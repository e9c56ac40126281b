"""The referee: an independent check of a plan against the catalog and the inputs.

Written apart from the solver on purpose: it reads the placement rules straight from the catalog's
data (`GpuModel` / `Profile` fields) and shares no code with `recommender.layouts` or the CP-SAT
model, so a bug in one shows up as a disagreement with the other. Rules: docs/design.md,
"Placement rules" and "The plan contract".

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
from recommender.problem import PerformanceRow, Pool, Problem, Workload

# Costs are sums of a few prices; anything beyond rounding noise is a real disagreement.
COST_TOLERANCE = 1e-6
# `memory_gb * 1024` is exact in binary floating point; this only absorbs noise from upstream.
MEMORY_TOLERANCE_MIB = 1e-6


def validate_plan(
    plan: Plan | dict | str | bytes,
    problem: Problem,
    catalog: Catalog,
    current: list[PlanGpu] | None = None,
    *,
    max_recarve: int | None = None,
    max_moves: int | None = None,
) -> list[str]:
    """Every way `plan` breaks the placement rules or the plan contract (empty list = valid).

    `plan` may be a `Plan`, a dict or JSON text; if it does not fit the plan schema the schema
    errors are returned as the violations (nothing is raised). With `current` (the running fleet
    the plan was made from) its `transition` is recomputed and checked too, and the budgets
    (given here, or recorded in the transition) are checked against the recomputed counts.
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
    if current is not None:
        violations += _check_transition(parsed, problem, current, max_recarve, max_moves)
    violations += _check_throughput(parsed, gpus, problem)
    return violations


def profile_carries_media(model: GpuModel, profile: Profile) -> bool:
    """Whether a media workload (NVDEC/NVJPG/OFA) may run on `profile`, from its attributes alone.

    `-me` profiles have no media engines; `+me` and `+me.all` profiles have them; a profile that
    spans the whole axis owns every engine of the GPU (docs/design.md, "Placement rules").
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


# --- layout rules (docs/design.md, "Placement rules") -------------------------------------------


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
    # A throughput workload's instance count is the planner's decision: any index is fine
    # (duplicates are caught by _check_hosting).
    if not workload.is_throughput and not 0 <= instance.replica < workload.replicas:
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
    # A throughput instance's memory need is its configuration's (`_check_throughput`).
    if not workload.is_throughput and profile.memory_mib + MEMORY_TOLERANCE_MIB < needed_mib:
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
        if workload.is_throughput:
            continue  # served rate and minimum instances: _check_throughput
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


# --- throughput workloads (docs/design.md, "Throughput demand") --------------------------------

# Served and required rates are sums of floats; a relative difference below this is rounding.
RATE_TOLERANCE = 1e-9


def _qualifying_rows(
    workload: Workload, gpu: _GpuView, profile: Profile, problem: Problem
) -> list[PerformanceRow]:
    """The table's rows a throughput workload may run on this instance, by the rule read from
    the design, not from the planner's code: same model, GPU model and profile; latency at most
    the objective (rows without a latency always qualify); memory (the row's, else the
    workload's), compute, media and allowed GPU models fit."""
    assert gpu.model is not None
    key = workload.model or workload.name
    if workload.gpu_models is not None and gpu.model_key not in workload.gpu_models:
        return []
    if profile.compute_slices < workload.compute_slices:
        return []
    if workload.media and not profile_carries_media(gpu.model, profile):
        return []
    found = []
    for row in problem.performance:
        if (row.model, row.gpu_model, row.profile) != (key, gpu.model_key, profile.name):
            continue
        if (
            workload.latency_ms is not None
            and row.latency_ms is not None
            and row.latency_ms > workload.latency_ms
        ):
            continue
        memory_gb = row.memory_gb if row.memory_gb is not None else workload.memory_gb
        if profile.memory_mib + MEMORY_TOLERANCE_MIB < memory_gb * 1024:
            continue
        found.append(row)
    return found


def _check_throughput(plan: Plan, gpus: list[_GpuView], problem: Problem) -> list[str]:
    """Each throughput instance runs the best qualifying configuration and says so; every
    throughput workload is served its rate with at least `replicas` instances, or is listed
    unplaced with the unserved rate; count workloads' instances carry no configuration."""
    workloads = {w.name: w for w in problem.workloads}
    violations: list[str] = []
    served: dict[str, float] = defaultdict(float)
    instances: Counter[str] = Counter()
    for gpu in gpus:
        profiles = {p.name: p for p in gpu.model.profiles} if gpu.model is not None else {}
        for instance in gpu.entry.instances:
            where = f"{gpu.label}: {_instance_label(instance)}"
            workload = workloads.get(instance.workload) if instance.workload else None
            stated = (instance.batch_size, instance.processes, instance.throughput_rps)
            if workload is None or not workload.is_throughput:
                if any(value is not None for value in stated):
                    violations.append(
                        f"{where}: carries a configuration (batch_size, processes, "
                        f"throughput_rps = {stated}) but hosts no throughput workload"
                    )
                continue
            profile = profiles.get(instance.profile)
            if profile is None:
                continue  # reported by the layout check
            rows = _qualifying_rows(workload, gpu, profile, problem)
            instances[workload.name] += 1
            if not rows:
                violations.append(
                    f"{where}: hosts throughput workload {workload.name}, but no measured "
                    f"configuration of '{workload.model or workload.name}' qualifies on "
                    f"{gpu.model_key} {profile.name}"
                )
                continue
            best = max(row.throughput_rps for row in rows)
            served[workload.name] += best
            if instance.throughput_rps is None or not math.isclose(
                instance.throughput_rps, best, rel_tol=RATE_TOLERANCE
            ):
                violations.append(
                    f"{where}: states throughput_rps {instance.throughput_rps} for "
                    f"{workload.name}; the best qualifying configuration serves {best:g}"
                )
            elif not any(
                row.throughput_rps == best
                and row.batch_size == instance.batch_size
                and row.processes == instance.processes
                for row in rows
            ):
                violations.append(
                    f"{where}: batch_size {instance.batch_size} and processes "
                    f"{instance.processes} are not those of a best qualifying configuration"
                )
    listed = {entry.workload: entry for entry in plan.unplaced}
    for workload in problem.workloads:
        if workload.requests_per_second is None:
            continue
        required = workload.requests_per_second
        got = served.get(workload.name, 0.0)
        count = instances.get(workload.name, 0)
        full = got >= required * (1 - RATE_TOLERANCE) and count >= workload.replicas
        entry = listed.get(workload.name)
        what = (
            f"{workload.name}: serves {got:g} of {required:g} requests/s with {count} "
            f"instance(s) (at least {workload.replicas})"
        )
        if not full and entry is None:
            violations.append(f"{what}, but is not listed as unplaced")
        elif full and entry is not None:
            violations.append(f"{what}: fully served, yet listed as unplaced")
        elif entry is not None and entry.requests_per_second is not None:
            short = max(0.0, required - got)
            if not math.isclose(entry.requests_per_second, short, rel_tol=1e-6, abs_tol=1e-6):
                violations.append(
                    f"unplaced: {workload.name} states {entry.requests_per_second:g} requests/s "
                    f"unserved; the plan leaves {short:g} unserved"
                )
    if plan.summary is not None:
        for row in plan.summary.throughput:
            expected = served.get(row.workload, 0.0)
            if not math.isclose(row.served_rps, expected, rel_tol=1e-6, abs_tol=1e-6):
                violations.append(
                    f"summary.throughput: {row.workload} served_rps is {row.served_rps:g}, but "
                    f"its instances serve {expected:g}"
                )
    return violations


# --- re-planning from the running fleet (docs/design.md, "The running fleet") -------------------
#
# The definitions, restated here on purpose (the planner's own code is not trusted):
# - a GPU hosting at least one running replica now is *kept* when the plan gives it exactly the
#   same set of (profile, start), *re-carved* when it gives it another non-empty set, *released*
#   when the plan leaves it empty; a GPU hosting nothing now that the plan carves is *new*;
# - a replica runs now when its workload is still asked for and its replica index exists;
# - a GPU compared by counts (`compare: counts`: imported from a mig-parted config, starts
#   unknown) is kept when the plan gives it the same profile counts (`_counted_as_planned`);
# - moved replicas of a workload = its replicas placed by the plan minus the multiset
#   intersection of its instance slots (pool, index, profile, start) now and in the plan,
#   counted on kept GPUs only (a re-carved or released GPU restarts everything on it).


def _running_now(instance: PlanInstance, problem: Problem) -> bool:
    workloads = {w.name: w for w in problem.workloads}
    workload = workloads.get(instance.workload or "")
    return (
        workload is not None
        and instance.replica is not None
        and (workload.is_throughput or instance.replica < workload.replicas)
    )


def _only_running(current: list[PlanGpu], problem: Problem) -> list[PlanGpu]:
    """The running fleet with every replica that is not running now (`_running_now`: its
    workload is gone or it is beyond the replica count) read as a free instance, before
    anything else looks at it: a GPU hosting only such replicas hosts nothing."""
    result: list[PlanGpu] = []
    for gpu in current:
        instances = [
            i
            if i.workload is None or _running_now(i, problem)
            else i.model_copy(update={"workload": None, "replica": None})
            for i in gpu.instances
        ]
        result.append(gpu.model_copy(update={"instances": instances}))
    return result


def _counted_as_planned(current: list[PlanGpu], planned: list[PlanGpu]) -> list[PlanGpu]:
    """A current GPU whose starts are unknown (`compare: counts`, from a mig-parted config) is
    the same GPU to mig-parted when the plan gives it the same profile counts: it is then read
    as carrying the plan's layout, each running replica on a planned instance of its profile
    (one of its own workload's when there is one), so the slot definitions above apply."""
    after = {(gpu.pool, gpu.index): gpu for gpu in planned}
    result: list[PlanGpu] = []
    for gpu in current:
        target = after.get((gpu.pool, gpu.index))
        same_counts = target is not None and sorted(i.profile for i in gpu.instances) == sorted(
            i.profile for i in target.instances
        )
        if gpu.compare != "counts" or not same_counts:
            result.append(gpu)
            continue
        assert target is not None
        unused = list(target.instances)
        placed: list[PlanInstance] = []
        for instance in sorted(gpu.instances, key=lambda i: i.workload is None):
            candidates = [u for u in unused if u.profile == instance.profile]
            own = [u for u in candidates if u.workload == instance.workload]
            chosen = own[0] if own and instance.workload is not None else candidates[0]
            unused.remove(chosen)
            placed.append(instance.model_copy(update={"start": chosen.start}))
        result.append(gpu.model_copy(update={"instances": placed}))
    return result


def gpu_changes(
    current: list[PlanGpu], planned: list[PlanGpu], problem: Problem
) -> dict[tuple[str, int], str]:
    """(pool, index) -> kept | re-carved | released | new, by the definitions above."""
    current = _counted_as_planned(_only_running(current, problem), planned)
    now = {(gpu.pool, gpu.index): gpu for gpu in current}
    after = {(gpu.pool, gpu.index): gpu for gpu in planned if gpu.instances}
    states: dict[tuple[str, int], str] = {}
    for key, gpu in now.items():
        if not any(_running_now(i, problem) for i in gpu.instances):
            continue
        if key not in after:
            states[key] = "released"
        elif _slot_set(after[key]) == _slot_set(gpu):
            states[key] = "kept"
        else:
            states[key] = "re-carved"
    for key in after:
        states.setdefault(key, "new")
    return states


def _slot_set(gpu: PlanGpu) -> set[tuple[str, int]]:
    return {(i.profile, i.start) for i in gpu.instances}


def moved_by_workload(
    current: list[PlanGpu], planned: list[PlanGpu], problem: Problem
) -> dict[str, int]:
    """Per workload placed by the plan, its moved replicas (definitions above)."""
    current = _counted_as_planned(_only_running(current, problem), planned)
    states = gpu_changes(current, planned, problem)
    now = {(gpu.pool, gpu.index): gpu for gpu in current}
    placed: Counter[str] = Counter()
    both: Counter[str] = Counter()
    for gpu in planned:
        hosted_after = Counter(
            (i.workload, i.profile, i.start) for i in gpu.instances if i.workload is not None
        )
        placed.update(i.workload for i in gpu.instances if i.workload is not None)
        if states.get((gpu.pool, gpu.index)) != "kept":
            continue
        hosted_now = Counter(
            (i.workload, i.profile, i.start)
            for i in now[gpu.pool, gpu.index].instances
            if _running_now(i, problem)
        )
        for (workload, _, _), count in (hosted_now & hosted_after).items():
            both[workload] += count
    return {name: placed[name] - both[name] for name in placed}


def _current_cost(current: list[PlanGpu], problem: Problem) -> float:
    prices = {pool.pool: pool.cost_per_hour for pool in problem.pools}
    return sum(prices.get(gpu.pool, 0.0) for gpu in current if gpu.instances)


def _check_transition(
    plan: Plan,
    problem: Problem,
    current: list[PlanGpu],
    max_recarve: int | None,
    max_moves: int | None,
) -> list[str]:
    """The plan's transition against the definitions recomputed from `current`, and the budgets."""
    transition = plan.transition
    if transition is None:
        return ["the plan was made from a current state but has no transition"]
    violations: list[str] = []
    states = gpu_changes(current, plan.gpus, problem)
    counts = Counter(states.values())
    stated_counts = {
        "kept": transition.kept,
        "re-carved": transition.recarved,
        "released": transition.released,
        "new": transition.new,
    }
    for state, stated in stated_counts.items():
        if stated != counts[state]:
            violations.append(
                f"transition: {stated} GPU(s) {state}, but {counts[state]} are by the definitions"
            )
    stated_states = {(s.pool, s.index): s.state for s in transition.gpu_states}
    for key in sorted(set(states) | set(stated_states)):
        if stated_states and stated_states.get(key) != states.get(key):
            violations.append(
                f"transition: GPU {key[0]}#{key[1]} is listed as {stated_states.get(key)}, "
                f"but it is {states.get(key)} by the definitions"
            )
    moved = moved_by_workload(current, plan.gpus, problem)
    total = sum(moved.values())
    if transition.moved_replicas != total:
        violations.append(
            f"transition: {transition.moved_replicas} replica(s) moved, but {total} are by the "
            "definitions"
        )
    stated_moved = {name: n for name, n in transition.moved_by_workload.items() if n}
    if stated_moved != {name: n for name, n in moved.items() if n}:
        wrong = sorted(
            name
            for name in set(stated_moved) | set(moved)
            if stated_moved.get(name, 0) != moved.get(name, 0)
        )
        violations.append(f"transition: moved replicas per workload differ for {', '.join(wrong)}")
    cost_now = _current_cost(current, problem)
    if not _costs_agree(transition.current_cost_per_hour, cost_now):
        violations.append(
            f"transition: current_cost_per_hour is {transition.current_cost_per_hour:g}, but the "
            f"GPUs carved now cost {cost_now:g} per hour"
        )
    recarve_limit = max_recarve if max_recarve is not None else transition.max_recarve
    moves_limit = max_moves if max_moves is not None else transition.max_moves
    if recarve_limit is not None and counts["re-carved"] > recarve_limit:
        violations.append(
            f"{counts['re-carved']} GPU(s) re-carved, over the budget of {recarve_limit}"
        )
    if moves_limit is not None and total > moves_limit:
        violations.append(f"{total} replica(s) moved, over the budget of {moves_limit}")
    return violations


# --- rollout replay (docs/design.md, "The running fleet") ---------------------------------------


def validate_rollout(plan: Plan, current: list[PlanGpu], problem: Problem) -> list[str]:
    """Replay the plan's rollout waves on the running fleet; every way they break (empty = sound).

    Each wave runs its phases in order: starts marked before the drain, the stops, the relabel of
    its GPUs, the other starts. A start needs its instance carved on its GPU at that moment and
    free (no instance hosts two replicas); a stop needs the workload running there; a GPU may
    only be relabelled when it hosts no replica. After the drain every workload must run at least
    its floor, min(replicas - max_unavailable, running now, placed by the plan), unless the
    transition reports that dip exactly. At the end the fleet must be the plan. Replicas not
    running now (`_running_now`) are free instances from the start, as in the definitions.
    """
    transition = plan.transition
    if transition is None:
        return []
    current = _counted_as_planned(_only_running(current, problem), plan.gpus)
    violations: list[str] = []
    layouts: dict[tuple[str, int], set[tuple[str, int]]] = {
        (gpu.pool, gpu.index): {(i.profile, i.start) for i in gpu.instances} for gpu in current
    }
    running: dict[tuple[str, int, str, int], str] = {
        (gpu.pool, gpu.index, i.profile, i.start): i.workload
        for gpu in current
        for i in gpu.instances
        if i.workload is not None
    }
    planned: dict[tuple[str, int, str, int], str] = {
        (gpu.pool, gpu.index, i.profile, i.start): i.workload
        for gpu in plan.gpus
        for i in gpu.instances
        if i.workload is not None
    }
    alive: Counter[str] = Counter(running.values())
    now, after = Counter(running.values()), Counter(planned.values())
    floors = {
        w.name: max(
            0, min(w.replicas - getattr(w, "max_unavailable", 1), now[w.name], after[w.name])
        )
        for w in problem.workloads
    }
    waves = transition.waves
    violations += _check_wave_shapes(waves, transition.wave_size)
    starts, stops, schedule_violations = _rollout_schedule(waves)
    violations += schedule_violations
    below: dict[str, list[tuple[int, int]]] = defaultdict(list)

    def start(wave: int, workload: str, slot: tuple[str, int, str, int]) -> None:
        where = f"wave {wave}: {workload} start on GPU {slot[0]}#{slot[1]} {slot[2]}@{slot[3]}"
        if (slot[2], slot[3]) not in layouts.get(slot[:2], set()):
            violations.append(f"{where}: no such instance is carved at that moment")
        elif slot in running:
            violations.append(f"{where}: the instance already runs {running[slot]} (double-booked)")
        else:
            running[slot] = workload
            alive[workload] += 1

    for wave in waves:
        for workload, slot in starts[(wave.index, True)]:
            start(wave.index, workload, slot)
        for workload, slot in stops[wave.index]:
            if running.get(slot) != workload:
                violations.append(
                    f"wave {wave.index}: {workload} stop on GPU {slot[0]}#{slot[1]} "
                    f"{slot[2]}@{slot[3]}, which runs {running.get(slot) or 'nothing'}"
                )
                continue
            del running[slot]
            alive[workload] -= 1
        for name, floor in floors.items():
            if alive[name] < floor:
                below[name].append((wave.index, alive[name]))
        for name, stated in wave.lowest_running.items():
            if stated != alive[name]:
                violations.append(
                    f"wave {wave.index}: {name} is stated to run {stated} replica(s) after the "
                    f"drain, but runs {alive[name]}"
                )
        for change in wave.gpus:
            key = (change.pool, change.index)
            busy = sorted(
                f"{p}@{s}" for (p, s) in layouts.get(key, set()) if (*key, p, s) in running
            )
            if busy:
                violations.append(
                    f"wave {wave.index}: GPU {key[0]}#{key[1]} is relabelled while its instances "
                    f"{', '.join(busy)} run replicas"
                )
            layouts[key] = {(i.profile, i.start) for i in change.instances}
        for workload, slot in starts[(wave.index, False)]:
            start(wave.index, workload, slot)
    violations += _check_rollout_end(plan, layouts, running, planned)
    violations += _check_reported_dips(transition.dips, floors, below)
    return violations


def _check_wave_shapes(waves: list, wave_size: int) -> list[str]:
    violations: list[str] = []
    for position, wave in enumerate(waves, start=1):
        if wave.index != position:
            violations.append(f"wave {wave.index} is listed in position {position}")
        if len(wave.nodes) > wave_size:
            violations.append(
                f"wave {wave.index} relabels {len(wave.nodes)} nodes, over the wave size "
                f"{wave_size}"
            )
        for change in wave.gpus:
            if change.node not in wave.nodes:
                violations.append(
                    f"wave {wave.index}: GPU {change.pool}#{change.index} is on node "
                    f"{change.node}, which the wave does not relabel"
                )
        for node in wave.nodes:
            if node not in wave.node_configs:
                violations.append(f"wave {wave.index}: node {node} has no config to label it with")
    return violations


def _rollout_schedule(waves: list) -> tuple[dict, dict, list[str]]:
    """Starts keyed by (wave, before the drain) and stops keyed by wave, from every move."""
    starts: dict[tuple[int, bool], list] = defaultdict(list)
    stops: dict[int, list] = defaultdict(list)
    violations: list[str] = []
    last = len(waves)

    def slot_of(instance_slot) -> tuple[str, int, str, int]:
        return (instance_slot.pool, instance_slot.index, instance_slot.profile, instance_slot.start)

    for wave in waves:
        for move in wave.moves:
            what = f"wave {wave.index}: move of {move.workload}"
            if move.from_slot is None and move.to_slot is None:
                violations.append(f"{what} has neither a from nor a to instance")
                continue
            stop_slot = move.to_slot if move.temporary else move.from_slot
            if move.temporary and move.from_slot is not None:
                violations.append(f"{what} is temporary but leaves an instance")
            if move.to_slot is not None:
                if move.start_wave is None or not 1 <= move.start_wave <= last:
                    violations.append(f"{what}: start wave {move.start_wave} is not a wave")
                else:
                    starts[(move.start_wave, move.start_before_drain)].append(
                        (move.workload, slot_of(move.to_slot))
                    )
            if stop_slot is not None:
                if move.stop_wave is None or not 1 <= move.stop_wave <= last:
                    violations.append(f"{what}: stop wave {move.stop_wave} is not a wave")
                else:
                    stops[move.stop_wave].append((move.workload, slot_of(stop_slot)))
    return starts, stops, violations


def _check_rollout_end(plan: Plan, layouts: dict, running: dict, planned: dict) -> list[str]:
    violations: list[str] = []
    for gpu in plan.gpus:
        if not gpu.instances:
            continue
        key = (gpu.pool, gpu.index)
        wanted = {(i.profile, i.start) for i in gpu.instances}
        if layouts.get(key, set()) != wanted:
            violations.append(
                f"after the rollout GPU {key[0]}#{key[1]} is carved "
                f"{sorted(layouts.get(key, set()))}, but the plan carves {sorted(wanted)}"
            )
    for slot in sorted(set(running) | set(planned)):
        if running.get(slot) != planned.get(slot):
            violations.append(
                f"after the rollout GPU {slot[0]}#{slot[1]} {slot[2]}@{slot[3]} runs "
                f"{running.get(slot) or 'nothing'}, but the plan puts "
                f"{planned.get(slot) or 'nothing'} there"
            )
    return violations


def _check_reported_dips(dips: list, floors: dict[str, int], below: dict) -> list[str]:
    violations: list[str] = []
    reported = {dip.workload: dip for dip in dips}
    for name in sorted(set(reported) | set(below)):
        dip = reported.get(name)
        if name not in below:
            violations.append(f"rollout reports a dip of {name}, but it never runs below its floor")
            continue
        lowest = min(count for _, count in below[name])
        waves = sorted({wave for wave, _ in below[name]})
        if dip is None:
            violations.append(
                f"{name} runs {lowest} replica(s) in wave(s) {waves}, below its floor "
                f"{floors[name]}, and the rollout does not report it"
            )
        elif (dip.floor, dip.lowest, dip.by, dip.waves) != (
            floors[name],
            lowest,
            floors[name] - lowest,
            waves,
        ):
            violations.append(
                f"rollout reports {name} at {dip.lowest} of floor {dip.floor} in waves "
                f"{dip.waves}, but it runs {lowest} of floor {floors[name]} in waves {waves}"
            )
    return violations

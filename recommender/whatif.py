"""What the what-if page computes, as pure functions the page only displays.

- Knobs applied to a `Problem`: demand multiplier, per-pool GPU count and price overrides, GPU
  models switched off (their pools get 0 GPUs).
- Editable tables: a `Problem` as the two input tables and back to CSV text.
- An uploaded catalog file (bytes) as a `Catalog`, without reading any path the user names.
- The layout view: every GPU, or identical layouts of a pool grouped with a count, filtered by
  pool, model and workload.
- The plan next to the baselines: cost, GPUs, unplaced replicas and the saving.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from recommender.catalog import Catalog
from recommender.errors import InputError, InputIssue
from recommender.exports import guard_cell
from recommender.layouts import Layout, Placement
from recommender.plan import HOURS_PER_MONTH, GpuChange, Plan, PlanGpu, Transition
from recommender.problem import PerformanceRow, Pool, Problem, Workload
from recommender.reading import load_catalog
from recommender.reading.current import stop_retired
from recommender.reading.performance import MAX_RATE, MIN_RATE
from recommender.rollout import slot_label
from recommender.transition import RELEASED, classify_gpus

MAX_REPLICAS = 1_000_000
MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_DEMAND_MULTIPLIER = 100.0
KNOBS_LABEL = "what-if knobs"
SPARE = "spare"
MIXED = "mixed"


# --- knobs -------------------------------------------------------------------------------------


class PoolOverride(BaseModel):
    """A what-if change to one pool; None keeps the pool's own value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpus: int | None = Field(default=None, ge=0)
    cost_per_hour: float | None = Field(default=None, ge=0)


class Knobs(BaseModel):
    """Every what-if change the page applies on top of the inputs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    demand_multiplier: float = Field(default=1.0, gt=0, le=MAX_DEMAND_MULTIPLIER)
    pool_overrides: dict[str, PoolOverride] = Field(default_factory=dict)
    models_off: tuple[str, ...] = ()
    time_limit_seconds: float = Field(default=10.0, gt=0, le=3600)


def scaled_replicas(replicas: int, multiplier: float) -> int:
    """Replicas after the demand multiplier: rounded up, never below one."""
    # The tolerance absorbs float noise: 10 x 0.3 is 3.0000000000000004 and must stay 3.
    return max(1, math.ceil(replicas * multiplier - 1e-9))


def apply_knobs(problem: Problem, knobs: Knobs, max_replicas: int = MAX_REPLICAS) -> Problem:
    """The problem the knobs describe; raises InputError when it exceeds the replica cap.

    Overrides for pools the problem does not have, and switched-off models no pool uses, are
    ignored: knobs outlive an edit of the fleet.
    """
    workloads = tuple(_scaled_workload(w, knobs.demand_multiplier) for w in problem.workloads)
    issues = _demand_issues(workloads, knobs.demand_multiplier, max_replicas)
    if issues:
        raise InputError(issues)
    off = set(knobs.models_off)
    pools = tuple(
        _apply_pool_knobs(p, knobs.pool_overrides.get(p.pool), off) for p in problem.pools
    )
    # A copy, not a new Problem: the performance table and the node inventory stay.
    return problem.model_copy(update={"workloads": workloads, "pools": pools})


def _scaled_workload(workload: Workload, multiplier: float) -> Workload:
    """A count workload's replicas, or a throughput workload's rate, times the multiplier.

    A throughput workload's `replicas` is its minimum number of instances (an availability
    floor, not demand), so it stays; the rate decides how many instances serve it.
    """
    if workload.requests_per_second is not None:
        return workload.model_copy(
            update={"requests_per_second": workload.requests_per_second * multiplier}
        )
    return workload.model_copy(update={"replicas": scaled_replicas(workload.replicas, multiplier)})


def _demand_issues(
    workloads: Iterable[Workload], multiplier: float, max_replicas: int
) -> list[InputIssue]:
    """What the scaled demand breaks: the page's replica cap and the readers' rate range."""
    workloads = list(workloads)
    issues: list[InputIssue] = []
    total = sum(w.replicas for w in workloads)
    if total > max_replicas:
        message = (
            f"demand multiplier {multiplier:g} makes {total:,} replicas; "
            f"at most {max_replicas:,} are accepted here"
        )
        issues.append(InputIssue(KNOBS_LABEL, None, "demand multiplier", message))
    for w in workloads:
        rate = w.requests_per_second
        if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
            message = (
                f"demand multiplier {multiplier:g} makes {w.name}'s rate {rate:,.4g} requests "
                f"per second (allowed {MIN_RATE:g} to {MAX_RATE:,})"
            )
            issues.append(InputIssue(KNOBS_LABEL, None, "demand multiplier", message))
    return issues


def _apply_pool_knobs(pool: Pool, override: PoolOverride | None, models_off: set[str]) -> Pool:
    update: dict[str, object] = {}
    if override is not None and override.gpus is not None:
        update["gpus"] = override.gpus
    if override is not None and override.cost_per_hour is not None:
        update["cost_per_hour"] = override.cost_per_hour
    if pool.gpu_model in models_off:
        update["gpus"] = 0
    return pool.model_copy(update=update) if update else pool


def overrides_from_table(problem: Problem, table: pd.DataFrame) -> dict[str, PoolOverride]:
    """Overrides from an edited `pool | gpus | cost_per_hour` table: only values that differ.

    Empty or invalid cells (a cleared cell, a negative count) keep the pool's own value.
    """
    by_name = {p.pool: p for p in problem.pools}
    overrides: dict[str, PoolOverride] = {}
    for row in table.to_dict(orient="records"):
        pool = by_name.get(str(row.get("pool")))
        if pool is None:
            continue
        gpus = _whole_number(row.get("gpus"))
        price = _non_negative(row.get("cost_per_hour"))
        override = PoolOverride(
            gpus=gpus if gpus is not None and gpus != pool.gpus else None,
            cost_per_hour=price if price is not None and price != pool.cost_per_hour else None,
        )
        if override.gpus is not None or override.cost_per_hour is not None:
            overrides[pool.pool] = override
    return overrides


def overrides_table(problem: Problem, overrides: Mapping[str, PoolOverride]) -> pd.DataFrame:
    """The pools with the overrides applied, as the page's knob table shows them."""
    rows = []
    for pool in problem.pools:
        override = overrides.get(pool.pool, PoolOverride())
        rows.append(
            {
                "pool": pool.pool,
                "gpu_model": pool.gpu_model,
                "gpus": pool.gpus if override.gpus is None else override.gpus,
                "cost_per_hour": (
                    pool.cost_per_hour if override.cost_per_hour is None else override.cost_per_hour
                ),
            }
        )
    frame = pd.DataFrame(rows, columns=["pool", "gpu_model", "gpus", "cost_per_hour"])
    return frame.astype({"gpus": "Int64", "cost_per_hour": "float64"})


def _whole_number(value: object) -> int | None:
    number = _non_negative(value)
    if number is None or not float(number).is_integer():
        return None
    return int(number)


def _non_negative(value: object) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


# --- editable input tables ---------------------------------------------------------------------

WORKLOAD_TABLE_TYPES = {
    "name": "object",
    "memory_gb": "float64",
    "compute_slices": "Int64",
    "replicas": "Int64",
    "gpu_models": "object",
    "priority": "Int64",
    "media": "boolean",
    "spread": "boolean",
    "max_unavailable": "Int64",
    "requests_per_second": "float64",
    "latency_ms": "float64",
    "model": "object",
}
# The workloads columns only throughput workloads use (the page shows them only then).
THROUGHPUT_TABLE_COLUMNS = ("requests_per_second", "latency_ms", "model")
FLEET_TABLE_TYPES = {
    "pool": "object",
    "gpu_model": "object",
    "gpus": "Int64",
    "cost_per_hour": "float64",
    "gpus_per_node": "Int64",
}
PERFORMANCE_TABLE_TYPES = {
    "model": "object",
    "gpu_model": "object",
    "profile": "object",
    "throughput_rps": "float64",
    "latency_ms": "float64",
    "batch_size": "Int64",
    "processes": "Int64",
    "memory_gb": "float64",
}


def workloads_table(workloads: Iterable[Workload]) -> pd.DataFrame:
    """Workloads as an editable table; every column present, `gpu_models` joined by `|`."""
    rows = [
        {
            "name": w.name,
            "memory_gb": w.memory_gb,
            "compute_slices": w.compute_slices,
            "replicas": w.replicas,
            "gpu_models": "|".join(w.gpu_models) if w.gpu_models else "",
            "priority": w.priority,
            "media": w.media,
            "spread": w.spread,
            "max_unavailable": w.max_unavailable,
            "requests_per_second": w.requests_per_second,
            "latency_ms": w.latency_ms,
            "model": w.model,
        }
        for w in workloads
    ]
    return pd.DataFrame(rows, columns=list(WORKLOAD_TABLE_TYPES)).astype(WORKLOAD_TABLE_TYPES)


def has_throughput_columns(table: pd.DataFrame) -> bool:
    """Whether any row of a workloads table uses a throughput column (the editor shows them)."""
    return bool(table[list(THROUGHPUT_TABLE_COLUMNS)].notna().to_numpy().any())


def performance_table(rows: Iterable[PerformanceRow]) -> pd.DataFrame:
    """The performance table (measured configurations) as an editable table."""
    records = [r.model_dump(exclude={"line"}) for r in rows]
    return pd.DataFrame(records, columns=list(PERFORMANCE_TABLE_TYPES)).astype(
        PERFORMANCE_TABLE_TYPES
    )


def fleet_table(pools: Iterable[Pool]) -> pd.DataFrame:
    """Pools as an editable table."""
    rows = [p.model_dump(exclude={"line"}) for p in pools]
    return pd.DataFrame(rows, columns=list(FLEET_TABLE_TYPES)).astype(FLEET_TABLE_TYPES)


def table_to_csv(table: pd.DataFrame, guard_formulas: bool = False) -> str:
    """CSV text the input readers accept; empty cells stay empty so the readers report them.

    With `guard_formulas`, text cells a spreadsheet would run as a formula get a leading quote
    (for CSVs offered as downloads; the same guard as the plan's CSV export).
    """

    def cell(value: object) -> object:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return guard_cell(value) if guard_formulas else value

    cleaned = table.astype(object).map(cell)
    return cleaned.to_csv(index=False, lineterminator="\n")


# --- catalog upload ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def catalog_from_upload(data: bytes, filename: str) -> Catalog:
    """The built-in catalog extended by an uploaded catalog file (JSON, or YAML by its suffix).

    Read from the bytes (never from a path a user names); messages name the uploaded file.
    Cached by content, so every run of the page and every scenario holding the same file share
    one Catalog object, and with it the per-model layout caches.
    """
    return load_catalog(data, Path(filename).name or "catalog.json")


# --- layout view -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One instance slot of a row of the layout view.

    `hosts` are the workloads it hosts over the GPUs of the row; `spare` how many of those GPUs
    leave it unused.
    """

    start: int
    span: int
    profile: str
    hosts: tuple[str, ...]
    spare: int

    @property
    def category(self) -> str:
        """What the block is coloured by: its workload, `spare`, or `mixed`."""
        if not self.hosts:
            return SPARE
        if len(self.hosts) == 1 and self.spare == 0:
            return self.hosts[0]
        return MIXED

    @property
    def caption(self) -> str:
        if not self.hosts:
            return SPARE
        named = self.hosts[0] if len(self.hosts) == 1 else f"{len(self.hosts)} workloads"
        return f"{named} + {self.spare} spare" if self.spare else named


@dataclass(frozen=True)
class LayoutRow:
    """One row of the layout view: one GPU, or `count` GPUs of a pool with the same layout."""

    pool: str
    gpu_model: str
    indices: tuple[int, ...]
    units: int
    layout: str
    blocks: tuple[Block, ...]
    # With a current state: what the re-plan does to the GPU(s) of the row ("kept", "re-carved",
    # "new", "released"); None for a plan made from an empty fleet.
    state: str | None = None

    @property
    def count(self) -> int:
        return len(self.indices)

    @property
    def label(self) -> str:
        if self.count == 1:
            return f"{self.pool} #{self.indices[0]}"
        # Short (the layout itself is the row's blocks, and in the tooltip), and unique: no two
        # groups share their first GPU.
        return f"{self.pool}: {self.count} GPUs from #{self.indices[0]}"


def filter_gpus(
    plan: Plan,
    pools: Iterable[str] | None = None,
    models: Iterable[str] | None = None,
    workloads: Iterable[str] | None = None,
) -> list[PlanGpu]:
    """GPUs with instances that match every given filter (None or empty: no filter).

    A GPU matches the workload filter when it hosts at least one of the workloads.
    """
    pool_set, model_set, workload_set = set(pools or ()), set(models or ()), set(workloads or ())
    return [
        gpu
        for gpu in plan.gpus
        if gpu.instances
        and (not pool_set or gpu.pool in pool_set)
        and (not model_set or gpu.gpu_model in model_set)
        and (not workload_set or any(i.workload in workload_set for i in gpu.instances))
    ]


def layout_rows(
    gpus: Iterable[PlanGpu],
    catalog: Catalog,
    group: bool,
    states: Mapping[tuple[str, int], str] | None = None,
) -> list[LayoutRow]:
    """Rows of the layout view; with `group`, GPUs of a pool with the same instances (profile
    and start) share one row, largest groups first within a pool. With `states` (GPU ->
    kept / re-carved / new / released), each row carries its GPUs' state and a group holds GPUs
    of one state only."""
    states = states or {}
    groups: dict[tuple[str, str, tuple[tuple[int, str], ...], str | None], list[PlanGpu]] = (
        defaultdict(list)
    )
    ordered: list[list[PlanGpu]] = []
    for gpu in gpus:
        if not group:
            ordered.append([gpu])
            continue
        shape = tuple(sorted((i.start, i.profile) for i in gpu.instances))
        groups[(gpu.pool, gpu.gpu_model, shape, states.get((gpu.pool, gpu.index)))].append(gpu)
    if group:
        pool_order: dict[str, int] = {}
        for pool, _model, _shape, _state in groups:
            pool_order.setdefault(pool, len(pool_order))
        ordered = sorted(groups.values(), key=lambda g: (pool_order[g[0].pool], -len(g)))
    return [
        _row(members, catalog, states.get((members[0].pool, members[0].index)))
        for members in ordered
    ]


def gpu_states(
    plan: Plan, problem: Problem, current: list[PlanGpu] | None = None
) -> dict[tuple[str, int], str]:
    """What a re-plan does to each GPU it touches or carves: the plan's own record (its
    transition), else the definitions applied to `current` (replicas the problem no longer asks
    for already stopped, as every re-plan counts them); empty for a fresh plan."""
    transition = plan.transition
    if transition is not None and transition.gpu_states:
        return {(s.pool, s.index): s.state for s in transition.gpu_states}
    if current is None:
        return {}
    return classify_gpus(stop_retired(current, problem), plan.gpus)


def released_gpus(
    states: Mapping[tuple[str, int], str],
    problem: Problem,
    pools: Iterable[str] | None = None,
    models: Iterable[str] | None = None,
) -> list[PlanGpu]:
    """The GPUs a re-plan releases (they host replicas now and nothing after), as empty GPUs the
    layout view can draw, filtered by pool and model like `filter_gpus` (None or empty: all)."""
    pool_set, model_set = set(pools or ()), set(models or ())
    by_name = {p.pool: p for p in problem.pools}
    released = []
    for (pool, index), state in sorted(states.items()):
        known = by_name.get(pool)
        if state != RELEASED or known is None:
            continue
        if (pool_set and pool not in pool_set) or (model_set and known.gpu_model not in model_set):
            continue
        released.append(PlanGpu(pool=pool, index=index, gpu_model=known.gpu_model, instances=[]))
    return released


def _row(members: list[PlanGpu], catalog: Catalog, state: str | None = None) -> LayoutRow:
    first = members[0]
    model = catalog.model(first.gpu_model)
    hosts: dict[tuple[int, str], set[str]] = defaultdict(set)
    spare: dict[tuple[int, str], int] = defaultdict(int)
    for gpu in members:
        for inst in gpu.instances:
            if inst.workload is None:
                spare[(inst.start, inst.profile)] += 1
            else:
                hosts[(inst.start, inst.profile)].add(inst.workload)
    slots = sorted({(i.start, i.profile) for i in first.instances})
    blocks = tuple(
        Block(
            start=start,
            span=model.profile(profile).span,
            profile=profile,
            hosts=tuple(sorted(hosts[(start, profile)])),
            spare=spare[(start, profile)],
        )
        for start, profile in slots
    )
    layout = Layout(tuple(Placement(start, profile) for start, profile in slots))
    return LayoutRow(
        pool=first.pool,
        gpu_model=first.gpu_model,
        indices=tuple(sorted(g.index for g in members)),
        units=model.placement_units,
        layout=layout.label(model),
        blocks=blocks,
        state=state,
    )


# --- plan against baselines --------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineComparison:
    """The plan against one baseline: what each places and costs, and the saving only when it
    means something (`saving_per_hour` None otherwise, with `note` saying why)."""

    cost_per_hour: float
    placed: int
    plan_placed: int
    saving_per_hour: float | None
    saving_percent: float | None
    note: str

    @property
    def like_for_like(self) -> bool:
        """Both place the same replicas: the saving is the whole story."""
        return self.placed == self.plan_placed


def placed_replicas(plan: Plan) -> int:
    """Replicas a plan places (instances hosting a workload)."""
    return sum(1 for g in plan.gpus for i in g.instances if i.workload is not None)


def compare_to_baseline(plan: Plan, baseline: Plan) -> BaselineComparison:
    """The saving of `plan` against `baseline`, like for like: a baseline that places fewer
    replicas and costs less is not cheaper, it does less, so no saving is stated then."""
    placed, plan_placed = placed_replicas(baseline), placed_replicas(plan)
    saving = baseline.cost_per_hour - plan.cost_per_hour
    fewer = plan_placed - placed
    count = f"{abs(fewer):,} {'fewer' if fewer > 0 else 'more'} replica{'s' * (abs(fewer) != 1)}"
    if fewer == 0:
        note = "places the same replicas"
    elif fewer > 0 and saving > 0:
        note = f"places {count} and still costs more: the optimized plan saves at least this"
    elif fewer > 0 and saving == 0:
        note = f"places {count} for the same cost"
    else:
        note = f"places {count}: the costs are not like for like"
        saving = math.nan
    comparable = not math.isnan(saving)
    percent = (
        saving / baseline.cost_per_hour * 100 if comparable and baseline.cost_per_hour > 0 else None
    )
    return BaselineComparison(
        cost_per_hour=baseline.cost_per_hour,
        placed=placed,
        plan_placed=plan_placed,
        saving_per_hour=saving if comparable else None,
        saving_percent=percent,
        note=note,
    )


def baseline_comparison(plan: Plan, baselines: Mapping[str, Plan]) -> pd.DataFrame:
    """One row for the plan and one per baseline, with the plan's saving against each where
    it is like for like (NaN, and a note, where it is not)."""
    rows = [_comparison_row("Optimized plan", plan, None)]
    rows += [
        _comparison_row(name, base, compare_to_baseline(plan, base))
        for name, base in baselines.items()
    ]
    return pd.DataFrame(rows)


def _comparison_row(
    name: str, candidate: Plan, comparison: BaselineComparison | None
) -> dict[str, object]:
    def number(value: float | None, digits: int) -> float:
        return math.nan if value is None else round(value, digits)

    return {
        "planner": name,
        "cost_per_hour": round(candidate.cost_per_hour, 4),
        "cost_per_month": round(candidate.cost_per_hour * HOURS_PER_MONTH, 2),
        "gpus_used": sum(1 for g in candidate.gpus if g.instances),
        "replicas_placed": placed_replicas(candidate),
        "replicas_unplaced": sum(u.replicas for u in candidate.unplaced),
        "plan_saves_per_hour": number(comparison and comparison.saving_per_hour, 4),
        "plan_saves_percent": number(comparison and comparison.saving_percent, 1),
        "note": comparison.note if comparison else "",
    }


# --- re-plan from a running fleet --------------------------------------------------------------

WAVE_TABLE_COLUMNS = (
    "wave",
    "kind",
    "nodes",
    "gpus_recarved",
    "gpus_released",
    "gpus_carved",
    "moves",
    "lowest_running",
)
MOVE_TABLE_COLUMNS = ("wave", "workload", "from", "to", "when")
CARVED_CHANGES = ("new", "temporary", "restored")


def _gpu_list(changes: Iterable[GpuChange]) -> str:
    return ", ".join(f"{c.pool}#{c.index}" for c in changes)


def wave_table(transition: Transition) -> pd.DataFrame:
    """One row per rollout wave: its nodes, the GPUs it re-carves, releases or carves (idle GPUs
    carved new, or temporarily to keep a floor), how many replica moves it holds and the lowest
    running count of each workload it touches (`name: n`)."""
    rows = []
    for wave in transition.waves:
        by_change: dict[str, list[GpuChange]] = defaultdict(list)
        for change in wave.gpus:
            by_change[change.change].append(change)
        rows.append(
            {
                "wave": wave.index,
                "kind": wave.kind,
                "nodes": ", ".join(wave.nodes),
                "gpus_recarved": _gpu_list(by_change["re-carved"]),
                "gpus_released": _gpu_list(by_change["released"]),
                "gpus_carved": _gpu_list(c for k in CARVED_CHANGES for c in by_change[k]),
                "moves": len(wave.moves),
                "lowest_running": ", ".join(
                    f"{name}: {n}" for name, n in sorted(wave.lowest_running.items())
                ),
            }
        )
    return pd.DataFrame(rows, columns=list(WAVE_TABLE_COLUMNS))


def move_table(transition: Transition) -> pd.DataFrame:
    """Every replica move of the rollout, wave by wave: from which instance to which, and when
    its new replica starts (before the wave's drain: make-before-break; or after the relabel)."""
    rows = []
    for wave in transition.waves:
        for move in wave.moves:
            if move.to_slot is None:
                when = "stopped"
            elif move.temporary:
                when = f"temporary, waves {move.start_wave} to {move.stop_wave}"
            elif move.start_before_drain:
                when = f"started in wave {move.start_wave} before the drain"
            else:
                when = f"started in wave {move.start_wave} after the relabel"
            rows.append(
                {
                    "wave": wave.index,
                    "workload": move.workload,
                    "from": slot_label(move.from_slot) or "new replica",
                    "to": slot_label(move.to_slot) or "stopped",
                    "when": when,
                }
            )
    return pd.DataFrame(rows, columns=list(MOVE_TABLE_COLUMNS))


def dip_table(transition: Transition) -> pd.DataFrame:
    """Workloads no wave order keeps at their floor (replicas - max_unavailable): how far below
    it they go and in which waves."""
    rows = [
        {
            "workload": dip.workload,
            "floor": dip.floor,
            "lowest": dip.lowest,
            "below_by": dip.by,
            "waves": ", ".join(str(w) for w in dip.waves),
        }
        for dip in transition.dips
    ]
    return pd.DataFrame(rows, columns=["workload", "floor", "lowest", "below_by", "waves"])


def extra_gpus_text(transition: Transition) -> str:
    """The fewest extra idle GPUs found that avoid every dip, in words ("" when none)."""
    extra = {pool: n for pool, n in transition.extra_gpus_needed.items() if n}
    if not extra:
        return ""
    parts = [f"{n:,} in {pool}" for pool, n in sorted(extra.items())]
    total = sum(extra.values())
    gpus = "GPU" if total == 1 else "GPUs"
    return f"{total:,} extra idle {gpus} ({', '.join(parts)}) would keep every floor."


# --- throughput demand -------------------------------------------------------------------------

THROUGHPUT_TABLE_COLUMNS_SHOWN = (
    "workload",
    "model",
    "required_rps",
    "served_rps",
    "served_share",
    "latency_ms",
    "instances",
    "profile_mix",
)


def profile_mix_text(profiles: Mapping[str, int]) -> str:
    """`3 x 1g.10gb + 1 x 7g.80gb`, largest count first ("" when no instance)."""
    ordered = sorted(profiles.items(), key=lambda item: (-item[1], item[0]))
    return " + ".join(f"{n} x {profile}" for profile, n in ordered if n)


def throughput_table(plan: Plan) -> pd.DataFrame:
    """Per throughput workload: required and served rate (requests per second), the share of the
    rate served, the latency objective, instances and the chosen profile mix."""
    served = plan.summary.throughput if plan.summary is not None else []
    rows = [
        {
            "workload": t.workload,
            "model": t.model,
            "required_rps": t.required_rps,
            "served_rps": t.served_rps,
            "served_share": t.served_rps / t.required_rps if t.required_rps else math.nan,
            "latency_ms": t.latency_ms,
            "instances": t.instances,
            "profile_mix": profile_mix_text(t.profiles),
        }
        for t in served
    ]
    frame = pd.DataFrame(rows, columns=list(THROUGHPUT_TABLE_COLUMNS_SHOWN))
    return frame.astype({"latency_ms": "float64", "served_share": "float64"})


def profile_mix_frame(plan: Plan) -> pd.DataFrame:
    """Instances per (throughput workload, profile): the long table the profile-mix chart
    draws."""
    served = plan.summary.throughput if plan.summary is not None else []
    rows = [
        {"workload": t.workload, "profile": profile, "instances": n}
        for t in served
        for profile, n in sorted(t.profiles.items())
        if n
    ]
    return pd.DataFrame(rows, columns=["workload", "profile", "instances"])


def rate_served_share(plan: Plan) -> float | None:
    """The share of all throughput workloads' required rate a plan serves (each workload counted
    up to its rate), or None when the plan has no throughput workload. For rate workloads the
    replica counts of two plans differ by design (instances are sized); this is what compares."""
    served = plan.summary.throughput if plan.summary is not None else []
    required = sum(t.required_rps for t in served)
    if not served or required <= 0:
        return None
    return sum(min(t.served_rps, t.required_rps) for t in served) / required

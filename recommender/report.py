"""The text the `mig-recommender` CLI prints: plan summary, progress line, catalog tables.

Pure functions from plans, catalogs and solver progress to text, kept apart from argument
parsing and file writing (`cli.py`) so they can be read and tested on hand-made plans.
Profiles are listed in the one largest-first order of `rules.py`, the order the page and the
exports use too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from recommender import rules
from recommender.catalog import Catalog, GpuModel, Profile
from recommender.exports import EXPORTS
from recommender.layouts import find_layout
from recommender.plan import HOURS_PER_MONTH, Plan
from recommender.problem import Problem

if TYPE_CHECKING:  # only types here: the text does not need the solver loaded
    from recommender.frontier import Frontier
    from recommender.solve import Progress

PROG = "mig-recommender"


def format_table(headers: list[str], rows: list[list[str]], indent: int = 0) -> list[str]:
    """Left-aligned text columns; the last column is not padded (it may be long)."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    prefix = " " * indent
    lines = []
    for row in [headers, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append((prefix + "  ".join([*cells, str(row[-1])])).rstrip())
    return lines


def _money(value: float) -> str:
    return f"${value:,.2f}"


# Below this the gap is float noise of a proven optimum, not a gap.
GAP_NOISE = 1e-9
SMALLEST_SHOWN_GAP = 0.0001


def format_gap(gap: float | None) -> str:
    """The relative gap between cost and proven bound as people read it, in the CLI and on the
    page alike: two decimals (`0.02%`), `<0.01%` for a gap too small for them (never a
    misleading `0.00%`), `0.00%` only when there is none, `n/a` without a bound."""
    if gap is None:
        return "n/a"
    if gap <= GAP_NOISE:
        return "0.00%"
    if gap < SMALLEST_SHOWN_GAP:
        return "<0.01%"
    return f"{gap:.2%}"


# --- solver progress ---------------------------------------------------------------------------


def format_progress(progress: Progress | None, elapsed: float) -> str:
    """One progress line: elapsed time, stage, placed replicas, best cost and bound so far."""
    parts = [f"{elapsed:6.1f}s"]
    if progress is None:
        parts.append("building the model")
        return "  ".join(parts)
    parts.append(f"{progress.stage:<9}")
    if progress.placed_replicas is not None:
        parts.append(f"placed {progress.placed_replicas}/{progress.total_replicas}")
    if progress.cost_per_hour is not None:
        parts.append(f"best {_money(progress.cost_per_hour)}/h")
    if progress.lower_bound_per_hour is not None:
        parts.append(f"bound {_money(progress.lower_bound_per_hour)}/h")
    return "  ".join(parts)


# --- plan summary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunTiming:
    """Where a CLI run's time limit went: reading the inputs, solving, writing the files."""

    limit: float
    reading: float
    solving: float
    writing: float

    @property
    def total(self) -> float:
        return self.reading + self.solving + self.writing

    def text(self) -> str:
        """`19.6 s of 20 s limit (reading 4.8 s, solving 13.2 s, writing 1.6 s)`."""
        return (
            f"{self.total:.1f} s of {self.limit:g} s limit (reading {self.reading:.1f} s, "
            f"solving {self.solving:.1f} s, writing {self.writing:.1f} s)"
        )


def format_plan_summary(
    plan: Plan, problem: Problem, catalog: Catalog, timing: RunTiming | None = None
) -> str:
    """The readable report of a plan: cost, bound, GPUs per pool, layouts, unplaced, solver.

    With `timing` (the CLI's run) the solver line says where the whole time limit went."""
    sections = [
        _status_lines(plan),
        transition_lines(plan),
        _pool_lines(plan),
        _layout_lines(plan, problem, catalog),
        _throughput_lines(plan),
        _unplaced_lines(plan),
        _solver_lines(plan, timing),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections if lines)


def _status_lines(plan: Plan) -> list[str]:
    summary = plan.summary
    lines = [f"status:        {plan.status}"]
    lines.append(
        f"cost:          {_money(plan.cost_per_hour)}/h  "
        f"({_money(plan.cost_per_hour * HOURS_PER_MONTH)}/month at {HOURS_PER_MONTH} h)"
    )
    gap = format_gap(summary.gap if summary is not None else None)
    lines.append(f"lower bound:   {_money(plan.lower_bound_per_hour)}/h  (gap {gap})")
    if summary is None:
        return lines
    lines.append(f"replicas:      {summary.replicas_placed} of {summary.replicas_total} placed")
    lines.append(
        f"utilization:   compute {summary.compute_utilization:.1%}, "
        f"memory {summary.memory_utilization:.1%} (of the GPUs used)"
    )
    lines.append(
        f"spare:         {summary.spare_instances} spare instances, "
        f"{summary.stranded_units} axis units hosting no replica"
    )
    return lines


def transition_lines(plan: Plan) -> list[str]:
    """What a re-plan changes in the running fleet: GPUs by fate, replicas moved, budgets, waves."""
    t = plan.transition
    if t is None:
        return []
    saving = t.current_cost_per_hour - plan.cost_per_hour
    change = f"saves {_money(saving)}/h" if saving >= 0 else f"costs {_money(-saving)}/h more"
    lines = [
        f"running now:   {_money(t.current_cost_per_hour)}/h; this plan {change}",
        f"GPUs:          {t.kept} kept, {t.recarved} re-carved, {t.released} released, "
        f"{t.new} newly carved",
        f"moved:         {t.moved_replicas} replica(s) moved or started, "
        f"{t.nodes_touched} node(s) touched",
    ]
    budgets = [
        f"{name} <= {limit}"
        for name, limit in (("re-carved", t.max_recarve), ("moved", t.max_moves))
        if limit is not None
    ]
    if budgets:
        lines.append(f"budgets:       {', '.join(budgets)}")
    lines.append(f"rollout:       {len(t.waves)} wave(s) of at most {t.wave_size} node(s)")
    for dip in t.dips:
        lines.append(
            f"  {dip.workload} dips to {dip.lowest} running (floor {dip.floor}) "
            f"in wave(s) {', '.join(str(w) for w in dip.waves)}"
        )
    if t.extra_gpus_needed:
        extra = ", ".join(f"{n} in {pool}" for pool, n in t.extra_gpus_needed.items())
        lines.append(f"  extra GPUs that avoid every dip: {extra}")
    return lines


def format_frontier(frontier: Frontier) -> str:
    """The frontier as a table: one row per budget, the marks above it."""
    lines = [
        "cost per hour against replicas moved "
        f"(running now {_money(frontier.current_cost_per_hour)}/h, "
        f"fresh optimum {_money(frontier.fresh_cost_per_hour)}/h)",
        "",
    ]
    rows = [
        [
            point.label,
            "-" if point.max_moves is None else str(point.max_moves),
            str(point.moved_replicas),
            str(point.recarved_gpus),
            f"{point.replicas_placed}/{point.replicas_total}",
            f"{point.cost_per_hour:,.2f}",
            f"{point.lower_bound_per_hour:,.2f}",
            format_gap(point.gap),
            point.status,
        ]
        for point in frontier.points
    ]
    headers = [
        "point",
        "max moves",
        "moved",
        "re-carved",
        "placed",
        "$/h",
        "bound $/h",
        "gap",
        "status",
    ]
    return "\n".join(lines + format_table(headers, rows))


def _pool_lines(plan: Plan) -> list[str]:
    if plan.summary is None:
        return []
    summary = plan.summary
    rows = [
        [
            pool.pool,
            pool.gpu_model,
            f"{pool.gpus_used}/{pool.gpus_available}",
            _money(pool.cost_per_hour),
        ]
        for pool in summary.pools
    ]
    rows.append(
        ["total", "", f"{summary.gpus_used}/{summary.gpus_available}", _money(plan.cost_per_hour)]
    )
    return ["GPUs used per pool:", *format_table(["pool", "model", "used", "$/h"], rows, indent=2)]


def _layout_lines(plan: Plan, problem: Problem, catalog: Catalog) -> list[str]:
    """Per pool (in the problem's order), each distinct layout with how many GPUs carry it."""
    lines: list[str] = []
    for pool in problem.pools:
        gpus = [g for g in plan.gpus if g.pool == pool.pool and g.instances]
        if not gpus:
            continue
        model_key = gpus[0].gpu_model
        model = catalog.models.get(model_key)
        counts = Counter(
            rules.layout_label(model, (instance.profile for instance in gpu.instances))
            for gpu in gpus
        )
        width = len(str(max(counts.values())))
        lines.append(f"  {pool.pool} ({model_key}):")
        for label, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"    {count:>{width}} x {label}")
    return ["layouts:", *lines] if lines else []


def _throughput_lines(plan: Plan) -> list[str]:
    """Per throughput workload: required vs served rate and the chosen profile mix."""
    if plan.summary is None or not plan.summary.throughput:
        return []
    rows = [
        [
            row.workload,
            row.model,
            f"{row.required_rps:,.6g}",
            f"{row.served_rps:,.6g}",
            "-" if row.latency_ms is None else f"{row.latency_ms:g}",
            ", ".join(f"{n} x {p}" for p, n in sorted(row.profiles.items())) or "-",
        ]
        for row in plan.summary.throughput
    ]
    header = ["workload", "model", "required rps", "served rps", "latency ms", "instances"]
    return ["throughput (served vs required):", *format_table(header, rows, indent=2)]


# The report lists this many unplaced workloads; the plan JSON has them all.
UNPLACED_SHOWN = 20


def _unplaced_lines(plan: Plan) -> list[str]:
    if not plan.unplaced:
        return []
    total = sum(u.replicas for u in plan.unplaced)
    lines = [f"unplaced workloads ({len(plan.unplaced)}, {total} replicas):"]
    for item in plan.unplaced[:UNPLACED_SHOWN]:
        replicas = "replica" if item.replicas == 1 else "replicas"
        unserved = (
            f" ({item.requests_per_second:,.6g} requests/s unserved)"
            if item.requests_per_second
            else ""
        )
        lines.append(f"  {item.workload}: {item.replicas} {replicas}{unserved}: {item.reason}")
    rest = plan.unplaced[UNPLACED_SHOWN:]
    if rest:
        more = sum(u.replicas for u in rest)
        lines.append(
            f"  ... and {len(rest):,} more workloads ({more:,} replicas); "
            "the plan JSON (--json) lists them all"
        )
    return lines


def _solver_lines(plan: Plan, timing: RunTiming | None = None) -> list[str]:
    stats = plan.solver
    if stats is None:
        return []
    limit = f" of {stats.time_limit_seconds:g} s limit" if stats.time_limit_seconds else ""
    spent = f"{stats.wall_seconds:.1f} s{limit}" if timing is None else timing.text()
    lines = [f"solver:        {spent}, {stats.workers} workers, seed {stats.seed}"]
    if stats.seconds:
        parts = ", ".join(f"{part} {seconds:.1f} s" for part, seconds in stats.seconds.items())
        lines.append(f"               solving: {parts}")
    lines += [
        f"               placement {stats.placement_status}, cost {stats.cost_status}; "
        f"{stats.layouts} layouts, {stats.variables} variables, "
        f"{stats.constraints} constraints",
    ]
    lines += [f"note:          {note}" for note in stats.notes]
    return lines


def format_written(written: list[tuple[str, Path]]) -> str:
    """The export files a `plan` run wrote, one per line (or how to ask for them)."""
    if not written:
        return "files written: none (use --out-dir DIR or --json/--csv/... OUT)"
    width = max(len(key) for key in [*EXPORTS, *(key for key, _ in written)])
    lines = ["files written:"]
    lines += [f"  {key:<{width}}  {path}" for key, path in written]
    return "\n".join(lines)


# --- catalog -----------------------------------------------------------------------------------


def _nvidia_smi_names(model: GpuModel) -> list[str]:
    """The aliases that are names `nvidia-smi` prints (they start with NVIDIA)."""
    return [alias for alias in model.aliases if alias.upper().startswith("NVIDIA")]


def format_model_table(catalog: Catalog) -> str:
    """One row per GPU model: memory, compute slices, axis units, profiles, nvidia-smi names."""
    rows = [
        [
            key,
            f"{model.memory_gb:g} GB",
            str(model.compute_slices),
            str(model.placement_units),
            str(len(model.profiles)),
            "; ".join(_nvidia_smi_names(model)) or "-",
        ]
        for key, model in catalog.models.items()
    ]
    headers = ["model", "memory", "compute slices", "axis units", "profiles", "nvidia-smi names"]
    lines = format_table(headers, rows)
    lines.append("")
    lines.append(f"`{PROG} catalog MODEL` shows a model's profiles and legal placements.")
    return "\n".join(lines)


def _profile_row(profile: Profile) -> list[str]:
    return [
        profile.name,
        str(profile.id),
        str(profile.compute_slices),
        f"{profile.memory_gib:.2f}",
        str(profile.span),
        ",".join(str(start) for start in profile.starts),
        str(profile.max_count),
        ",".join(profile.attributes) or "-",
        profile.memory_source or "-",
    ]


PROFILE_HEADERS = [
    "profile",
    "id",
    "compute",
    "memory GiB",
    "span",
    "starts",
    "max",
    "attributes",
    "memory source",
]


def format_model_details(key: str, model: GpuModel) -> str:
    """One model: its sizes, every profile with its legal starts, all-balanced, sources."""
    lines = [
        f"{key}: {model.memory_gb:g} GB, {model.compute_slices} compute slices, "
        f"{model.placement_units} axis units, at most {model.max_instances} instances",
    ]
    if model.aliases:
        lines.append(f"aliases: {'; '.join(model.aliases)}")
    lines.append("")
    lines += format_table(PROFILE_HEADERS, [_profile_row(p) for p in model.profiles])
    lines.append("")
    lines.append(f"all-balanced: {_all_balanced_text(model)}")
    if model.special_rules:
        lines.append("special rules:")
        lines += [f"  - {rule}" for rule in model.special_rules]
    lines.append("sources:")
    lines += [f"  - {source}" for source in model.sources]
    return "\n".join(lines)


def _all_balanced_text(model: GpuModel) -> str:
    """The model's all-balanced profile counts and a placement that realizes them."""
    if not model.all_balanced:
        return "not defined for this model"
    counts = ", ".join(f"{count} x {name}" for name, count in model.all_balanced.items())
    layout = find_layout(model, rules.expand_multiset(model.all_balanced))
    if layout is None:
        return f"{counts} (no valid placement in this catalog)"
    placed = " | ".join(f"{p.profile}@{p.start}" for p in layout.placements)
    return f"{counts}; placed as {placed} (profile@start)"

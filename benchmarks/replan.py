"""Re-planning benchmark: `python -m benchmarks.replan` adds a section to benchmarks/RESULTS.md.

Cases (each in a fresh subprocess, so peak memory is its own):
- `600`: 600 GPUs / 3,000 replicas (benchmarks.generate, seed 0), carved `all-balanced` today on
  every GPU with replicas placed first fit (the `all-balanced` baseline; many do not fit).
  Re-planned with each budget (60 s each; target: within 1% of the proven bound), and the two
  operator strategies: "re-carve everything" (the fresh optimum, planned without the current
  state; its disruption measured against it) and "only carve idle GPUs" (`keep_running`).
- `stability`: the tool's own plan of the 600-GPU instance re-planned: 0 moved, 0 re-carved, the
  same cost when that plan is proven optimal (and, at a 1% gap stop, always).
- `xl`: 20,000 GPUs / 100,000 replicas carved all-balanced with a greedy current state: one
  re-plan in at most 300 s and 4 GiB (the clock covers reading the CSVs and the current state,
  solving and writing the plan).
- `rollout` (2,000 GPUs / 10,000 replicas, 60 s solve) and `rollout-xl` (the xl instance, 300 s
  solve): the same kind of re-plan, then `transition.build_transition` timed alone on its
  plan (the waves of a fleet that changes almost everywhere, with dips, temporary capacity and
  the extra-GPU search). Not in the default cases.

    python -m benchmarks.replan [--cases 600,stability,xl,rollout,rollout-xl]
        [--out benchmarks/RESULTS.md]

Every plan is checked by the independent validator with the current state (transition counts
and budgets recomputed on its own). The section ("replan", `benchmarks.results`) is replaced
on each run; the other benchmarks' sections stay as they are.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from benchmarks.generate import write_instance
from benchmarks.results import replace_section
from benchmarks.run import DEFAULT_OUT, GIB, machine_info, written_at

SECTION = "replan"
WORKERS = 2
CASES = ("600", "stability", "xl")
OPTIONAL_CASES = ("rollout", "rollout-xl")
# (label, max_recarve, max_moves, keep_running)
BUDGETS_600 = (
    ("no budget (cheapest, fewest moves)", None, None, False),
    ("change nothing", 0, 0, False),
    ("re-carve <= 30 (5%)", 30, None, False),
    ("re-carve <= 120 (20%)", 120, None, False),
    ("moves <= 300", None, 300, False),
    ("moves <= 1,000", None, 1_000, False),
    ("re-carve <= 60, moves <= 600", 60, 600, False),
    ("only carve idle GPUs (strategy)", None, None, True),
)
TIME_600 = 60.0
TIME_XL = 300.0
GAP_TARGET = 0.01
XL_MEMORY_GIB = 4
# (GPUs, replicas, solve seconds) of the rollout cases
ROLLOUT_SIZES = {"rollout": (2_000, 10_000, TIME_600), "rollout-xl": (20_000, 100_000, TIME_XL)}


# --- the measured subprocess ---------------------------------------------------------------------


def _current_all_balanced(problem, catalog) -> list:
    """Every GPU carved all-balanced, replicas placed first fit: the all-balanced baseline's
    GPUs, and every GPU it leaves empty carved all-balanced too (spares only)."""
    from recommender.baselines import all_balanced_plan
    from recommender.layouts import find_layout
    from recommender.plan import PlanGpu, PlanInstance
    from recommender.rules import expand_multiset

    plan = all_balanced_plan(problem, catalog)
    used = {(g.pool, g.index) for g in plan.gpus}
    gpus = list(plan.gpus)
    for pool in problem.pools:
        model = catalog.model(pool.gpu_model)
        layout = find_layout(model, expand_multiset(model.all_balanced))
        if layout is None:
            continue
        for index in range(pool.gpus):
            if (pool.pool, index) not in used:
                instances = [
                    PlanInstance(profile=p.profile, start=p.start) for p in layout.placements
                ]
                gpus.append(
                    PlanGpu(
                        pool=pool.pool, index=index, gpu_model=pool.gpu_model, instances=instances
                    )
                )
    return gpus


def _disruption(plan, current, problem) -> dict:
    from recommender.validate import gpu_changes, moved_by_workload

    states = Counter(gpu_changes(current, plan.gpus, problem).values())
    return {
        "moved": sum(moved_by_workload(current, plan.gpus, problem).values()),
        "kept": states["kept"],
        "recarved": states["re-carved"],
        "released": states["released"],
        "new": states["new"],
    }


def _row(label: str, plan, current, problem, catalog, seconds: float, **more) -> dict:
    """One plan's numbers; `current` None: a fresh plan (no transition to check), whose
    disruption the caller passes in `more`."""
    from recommender.validate import validate_plan

    summary = plan.summary
    violations = validate_plan(plan, problem, catalog, current)
    disruption = _disruption(plan, current, problem) if current is not None else {}
    return {
        "label": label,
        "status": plan.status,
        "cost_per_hour": plan.cost_per_hour,
        "lower_bound_per_hour": plan.lower_bound_per_hour,
        "gap": summary.gap,
        "replicas_placed": summary.replicas_placed,
        "replicas_total": summary.replicas_total,
        "seconds": round(seconds, 2),
        "violations": len(violations),
        "violation_examples": violations[:3],
        "notes": plan.solver.notes if plan.solver else [],
        **disruption,
        **more,
    }


def measure_600(directory: Path) -> dict:
    from recommender.reading import load_catalog, load_problem
    from recommender.solve import SolveOptions, solve

    workloads, fleet = write_instance(directory, 600, 3_000, 0)
    catalog = load_catalog()
    problem = load_problem(workloads, fleet, catalog)
    current = _current_all_balanced(problem, catalog)
    running_cost = sum(p.cost_per_hour for g in current for p in problem.pools if p.pool == g.pool)
    rows = []
    for label, max_recarve, max_moves, keep_running in BUDGETS_600:
        options = SolveOptions(
            time_limit_seconds=TIME_600,
            workers=WORKERS,
            current=current,
            max_recarve=max_recarve,
            max_moves=max_moves,
            keep_running=keep_running,
        )
        started = time.perf_counter()
        plan = solve(problem, catalog, options)
        rows.append(
            _row(
                label,
                plan,
                current,
                problem,
                catalog,
                time.perf_counter() - started,
                max_recarve=max_recarve,
                max_moves=max_moves,
            )
        )
        print(f"  {label}: {rows[-1]['cost_per_hour']} gap {rows[-1]['gap']}", file=sys.stderr)
    started = time.perf_counter()
    fresh = solve(problem, catalog, SolveOptions(time_limit_seconds=TIME_600, workers=WORKERS))
    seconds = time.perf_counter() - started
    label = "re-carve everything (fresh plan, strategy)"
    rows.append(
        _row(label, fresh, None, problem, catalog, seconds, **_disruption(fresh, current, problem))
    )
    return {
        "gpus": 600,
        "replicas": 3_000,
        "running_cost_per_hour": round(running_cost, 4),
        "running_replicas": sum(1 for g in current for i in g.instances if i.workload),
        "rows": rows,
    }


def measure_stability(directory: Path) -> dict:
    from recommender.reading import load_catalog, load_problem
    from recommender.solve import SolveOptions, solve

    workloads, fleet = write_instance(directory, 600, 3_000, 0)
    catalog = load_catalog()
    problem = load_problem(workloads, fleet, catalog)
    started = time.perf_counter()
    plan = solve(problem, catalog, SolveOptions(time_limit_seconds=TIME_600, workers=WORKERS))
    fresh_seconds = time.perf_counter() - started
    rows = []
    for label, gap in (("exact re-plan", 0.0), ("re-plan, stop at 1% gap", GAP_TARGET)):
        options = SolveOptions(
            time_limit_seconds=TIME_600, workers=WORKERS, current=plan.gpus, relative_gap=gap
        )
        started = time.perf_counter()
        again = solve(problem, catalog, options)
        row = _row(label, again, plan.gpus, problem, catalog, time.perf_counter() - started)
        row["identical"] = again.gpus == plan.gpus
        row["same_cost"] = again.cost_per_hour == plan.cost_per_hour
        rows.append(row)
    return {
        "gpus": 600,
        "replicas": 3_000,
        "own_plan": {
            "status": plan.status,
            "cost_per_hour": plan.cost_per_hour,
            "gap": plan.summary.gap if plan.summary else None,
            "seconds": round(fresh_seconds, 2),
        },
        "rows": rows,
    }


def prepare_xl(directory: Path) -> dict:
    """The instance and its current state as files (in its own process: not measured)."""
    from recommender.plan import Plan
    from recommender.reading import load_catalog, load_problem

    workloads, fleet = write_instance(directory, 20_000, 100_000, 0)
    catalog = load_catalog()
    problem = load_problem(workloads, fleet, catalog)
    gpus = _current_all_balanced(problem, catalog)
    state = Plan(status="feasible", cost_per_hour=0, lower_bound_per_hour=0, gpus=gpus, unplaced=[])
    state.write(directory / "current.json")
    return {"current_gpus": len(gpus)}


def measure_xl(directory: Path) -> dict:
    """The timed path: read the CSVs and the current state, solve, write the plan."""
    from recommender.reading import load_catalog, load_problem
    from recommender.reading.current import load_current
    from recommender.solve import SolveOptions, solve

    workloads, fleet = directory / "workloads.csv", directory / "fleet.csv"
    current_path = directory / "current.json"
    started = time.perf_counter()
    catalog = load_catalog()
    problem = load_problem(workloads, fleet, catalog)
    current = load_current(current_path, problem, catalog)
    loaded = time.perf_counter()
    budget = max(TIME_XL - (loaded - started), 1.0)
    options = SolveOptions(time_limit_seconds=budget, workers=WORKERS, current=current)
    plan = solve(problem, catalog, options)
    solved = time.perf_counter()
    plan.write(directory / "plan.json")
    written = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    row = _row("no budget", plan, current, problem, catalog, solved - loaded)
    row.update(
        {
            "load_seconds": round(loaded - started, 2),
            "total_seconds": round(written - started, 2),
            # Up to the plan's assembly; the rest of `seconds` is the transition and its waves.
            "solver_wall_seconds": plan.solver.wall_seconds if plan.solver else None,
            "peak_rss_bytes": peak,
            "groups_variables": plan.solver.variables if plan.solver else None,
        }
    )
    return {"gpus": 20_000, "replicas": 100_000, "current_gpus": len(current), "rows": [row]}


def measure_rollout(directory: Path, case: str) -> dict:
    """A re-plan of an all-balanced fleet, then `build_transition` on its plan, timed alone."""
    from recommender.reading import load_catalog, load_problem
    from recommender.solve import SolveOptions, solve
    from recommender.transition import build_transition
    from recommender.validate import validate_rollout

    gpus, replicas, limit = ROLLOUT_SIZES[case]
    workloads, fleet = write_instance(directory, gpus, replicas, 0)
    catalog = load_catalog()
    problem = load_problem(workloads, fleet, catalog)
    current = _current_all_balanced(problem, catalog)
    options = SolveOptions(time_limit_seconds=limit, workers=WORKERS, current=current)
    started = time.perf_counter()
    plan = solve(problem, catalog, options)
    solved = time.perf_counter()
    transition = build_transition(current, plan, problem, catalog)
    built = time.perf_counter()
    rolled_out = plan.model_copy(update={"transition": transition})
    replayed = validate_rollout(rolled_out, current, problem)
    return {
        "gpus": gpus,
        "replicas": replicas,
        "replan_seconds": round(solved - started, 2),
        "transition_seconds": round(built - solved, 2),
        "waves": len(transition.waves),
        "dips": len(transition.dips),
        "extra_gpus": sum(transition.extra_gpus_needed.values()),
        "moved": transition.moved_replicas,
        "recarved": transition.recarved,
        "replay_violations": len(replayed),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


MEASURES = {
    "rollout": lambda directory: measure_rollout(directory, "rollout"),
    "rollout-xl": lambda directory: measure_rollout(directory, "rollout-xl"),
    "600": measure_600,
    "stability": measure_stability,
    "xl-prepare": prepare_xl,
    "xl": measure_xl,
}


# --- the parent ----------------------------------------------------------------------------------


def run_case(case: str, directory: Path) -> dict:
    if case == "xl":
        prepared = run_case("xl-prepare", directory)
        if "error" in prepared:
            return {"case": case, "error": f"preparing: {prepared['error']}"}
    result = directory / "result.json"
    result.unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "benchmarks.replan", "--worker", case, "--dir", str(directory)]
    started = time.perf_counter()
    finished = subprocess.run(command, check=False, timeout=3_600)
    if finished.returncode != 0 or not result.exists():
        return {"case": case, "error": f"exit code {finished.returncode}"}
    record = json.loads(result.read_text())
    record["case"] = case
    record["wall_seconds"] = round(time.perf_counter() - started, 1)
    return record


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _gap(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def render_section(report: dict) -> str:
    lines = [
        "## Re-planning from the running fleet",
        "",
        f"Run {report['date']} with `{report['command']}` on {report['machine']}.",
        "",
    ]
    for record in report["cases"]:
        if "error" in record:
            lines += [f"**{record['case']}**: failed ({record['error']})", ""]
            continue
        lines += _case_lines(record)
    return "\n".join(lines)


def _table(rows: list[dict], extra: Sequence[tuple[str, str]] = ()) -> list[str]:
    headers = [
        "plan",
        "$/h",
        "bound $/h",
        "gap",
        "placed",
        "moved",
        "re-carved",
        "released",
        "new",
        "kept",
        "s",
        "valid",
    ]
    headers += [h for h, _ in extra]
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        cells = [
            r["label"],
            _money(r["cost_per_hour"]),
            _money(r["lower_bound_per_hour"]),
            _gap(r["gap"]),
            f"{r['replicas_placed']:,}/{r['replicas_total']:,}",
            f"{r['moved']:,}",
            str(r["recarved"]),
            str(r["released"]),
            str(r["new"]),
            str(r["kept"]),
            str(r["seconds"]),
            "yes" if r["violations"] == 0 else "NO",
        ]
        cells += [str(r.get(key)) for _, key in extra]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _case_lines(record: dict) -> list[str]:
    case = record["case"]
    if case in OPTIONAL_CASES:
        return [
            f"### Rollout waves: {record['gpus']:,} GPUs / {record['replicas']:,} replicas",
            "",
            f"Re-plan {record['replan_seconds']} s (its rollout included); "
            f"`build_transition` alone on its plan: **{record['transition_seconds']} s**, "
            f"{record['waves']:,} waves, {record['moved']:,} moved replicas, "
            f"{record['recarved']:,} re-carved GPUs, {record['dips']} dipping workloads "
            f"({record['extra_gpus']} extra GPUs found), replay violations: "
            f"{record['replay_violations']}, peak RSS {record['peak_rss_bytes'] / GIB:.2f} GiB.",
            "",
        ]
    if case == "600":
        met = all(r["gap"] is not None and r["gap"] <= GAP_TARGET for r in record["rows"])
        return [
            f"### 600 GPUs / 3,000 replicas, carved all-balanced today ({TIME_600:g} s per plan)",
            "",
            f"Running now: {_money(record['running_cost_per_hour'])}/h with "
            f"{record['running_replicas']:,} replicas placed first fit. Target: every budget "
            f"within {GAP_TARGET:.0%} of its proven bound: **{'met' if met else 'NOT met'}**.",
            "",
            *_table(record["rows"]),
            "",
        ]
    if case == "stability":
        own = record["own_plan"]
        return [
            "### Stability: the tool's own plan re-planned (600 GPUs)",
            "",
            f"Own plan: {own['status']}, {_money(own['cost_per_hour'])}/h, gap "
            f"{_gap(own['gap'])} ({own['seconds']} s).",
            "",
            *_table(record["rows"], (("identical", "identical"), ("same cost", "same_cost"))),
            "",
        ]
    row = record["rows"][0]
    rss = row["peak_rss_bytes"] / GIB
    met = row["total_seconds"] <= TIME_XL and rss <= XL_MEMORY_GIB
    return [
        "### 20,000 GPUs / 100,000 replicas with a current state",
        "",
        f"Read CSVs + current state ({record['current_gpus']:,} GPUs) in {row['load_seconds']} s;"
        f" total {row['total_seconds']} s (target {TIME_XL:g} s), peak RSS {rss:.2f} GiB (target "
        f"{XL_MEMORY_GIB} GiB): **{'met' if met else 'NOT met'}**.",
        "",
        *_table(record["rows"]),
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replan", description=__doc__)
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help="comma-separated: " + ",".join((*CASES, *OPTIONAL_CASES)),
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = MEASURES[args.worker](Path(args.dir))
        (Path(args.dir) / "result.json").write_text(json.dumps(result, indent=1))
        return 0
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in MEASURES]
    if unknown:
        known = ", ".join((*CASES, *OPTIONAL_CASES))
        parser.error(f"unknown cases: {', '.join(unknown)} (known: {known})")
    argv_text = " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    report = {
        "date": written_at(),
        "command": f"python -m benchmarks.replan {argv_text}".strip(),
        "machine": _machine_text(),
        "cases": [],
    }
    with tempfile.TemporaryDirectory(prefix="mig-replan-") as scratch:
        for case in cases:
            print(f"{case} ...", file=sys.stderr)
            report["cases"].append(run_case(case, Path(scratch) / case))
    json_path = args.out.with_name("RESULTS_REPLAN.json")
    json_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    replace_section(args.out, SECTION, render_section(report))
    print(f"wrote {args.out} (section) and {json_path}", file=sys.stderr)
    return 0


def _machine_text() -> str:
    return ", ".join(f"{key} {value}" for key, value in machine_info().items())


if __name__ == "__main__":
    sys.exit(main())

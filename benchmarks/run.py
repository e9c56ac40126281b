"""The scale and quality benchmark: `python -m benchmarks.run` writes benchmarks/RESULTS.md.

For every size a seeded instance is generated (`benchmarks.generate`), written as CSV files and
planned in a fresh subprocess, so the peak memory is that process's own (`ru_maxrss`). The
subprocess times the user's path: load the catalog, read and validate both CSVs, solve, write the
plan JSON. It then checks the plan with the independent validator and runs the three baselines on
the same inputs (each validated too). The parent compares the numbers with the issue's targets and
writes RESULTS.md (and the raw numbers as JSON).

    python -m benchmarks.run [--sizes small,medium,large,xl,short] [--out benchmarks/RESULTS.md]
                             [--json PATH] [--seed N] [--instances-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.generate import write_instance
from benchmarks.results import replace_section

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "RESULTS.md"
SECTION = "scale"  # its section of RESULTS.md (benchmarks/results.py)
WORKERS = 2
SOLVER_SEED = 0
GIB = 1024**3
# A size's subprocess is stopped after this many times its time limit plus a margin (the
# baselines and the validator run after the timed part).
TIMEOUT_FACTOR = 4
TIMEOUT_MARGIN_SECONDS = 300
MAX_LISTED_VIOLATIONS = 5


@dataclass(frozen=True)
class Size:
    """One benchmark size and the issue's targets for it."""

    name: str
    gpus: int
    replicas: int
    time_limit_seconds: float
    capacity_short: bool = False
    proven_optimal: bool = False  # target: status optimal (gap 0) within the time limit
    gap_target: float | None = None  # target: gap at most this fraction
    memory_target_gib: float | None = None  # target: peak RSS under this
    hidden: bool = False  # not run by default (used by the tests)
    note: str = ""


SIZES: dict[str, Size] = {
    s.name: s
    for s in (
        Size("small", 16, 60, 5, proven_optimal=True),
        Size("medium", 200, 1_000, 20, gap_target=0.005),
        Size("large", 2_000, 10_000, 60, gap_target=0.01, memory_target_gib=2),
        Size("xl", 20_000, 100_000, 300, gap_target=0.02, memory_target_gib=4),
        Size(
            "short",
            200,
            1_000,
            20,
            capacity_short=True,
            gap_target=0.005,
            note="capacity-short: demand exceeds the fleet, so low-priority replicas stay "
            "unplaced; not an issue row, its targets mirror the 200-GPU row",
        ),
        Size("tiny", 6, 20, 2, proven_optimal=True, hidden=True),
    )
}
DEFAULT_SIZES = tuple(name for name, size in SIZES.items() if not size.hidden)


@dataclass(frozen=True)
class Check:
    """One target row: what is required, what was measured, and whether it is met."""

    target: str
    required: str
    measured: str
    met: bool


# --- the measured subprocess -------------------------------------------------------------------


def measure(size: Size, workloads_path: Path, fleet_path: Path, plan_path: Path) -> dict:
    """Plan one instance as a user would, then validate it and run the baselines (not timed)."""
    from recommender.baselines import baselines_for
    from recommender.reading import load_catalog, load_problem
    from recommender.solve import SolveOptions, solve
    from recommender.validate import validate_plan

    started = time.perf_counter()
    catalog = load_catalog()
    problem = load_problem(workloads_path, fleet_path, catalog)
    loaded = time.perf_counter()
    # The target's clock includes reading the CSVs, so the solver gets what is left of it.
    budget = max(size.time_limit_seconds - (loaded - started), 0.5)
    plan = solve(problem, catalog, SolveOptions(budget, WORKERS, SOLVER_SEED))
    solved = time.perf_counter()
    plan.write(plan_path)
    written = time.perf_counter()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    high_water = _vm_hwm_bytes()

    violations = validate_plan(plan, problem, catalog)
    summary, solver = plan.summary, plan.solver
    assert summary is not None and solver is not None
    ours = {
        "status": plan.status,
        "placement_status": solver.placement_status,
        "cost_status": solver.cost_status,
        "cost_per_hour": plan.cost_per_hour,
        "lower_bound_per_hour": plan.lower_bound_per_hour,
        "gap": summary.gap,
        "gpus_used": summary.gpus_used,
        "gpus_available": summary.gpus_available,
        "replicas_total": summary.replicas_total,
        "replicas_unplaced": summary.replicas_unplaced,
        "solver_time_limit_seconds": round(budget, 3),
        "load_seconds": round(loaded - started, 3),
        "solve_seconds": round(solved - loaded, 3),
        "write_seconds": round(written - solved, 3),
        "total_seconds": round(written - started, 3),
        "peak_rss_bytes": peak_rss,
        "vm_hwm_bytes": high_water,
        "violations": len(violations),
        "violation_examples": violations[:MAX_LISTED_VIOLATIONS],
        "layouts": solver.layouts,
        "variables": solver.variables,
        "constraints": solver.constraints,
        "lower_bound_source": solver.lower_bound_source,
        "notes": solver.notes,
    }
    baselines = []
    for entry in baselines_for(problem):
        key = entry.key
        begun = time.perf_counter()
        baseline = entry(problem, catalog)
        seconds = time.perf_counter() - begun
        found = validate_plan(baseline, problem, catalog)
        assert baseline.summary is not None
        baselines.append(
            {
                "name": key,
                "label": entry.display_name,
                "cost_per_hour": baseline.cost_per_hour,
                "gpus_used": baseline.summary.gpus_used,
                "replicas_unplaced": baseline.summary.replicas_unplaced,
                "seconds": round(seconds, 3),
                "violations": len(found),
                "violation_examples": found[:MAX_LISTED_VIOLATIONS],
                "vs_ours": relative(baseline.cost_per_hour, plan.cost_per_hour),
            }
        )
    return {
        "workloads": len(problem.workloads),
        "pools": len(problem.pools),
        "ours": ours,
        "baselines": baselines,
    }


def _vm_hwm_bytes() -> int | None:
    """This process image's own peak RSS (VmHWM), a cross-check of ru_maxrss.

    After a vfork + exec, Linux may carry the parent's peak into the child's ru_maxrss; VmHWM
    starts afresh at exec. The parent stays small, so the two normally agree.
    """
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def relative(cost: float, ours: float) -> float | None:
    """(cost - ours) / ours; None when ours is 0."""
    return (cost - ours) / ours if ours > 0 else None


def _worker_main(args: argparse.Namespace) -> int:
    result = measure(SIZES[args.worker], Path(args.workloads), Path(args.fleet), Path(args.plan))
    Path(args.result).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


# --- the parent: one subprocess per size -------------------------------------------------------


def run_size(size: Size, seed: int, directory: Path) -> dict:
    """Generate the instance into `directory`, plan it in a subprocess, evaluate the targets."""
    workloads_path, fleet_path = write_instance(
        directory, size.gpus, size.replicas, seed, size.capacity_short
    )
    plan_path, result_path = directory / "plan.json", directory / "result.json"
    result_path.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--worker",
        size.name,
        "--workloads",
        str(workloads_path),
        "--fleet",
        str(fleet_path),
        "--plan",
        str(plan_path),
        "--result",
        str(result_path),
        "--seed",
        str(seed),
    ]
    record: dict = {"size": asdict(size), "seed": seed, "error": None}
    timeout = TIMEOUT_FACTOR * size.time_limit_seconds + TIMEOUT_MARGIN_SECONDS
    try:
        finished = subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        record["error"] = f"the benchmark process did not finish within {timeout:g} s"
    else:
        if finished.returncode != 0 or not result_path.exists():
            tail = "\n".join(finished.stderr.strip().splitlines()[-15:])
            record["error"] = f"the benchmark process failed (exit {finished.returncode}):\n{tail}"
        else:
            record.update(json.loads(result_path.read_text(encoding="utf-8")))
    record["checks"] = [asdict(c) for c in evaluate(size, record)]
    return record


def evaluate(size: Size, record: dict) -> list[Check]:
    """The target rows of one size, each MET or NOT MET."""
    ours = record.get("ours")
    if record.get("error") or ours is None:
        return [Check("benchmark ran", "finishes", "failed", False)]
    limit = f"{size.time_limit_seconds:g} s"
    checks: list[Check] = []
    if size.proven_optimal:
        measured = f"{ours['status']} (gap {_percent(ours['gap'])})"
        checks.append(
            Check(
                "proven optimal",
                f"status optimal within {limit}",
                measured,
                ours["status"] == "optimal",
            )
        )
    if size.gap_target is not None:
        gap = ours["gap"]
        met = gap is not None and gap <= size.gap_target + 1e-12
        checks.append(Check("gap", f"<= {_percent(size.gap_target)}", _percent(gap), met))
    seconds = ours["total_seconds"]
    checks.append(
        Check(
            "time (read CSVs to plan JSON written)",
            f"<= {limit}",
            f"{seconds:.2f} s",
            seconds <= size.time_limit_seconds,
        )
    )
    if size.memory_target_gib is not None:
        peak = ours["peak_rss_bytes"] / GIB
        checks.append(
            Check(
                "peak memory (RSS)",
                f"< {size.memory_target_gib:g} GiB",
                f"{peak:.2f} GiB",
                peak < size.memory_target_gib,
            )
        )
    if size.capacity_short:
        checks.append(
            Check(
                "placement proven maximal",
                "placement stage optimal",
                ours["placement_status"],
                ours["placement_status"] == "optimal",
            )
        )
    else:
        checks.append(
            Check(
                "every replica placed (the instance is built to fit)",
                "0 unplaced",
                f"{ours['replicas_unplaced']} unplaced",
                ours["replicas_unplaced"] == 0,
            )
        )
    checks.append(
        Check(
            "our plan passes the validator",
            "0 violations",
            f"{ours['violations']} violations",
            ours["violations"] == 0,
        )
    )
    bad = [b["name"] for b in record["baselines"] if b["violations"]]
    checks.append(
        Check(
            "baseline plans pass the validator",
            "0 violations each",
            f"violations in {', '.join(bad)}" if bad else "0 violations each",
            not bad,
        )
    )
    return checks


# --- RESULTS.md --------------------------------------------------------------------------------


def machine_info() -> dict:
    """CPU, cores, RAM, versions and load: what a reader needs to compare numbers."""
    import ortools
    import pandas
    import pydantic

    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_bytes = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                ram_bytes = int(line.split()[1]) * 1024
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_bytes": ram_bytes,
        "os": platform.platform(),
        "python": platform.python_version(),
        "ortools": ortools.__version__,
        "pandas": pandas.__version__,
        "pydantic": pydantic.__version__,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


# How `versions_line` names the packages `machine_info` reports.
VERSION_LABELS = {
    "python": "Python",
    "ortools": "OR-Tools",
    "pandas": "pandas",
    "pydantic": "pydantic",
}


def machine_line(machine: dict) -> str:
    """'CPU, N usable cores, X GiB RAM; OS' of `machine_info()`: where a section's numbers
    were measured."""
    return (
        f"{machine['cpu']}, {machine['usable_cores']} usable cores, "
        f"{machine['ram_bytes'] / GIB:.1f} GiB RAM; {machine['os']}"
    )


def versions_line(machine: dict, packages: Sequence[str]) -> str:
    """'Python 3.x, OR-Tools 9.y, ...' for `packages` (keys of `machine_info()`), in order."""
    return ", ".join(f"{VERSION_LABELS[key]} {machine[key]}" for key in packages)


def written_at() -> str:
    """Now in UTC, to the minute: when a RESULTS.md section was written."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _percent(fraction: float | None, digits: int = 2) -> str:
    return "n/a" if fraction is None else f"{fraction * 100:.{digits}f}%"


def _signed_percent(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{fraction * 100:+.1f}%"


def _gib(size_bytes: int | None) -> str:
    return "n/a" if size_bytes is None else f"{size_bytes / GIB:.3f} GiB"


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _verdict(met: bool) -> str:
    return "MET" if met else "**NOT MET**"


def render_markdown(report: dict) -> str:
    machine = report["machine"]
    ram = f"{machine['ram_bytes'] / GIB:.1f} GiB" if machine["ram_bytes"] else "unknown"
    load = machine["load_average"]
    lines = [
        "## Scale and quality of fresh plans",
        "",
        f"Written {report['date']} by `{report['command']}` (instance seed {report['seed']}, "
        f"solver seed {SOLVER_SEED}, {WORKERS} workers). How to read this page: "
        "`benchmarks/README.md`.",
        "",
        "### Machine",
        "",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable)",
        f"- RAM: {ram}",
        f"- OS: {machine['os']}",
        f"- {versions_line(machine, ('python', 'ortools', 'pandas', 'pydantic'))}",
    ]
    if load:
        lines.append("- Load average when the run started: " + ", ".join(f"{x:.2f}" for x in load))
    lines += ["", "### Summary", ""]
    lines += _summary_table(report["sizes"])
    for record in report["sizes"]:
        lines += ["", *_size_section(record)]
    return "\n".join(lines) + "\n"


def _summary_table(records: list[dict]) -> list[str]:
    rows = [
        "| size | GPUs | replicas | status | cost $/h | bound $/h | gap | time | peak memory "
        "| targets |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for record in records:
        size = record["size"]
        missed = [c["target"] for c in record["checks"] if not c["met"]]
        verdict = "all MET" if not missed else "**NOT MET**: " + "; ".join(missed)
        ours = record.get("ours")
        if ours is None:
            rows.append(
                f"| {size['name']} | {size['gpus']:,} | {size['replicas']:,} | failed "
                f"| | | | | | {verdict} |"
            )
            continue
        rows.append(
            f"| {size['name']} | {size['gpus']:,} | {size['replicas']:,} | {ours['status']} "
            f"| {_money(ours['cost_per_hour'])} | {_money(ours['lower_bound_per_hour'])} "
            f"| {_percent(ours['gap'])} | {ours['total_seconds']:.1f} s "
            f"| {ours['peak_rss_bytes'] / GIB:.2f} GiB | {verdict} |"
        )
    return rows


def _size_section(record: dict) -> list[str]:
    size = record["size"]
    title = f"### {size['name']}: {size['gpus']:,} GPUs, {size['replicas']:,} replicas"
    lines = [title, ""]
    if size["note"]:
        lines += [f"_{size['note']}._", ""]
    if record.get("error"):
        return [*lines, "The benchmark process failed:", "", "```", record["error"], "```"]
    ours = record["ours"]
    lines += [
        f"Instance: {record['workloads']:,} workloads, {record['pools']} pools "
        f"(seed {record['seed']}). Time limit {size['time_limit_seconds']:g} s for the whole "
        f"path; the solver got {ours['solver_time_limit_seconds']:g} s after reading the CSVs.",
        "",
        "| target | required | measured | result |",
        "|---|---|---|---|",
    ]
    for check in record["checks"]:
        lines.append(
            f"| {check['target']} | {check['required']} | {check['measured']} "
            f"| {_verdict(check['met'])} |"
        )
    used_share = ours["gpus_used"] / ours["gpus_available"] if ours["gpus_available"] else 0
    lines += [
        "",
        f"- cost {_money(ours['cost_per_hour'])} $/h, proven lower bound "
        f"{_money(ours['lower_bound_per_hour'])} $/h ({ours['lower_bound_source'] or 'n/a'}), "
        f"gap {_percent(ours['gap'], 3)}",
        f"- status {ours['status']} (placement stage {ours['placement_status']}, cost stage "
        f"{ours['cost_status']})",
        f"- GPUs used {ours['gpus_used']:,} of {ours['gpus_available']:,} "
        f"({used_share:.0%}); replicas unplaced {ours['replicas_unplaced']:,} "
        f"of {ours['replicas_total']:,}",
        f"- seconds: read CSVs {ours['load_seconds']:.2f}, solve {ours['solve_seconds']:.2f}, "
        f"write plan {ours['write_seconds']:.2f}; peak RSS "
        f"{ours['peak_rss_bytes'] / GIB:.3f} GiB (ru_maxrss; VmHWM {_gib(ours['vm_hwm_bytes'])})",
        f"- model: {ours['layouts']:,} layouts, {ours['variables']:,} variables, "
        f"{ours['constraints']:,} constraints",
    ]
    for note in ours["notes"]:
        lines.append(f"- solver note: {note}")
    for example in ours["violation_examples"]:
        lines.append(f"- validator: {example}")
    lines += [
        "",
        "| plan | cost $/h | vs ours | GPUs used | unplaced replicas | validator | seconds |",
        "|---|---:|---:|---:|---:|---|---:|",
        f"| ours (CP-SAT) | {_money(ours['cost_per_hour'])} | | {ours['gpus_used']:,} "
        f"| {ours['replicas_unplaced']:,} | {_pass(ours['violations'])} "
        f"| {ours['total_seconds']:.2f} |",
    ]
    for b in record["baselines"]:
        lines.append(
            f"| {b['label']} | {_money(b['cost_per_hour'])} | {_signed_percent(b['vs_ours'])} "
            f"| {b['gpus_used']:,} | {b['replicas_unplaced']:,} | {_pass(b['violations'])} "
            f"| {b['seconds']:.2f} |"
        )
        for example in b["violation_examples"]:
            lines.append(f"- {b['label']} validator: {example}")
    if any(b["replicas_unplaced"] > ours["replicas_unplaced"] for b in record["baselines"]):
        lines += [
            "",
            "A baseline that leaves more replicas unplaced than ours would cost more still if "
            "it placed them: its `vs ours` understates the difference.",
        ]
    return lines


def _pass(violations: int) -> str:
    return "pass" if violations == 0 else f"**FAIL** ({violations})"


# --- command line ------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[Size]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in SIZES]
    if unknown or not names:
        allowed = ", ".join(DEFAULT_SIZES)
        raise argparse.ArgumentTypeError(f"unknown size(s) {', '.join(unknown)} (known: {allowed})")
    return [SIZES[n] for n in names]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Scale and quality benchmark: our plans vs the issue's targets and baselines.",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[SIZES[n] for n in DEFAULT_SIZES],
        help=f"comma-separated sizes (default: {','.join(DEFAULT_SIZES)})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="RESULTS.md to write")
    parser.add_argument(
        "--json", type=Path, default=None, help="raw numbers as JSON (default: --out with .json)"
    )
    parser.add_argument("--seed", type=int, default=0, help="instance generator seed")
    parser.add_argument(
        "--instances-dir",
        type=Path,
        default=None,
        help="keep each size's CSVs and plan.json here (default: a temporary directory)",
    )
    # The measured subprocess (internal).
    for hidden in ("--worker", "--workloads", "--fleet", "--plan", "--result"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        return _worker_main(args)
    argv_text = " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    report = {
        "date": written_at(),
        "command": f"python -m benchmarks.run {argv_text}".strip(),
        "seed": args.seed,
        "machine": machine_info(),
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(prefix="mig-benchmark-") as scratch:
        base = args.instances_dir or Path(scratch)
        for size in args.sizes:
            print(
                f"{size.name}: {size.gpus:,} GPUs, {size.replicas:,} replicas ...", file=sys.stderr
            )
            record = run_size(size, args.seed, base / size.name)
            report["sizes"].append(record)
            print(f"{size.name}: {_one_line(record)}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    replace_section(args.out, SECTION, render_markdown(report))
    json_path = args.json or args.out.with_suffix(".json")
    json_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} and {json_path}", file=sys.stderr)
    return 0


def _one_line(record: dict) -> str:
    ours = record.get("ours")
    if ours is None:
        return f"failed: {record['error']}"
    missed = [c["target"] for c in record["checks"] if not c["met"]]
    return (
        f"{ours['status']}, cost {_money(ours['cost_per_hour'])}, gap {_percent(ours['gap'])}, "
        f"{ours['total_seconds']:.1f} s, {ours['peak_rss_bytes'] / GIB:.2f} GiB; "
        + ("all targets met" if not missed else "NOT MET: " + "; ".join(missed))
    )


if __name__ == "__main__":
    sys.exit(main())

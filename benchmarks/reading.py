"""The input-reading benchmark: `python -m benchmarks.reading` adds its section to RESULTS.md.

Issue 7's target: 1,000,000 workload rows read and validated (`read_workloads`, CSV bytes on
disk -> validated `Workload` models) in at most 5 s, and a file with 10,000 bad rows reporting
every problem (the printed report capped) in the same time. Each case's file is generated in a
temporary directory and read in a fresh Python process, so the peak memory (`ru_maxrss`) is the
reading's own.

    python -m benchmarks.reading [--rows 1000000] [--repeat 3] [--out benchmarks/RESULTS.md]
                                 [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.results import replace_section
from benchmarks.run import (
    DEFAULT_OUT,
    GIB,
    REPO,
    machine_info,
    machine_line,
    versions_line,
    written_at,
)

TARGET_SECONDS = 5.0
BAD_ROWS = 10_000
SECTION = "reading"  # its section of RESULTS.md (benchmarks/results.py)
HEADER = "name,memory_gb,compute_slices,replicas,gpu_models,priority,media,spread\n"
TEAMS = ("search", "ads-ranking", "assistant", "vision", "speech", "batch-eval", "notebooks")
SERVICES = ("llama-3-8b-instruct", "bge-large-en", "whisper-large-v3", "sdxl-base", "qwen2-72b-awq")
MODEL_LISTS = ["", "", "", "any", "A100-80GB|H100-80GB", "H100-80GB|H200-141GB", "B200-180GB"]


@dataclass(frozen=True)
class Case:
    """One file to read: its shape and what reading it must give."""

    name: str
    description: str
    bad_rows: int = 0
    quoted: bool = False  # names quoted, some with commas and line breaks (exact line numbers)


CASES = (
    Case("clean", "every row valid, unquoted"),
    Case("quoted", "every row valid; names quoted, 1 in 100 with a comma or a line break", 0, True),
    Case("bad rows", "1 row in 100 with a bad cell or a wrong field count", BAD_ROWS),
)


def write_workloads(path: Path, rows: int, case: Case, seed: int) -> int:
    """A workloads.csv of `rows` rows shaped like `case`; returns the expected issue count."""
    rng = random.Random(seed)
    bad_rows = min(case.bad_rows, rows // 100)  # 10,000 in a million rows
    bad_every = rows // bad_rows if bad_rows else 0
    issues = 0
    lines = [HEADER]
    for index in range(rows):
        name = f"{rng.choice(TEAMS)}-{rng.choice(SERVICES)}-{index:07d}"
        if case.quoted:
            kind = index % 100
            name = (
                f'"{name}, replica set"'
                if kind == 1
                else f'"{name}\nline two"'
                if kind == 2
                else f'"{name}"'
            )
        row = [
            name,
            f"{rng.uniform(0.5, 140):.2f}",
            str(rng.choice((1, 1, 1, 2, 3, 4, 7))),
            str(rng.randint(1, 8)),
            rng.choice(MODEL_LISTS),
            str(rng.choice((1, 1, 2, 3))),
            rng.choice(("", "no", "yes")),
            rng.choice(("", "false", "true")),
        ]
        if bad_every and index % bad_every == 0 and issues < bad_rows:
            issues += 1
            kind = (index // bad_every) % 5
            if kind == 0:
                row[1] = "lots"  # not a number
            elif kind == 1:
                row[2] = "9"  # out of range
            elif kind == 2:
                row[6] = "maybe"  # not a yes/no value
            elif kind == 3:
                row = row[:3]  # a short row
            else:
                row[4] = "A100-40G"  # unknown model
        lines.append(",".join(row) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return issues


def measure(path: Path) -> dict:
    """Read `path` as a user would (the catalog loaded first); runs in the child process."""
    from recommender.errors import InputError
    from recommender.reading import load_catalog, read_workloads

    catalog = load_catalog()
    started = time.perf_counter()
    try:
        workloads = read_workloads(path, catalog)
        rows, issues, report_lines = len(workloads), 0, 0
    except InputError as exc:
        rows, issues, report_lines = 0, len(exc.issues), len(exc.report().splitlines())
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "workloads": rows,
        "issues": issues,
        "report_lines": report_lines,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def run_case(case: Case, rows: int, seed: int, folder: Path, repeat: int) -> dict:
    """`repeat` runs, each in a fresh process; the fastest one is the result (the others differ
    by what else the shared machine was doing), with every run's seconds alongside."""
    path = folder / f"workloads-{case.name.replace(' ', '-')}.csv"
    expected = write_workloads(path, rows, case, seed)
    runs = []
    for _ in range(repeat):
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.reading", "--measure", str(path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(child.stdout))
    result = min(runs, key=lambda run: run["seconds"])
    result["all_seconds"] = [run["seconds"] for run in runs]
    result.update(case=case.name, description=case.description, rows=rows)
    result.update(megabytes=path.stat().st_size / 1e6, expected_issues=expected)
    all_found = result["issues"] == expected and (expected > 0 or result["workloads"] == rows)
    result["met"] = result["seconds"] <= TARGET_SECONDS and all_found
    return result


def section(results: list[dict], command: str, seed: int) -> str:
    machine = machine_info()
    load = ", ".join(f"{x:.2f}" for x in machine["load_average"] or ())
    written = written_at()
    lines = [
        "## Reading inputs (issue 7)",
        "",
        f"Written {written} by `{command}` (seed {seed}). Target: {results[0]['rows']:,} workload "
        f"rows read and validated in at most {TARGET_SECONDS:g} s, a file with {BAD_ROWS:,} bad "
        "rows reporting every problem in the same time. Before issue 7, the row-by-row reader "
        "took about 20 s for 600,000 rows (50 MB).",
        "",
        f"- Machine: {machine_line(machine)}",
        f"- {versions_line(machine, ('python', 'pandas', 'pydantic'))}; "
        f"load average at the start: {load}",
        "",
        "| case | rows | file | issues reported (printed) | seconds (best) | all runs "
        "| peak memory | result |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in results:
        issues = f"{r['issues']:,} of {r['expected_issues']:,} ({r['report_lines']} lines)"
        lines.append(
            f"| {r['case']}: {r['description']} | {r['rows']:,} | {r['megabytes']:.0f} MB | "
            f"{issues} | {r['seconds']:.2f} | {', '.join(f'{x:.2f}' for x in r['all_seconds'])} | "
            f"{r['peak_rss_bytes'] / GIB:.2f} GiB | "
            f"{'MET' if r['met'] else 'NOT MET'} |"
        )
    lines += [
        "",
        "Seconds: `read_workloads(path, catalog)` from the file on disk to the validated models "
        "(or the InputError with every issue), each run in a fresh process; the result is the "
        "fastest run (the others show what else the shared machine was doing). Peak memory: "
        "that run's `ru_maxrss`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reading", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (the best counts)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="mig-reading-") as folder:
        for case in CASES:
            result = run_case(case, args.rows, args.seed, Path(folder), args.repeat)
            results.append(result)
            print(
                f"{case.name}: {result['seconds']:.2f} s, {result['issues']:,} issues, "
                f"peak {result['peak_rss_bytes'] / GIB:.2f} GiB, "
                f"{'MET' if result['met'] else 'NOT MET'}",
                file=sys.stderr,
            )
    command = "python -m benchmarks.reading" + (
        "" if argv is None and len(sys.argv) == 1 else " " + shlex.join(sys.argv[1:])
    )
    replace_section(args.out, SECTION, section(results, command, args.seed))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

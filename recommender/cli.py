"""The `mig-recommender` command line: plan, check a plan, browse the catalog.

A thin layer over the library (docs/design.md, "The job and the data flow"): it parses arguments,
reads files, calls `solve` / `validate_plan`, prints the text of `report.py` and writes the
exports. Every failure a user can cause ends in a clear message and an exit code, never a
traceback:

    0  a plan was produced (a partial one too) / the plan is valid / catalog printed
    1  the solver found no plan / the checked plan has violations
    2  unusable input: bad CSV, catalog or plan file, unknown model, unwritable output path
    3  internal error (a bug: please report it)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.exports import EXPORTS, ROLLOUT_EXPORTS, ExportFunction
from recommender.frontier import DEFAULT_POINTS, frontier
from recommender.gcpause import collector_paused
from recommender.plan import Plan, PlanGpu
from recommender.problem import Problem
from recommender.progress import ProgressLine, is_tty
from recommender.reading import (
    FLEET_COLUMNS,
    PERFORMANCE_COLUMNS,
    WORKLOAD_COLUMNS,
    load_catalog,
    load_problem,
    read_plan_json,
)
from recommender.reading.current import load_current
from recommender.report import (
    PROG,
    RunTiming,
    format_frontier,
    format_model_details,
    format_model_table,
    format_plan_summary,
    format_written,
)
from recommender.solve import SolveOptions, solve
from recommender.summary import inputs_digest
from recommender.validate import validate_plan

EXIT_OK = 0
EXIT_NO_PLAN = 1
EXIT_INVALID_PLAN = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
# Set to see the traceback of an internal error instead of the one-line message.
DEBUG_ENV = "MIG_RECOMMENDER_DEBUG"


class UsageError(Exception):
    """A command-line value that cannot be used (e.g. an output path in a missing directory)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with `argv` (default: `sys.argv[1:]`); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints usage errors and --help/--version itself
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        return args.run(args)
    except InputError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): nothing left to tell anyone.
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {exc}\n"
            f"This is a bug. Please report it with the command line and input files "
            f"(set {DEBUG_ENV}=1 to see the traceback).",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a real file (e.g. captured in tests)
    finally:
        os.close(devnull)


# --- argument parsing --------------------------------------------------------------------------


def _package_version() -> str:
    try:
        return version("mig-recommender")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _argument_type(
    convert: Callable[[str], Any], valid: Callable[[Any], bool], not_a: str, out_of_range: str
) -> Callable[[str], Any]:
    """An argparse `type=`: convert the text, then require `valid`; messages are templates."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(not_a.format(text=text)) from None
        if not valid(value):
            raise argparse.ArgumentTypeError(out_of_range.format(text=text))
        return value

    return parse


_gap_fraction = _argument_type(
    float,
    lambda v: 0 <= v < 1,
    "'{text}' is not a number (expected 0 <= F < 1)",
    "{text} is out of range (expected 0 <= F < 1)",
)
_positive_float = _argument_type(
    float, lambda v: 0 < v < math.inf, "'{text}' is not a number", "{text} must be a number > 0"
)
_positive_int = _argument_type(
    int, lambda v: v >= 1, "'{text}' is not a whole number", "{text} must be a whole number >= 1"
)
MAX_FRONTIER_POINTS = 50
_frontier_points = _argument_type(
    int,
    lambda v: 2 <= v <= MAX_FRONTIER_POINTS,
    "'{text}' is not a whole number",
    f"{{text}} is out of range (expected 2..{MAX_FRONTIER_POINTS})",
)
_non_negative_int = _argument_type(
    int, lambda v: v >= 0, "'{text}' is not a whole number", "{text} must be a whole number >= 0"
)


def _add_catalog_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog",
        metavar="FILE",
        help="extra catalog (JSON or YAML, schema of data/mig_catalog.json): "
        "adds or replaces models",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Cost-minimizing NVIDIA MIG layouts for a GPU fleet.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_plan_command(commands)
    _add_frontier_command(commands)
    _add_check_command(commands)
    _add_catalog_command(commands)
    from recommender import cli_cluster  # it imports this module's helpers

    cli_cluster.add_cluster_commands(commands)
    return parser


def _add_plan_command(commands: argparse._SubParsersAction) -> None:
    plan = commands.add_parser(
        "plan",
        help="solve: MIG layout per GPU, workload placement and cost",
        description="Find the cheapest MIG layouts and placement for the workloads on the fleet.",
    )
    plan.add_argument("workloads", metavar="WORKLOADS.csv", help=_columns_help(WORKLOAD_COLUMNS))
    plan.add_argument("fleet", metavar="FLEET.csv", help=_columns_help(FLEET_COLUMNS))
    _add_catalog_option(plan)
    _add_performance_option(plan)
    _add_solver_options(plan, "the best plan found by then is returned")
    _add_current_option(plan, required=False)
    plan.add_argument(
        "--max-recarve",
        type=_non_negative_int,
        metavar="K",
        help="with --current: re-carve at most K GPUs that host replicas now (default no limit)",
    )
    plan.add_argument(
        "--max-moves",
        type=_non_negative_int,
        metavar="N",
        help="with --current: move or start at most N replicas (default no limit)",
    )
    plan.add_argument(
        "--wave-size",
        type=_positive_int,
        default=1,
        metavar="W",
        help="with --current: nodes per rollout wave (default 1)",
    )
    plan.add_argument(
        "--gap",
        type=_gap_fraction,
        default=0.0,
        metavar="F",
        help="stop once the cost is within fraction F of the proven bound, e.g. 0.001 "
        "(default 0: search until proven optimal or the time limit)",
    )
    for key, (file_name, _mime, _function) in EXPORTS.items():
        plan.add_argument(
            f"--{key}",
            dest=_export_dest(key),
            metavar="OUT",
            help=f"write the {key} export to OUT (default name {file_name})",
        )
    for key, (file_name, _mime, _function) in ROLLOUT_EXPORTS.items():
        plan.add_argument(
            f"--{key}",
            dest=_export_dest(key),
            metavar="OUT",
            help=f"with --current: write the {key} export to OUT (default name {file_name}; "
            "--out-dir writes it too)",
        )
    plan.add_argument(
        "--out-dir",
        metavar="DIR",
        help="write every export into DIR (created if missing) under its default file name",
    )
    plan.add_argument(
        "--progress",
        action="store_true",
        help="show solver progress on stderr even when stderr is not a terminal",
    )
    plan.add_argument(
        "--quiet",
        action="store_true",
        help="print nothing but errors",
    )
    from recommender import cli_cluster

    cli_cluster.add_plan_options(plan)
    plan.set_defaults(run=run_plan)


def _add_performance_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--performance",
        metavar="FILE",
        help="performance table for throughput workloads (workloads with requests_per_second): "
        + _columns_help(PERFORMANCE_COLUMNS),
    )


def _add_solver_options(parser: argparse.ArgumentParser, at_the_limit: str) -> None:
    parser.add_argument(
        "--time-limit",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help=f"solver time limit in seconds; {at_the_limit} (default 30)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=2,
        metavar="N",
        help="solver threads (default 2)",
    )
    parser.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="solver random seed (default 0)",
    )


def _add_current_option(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--current",
        metavar="FILE",
        required=required,
        help="the fleet as it runs now: a plan JSON (only `gpus` is read) or the plan CSV "
        "export; the plan then changes as little as its objective allows",
    )


def _add_frontier_command(commands: argparse._SubParsersAction) -> None:
    frontier = commands.add_parser(
        "frontier",
        help="cost per hour against replicas moved, from changing nothing to the fresh optimum",
        description="Re-plan the running fleet under growing move budgets: what each move buys.",
    )
    frontier.add_argument(
        "workloads", metavar="WORKLOADS.csv", help=_columns_help(WORKLOAD_COLUMNS)
    )
    frontier.add_argument("fleet", metavar="FLEET.csv", help=_columns_help(FLEET_COLUMNS))
    _add_current_option(frontier, required=True)
    _add_catalog_option(frontier)
    _add_performance_option(frontier)
    _add_solver_options(frontier, "shared by all points")
    frontier.add_argument(
        "--points",
        type=_frontier_points,
        default=DEFAULT_POINTS,
        metavar="N",
        help=f"solves, both ends included (2..{MAX_FRONTIER_POINTS}, default {DEFAULT_POINTS})",
    )
    frontier.add_argument("--json", metavar="OUT", help="also write the points as JSON to OUT")
    frontier.set_defaults(run=run_frontier)


def _add_check_command(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check",
        help="check a plan JSON against the placement rules and the inputs",
        description="Independently check that a plan is valid for these inputs.",
    )
    check.add_argument("plan", metavar="PLAN.json", help="a plan written by `plan --json`")
    check.add_argument("workloads", metavar="WORKLOADS.csv", help="the workloads it was made for")
    check.add_argument("fleet", metavar="FLEET.csv", help="the fleet it was made for")
    _add_catalog_option(check)
    _add_performance_option(check)
    check.add_argument(
        "--current",
        metavar="FILE",
        help="the running fleet the plan was re-planned from: its transition and budgets are "
        "checked too",
    )
    check.set_defaults(run=run_check)


def _add_catalog_command(commands: argparse._SubParsersAction) -> None:
    catalog = commands.add_parser(
        "catalog",
        help="list the GPU models, or the MIG profiles of one model",
        description="Without MODEL: the known GPU models. With MODEL (key or nvidia-smi name): "
        "its MIG profiles and placements.",
    )
    catalog.add_argument("model", metavar="MODEL", nargs="?", help="a model, or `import`")
    _add_catalog_option(catalog)
    from recommender import cli_cluster

    cli_cluster.add_catalog_import_options(catalog)
    catalog.set_defaults(run=run_catalog)


def _columns_help(columns: dict[str, bool]) -> str:
    required = [name for name, needed in columns.items() if needed]
    optional = [name for name, needed in columns.items() if not needed]
    return f"CSV with columns {', '.join(required)} (optional: {', '.join(optional)})"


def _export_dest(key: str) -> str:
    return "export_" + key.replace("-", "_")


# --- plan --------------------------------------------------------------------------------------


def run_plan(args: argparse.Namespace) -> int:
    if args.current is None:
        for flag, value in (("--max-recarve", args.max_recarve), ("--max-moves", args.max_moves)):
            if value is not None:
                raise UsageError(f"{flag} needs --current (the fleet as it runs now)")
    # A run reads, builds and writes objects by the million, without reference cycles.
    with collector_paused():
        return _plan_and_write(args)


def _plan_and_write(args: argparse.Namespace) -> int:
    from recommender import cli_cluster

    # --time-limit covers reading, solving and writing: one clock, started before reading.
    started = time.monotonic()
    catalog = load_catalog(args.catalog)
    problem = cli_cluster.with_inventory(args, _load_problem(args, catalog))
    current = _load_current(args, problem, catalog)
    outputs = _output_paths(args)
    gpu_operator_path = cli_cluster.gpu_operator_output(args)
    files = [*outputs, *(["gpu-operator"] if gpu_operator_path is not None else [])]
    options = SolveOptions(
        time_limit_seconds=args.time_limit,
        workers=args.workers,
        seed=args.seed,
        relative_gap=args.gap,
        current=current,
        max_recarve=args.max_recarve,
        max_moves=args.max_moves,
        wave_size=args.wave_size,
        deadline=started + args.time_limit - writing_reserve(problem, files),
    )
    read = time.monotonic()
    show_progress = not args.quiet and (args.progress or is_tty(sys.stderr))
    with ProgressLine(sys.stderr, enabled=show_progress) as progress_line:
        plan = solve(problem, catalog, options, progress=progress_line.update)
    solved = time.monotonic()
    if plan.status in ("unknown", "infeasible"):
        print(
            f"{PROG}: the solver found no plan within {args.time_limit:g} s "
            "(status unknown); raise --time-limit",
            file=sys.stderr,
        )
        return EXIT_NO_PLAN
    written = _write_exports(outputs, plan, problem, catalog)
    written += cli_cluster.write_gpu_operator(gpu_operator_path, plan, problem, catalog)
    timing = RunTiming(args.time_limit, read - started, solved - read, time.monotonic() - solved)
    if not args.quiet:
        print(format_plan_summary(plan, problem, catalog, timing))
        print(format_written(written))
        for note in cli_cluster.name_notes(problem) if written else []:
            print(note)
    return EXIT_OK


# Seconds per replica each file takes to build and write, measured on 2 cores with 500,000
# one-replica workloads on 160,000 GPUs (benchmarks/timelimit.py); `writing_reserve` adds half.
WRITE_SECONDS_PER_REPLICA = {
    "json": 2e-6,
    "csv": 6e-6,
    "mig-parted": 5e-6,
    "nvidia-smi": 5e-6,
    "kubernetes": 5e-6,
    "gpu-operator": 5e-6,
}


def writing_reserve(problem: Problem, files: Sequence[str]) -> float:
    """Seconds kept back from --time-limit for writing `files` (export keys) after solving:
    they grow with the plan, whose instances are about the replicas."""
    replicas = problem.total_replicas
    per_replica = sum(WRITE_SECONDS_PER_REPLICA.get(key, 1e-5) for key in files)
    return 0.05 * len(files) + 1.5 * per_replica * replicas


def _load_problem(args: argparse.Namespace, catalog: Catalog) -> Problem:
    """The workloads and fleet files of `plan` / `check`, named in messages as the user typed."""
    return load_problem(
        args.workloads,
        args.fleet,
        catalog,
        workloads_label=args.workloads,
        fleet_label=args.fleet,
        performance=getattr(args, "performance", None),
        performance_label=getattr(args, "performance", None),
    )


# --- frontier ----------------------------------------------------------------------------------


def run_frontier(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    problem = _load_problem(args, catalog)
    current = _load_current(args, problem, catalog)
    assert current is not None  # --current is required here
    out = checked_output_path("json", args.json)
    options = SolveOptions(time_limit_seconds=args.time_limit, workers=args.workers, seed=args.seed)
    result = frontier(problem, catalog, current, args.points, options)
    print(format_frontier(result))
    if out is not None:
        write_output("json", out, result.model_dump_json(indent=1))
        print(f"\nwrote {out}")
    return EXIT_OK


def _load_current(
    args: argparse.Namespace, problem: Problem, catalog: Catalog
) -> list[PlanGpu] | None:
    """The `--current` file, if given, named in messages as the user typed it."""
    if args.current is None:
        return None
    return load_current(args.current, problem, catalog, args.current)


def _output_paths(args: argparse.Namespace) -> dict[str, Path]:
    """Export key -> path; an explicit `--<key> OUT` wins over `--out-dir`.

    Checked before solving, so a typo in a path does not cost a whole solve.
    """
    outputs: dict[str, Path] = {}
    registry = _exports_of(args)
    for key in ROLLOUT_EXPORTS.keys() - registry.keys():
        if getattr(args, _export_dest(key)) is not None:
            raise UsageError(f"--{key} needs --current: a rollout is from the running fleet")
    if args.out_dir is not None:
        out_dir = Path(args.out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out-dir {args.out_dir}: cannot create: {exc.strerror}") from None
        outputs = {key: out_dir / file_name for key, (file_name, _, _) in registry.items()}
    for key in registry:
        given = getattr(args, _export_dest(key))
        if given is not None:
            outputs[key] = Path(given)
    _check_output_paths(outputs)
    return outputs


def _exports_of(args: argparse.Namespace) -> dict[str, tuple[str, str, ExportFunction]]:
    """The exports this `plan` run can write: the rollout ones only from a running fleet."""
    return {**EXPORTS, **ROLLOUT_EXPORTS} if args.current is not None else dict(EXPORTS)


def _check_output_paths(outputs: dict[str, Path]) -> None:
    by_path: dict[Path, str] = {}
    for key, path in outputs.items():
        resolved = path.resolve()
        if resolved in by_path:
            raise UsageError(f"--{by_path[resolved]} and --{key} both write to {path}")
        by_path[resolved] = key
        if path.is_dir():
            raise UsageError(f"--{key} {path}: is a directory (give a file name)")
        parent = path.parent
        if not parent.is_dir():
            raise UsageError(f"--{key} {path}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise UsageError(f"--{key} {path}: directory {parent} is not writable")


# Scripts are written executable, like `chmod +x`.
EXECUTABLE_EXPORTS = frozenset({"nvidia-smi", "rollout"})


def _write_exports(
    outputs: dict[str, Path], plan: Plan, problem: Problem, catalog: Catalog
) -> list[tuple[str, Path]]:
    written: list[tuple[str, Path]] = []
    registry = {**EXPORTS, **ROLLOUT_EXPORTS}
    for key, path in outputs.items():
        _file_name, _mime, export = registry[key]
        text = export(plan, problem, catalog)
        write_output(key, path, text, executable=key in EXECUTABLE_EXPORTS)
        written.append((key, path))
    return written


def checked_output_path(key: str, given: str | None) -> Path | None:
    """The path of `--<key> OUT`, checked like every output path before any work is done (a
    typo should not cost a solve); None when the option is not given."""
    if given is None:
        return None
    path = Path(given)
    _check_output_paths({key: path})
    return path


def write_output(key: str, path: Path, text: str, executable: bool = False) -> None:
    """Write the file of `--<key> OUT` atomically; a failure is a usage error naming both."""
    try:
        write_text_atomically(path, text, executable=executable)
    except OSError as exc:
        raise UsageError(f"--{key} {path}: cannot write: {exc.strerror or exc}") from None


def write_text_atomically(path: Path, text: str, executable: bool = False) -> None:
    """Write `text` to a temporary file next to `path`, then rename it over `path`.

    A reader (or a crash) never sees half a file. The temporary file is opened the ordinary way,
    so the result gets the usual permissions from the umask.
    """
    if not text.endswith("\n"):
        text += "\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if executable:
            mode = temporary.stat().st_mode
            # Execute permission wherever read permission is granted, like `chmod +x` would.
            temporary.chmod(mode | ((mode & 0o444) >> 2))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# --- check -------------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    plan_data = read_plan_json(args.plan)
    problem = _load_problem(args, catalog)
    current = _load_current(args, problem, catalog)
    violations = validate_plan(plan_data, problem, catalog, current)
    if violations:
        count = len(violations)
        print(f"plan is NOT valid: {count} violation{'s' if count != 1 else ''}")
        for violation in violations:
            print(f"  - {violation}")
    else:
        print(f"plan is valid ({_plan_outline(plan_data)})")
    stated_digest = plan_data.get("inputs_sha256")
    if stated_digest and stated_digest != inputs_digest(problem, catalog):
        # Not a violation in itself, but it explains a flood of them (or reassures when none).
        print(
            "note: the plan's inputs_sha256 differs from these inputs' "
            "(it was made from other files or another catalog)"
        )
    return EXIT_INVALID_PLAN if violations else EXIT_OK


def _plan_outline(plan_data: dict) -> str:
    gpus = plan_data.get("gpus") or []
    used = sum(1 for gpu in gpus if gpu.get("instances"))
    return f"status {plan_data.get('status')}, {used} GPUs, ${plan_data.get('cost_per_hour')}/h"


# --- catalog -----------------------------------------------------------------------------------


def run_catalog(args: argparse.Namespace) -> int:
    if args.model == "import":
        from recommender.cli_cluster import run_catalog_import

        return run_catalog_import(args)
    catalog = load_catalog(args.catalog)
    if args.model is None:
        print(format_model_table(catalog))
        return EXIT_OK
    key = catalog.resolve(args.model)
    if key is None:
        guess = catalog.suggest(args.model)
        hint = f"; did you mean {guess}?" if guess else ""
        print(
            f"{PROG}: unknown GPU model '{args.model}'{hint}\n"
            f"known models: {', '.join(catalog.models)} (or their nvidia-smi names; "
            f"`{PROG} catalog` lists them)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    print(format_model_details(key, catalog.model(key)))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

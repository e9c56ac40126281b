"""The `mig-recommender` command line: plan, check a plan, browse the catalog.

A thin layer over the library (DESIGN.md §6): it reads files, calls `solve` / `validate_plan`,
prints, and writes the exports. Every failure a user can cause ends in a clear message and an
exit code, never a traceback:

    0  a plan was produced (a partial one too) / the plan is valid / catalog printed
    1  the solver found no plan / the checked plan has violations
    2  unusable input: bad CSV, catalog or plan file, unknown model, unwritable output path
    3  internal error (a bug: please report it)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO

from recommender.catalog import Catalog, GpuModel, Profile, load_catalog
from recommender.errors import InputError, InputIssue
from recommender.exports import EXPORTS
from recommender.inputs import FLEET_COLUMNS, WORKLOAD_COLUMNS, load_problem
from recommender.layouts import find_layout
from recommender.plan import HOURS_PER_MONTH, Plan, PlanGpu
from recommender.problem import Problem
from recommender.solve import Progress, SolveOptions, solve
from recommender.summary import inputs_digest
from recommender.validate import validate_plan

PROG = "mig-recommender"
EXIT_OK = 0
EXIT_NO_PLAN = 1
EXIT_INVALID_PLAN = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
# Set to see the traceback of an internal error instead of the one-line message.
DEBUG_ENV = "MIG_RECOMMENDER_DEBUG"
# The TTY progress line redraws this often so elapsed time moves between solutions.
PROGRESS_TICK_SECONDS = 0.5


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
    _add_check_command(commands)
    _add_catalog_command(commands)
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
    plan.add_argument(
        "--time-limit",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help="solver time limit in seconds; the best plan found by then is returned (default 30)",
    )
    plan.add_argument(
        "--workers",
        type=_positive_int,
        default=2,
        metavar="N",
        help="solver threads (default 2)",
    )
    plan.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="solver random seed (default 0)",
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
    plan.set_defaults(run=run_plan)


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
    check.set_defaults(run=run_check)


def _add_catalog_command(commands: argparse._SubParsersAction) -> None:
    catalog = commands.add_parser(
        "catalog",
        help="list the GPU models, or the MIG profiles of one model",
        description="Without MODEL: the known GPU models. With MODEL (key or nvidia-smi name): "
        "its MIG profiles and placements.",
    )
    catalog.add_argument("model", metavar="MODEL", nargs="?")
    _add_catalog_option(catalog)
    catalog.set_defaults(run=run_catalog)


def _columns_help(columns: dict[str, bool]) -> str:
    required = [name for name, needed in columns.items() if needed]
    optional = [name for name, needed in columns.items() if not needed]
    return f"CSV with columns {', '.join(required)} (optional: {', '.join(optional)})"


def _export_dest(key: str) -> str:
    return "export_" + key.replace("-", "_")


# --- plan --------------------------------------------------------------------------------------


def run_plan(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    problem = load_problem(
        args.workloads,
        args.fleet,
        catalog,
        workloads_label=args.workloads,
        fleet_label=args.fleet,
    )
    outputs = _output_paths(args)
    options = SolveOptions(
        time_limit_seconds=args.time_limit,
        workers=args.workers,
        seed=args.seed,
        relative_gap=args.gap,
    )
    show_progress = not args.quiet and (args.progress or _is_tty(sys.stderr))
    with ProgressLine(sys.stderr, enabled=show_progress) as progress_line:
        plan = solve(problem, catalog, options, progress=progress_line.update)
    if plan.status in ("unknown", "infeasible"):
        print(
            f"{PROG}: the solver found no plan within {args.time_limit:g} s "
            "(status unknown); raise --time-limit",
            file=sys.stderr,
        )
        return EXIT_NO_PLAN
    written = _write_exports(outputs, plan, problem, catalog)
    if not args.quiet:
        print(format_plan_summary(plan, problem, catalog))
        print(format_written(written))
    return EXIT_OK


def _output_paths(args: argparse.Namespace) -> dict[str, Path]:
    """Export key -> path; an explicit `--<key> OUT` wins over `--out-dir`.

    Checked before solving, so a typo in a path does not cost a whole solve.
    """
    outputs: dict[str, Path] = {}
    if args.out_dir is not None:
        out_dir = Path(args.out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out-dir {args.out_dir}: cannot create: {exc.strerror}") from None
        outputs = {key: out_dir / file_name for key, (file_name, _, _) in EXPORTS.items()}
    for key in EXPORTS:
        given = getattr(args, _export_dest(key))
        if given is not None:
            outputs[key] = Path(given)
    _check_output_paths(outputs)
    return outputs


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


def _write_exports(
    outputs: dict[str, Path], plan: Plan, problem: Problem, catalog: Catalog
) -> list[tuple[str, Path]]:
    written: list[tuple[str, Path]] = []
    for key, path in outputs.items():
        _file_name, _mime, export = EXPORTS[key]
        text = export(plan, problem, catalog)
        try:
            write_text_atomically(path, text, executable=key == "nvidia-smi")
        except OSError as exc:
            raise UsageError(f"--{key} {path}: cannot write: {exc.strerror or exc}") from None
        written.append((key, path))
    return written


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


def format_written(written: list[tuple[str, Path]]) -> str:
    if not written:
        return "files written: none (use --out-dir DIR or --json/--csv/... OUT)"
    width = max(len(key) for key in EXPORTS)
    lines = ["files written:"]
    lines += [f"  {key:<{width}}  {path}" for key, path in written]
    return "\n".join(lines)


# --- progress ----------------------------------------------------------------------------------


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressLine:
    """Solver progress on one line of `stream`.

    On a terminal the line is redrawn in place (and every PROGRESS_TICK_SECONDS, so elapsed time
    moves while the solver searches); elsewhere (`--progress` into a log) each new best solution
    is one line. The solver calls `update` from its own thread, hence the lock.
    """

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.in_place = enabled and _is_tty(stream)
        self._latest: Progress | None = None
        self._started = time.perf_counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._width = 0

    def __enter__(self) -> ProgressLine:
        if self.in_place:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.in_place and self._width:
            # Leave the final state on screen and move to a fresh line for the summary.
            self.stream.write("\n")
            self.stream.flush()

    def update(self, progress: Progress) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._latest = progress
            self._draw()

    def _tick(self) -> None:
        while not self._stop.wait(PROGRESS_TICK_SECONDS):
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        # One clock for solver reports and ticks, so elapsed time never steps back.
        text = format_progress(self._latest, time.perf_counter() - self._started)
        if self.in_place:
            padding = " " * max(0, self._width - len(text))
            self.stream.write("\r" + text + padding)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def format_progress(progress: Progress | None, elapsed: float) -> str:
    parts = [f"{elapsed:6.1f}s"]
    if progress is None:
        parts.append("building the model")
        return "  ".join(parts)
    parts.append(f"{progress.stage:<9}")
    if progress.placed_replicas is not None:
        parts.append(f"placed {progress.placed_replicas}/{progress.total_replicas}")
    if progress.cost_per_hour is not None:
        parts.append(f"best ${progress.cost_per_hour:,.2f}/h")
    if progress.lower_bound_per_hour is not None:
        parts.append(f"bound ${progress.lower_bound_per_hour:,.2f}/h")
    return "  ".join(parts)


# --- plan summary ------------------------------------------------------------------------------


def format_plan_summary(plan: Plan, problem: Problem, catalog: Catalog) -> str:
    """The readable report of a plan: cost, bound, GPUs per pool, layouts, unplaced, solver."""
    sections = [
        _status_lines(plan),
        _pool_lines(plan, problem),
        _layout_lines(plan, problem, catalog),
        _unplaced_lines(plan),
        _solver_lines(plan),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections if lines)


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _status_lines(plan: Plan) -> list[str]:
    summary = plan.summary
    lines = [f"status:        {plan.status}"]
    lines.append(
        f"cost:          {_money(plan.cost_per_hour)}/h  "
        f"({_money(plan.cost_per_hour * HOURS_PER_MONTH)}/month at {HOURS_PER_MONTH} h)"
    )
    gap = "n/a"
    if summary is not None and summary.gap is not None:
        gap = f"{summary.gap:.2%}"
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


def _pool_lines(plan: Plan, problem: Problem) -> list[str]:
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


def layout_label(gpu: PlanGpu, model: GpuModel | None) -> str:
    """The GPU's profile multiset, largest first, e.g. `3g.40gb | 2g.20gb | 1g.10gb | 1g.10gb`."""

    def size(name: str) -> tuple[int, int, str]:
        if model is None or name not in model.profile_by_name:
            return (0, 0, name)
        profile = model.profile(name)
        return (-profile.span, -profile.compute_slices, name)

    return " | ".join(sorted((inst.profile for inst in gpu.instances), key=size))


def _layout_lines(plan: Plan, problem: Problem, catalog: Catalog) -> list[str]:
    lines: list[str] = []
    pool_order = [pool.pool for pool in problem.pools]
    for pool_name in pool_order:
        gpus = [g for g in plan.gpus if g.pool == pool_name and g.instances]
        if not gpus:
            continue
        model_key = gpus[0].gpu_model
        model = catalog.models.get(model_key)
        counts = Counter(layout_label(gpu, model) for gpu in gpus)
        width = len(str(max(counts.values())))
        lines.append(f"  {pool_name} ({model_key}):")
        for label, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"    {count:>{width}} x {label}")
    return ["layouts:", *lines] if lines else []


def _unplaced_lines(plan: Plan) -> list[str]:
    if not plan.unplaced:
        return []
    total = sum(u.replicas for u in plan.unplaced)
    lines = [f"unplaced workloads ({len(plan.unplaced)}, {total} replicas):"]
    for item in plan.unplaced:
        replicas = "replica" if item.replicas == 1 else "replicas"
        lines.append(f"  {item.workload}: {item.replicas} {replicas}: {item.reason}")
    return lines


def _solver_lines(plan: Plan) -> list[str]:
    stats = plan.solver
    if stats is None:
        return []
    limit = f" of {stats.time_limit_seconds:g} s limit" if stats.time_limit_seconds else ""
    lines = [
        f"solver:        {stats.wall_seconds:.1f} s{limit}, {stats.workers} workers, "
        f"seed {stats.seed}",
        f"               placement {stats.placement_status}, cost {stats.cost_status}; "
        f"{stats.layouts} layouts, {stats.variables} variables, "
        f"{stats.constraints} constraints",
    ]
    lines += [f"note:          {note}" for note in stats.notes]
    return lines


def format_table(headers: list[str], rows: list[list[str]], indent: int = 0) -> list[str]:
    """Left-aligned text columns; the last column is not padded (it may be long)."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    prefix = " " * indent
    lines = []
    for row in [headers, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append((prefix + "  ".join([*cells, str(row[-1])])).rstrip())
    return lines


# --- check -------------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    plan_data = read_plan_json(args.plan)
    problem = load_problem(
        args.workloads,
        args.fleet,
        catalog,
        workloads_label=args.workloads,
        fleet_label=args.fleet,
    )
    violations = validate_plan(plan_data, problem, catalog)
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


def read_plan_json(path_text: str) -> dict:
    """The plan file as a JSON object; anything unreadable is an InputError.

    Only syntax is checked here: whether the object fits the plan schema is for `validate_plan`
    to report as violations.
    """
    path = Path(path_text)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError([InputIssue(path_text, None, None, "file not found")]) from None
    except IsADirectoryError:
        message = "is a directory, not a file"
        raise InputError([InputIssue(path_text, None, None, message)]) from None
    except OSError as exc:
        message = f"cannot read: {exc.strerror or exc}"
        raise InputError([InputIssue(path_text, None, None, message)]) from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = f"byte 0x{raw[exc.start]:02x} is not valid UTF-8 (a plan is UTF-8 JSON)"
        raise InputError([InputIssue(path_text, line, None, message)]) from None
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (column {exc.colno})"
        raise InputError([InputIssue(path_text, exc.lineno, None, message)]) from None
    if not isinstance(data, dict):
        message = f"expected a JSON object (a plan), found a JSON {type(data).__name__}"
        raise InputError([InputIssue(path_text, None, None, message)])
    return data


def _plan_outline(plan_data: dict) -> str:
    gpus = plan_data.get("gpus") or []
    used = sum(1 for gpu in gpus if gpu.get("instances"))
    return f"status {plan_data.get('status')}, {used} GPUs, ${plan_data.get('cost_per_hour')}/h"


# --- catalog -----------------------------------------------------------------------------------


def run_catalog(args: argparse.Namespace) -> int:
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


def _nvidia_smi_names(model: GpuModel) -> list[str]:
    """The aliases that are names `nvidia-smi` prints (they start with NVIDIA)."""
    return [alias for alias in model.aliases if alias.upper().startswith("NVIDIA")]


def format_model_table(catalog: Catalog) -> str:
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


def _profile_row(model: GpuModel, profile: Profile) -> list[str]:
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


def format_model_details(key: str, model: GpuModel) -> str:
    lines = [
        f"{key}: {model.memory_gb:g} GB, {model.compute_slices} compute slices, "
        f"{model.placement_units} axis units, at most {model.max_instances} instances",
    ]
    if model.aliases:
        lines.append(f"aliases: {'; '.join(model.aliases)}")
    lines.append("")
    headers = [
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
    lines += format_table(headers, [_profile_row(model, p) for p in model.profiles])
    lines.append("")
    lines.append(f"all-balanced: {_all_balanced_text(model)}")
    if model.special_rules:
        lines.append("special rules:")
        lines += [f"  - {rule}" for rule in model.special_rules]
    lines.append("sources:")
    lines += [f"  - {source}" for source in model.sources]
    return "\n".join(lines)


def _all_balanced_text(model: GpuModel) -> str:
    if not model.all_balanced:
        return "not defined for this model"
    names = [name for name, count in model.all_balanced.items() for _ in range(count)]
    counts = ", ".join(f"{count} x {name}" for name, count in model.all_balanced.items())
    layout = find_layout(model, names)
    if layout is None:
        return f"{counts} (no valid placement in this catalog)"
    placed = " | ".join(f"{p.profile}@{p.start}" for p in layout.placements)
    return f"{counts}; placed as {placed} (profile@start)"


if __name__ == "__main__":
    sys.exit(main())

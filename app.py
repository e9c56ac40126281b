"""MIG layout recommender: the what-if page.

    streamlit run app.py [-- --db PATH]

A thin layer over the library (DESIGN.md §6): inputs come in through the library's readers, the
knobs through `recommender.whatif`, plans from `recommender.solve` (run in a worker thread so
the page shows progress), charts from `recommender.charts`, saved scenarios from
`recommender.scenarios`. Everything a browser session changes lives in `st.session_state`;
what is shared between sessions (finished solves, catalogs, the scenario database) is keyed by
content or saved on purpose.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from recommender import charts
from recommender.baselines import BASELINE_DISPLAY_NAMES, BASELINES
from recommender.catalog import BUILTIN_CATALOG_PATH, Catalog, load_catalog
from recommender.errors import InputError
from recommender.exports import EXPORTS
from recommender.inputs import load_problem
from recommender.plan import Plan, Summary
from recommender.problem import Problem
from recommender.scenarios import (
    Scenario,
    ScenarioError,
    ScenarioInputs,
    ScenarioStore,
    clean_name,
    comparison_table,
    database_path,
    export_scenario,
    import_scenario,
    now,
    scenario_problem,
)
from recommender.solve import Progress, SolveOptions, solve
from recommender.summary import inputs_digest, summarize
from recommender.validate import validate_plan
from recommender.whatif import (
    MAX_DEMAND_MULTIPLIER,
    MAX_REPLICAS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_MB,
    Knobs,
    apply_knobs,
    baseline_comparison,
    catalog_from_upload,
    filter_gpus,
    fleet_table,
    layout_rows,
    overrides_from_table,
    overrides_table,
    table_to_csv,
    workloads_table,
)

LOG = logging.getLogger("mig-recommender.app")
SAMPLE_DIR = BUILTIN_CATALOG_PATH.parent
TIME_LIMIT_ENV = "MIG_RECOMMENDER_TIME_LIMIT"
FALLBACK_TIME_LIMIT = 10.0
MIN_TIME_LIMIT, MAX_TIME_LIMIT = 1.0, 600.0
SOLVER_WORKERS = 2
# Building the model and expanding the plan come on top of the solver's time limit.
SOLVE_OVERHEAD_SECONDS = 15.0
POLL_SECONDS = 0.2
FINISHED_SOLVES_KEPT = 16
GROUP_ABOVE_GPUS = 40
MAX_LAYOUT_ROWS = 250
CURRENT = "Current (unsaved)"
HIGHLIGHT = "background-color: #fff2a8"
UNPLACED_COLUMNS = {
    "workload": st.column_config.TextColumn("workload", width="medium"),
    "replicas": st.column_config.NumberColumn("replicas", width="small"),
    "reason": st.column_config.TextColumn("reason", width="large"),
}
EXPORT_LABELS = {
    "json": "Plan (JSON)",
    "csv": "Plan (CSV)",
    "mig-parted": "mig-parted config (YAML)",
    "nvidia-smi": "nvidia-smi script",
    "kubernetes": "Kubernetes resources (YAML)",
}


def default_time_limit() -> float:
    """The solver time limit the page starts with: `MIG_RECOMMENDER_TIME_LIMIT` or 10 s."""
    try:
        value = float(os.environ.get(TIME_LIMIT_ENV, FALLBACK_TIME_LIMIT))
    except ValueError:
        return FALLBACK_TIME_LIMIT
    if not math.isfinite(value):
        return FALLBACK_TIME_LIMIT
    return min(max(value, MIN_TIME_LIMIT), MAX_TIME_LIMIT)


def db_option() -> str | None:
    """`--db PATH` after `streamlit run app.py --`; unknown arguments are left to Streamlit."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.db


def md_escape(text: str) -> str:
    """User text (names, messages) made literal inside Streamlit markdown."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>$~:" else c for c in text)


# --- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedInputs:
    """Input files that load cleanly: canonical texts, where they came from, and what they say."""

    files: ScenarioInputs
    sources: dict[str, str]
    catalog: Catalog
    problem: Problem


@st.cache_resource(max_entries=8, show_spinner=False)
def uploaded_catalog(data: bytes, name: str) -> Catalog:
    """One Catalog object per uploaded file, so the library's per-model layout caches hit."""
    return catalog_from_upload(data, name)


def inputs_catalog(catalog_file: bytes | None, catalog_name: str | None) -> Catalog:
    if catalog_file is None:
        return load_catalog()
    return uploaded_catalog(catalog_file, catalog_name or "catalog.json")


def loaded(
    problem: Problem,
    catalog: Catalog,
    catalog_file: bytes | None,
    catalog_name: str | None,
    sources: dict[str, str],
) -> LoadedInputs:
    """Inputs with canonical CSV texts (what the editors produce), so edits compare exactly."""
    files = ScenarioInputs(
        workloads_csv=table_to_csv(workloads_table(problem.workloads)),
        fleet_csv=table_to_csv(fleet_table(problem.pools)),
        catalog_file=catalog_file.decode("utf-8") if catalog_file is not None else None,
        catalog_name=catalog_name if catalog_file is not None else None,
    )
    return LoadedInputs(files=files, sources=sources, catalog=catalog, problem=problem)


def load_inputs(
    workloads: tuple[str, bytes],
    fleet: tuple[str, bytes],
    catalog_file: tuple[str, bytes] | None,
    sources: dict[str, str],
) -> LoadedInputs:
    """Both CSVs (and a catalog file) as (label, bytes); raises InputError with every issue."""
    catalog_name, catalog_data = catalog_file if catalog_file else (None, None)
    catalog = inputs_catalog(catalog_data, catalog_name)
    problem = load_problem(
        workloads[1],
        fleet[1],
        catalog,
        workloads_label=workloads[0],
        fleet_label=fleet[0],
        max_replicas=MAX_REPLICAS,
    )
    return loaded(problem, catalog, catalog_data, catalog_name, sources)


@st.cache_resource(show_spinner=False)
def sample_inputs() -> LoadedInputs:
    """The bundled sample (read from the package, never from a path a user gives)."""
    return load_inputs(
        ("workloads.csv", (SAMPLE_DIR / "workloads.csv").read_bytes()),
        ("fleet.csv", (SAMPLE_DIR / "fleet.csv").read_bytes()),
        None,
        {"workloads": "sample", "fleet": "sample", "catalog": "built-in"},
    )


def current_files(inputs: LoadedInputs) -> dict[str, tuple[str, bytes] | None]:
    files = inputs.files
    return {
        "workloads": ("workloads.csv", files.workloads_csv.encode()),
        "fleet": ("fleet.csv", files.fleet_csv.encode()),
        "catalog": (
            (files.catalog_name or "catalog.json", files.catalog_file.encode())
            if files.catalog_file is not None
            else None
        ),
    }


def fleet_digest(problem: Problem) -> str:
    return hashlib.sha256("|".join(p.model_dump_json() for p in problem.pools).encode()).hexdigest()


# --- session state -----------------------------------------------------------------------------


def init_session() -> None:
    """Per-session state; every key is set once, on the session's first run."""
    ss = st.session_state
    if "inputs" in ss:
        return
    sample = sample_inputs()
    ss.inputs = sample
    ss.editor_base = sample
    ss.editor_version = 0
    ss.pending = {}
    ss.seen_uploads = set()
    ss.upload_errors = ""
    ss.overrides_seed = {}
    ss.overrides_version = 0
    ss.overrides_fleet = fleet_digest(sample.problem)
    ss.last_overrides = {}
    ss.known_plans = {}
    ss.notices = []
    ss.demand_multiplier = 1.0
    ss.models_off = []
    ss.time_limit = default_time_limit()
    ss.scenario_name = ""


def commit_inputs(inputs: LoadedInputs) -> None:
    """Replace the inputs wholesale (upload, sample, scenario): the editors restart from them."""
    ss = st.session_state
    ss.inputs = inputs
    ss.editor_base = inputs
    ss.editor_version += 1
    ss.pending = {}
    ss.upload_errors = ""


def notice(kind: str, text: str) -> None:
    """A message shown once at the top of the next run (for button callbacks)."""
    st.session_state.notices.append((kind, text))


def reset_to_sample() -> None:
    commit_inputs(sample_inputs())
    notice("success", "Back to the sample data.")


# --- uploads -----------------------------------------------------------------------------------


def process_uploads(uploads: dict[str, Any]) -> None:
    """New uploads (each file once) join the pending files; if pending + current inputs load,
    they become the inputs, else the issues are kept and the last good inputs stay. Removing a
    pending file from its uploader drops it."""
    ss = st.session_state
    fresh: dict[str, tuple[str, bytes]] = {}
    too_big: list[str] = []
    for kind, upload in uploads.items():
        if upload is None:
            if ss.pending.pop(kind, None) is not None and not ss.pending:
                ss.upload_errors = ""
            continue
        if upload.file_id in ss.seen_uploads:
            continue
        ss.seen_uploads.add(upload.file_id)
        if upload.size > MAX_UPLOAD_BYTES:
            too_big.append(
                f"{upload.name}: {upload.size / 2**20:.1f} MB is over the {MAX_UPLOAD_MB} MB cap"
            )
            continue
        fresh[kind] = (upload.name, upload.getvalue())
    if fresh:
        ss.pending.update(fresh)
        files = current_files(ss.inputs) | ss.pending
        sources = dict(ss.inputs.sources)
        for kind, (name, _data) in ss.pending.items():
            sources[kind] = f"uploaded {name}"
        try:
            inputs = load_inputs(files["workloads"], files["fleet"], files["catalog"], sources)
        except InputError as exc:
            ss.upload_errors = exc.report()
        else:
            commit_inputs(inputs)
            names = ", ".join(name for name, _ in fresh.values())
            notice("success", f"Uploaded inputs loaded: {names}")
    if too_big:
        ss.upload_errors = "\n".join([*too_big, ss.upload_errors]).strip()


def render_uploads() -> None:
    with st.sidebar:
        st.header("Inputs")
        uploads = {
            "workloads": st.file_uploader(
                "Workloads CSV", type=["csv"], key="upload_workloads", max_upload_size=MAX_UPLOAD_MB
            ),
            "fleet": st.file_uploader(
                "Fleet CSV", type=["csv"], key="upload_fleet", max_upload_size=MAX_UPLOAD_MB
            ),
            "catalog": st.file_uploader(
                "MIG catalog (optional, JSON or YAML)",
                type=["json", "yaml", "yml"],
                key="upload_catalog",
                max_upload_size=MAX_UPLOAD_MB,
            ),
        }
        process_uploads(uploads)
        sources = st.session_state.inputs.sources
        st.caption(
            md_escape(
                f"Using workloads: {sources['workloads']}; fleet: {sources['fleet']}; "
                f"catalog: {sources['catalog']}."
            )
        )
        st.button("Back to the sample data", on_click=reset_to_sample)


# --- editors -----------------------------------------------------------------------------------


def render_editors(catalog: Catalog) -> str:
    """The input tables, editable; valid edits become the inputs. Returns the issues of invalid
    edits (empty when the tables load)."""
    ss = st.session_state
    base: LoadedInputs = ss.editor_base
    version = ss.editor_version
    st.caption(
        "Edit cells, add rows at the bottom, delete rows by selecting them. Valid edits re-solve; "
        "while a table has problems the plan keeps the last good inputs."
    )
    st.subheader("Workloads")
    workloads = st.data_editor(
        workloads_table(base.problem.workloads),
        num_rows="dynamic",
        key=f"workloads_editor_{version}",
        width="stretch",
        column_config=workload_columns(catalog),
    )
    st.subheader("Fleet")
    fleet = st.data_editor(
        fleet_table(base.problem.pools),
        num_rows="dynamic",
        key=f"fleet_editor_{version}",
        width="stretch",
        column_config=fleet_columns(catalog),
    )
    workloads_csv, fleet_csv = table_to_csv(workloads), table_to_csv(fleet)
    left, right = st.columns(2)
    left.download_button(
        "Download workloads.csv",
        table_to_csv(workloads, guard_formulas=True),
        file_name="workloads.csv",
        mime="text/csv",
        on_click="ignore",
    )
    right.download_button(
        "Download fleet.csv",
        table_to_csv(fleet, guard_formulas=True),
        file_name="fleet.csv",
        mime="text/csv",
        on_click="ignore",
    )
    current: LoadedInputs = ss.inputs
    if (workloads_csv, fleet_csv) == (current.files.workloads_csv, current.files.fleet_csv):
        return ""
    files = current_files(current)
    sources = dict(current.sources)
    if workloads_csv != current.files.workloads_csv:
        sources["workloads"] = "edited table"
    if fleet_csv != current.files.fleet_csv:
        sources["fleet"] = "edited table"
    try:
        inputs = load_inputs(
            ("workloads table", workloads_csv.encode()),
            ("fleet table", fleet_csv.encode()),
            files["catalog"],
            sources,
        )
    except InputError as exc:
        return exc.report()
    ss.inputs = inputs
    return ""


def workload_columns(catalog: Catalog) -> dict[str, Any]:
    models = ", ".join(catalog.models)
    return {
        "name": st.column_config.TextColumn("name", required=True),
        "memory_gb": st.column_config.NumberColumn("memory_gb", min_value=0.0, format="%g"),
        "compute_slices": st.column_config.NumberColumn("compute_slices", min_value=1, max_value=7),
        "replicas": st.column_config.NumberColumn("replicas", min_value=1, step=1),
        "gpu_models": st.column_config.TextColumn(
            "gpu_models", help=f"Model keys joined by |, empty for any. Known: {models}"
        ),
        "priority": st.column_config.NumberColumn("priority", min_value=1, step=1),
        "media": st.column_config.CheckboxColumn("media"),
        "spread": st.column_config.CheckboxColumn("spread"),
    }


def fleet_columns(catalog: Catalog) -> dict[str, Any]:
    return {
        "pool": st.column_config.TextColumn("pool", required=True),
        "gpu_model": st.column_config.SelectboxColumn("gpu_model", options=list(catalog.models)),
        "gpus": st.column_config.NumberColumn("gpus", min_value=0, step=1),
        "cost_per_hour": st.column_config.NumberColumn("cost_per_hour", min_value=0.0, format="%g"),
        "gpus_per_node": st.column_config.NumberColumn("gpus_per_node", min_value=1, step=1),
    }


# --- knobs -------------------------------------------------------------------------------------


def render_knobs(problem: Problem) -> Knobs:
    ss = st.session_state
    digest = fleet_digest(problem)
    if digest != ss.overrides_fleet:
        # A new fleet: the pool table restarts from it, keeping overrides of pools still there.
        ss.overrides_seed = dict(ss.last_overrides)
        ss.overrides_version += 1
        ss.overrides_fleet = digest
    fleet_models = sorted({p.gpu_model for p in problem.pools})
    ss.models_off = [m for m in ss.models_off if m in fleet_models]
    with st.sidebar:
        st.header("What-if")
        st.number_input(
            "Demand multiplier (replicas x)",
            min_value=0.1,
            max_value=MAX_DEMAND_MULTIPLIER,
            step=0.1,
            key="demand_multiplier",
            help="Every workload's replicas times this, rounded up.",
        )
        st.multiselect("GPU models switched off", fleet_models, key="models_off")
        st.number_input(
            "Solver time limit (seconds)",
            min_value=MIN_TIME_LIMIT,
            max_value=MAX_TIME_LIMIT,
            step=1.0,
            key="time_limit",
        )
        st.caption("Pools: GPUs available and price per GPU-hour")
        table = st.data_editor(
            overrides_table(problem, ss.overrides_seed),
            key=f"pool_knobs_{ss.overrides_version}",
            disabled=["pool", "gpu_model"],
            column_order=["pool", "gpus", "cost_per_hour"],
            hide_index=True,
            width="stretch",
            column_config={
                "gpus": st.column_config.NumberColumn("gpus", min_value=0, step=1),
                "cost_per_hour": st.column_config.NumberColumn("$/h", min_value=0.0, format="%g"),
            },
        )
    overrides = overrides_from_table(problem, table)
    ss.last_overrides = overrides
    return Knobs(
        demand_multiplier=float(ss.demand_multiplier),
        pool_overrides=overrides,
        models_off=tuple(ss.models_off),
        time_limit_seconds=float(ss.time_limit),
    )


# --- solving -----------------------------------------------------------------------------------


def solve_options(knobs: Knobs) -> SolveOptions:
    return SolveOptions(time_limit_seconds=knobs.time_limit_seconds, workers=SOLVER_WORKERS)


def solve_key(problem: Problem, catalog: Catalog, options: SolveOptions) -> str:
    """Same inputs and options, same key: a finished solve is reused, never repeated."""
    text = f"{inputs_digest(problem, catalog)}|{options.time_limit_seconds}|{options.workers}|"
    return hashlib.sha256(f"{text}{options.seed}".encode()).hexdigest()


@dataclass
class SolveJob:
    """One solve running (or done) in a worker thread; the page polls it."""

    time_limit: float
    started: float = field(default_factory=time.monotonic)
    history: list[Progress] = field(default_factory=list)
    plan: Plan | None = None
    violations: list[str] = field(default_factory=list)
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def finished(cls, plan: Plan, violations: list[str]) -> SolveJob:
        job = cls(time_limit=0.0, plan=plan, violations=violations)
        job.done.set()
        return job

    def run(self, problem: Problem, catalog: Catalog, options: SolveOptions) -> None:
        try:
            plan = solve(problem, catalog, options, progress=self.history.append)
            self.violations = validate_plan(plan, problem, catalog)
            self.plan = plan
        except Exception as exc:  # a failed solve is reported on the page, not lost in a thread
            LOG.exception("solve failed")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    @property
    def latest(self) -> Progress | None:
        history = self.history
        return history[-1] if history else None


class SolveJobs:
    """Solves by key, shared by the sessions of this server: a rerun or a second viewer of the
    same inputs attaches to the running solve instead of starting another."""

    def __init__(self, keep: int = FINISHED_SOLVES_KEPT) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, SolveJob] = OrderedDict()

    def job(self, key: str, problem: Problem, catalog: Catalog, options: SolveOptions) -> SolveJob:
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                self._jobs.move_to_end(key)
                return job
            job = SolveJob(time_limit=options.time_limit_seconds)
            self._jobs[key] = job
            self._evict()
        worker = threading.Thread(
            target=job.run, args=(problem, catalog, options), name=f"solve-{key[:8]}", daemon=True
        )
        worker.start()
        return job

    def _evict(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.done.is_set()]
        for key in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[key]


@st.cache_resource(show_spinner=False)
def solve_jobs() -> SolveJobs:
    return SolveJobs()


def progress_text(job: SolveJob, total_replicas: int) -> str:
    elapsed = time.monotonic() - job.started
    parts = [f"Solving: {elapsed:.0f} of at most {job.time_limit:.0f} s"]
    latest = job.latest
    if latest is not None and latest.placed_replicas is not None:
        parts.append(f"placed {latest.placed_replicas:,} of {total_replicas:,} replicas")
    if latest is not None and latest.cost_per_hour is not None:
        parts.append(f"best \\${latest.cost_per_hour:,.2f}/h")
    if latest is not None and latest.lower_bound_per_hour is not None:
        parts.append(f"bound \\${latest.lower_bound_per_hour:,.2f}/h")
    return " · ".join(parts)


def wait_for(job: SolveJob, area: Any, total_replicas: int) -> bool:
    """Show the solve's progress until it ends or its time limit (plus overhead) passes; True
    when it ended. The page never blocks longer than that."""
    if job.done.is_set():
        return True
    deadline = job.started + job.time_limit + SOLVE_OVERHEAD_SECONDS
    bar = area.empty()
    while not job.done.wait(POLL_SECONDS) and time.monotonic() < deadline:
        share = min((time.monotonic() - job.started) / max(job.time_limit, 1e-9), 1.0)
        bar.progress(share, text=progress_text(job, total_replicas))
    bar.empty()
    return job.done.is_set()


def solved_plan(problem: Problem, catalog: Catalog, knobs: Knobs, area: Any) -> SolveJob | None:
    """The job holding the plan for these inputs (a plan loaded with a scenario, or a solve)."""
    options = solve_options(knobs)
    key = solve_key(problem, catalog, options)
    known = st.session_state.known_plans.get(key)
    if known is not None:
        return known
    job = solve_jobs().job(key, problem, catalog, options)
    if wait_for(job, area, problem.total_replicas):
        return job
    area.warning(
        "The solver is still running in the background (building a large model takes a "
        "while). Press Refresh to pick up its plan."
    )
    area.button("Refresh")
    return None


@st.cache_data(max_entries=32, show_spinner=False)
def baseline_plans(key: str, _problem: Problem, _catalog: Catalog) -> dict[str, Plan | str]:
    """Each baseline's plan (or why it failed), cached by the inputs' digest `key`."""
    plans: dict[str, Plan | str] = {}
    for name, planner in BASELINES.items():
        try:
            plans[name] = planner(_problem, _catalog)
        except Exception as exc:  # one broken baseline must not hide the page
            LOG.exception("baseline %s failed", name)
            plans[name] = f"{type(exc).__name__}: {exc}"
    return plans


# --- scenarios ---------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def scenario_store(path: str) -> ScenarioStore:
    return ScenarioStore(Path(path))


def save_scenario(store: ScenarioStore, files: ScenarioInputs, knobs: Knobs, plan: Plan) -> None:
    ss = st.session_state
    try:
        name = clean_name(ss.scenario_name)
        scenario = Scenario(name=name, created_at=now(), inputs=files, knobs=knobs, plan=plan)
        store.save(scenario, overwrite=bool(ss.get("scenario_overwrite", False)))
    except (ScenarioError, ValueError) as exc:
        notice("error", f"Not saved: {exc}")
        return
    notice("success", f"Saved scenario '{name}'.")
    selected = [n for n in ss.get("compare_names", [CURRENT]) if n != name]
    ss.compare_names = [*selected, name]


def load_scenario(store: ScenarioStore, name: str) -> None:
    ss = st.session_state
    try:
        scenario = store.load(name)
        files = scenario.inputs
        catalog_file = files.catalog_file.encode() if files.catalog_file is not None else None
        catalog = inputs_catalog(catalog_file, files.catalog_name)
        problem = scenario_problem(files, catalog)
        knobs = scenario.knobs
        solved_problem = apply_knobs(problem, knobs)
    except (ScenarioError, InputError) as exc:
        notice("error", f"Scenario '{name}' not loaded: {exc}")
        return
    label = f"scenario {name}"
    sources = {"workloads": label, "fleet": label, "catalog": label if catalog_file else "built-in"}
    commit_inputs(loaded(problem, catalog, catalog_file, files.catalog_name, sources))
    ss.demand_multiplier = knobs.demand_multiplier
    ss.models_off = list(knobs.models_off)
    ss.time_limit = min(max(knobs.time_limit_seconds, MIN_TIME_LIMIT), MAX_TIME_LIMIT)
    ss.overrides_seed = dict(knobs.pool_overrides)
    ss.last_overrides = dict(knobs.pool_overrides)
    ss.overrides_version += 1
    ss.overrides_fleet = fleet_digest(problem)
    # The saved plan is shown as it was (no re-solve) when the knobs are unchanged.
    shown_knobs = knobs.model_copy(update={"time_limit_seconds": float(ss.time_limit)})
    key = solve_key(solved_problem, catalog, solve_options(shown_knobs))
    violations = validate_plan(scenario.plan, solved_problem, catalog)
    ss.known_plans[key] = SolveJob.finished(scenario.plan, violations)
    notice("success", f"Loaded scenario '{name}'.")


def rename_scenario(store: ScenarioStore, old: str) -> None:
    ss = st.session_state
    try:
        new = store.rename(old, ss.get("scenario_new_name", ""))
    except ScenarioError as exc:
        notice("error", f"Not renamed: {exc}")
        return
    ss.compare_names = [new if n == old else n for n in ss.get("compare_names", [])]
    ss.scenario_pick = new
    notice("success", f"Renamed '{old}' to '{new}'.")


def delete_scenario(store: ScenarioStore, name: str) -> None:
    ss = st.session_state
    if not ss.get("scenario_confirm_delete", False):
        notice("error", "Tick 'yes, delete it' first.")
        return
    try:
        store.delete(name)
    except ScenarioError as exc:
        notice("error", f"Not deleted: {exc}")
        return
    ss.compare_names = [n for n in ss.get("compare_names", []) if n != name]
    ss.scenario_confirm_delete = False
    notice("success", f"Deleted scenario '{name}'.")


def import_uploaded_scenario(store: ScenarioStore, upload: Any) -> None:
    ss = st.session_state
    if upload is None or upload.file_id in ss.seen_uploads:
        return
    ss.seen_uploads.add(upload.file_id)
    try:
        scenario = import_scenario(upload.getvalue(), label=upload.name)
        name = store.free_name(scenario.name)
        store.save(scenario.model_copy(update={"name": name}))
    except ScenarioError as exc:
        st.error("Scenario file refused.")
        st.code(str(exc), language=None)
        return
    st.success(md_escape(f"Imported scenario '{name}'."))


def render_scenarios(files: ScenarioInputs, knobs: Knobs, plan: Plan) -> None:
    path = database_path(db_option())
    try:
        store = scenario_store(str(path))
        names = store.names()
    except ScenarioError as exc:
        st.error("Saved scenarios are unavailable.")
        st.code(str(exc), language=None)
        return
    st.caption(md_escape(f"Saved in {path}"))
    save_col, overwrite_col = st.columns([3, 1])
    save_col.text_input("Scenario name", key="scenario_name", max_chars=100)
    overwrite_col.checkbox("Overwrite", key="scenario_overwrite")
    st.button(
        "Save scenario", type="primary", on_click=save_scenario, args=(store, files, knobs, plan)
    )
    infos = store.list_scenarios()
    if infos:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "name": i.name,
                        "status": i.status,
                        "cost_per_hour": i.cost_per_hour,
                        "saved": i.updated_at,
                    }
                    for i in infos
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    render_comparison(store, names, plan)
    if names:
        render_manage(store, names)
    st.subheader("Import")
    upload = st.file_uploader(
        "Scenario file (JSON)", type=["json"], key="upload_scenario", max_upload_size=MAX_UPLOAD_MB
    )
    import_uploaded_scenario(store, upload)


def render_comparison(store: ScenarioStore, names: list[str], plan: Plan) -> None:
    ss = st.session_state
    st.subheader("Compare")
    options = [CURRENT, *names]
    if "compare_names" not in ss:
        ss.compare_names = options[:4]
    ss.compare_names = [n for n in ss.compare_names if n in options]
    chosen = st.multiselect("Scenarios side by side", options, key="compare_names")
    if len(chosen) < 2:
        st.caption("Pick two or more scenarios (saved ones, and the current plan) to compare.")
        return
    columns: list[tuple[str, Plan]] = []
    for name in chosen:
        try:
            columns.append((name, plan if name == CURRENT else store.load(name).plan))
        except ScenarioError as exc:
            st.error(md_escape(str(exc)))
    if len(columns) < 2:
        return
    shown, mask = comparison_table(columns)
    styled = shown.style.apply(lambda _: mask.replace({True: HIGHLIGHT, False: ""}), axis=None)
    st.dataframe(styled, width="stretch")
    st.caption(md_escape(f"Highlighted: differs from the first column ({columns[0][0]})."))


def render_manage(store: ScenarioStore, names: list[str]) -> None:
    ss = st.session_state
    st.subheader("Manage")
    if ss.get("scenario_pick") not in names:
        ss.scenario_pick = names[0]
    pick = st.selectbox("Scenario", names, key="scenario_pick")
    load_col, export_col = st.columns(2)
    load_col.button("Load into the page", on_click=load_scenario, args=(store, pick))
    try:
        exported = export_scenario(store.load(pick))
    except ScenarioError as exc:
        st.error(md_escape(str(exc)))
    else:
        export_col.download_button(
            "Export as JSON",
            exported,
            file_name=f"scenario-{safe_file_stem(pick)}.json",
            mime="application/json",
            on_click="ignore",
        )
    rename_col, rename_button = st.columns([3, 1])
    rename_col.text_input("New name", key="scenario_new_name", max_chars=100)
    rename_button.button("Rename", on_click=rename_scenario, args=(store, pick))
    confirm_col, delete_col = st.columns([3, 1])
    confirm_col.checkbox("Yes, delete it", key="scenario_confirm_delete")
    delete_col.button("Delete", on_click=delete_scenario, args=(store, pick))


def safe_file_stem(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-")
    return stem[:60] or "scenario"


# --- plan views --------------------------------------------------------------------------------


def plan_summary(plan: Plan, problem: Problem, catalog: Catalog) -> Summary:
    if plan.summary is not None:
        return plan.summary
    return summarize(plan.gpus, plan.unplaced, problem, catalog, plan.lower_bound_per_hour)


def render_headline(job: SolveJob, problem: Problem, catalog: Catalog, baselines: dict) -> None:
    plan = job.plan
    assert plan is not None
    summary = plan_summary(plan, problem, catalog)
    row = st.columns(6)
    row[0].metric("Cost per hour", f"${summary.cost_per_hour:,.2f}")
    row[1].metric("Cost per month", f"${summary.cost_per_month:,.0f}")
    gap = "-" if summary.gap is None else f"{summary.gap:.1%}"
    row[2].metric("Proven lower bound", f"${summary.lower_bound_per_hour:,.2f}", help=f"gap {gap}")
    row[3].metric("GPUs used", f"{summary.gpus_used:,} of {summary.gpus_available:,}")
    row[4].metric("Replicas placed", f"{summary.replicas_placed:,} of {summary.replicas_total:,}")
    whole = baselines.get("whole-gpu")
    if isinstance(whole, Plan) and whole.cost_per_hour > 0:
        saving = whole.cost_per_hour - plan.cost_per_hour
        more = sum(u.replicas for u in whole.unplaced) - summary.replicas_unplaced
        placed_note = f"; it also places {more:,} more replicas" if more > 0 else ""
        row[5].metric(
            "Saving vs whole GPUs",
            f"${saving:,.2f}/h",
            f"{saving / whole.cost_per_hour:.0%}",
            help=f"Against one replica per whole GPU (no MIG){placed_note}. See Baselines.",
        )
    stats = plan.solver
    seconds = f" in {stats.wall_seconds:.1f} s" if stats is not None else ""
    check = (
        "independent check passed"
        if not job.violations
        else f"independent check found {len(job.violations)} problems"
    )
    st.caption(
        f"Plan status: **{plan.status}**{seconds}, gap {gap}; compute use "
        f"{summary.compute_utilization:.0%}, memory use {summary.memory_utilization:.0%}; {check}."
    )
    if job.violations:
        st.error("The plan breaks placement rules; please report this.")
        st.code("\n".join(job.violations[:50]), language=None)
    if plan.unplaced:
        total = sum(u.replicas for u in plan.unplaced)
        st.error(f"{total:,} replicas could not be placed")
        st.dataframe(
            pd.DataFrame([u.model_dump() for u in plan.unplaced]),
            hide_index=True,
            width="stretch",
            column_config=UNPLACED_COLUMNS,
        )


def render_plan_tab(job: SolveJob, problem: Problem, catalog: Catalog) -> None:
    plan = job.plan
    assert plan is not None
    left, right = st.columns(2)
    with left:
        st.subheader("Cost by pool")
        st.altair_chart(
            charts.cost_by_pool_chart(charts.cost_by_pool_frame(plan, problem)), width="stretch"
        )
    with right:
        st.subheader("Compute and memory use")
        frame = charts.utilization_frame(plan, problem, catalog)
        st.altair_chart(charts.utilization_chart(frame), width="stretch")
    st.subheader("Where each workload runs")
    placement = charts.placement_frame(plan, [w.name for w in problem.workloads])
    pools = [p.pool for p in problem.pools]
    st.altair_chart(charts.placement_chart(placement, pools), width="stretch")
    with st.expander("Solver details"):
        history = charts.progress_frame(job.history)
        if not history.empty:
            st.altair_chart(charts.progress_chart(history), width="stretch")
        if plan.solver is not None:
            st.json(plan.solver.model_dump(), expanded=False)


def render_layouts_tab(plan: Plan, problem: Problem, catalog: Catalog) -> None:
    used = [g for g in plan.gpus if g.instances]
    if not used:
        st.info("No GPU hosts an instance in this plan.")
        return
    columns = st.columns(3)
    pools = columns[0].multiselect("Pools", [p.pool for p in problem.pools], key="filter_pools")
    models = sorted({p.gpu_model for p in problem.pools})
    chosen_models = columns[1].multiselect("GPU models", models, key="filter_models")
    workloads = columns[2].multiselect(
        "Workloads", [w.name for w in problem.workloads], key="filter_workloads"
    )
    gpus = filter_gpus(plan, pools, chosen_models, workloads)
    group = st.toggle(
        "Group identical layouts", value=len(used) > GROUP_ABOVE_GPUS, key="group_layouts"
    )
    rows = layout_rows(gpus, catalog, group)
    st.caption(
        f"{len(gpus):,} GPUs in {len(rows):,} rows. Each block is a MIG instance at its start "
        "unit: profile, then workload; light grey is a spare instance, dark grey a slot that "
        "hosts different workloads across grouped GPUs."
    )
    if len(rows) > MAX_LAYOUT_ROWS:
        st.warning(
            f"Showing the first {MAX_LAYOUT_ROWS} of {len(rows):,} rows; group identical "
            "layouts or filter to see the rest."
        )
        rows = rows[:MAX_LAYOUT_ROWS]
    colors = charts.workload_colors([w.name for w in problem.workloads])
    for model in dict.fromkeys(r.gpu_model for r in rows):
        of_model = [r for r in rows if r.gpu_model == model]
        st.markdown(f"**{md_escape(model)}** ({of_model[0].units} units per GPU)")
        st.altair_chart(charts.layout_chart(of_model, colors), width="stretch")


def render_baselines_tab(plan: Plan, baselines: dict[str, Plan | str]) -> None:
    good = {
        BASELINE_DISPLAY_NAMES.get(k, k): p for k, p in baselines.items() if isinstance(p, Plan)
    }
    table = baseline_comparison(plan, good)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "cost_per_hour": st.column_config.NumberColumn("$/h", format="dollar"),
            "cost_per_month": st.column_config.NumberColumn("$/month", format="dollar"),
            "gpus_used": st.column_config.NumberColumn("GPUs used"),
            "replicas_placed": st.column_config.NumberColumn("replicas placed"),
            "replicas_unplaced": st.column_config.NumberColumn("replicas unplaced"),
            "plan_saves_per_hour": st.column_config.NumberColumn(
                "optimized plan saves $/h", format="dollar"
            ),
            "plan_saves_percent": st.column_config.NumberColumn(
                "optimized plan saves %", format="%.1f%%"
            ),
        },
    )
    st.caption(
        "Savings compare costs only: a baseline that leaves replicas out may look cheaper than "
        "it is. Whole GPUs: one replica per GPU, no MIG. all-balanced: mig-parted's "
        "all-balanced layout on every used GPU, filled greedily."
    )
    for key, result in baselines.items():
        name = BASELINE_DISPLAY_NAMES.get(key, key)
        if isinstance(result, str):
            st.error(md_escape(f"{name} failed: {result}"))
        elif result.unplaced:
            missing = sum(u.replicas for u in result.unplaced)
            with st.expander(f"{md_escape(name)} leaves {missing:,} replicas unplaced"):
                st.dataframe(
                    pd.DataFrame([u.model_dump() for u in result.unplaced]),
                    hide_index=True,
                    width="stretch",
                    column_config=UNPLACED_COLUMNS,
                )


def render_downloads_tab(plan: Plan, problem: Problem, catalog: Catalog) -> None:
    st.caption(
        "Every file is a view of the same plan. The mig-parted config and the nvidia-smi script "
        "name nodes `<pool>-node-<n>`."
    )
    for key, (file_name, mime, export) in EXPORTS.items():
        st.download_button(
            f"{EXPORT_LABELS.get(key, key)}: {file_name}",
            data=lambda export=export: export(plan, problem, catalog),
            file_name=file_name,
            mime=mime,
            key=f"download_{key}",
            on_click="ignore",
        )


# --- the page ----------------------------------------------------------------------------------


def show_errors(area: Any, title: str, report: str) -> None:
    if report:
        area.error(title)
        area.code(report, language=None)


def main() -> None:
    st.set_page_config(page_title="MIG layout recommender", layout="wide")
    init_session()
    ss = st.session_state
    st.title("MIG layout recommender")
    status = st.container()
    render_uploads()
    # Notices of button callbacks (before this run) and of uploads (just now).
    for kind, text in ss.notices:
        (status.error if kind == "error" else status.success)(md_escape(text))
    ss.notices = []
    show_errors(
        status,
        "Uploaded files have problems; the plan uses the last good inputs.",
        ss.upload_errors,
    )
    tabs = st.tabs(["Plan", "Layouts", "Baselines", "Scenarios", "Inputs", "Downloads"])
    with tabs[4]:
        edit_errors = render_editors(ss.inputs.catalog)
    show_errors(
        status, "The edited tables have problems; the plan uses the last good inputs.", edit_errors
    )
    inputs: LoadedInputs = ss.inputs
    knobs = render_knobs(inputs.problem)
    try:
        problem = apply_knobs(inputs.problem, knobs)
    except InputError as exc:
        show_errors(status, "The what-if knobs ask for too much.", exc.report())
        return
    job = solved_plan(problem, inputs.catalog, knobs, status)
    if job is None:
        return
    if job.plan is None:
        status.error("The solver failed; the details are in the server log.")
        status.code(job.error or "unknown error", language=None)
        return
    plan = job.plan
    # What the page shows, for this session only (tests read it to check the plan independently).
    ss.plan, ss.problem = plan, problem
    baselines = baseline_plans(inputs_digest(problem, inputs.catalog), problem, inputs.catalog)
    with status:
        render_headline(job, problem, inputs.catalog, baselines)
    with tabs[0]:
        render_plan_tab(job, problem, inputs.catalog)
    with tabs[1]:
        render_layouts_tab(plan, problem, inputs.catalog)
    with tabs[2]:
        render_baselines_tab(plan, baselines)
    with tabs[3]:
        render_scenarios(inputs.files, knobs, plan)
    with tabs[5]:
        render_downloads_tab(plan, problem, inputs.catalog)


main()

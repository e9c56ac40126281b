"""What one browser session holds: its inputs, the editors' and knobs' bookkeeping, notices.

Everything a session changes lives in `st.session_state`; shared between sessions are only things
keyed by content (the sample, solves, catalogs) or saved on purpose (scenarios).
"""

from __future__ import annotations

import hashlib
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from recommender.catalog import BUILTIN_CATALOG_PATH, Catalog
from recommender.problem import Problem
from recommender.reading import load_catalog, load_problem
from recommender.scenarios import ScenarioInputs
from recommender.whatif import (
    MAX_REPLICAS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_MB,
    catalog_from_upload,
    fleet_table,
    performance_table,
    table_to_csv,
    workloads_table,
)

SAMPLE_DIR = BUILTIN_CATALOG_PATH.parent
# The throughput sample (rates, a performance table) and the sample's running fleet.
THROUGHPUT_SAMPLE_DIR = SAMPLE_DIR / "throughput"
SAMPLE_CURRENT = SAMPLE_DIR / "current.json"
TIME_LIMIT_ENV = "MIG_RECOMMENDER_TIME_LIMIT"
FALLBACK_TIME_LIMIT = 10.0
MIN_TIME_LIMIT, MAX_TIME_LIMIT = 1.0, 600.0

# An input file as the page holds it: (label for messages, content).
NamedFile = tuple[str, bytes]


@dataclass(frozen=True)
class LoadedInputs:
    """Input files that load cleanly: canonical texts, where they came from, and what they say."""

    files: ScenarioInputs
    sources: dict[str, str]
    catalog: Catalog
    problem: Problem


def default_time_limit() -> float:
    """The solver time limit the page starts with: `MIG_RECOMMENDER_TIME_LIMIT` or 10 s."""
    try:
        value = float(os.environ.get(TIME_LIMIT_ENV, FALLBACK_TIME_LIMIT))
    except ValueError:
        return FALLBACK_TIME_LIMIT
    if not math.isfinite(value):
        return FALLBACK_TIME_LIMIT
    return clamp_time_limit(value)


def clamp_time_limit(seconds: float) -> float:
    """A time limit within what the page's input accepts."""
    return min(max(seconds, MIN_TIME_LIMIT), MAX_TIME_LIMIT)


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
        performance_csv=(
            table_to_csv(performance_table(problem.performance)) if problem.performance else None
        ),
    )
    return LoadedInputs(files=files, sources=sources, catalog=catalog, problem=problem)


def load_inputs(
    workloads: NamedFile,
    fleet: NamedFile,
    catalog_file: NamedFile | None,
    sources: dict[str, str],
    performance: NamedFile | None = None,
) -> LoadedInputs:
    """Both CSVs (and a catalog file, a performance table); raises InputError with every
    issue."""
    catalog_name, catalog_data = catalog_file if catalog_file else (None, None)
    if catalog_data is None:
        catalog = load_catalog()
    else:
        catalog = catalog_from_upload(catalog_data, catalog_name or "catalog.json")
    problem = load_problem(
        workloads[1],
        fleet[1],
        catalog,
        workloads_label=workloads[0],
        fleet_label=fleet[0],
        max_replicas=MAX_REPLICAS,
        performance=None if performance is None else performance[1],
        performance_label=None if performance is None else performance[0],
    )
    return loaded(problem, catalog, catalog_data, catalog_name, sources)


@st.cache_resource(show_spinner=False)
def sample_inputs() -> LoadedInputs:
    """The bundled sample (read from the package, never from a path a user gives)."""
    return _bundled_inputs(SAMPLE_DIR, "sample")


@st.cache_resource(show_spinner=False)
def throughput_sample_inputs() -> LoadedInputs:
    """The bundled throughput sample: services given as request rates, a performance table."""
    return _bundled_inputs(THROUGHPUT_SAMPLE_DIR, "throughput sample", performance=True)


def _bundled_inputs(folder: Path, source: str, performance: bool = False) -> LoadedInputs:
    """A sample folder of the package (workloads.csv, fleet.csv, with `performance` also
    performance.csv) on the built-in catalog, every file's source shown as `source`."""

    def named(file_name: str) -> NamedFile:
        return file_name, (folder / file_name).read_bytes()

    sources = {"workloads": source, "fleet": source, "catalog": "built-in"}
    if performance:
        sources["performance"] = source
    table = named("performance.csv") if performance else None
    return load_inputs(named("workloads.csv"), named("fleet.csv"), None, sources, table)


def current_files(inputs: LoadedInputs) -> dict[str, NamedFile | None]:
    """The current inputs as files again, to load together with newly uploaded ones."""
    files = inputs.files
    return {
        "workloads": ("workloads.csv", files.workloads_csv.encode()),
        "fleet": ("fleet.csv", files.fleet_csv.encode()),
        "catalog": (
            (files.catalog_name or "catalog.json", files.catalog_file.encode())
            if files.catalog_file is not None
            else None
        ),
        "performance": (
            ("performance.csv", files.performance_csv.encode())
            if files.performance_csv is not None
            else None
        ),
    }


def fleet_digest(problem: Problem) -> str:
    """Changes exactly when the pools change: the knob table restarts then."""
    return hashlib.sha256("|".join(p.model_dump_json() for p in problem.pools).encode()).hexdigest()


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
    # The running fleet to re-plan from (recommender.page.replan): the last file that loaded,
    # as (label, bytes), where it came from, and the uploader's generation (Clear empties it).
    ss.current_file = None
    ss.current_source = ""
    ss.current_upload_errors = ""
    ss.current_version = 0
    ss.max_recarve = None
    ss.max_moves = None
    ss.wave_size = 1
    # The frontier key this session asked to compute (None: not asked for these inputs).
    ss.frontier_asked = None
    # Names this session in the shared solve queue (recommender.jobs).
    ss.session_id = uuid.uuid4().hex


def commit_inputs(inputs: LoadedInputs) -> None:
    """Replace the inputs wholesale (upload, sample, scenario): the editors restart from them."""
    ss = st.session_state
    ss.inputs = inputs
    ss.editor_base = inputs
    ss.editor_version += 1
    ss.pending = {}
    ss.upload_errors = ""


def first_sight(upload: Any) -> bool:
    """Whether the session sees this uploaded file for the first time (then it is marked seen):
    the uploader hands the same file over on every rerun, and each is taken once."""
    seen = st.session_state.seen_uploads
    if upload.file_id in seen:
        return False
    seen.add(upload.file_id)
    return True


def over_upload_cap(upload: Any) -> str:
    """Why an uploaded file is refused for its size, or "" when it is within the cap."""
    if upload.size <= MAX_UPLOAD_BYTES:
        return ""
    return f"{upload.name}: {upload.size / 2**20:.1f} MB is over the {MAX_UPLOAD_MB} MB cap"


def notice(kind: str, text: str) -> None:
    """A message shown once at the top of the next run (for button callbacks)."""
    st.session_state.notices.append((kind, text))


def take_notices() -> list[tuple[str, str]]:
    """The notices collected since the last run, emptied."""
    notices = st.session_state.notices
    st.session_state.notices = []
    return notices


def reset_to_sample() -> None:
    commit_inputs(sample_inputs())
    notice("success", "Back to the sample data.")


def switch_to_throughput_sample() -> None:
    commit_inputs(throughput_sample_inputs())
    notice("success", "Switched to the throughput sample: services given as request rates.")

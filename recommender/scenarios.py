"""Saved what-if scenarios: inputs, knobs and plan under a name, in a local SQLite database.

The database path comes from the page's `--db` option, else the `MIG_RECOMMENDER_DB` environment
variable, else `~/.mig-recommender/scenarios.sqlite`. A file that is not this application's
database (not SQLite, another application's, a newer schema, damaged) is refused with a message
saying what it is, never overwritten.

One scenario travels as one JSON file: `{"format", "schema_version", "sha256", "scenario"}`,
where `sha256` is the checksum of the scenario's canonical JSON. An import checks the format, the
version, the checksum, the schema, that the inputs load, and that the plan is valid for them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recommender.assemble import with_summary
from recommender.catalog import Catalog
from recommender.errors import InputError
from recommender.plan import Plan
from recommender.problem import Problem
from recommender.reading import load_catalog, load_problem, parse_json
from recommender.validate import validate_plan
from recommender.whatif import (
    MAX_REPLICAS,
    MAX_UPLOAD_BYTES,
    Knobs,
    apply_knobs,
    catalog_from_upload,
)

SCHEMA_VERSION = 1
EXPORT_FORMAT = "mig-recommender-scenario"
# SQLite's `PRAGMA application_id` marks the file as ours ("MIGR").
APPLICATION_ID = 0x4D494752
DB_ENV = "MIG_RECOMMENDER_DB"
DEFAULT_DB_PATH = Path("~/.mig-recommender/scenarios.sqlite")
# How long an operation waits for another session's write before it gives up.
BUSY_TIMEOUT_SECONDS = 30.0
MAX_NAME_LENGTH = 100
# How many violations an import refusal lists before "and N more".
MAX_LISTED_PROBLEMS = 10


class ScenarioError(Exception):
    """A scenario operation that cannot be done; the message is meant for the user."""


class ScenarioInputs(BaseModel):
    """The input files of a scenario as text; `catalog_file` is an uploaded catalog, if any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workloads_csv: str
    fleet_csv: str
    catalog_file: str | None = None
    catalog_name: str | None = None
    # The performance table (throughput workloads), as CSV text; None: count workloads only.
    performance_csv: str | None = None


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    created_at: str
    inputs: ScenarioInputs
    knobs: Knobs
    plan: Plan

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        return clean_name(value)


@dataclass(frozen=True)
class ScenarioInfo:
    """A row of the scenario list."""

    name: str
    created_at: str
    updated_at: str
    status: str
    cost_per_hour: float


def clean_name(name: str) -> str:
    """A scenario name without surrounding blanks; raises ValueError when none is left or it
    is too long."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValueError("a scenario needs a name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValueError(f"a scenario name has at most {MAX_NAME_LENGTH} characters")
    return cleaned


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def database_path(option: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Where scenarios live: the page's `--db` option, else `MIG_RECOMMENDER_DB`, else the
    default under the home folder."""
    environ = os.environ if environ is None else environ
    chosen = option or environ.get(DB_ENV) or str(DEFAULT_DB_PATH)
    return Path(chosen).expanduser()


# --- inputs of a scenario ----------------------------------------------------------------------


def scenario_catalog(inputs: ScenarioInputs) -> Catalog:
    """The built-in catalog, extended by the scenario's catalog file if it has one."""
    if inputs.catalog_file is None:
        return load_catalog()
    return catalog_from_upload(inputs.catalog_file.encode(), inputs.catalog_name or "catalog.json")


def scenario_problem(inputs: ScenarioInputs, catalog: Catalog) -> Problem:
    """The scenario's inputs as a Problem (before knobs); raises InputError."""
    return load_problem(
        inputs.workloads_csv.encode(),
        inputs.fleet_csv.encode(),
        catalog,
        workloads_label="workloads.csv",
        fleet_label="fleet.csv",
        max_replicas=MAX_REPLICAS,
        performance=None if inputs.performance_csv is None else inputs.performance_csv.encode(),
        performance_label="performance.csv",
    )


@dataclass(frozen=True)
class OpenedScenario:
    """A scenario with its inputs read and its plan checked against them.

    `scenario.plan` carries a summary computed for these inputs when the plan is valid (it is
    left as saved when not: a summary of a plan that breaks the rules means nothing).
    """

    scenario: Scenario
    catalog: Catalog
    problem: Problem
    knobbed: Problem
    violations: list[str]


def open_scenario(scenario: Scenario, label: str) -> OpenedScenario:
    """Read a scenario's inputs, apply its knobs and check its plan: what both the page (to load
    a saved scenario) and an import (to refuse a bad file) need. Raises ScenarioError naming
    `label` when the inputs do not load; plan violations are returned, not raised."""
    try:
        catalog = scenario_catalog(scenario.inputs)
        problem = scenario_problem(scenario.inputs, catalog)
        knobbed = apply_knobs(problem, scenario.knobs)
    except InputError as exc:
        report = exc.report(MAX_LISTED_PROBLEMS)
        raise ScenarioError(f"{label}: its inputs do not load:\n{report}") from None
    violations = validate_plan(scenario.plan, knobbed, catalog)
    if not violations:
        plan = with_summary(scenario.plan, knobbed, catalog)
        scenario = scenario.model_copy(update={"plan": plan})
    return OpenedScenario(scenario, catalog, problem, knobbed, violations)


# --- the database ------------------------------------------------------------------------------

_CREATE_TABLE = """
CREATE TABLE scenarios (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    cost_per_hour REAL NOT NULL,
    sha256 TEXT NOT NULL,
    payload TEXT NOT NULL
)
"""


class ScenarioStore:
    """Scenarios in one SQLite file; every operation opens its own short connection, so the
    store is safe to share between the page's sessions and threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._open_or_create()

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)
        except sqlite3.Error as exc:
            raise ScenarioError(f"cannot open the scenario database {self.path}: {exc}") from None
        try:
            with connection:
                yield connection
        except sqlite3.DatabaseError as exc:
            raise ScenarioError(self._unusable(str(exc))) from None
        finally:
            connection.close()

    def _unusable(self, detail: str) -> str:
        return (
            f"{self.path} is not a usable scenario database ({detail}); move it away or point "
            f"{DB_ENV} (or --db) to another file"
        )

    def _open_or_create(self) -> None:
        if self.path.is_dir():
            raise ScenarioError(self._unusable("it is a directory"))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScenarioError(f"cannot create the folder of {self.path}: {exc}") from None
        with self._connect() as db:
            application = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            if application == 0 and not tables:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute(_CREATE_TABLE)
            else:
                self._check(db, application, version, tables)
        self._use_wal()

    def _check(
        self, db: sqlite3.Connection, application: int, version: int, tables: list[str]
    ) -> None:
        """Refuse a file that is not (a healthy, known version of) this store."""
        if application != APPLICATION_ID:
            raise ScenarioError(self._unusable("it is another application's SQLite database"))
        if version > SCHEMA_VERSION:
            raise ScenarioError(
                self._unusable(
                    f"schema version {version} is newer than this version's "
                    f"{SCHEMA_VERSION}; upgrade mig-recommender"
                )
            )
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok" or "scenarios" not in tables:
            raise ScenarioError(self._unusable(f"integrity check failed: {check}"))

    def _use_wal(self) -> None:
        """Write-ahead logging: readers never block the writer, and sessions saving at the same
        moment wait their turn (the busy timeout) instead of failing. Set once, kept in the file.
        Outside a transaction, as SQLite requires."""
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            raise ScenarioError(self._unusable(str(exc))) from None
        finally:
            connection.close()

    def save(self, scenario: Scenario, overwrite: bool = False) -> None:
        """Store `scenario`; a name in use is an error unless `overwrite`."""
        payload = canonical_json(scenario)
        row = (
            scenario.name,
            scenario.created_at,
            now(),
            scenario.plan.status,
            scenario.plan.cost_per_hour,
            hashlib.sha256(payload.encode()).hexdigest(),
            payload,
        )
        with self._connect() as db:
            # Check and write in one write transaction: two sessions saving one name at the
            # same moment cannot both see it free.
            db.execute("BEGIN IMMEDIATE")
            exists = db.execute("SELECT 1 FROM scenarios WHERE name = ?", (scenario.name,))
            if exists.fetchone() and not overwrite:
                raise ScenarioError(f"a scenario named '{scenario.name}' exists already")
            db.execute("INSERT OR REPLACE INTO scenarios VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def list_scenarios(self) -> list[ScenarioInfo]:
        """Every scenario, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT name, created_at, updated_at, status, cost_per_hour FROM scenarios "
                "ORDER BY updated_at DESC, name"
            ).fetchall()
        return [ScenarioInfo(*row) for row in rows]

    def names(self) -> list[str]:
        return [info.name for info in self.list_scenarios()]

    def load(self, name: str) -> Scenario:
        with self._connect() as db:
            row = db.execute(
                "SELECT sha256, payload FROM scenarios WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise ScenarioError(f"no scenario named '{name}'")
        checksum, payload = row
        if hashlib.sha256(payload.encode()).hexdigest() != checksum:
            raise ScenarioError(f"scenario '{name}' is damaged in {self.path} (checksum mismatch)")
        try:
            return Scenario.model_validate_json(payload)
        except ValidationError as exc:
            raise ScenarioError(f"scenario '{name}' is damaged: {_first_errors(exc)}") from None

    def rename(self, old: str, new: str) -> str:
        """Rename `old`; returns the cleaned new name."""
        try:
            new = clean_name(new)
        except ValueError as exc:
            raise ScenarioError(str(exc)) from None
        scenario = self.load(old)
        if new == old:
            return new
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM scenarios WHERE name = ?", (new,)).fetchone():
                raise ScenarioError(f"a scenario named '{new}' exists already")
            payload = canonical_json(scenario.model_copy(update={"name": new}))
            db.execute(
                "UPDATE scenarios SET name = ?, payload = ?, sha256 = ?, updated_at = ? "
                "WHERE name = ?",
                (new, payload, hashlib.sha256(payload.encode()).hexdigest(), now(), old),
            )
        return new

    def delete(self, name: str) -> None:
        with self._connect() as db:
            deleted = db.execute("DELETE FROM scenarios WHERE name = ?", (name,)).rowcount
        if deleted == 0:
            raise ScenarioError(f"no scenario named '{name}'")

    def free_name(self, name: str) -> str:
        """`name`, or `name (2)`, `name (3)` ... whichever is not taken."""
        taken = set(self.names())
        candidate, number = name, 2
        while candidate in taken:
            suffix = f" ({number})"
            candidate = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
            number += 1
        return candidate


# --- one scenario as a JSON file ---------------------------------------------------------------


def canonical_json(scenario: Scenario) -> str:
    """The scenario's JSON with sorted keys and no blanks: what the checksum covers."""
    return _canonical(scenario.model_dump(mode="json"))


def _canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def export_scenario(scenario: Scenario) -> str:
    """The file a scenario is exported as."""
    body = scenario.model_dump(mode="json")
    document = {
        "format": EXPORT_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "sha256": hashlib.sha256(_canonical(body).encode()).hexdigest(),
        "scenario": body,
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def import_scenario(data: bytes, label: str = "scenario file") -> Scenario:
    """A scenario from an exported file; raises ScenarioError saying why a file is refused."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ScenarioError(f"{label} is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        document = parse_json(data, label)
    except InputError as exc:
        raise ScenarioError(f"{label} is not a JSON scenario file: {exc.report()}") from None
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ScenarioError(
            f'{label} is not a mig-recommender scenario (expected "format": "{EXPORT_FORMAT}")'
        )
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ScenarioError(f"{label} has no valid schema_version")
    if version > SCHEMA_VERSION:
        raise ScenarioError(
            f"{label} has schema version {version}, newer than this version's {SCHEMA_VERSION}; "
            "upgrade mig-recommender"
        )
    body = document.get("scenario")
    checksum = hashlib.sha256(_canonical(body).encode()).hexdigest()
    if checksum != document.get("sha256"):
        raise ScenarioError(f"{label} is damaged or was edited: its sha256 checksum does not match")
    try:
        scenario = Scenario.model_validate(body)
    except ValidationError as exc:
        raise ScenarioError(
            f"{label} does not hold a valid scenario: {_first_errors(exc)}"
        ) from None
    return _checked(scenario, label)


def _checked(scenario: Scenario, label: str) -> Scenario:
    """The scenario if its inputs load and its plan is valid for them (summary computed)."""
    opened = open_scenario(scenario, label)
    if opened.violations:
        listed = "\n".join(opened.violations[:MAX_LISTED_PROBLEMS])
        more = len(opened.violations) - MAX_LISTED_PROBLEMS
        tail = f"\n... and {more} more" if more > 0 else ""
        raise ScenarioError(f"{label}: its plan breaks the placement rules:\n{listed}{tail}")
    return opened.scenario


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}"
        for err in exc.errors()[:limit]
    ]
    return "; ".join(parts)


# --- comparison --------------------------------------------------------------------------------


def comparison_table(columns: Sequence[tuple[str, Plan]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scenarios side by side: a table of display texts (one column per scenario) and a mask
    that is True where a value differs from the first column's."""
    names = [name for name, _ in columns]
    if len(set(names)) != len(names):
        raise ValueError("compared scenarios need distinct names")
    metrics = [_metrics(plan) for _, plan in columns]
    labels = list(dict.fromkeys(label for m in metrics for label in m))
    raw = {name: [m.get(label) for label in labels] for name, m in zip(names, metrics, strict=True)}
    shown = pd.DataFrame(
        {
            name: [_display(label, v) for label, v in zip(labels, raw[name], strict=True)]
            for name in names
        },
        index=labels,
    )
    first = raw[names[0]]
    mask = pd.DataFrame(
        {name: [not _same(a, b) for a, b in zip(first, raw[name], strict=True)] for name in names},
        index=labels,
    )
    return shown, mask


def _metrics(plan: Plan) -> dict[str, object]:
    summary = plan.summary
    if summary is None:
        raise ValueError("a compared plan needs its summary")
    values: dict[str, object] = {
        "status": plan.status,
        "cost per hour": summary.cost_per_hour,
        "cost per month": summary.cost_per_month,
        "gap": summary.gap,
        "GPUs used": summary.gpus_used,
    }
    for pool in summary.pools:
        values[f"GPUs used: {pool.pool}"] = pool.gpus_used
    values["compute utilization"] = summary.compute_utilization
    values["memory utilization"] = summary.memory_utilization
    values["unplaced replicas"] = summary.replicas_unplaced
    return values


def _display(label: str, value: object) -> str:
    if value is None:
        return "-"
    if label.startswith("cost"):
        return f"${value:,.2f}"
    if label in ("gap", "compute utilization", "memory utilization"):
        return f"{value:.1%}"
    return str(value)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b

"""Saved scenarios: the SQLite store, one-file export/import, refusal of foreign files,
and the side-by-side comparison."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from recommender.catalog import BUILTIN_CATALOG_PATH, Catalog
from recommender.plan import Plan, PlanInstance
from recommender.scenarios import (
    DB_ENV,
    EXPORT_FORMAT,
    SCHEMA_VERSION,
    Scenario,
    ScenarioError,
    ScenarioInputs,
    ScenarioStore,
    canonical_json,
    comparison_table,
    database_path,
    export_scenario,
    import_scenario,
    now,
    open_scenario,
    scenario_catalog,
    scenario_problem,
)
from recommender.solve import SolveOptions, solve
from recommender.whatif import Knobs, PoolOverride, apply_knobs
from tests.conftest import assert_valid

WORKLOADS_CSV = "name,memory_gb,compute_slices,replicas\nllm,18,3,2\nembed,4,1,3\n"
FLEET_CSV = "pool,gpu_model,gpus,cost_per_hour\na100,A100-40GB,4,4.0\nh100,H100-80GB,2,12.0\n"
QUICK = SolveOptions(time_limit_seconds=3, workers=1)


def make_scenario(
    name: str, knobs: Knobs, catalog: Catalog, inputs: ScenarioInputs | None = None
) -> Scenario:
    inputs = inputs or ScenarioInputs(workloads_csv=WORKLOADS_CSV, fleet_csv=FLEET_CSV)
    problem = apply_knobs(scenario_problem(inputs, catalog), knobs)
    plan = solve(problem, catalog, QUICK)
    assert_valid(plan, problem, catalog)
    return Scenario(name=name, created_at=now(), inputs=inputs, knobs=knobs, plan=plan)


@pytest.fixture(scope="module")
def base(catalog: Catalog) -> Scenario:
    return make_scenario("base", Knobs(), catalog)


@pytest.fixture(scope="module")
def doubled(catalog: Catalog) -> Scenario:
    knobs = Knobs(demand_multiplier=2, pool_overrides={"a100": PoolOverride(cost_per_hour=3.5)})
    return make_scenario("doubled", knobs, catalog)


@pytest.fixture
def store(tmp_path: Path) -> ScenarioStore:
    return ScenarioStore(tmp_path / "nested" / "scenarios.sqlite")


# --- the store ---------------------------------------------------------------------------------


def test_save_list_load_round_trip(store: ScenarioStore, base: Scenario, doubled: Scenario) -> None:
    store.save(base)
    store.save(doubled)
    assert sorted(store.names()) == ["base", "doubled"]
    infos = {i.name: i for i in store.list_scenarios()}
    assert infos["doubled"].cost_per_hour == doubled.plan.cost_per_hour
    assert infos["base"].status == base.plan.status
    loaded = store.load("doubled")
    assert loaded == doubled
    assert loaded.knobs.pool_overrides["a100"].cost_per_hour == 3.5


def test_scenarios_survive_reopening(tmp_path: Path, base: Scenario) -> None:
    path = tmp_path / "s.sqlite"
    ScenarioStore(path).save(base)
    assert ScenarioStore(path).load("base") == base


def test_names_are_unique_unless_overwriting(
    store: ScenarioStore, base: Scenario, doubled: Scenario
):
    store.save(base)
    with pytest.raises(ScenarioError, match="exists already"):
        store.save(doubled.model_copy(update={"name": "base"}))
    store.save(doubled.model_copy(update={"name": "base"}), overwrite=True)
    assert store.load("base").knobs.demand_multiplier == 2
    assert store.names() == ["base"]


def test_rename(store: ScenarioStore, base: Scenario, doubled: Scenario) -> None:
    store.save(base)
    store.save(doubled)
    assert store.rename("base", "  cheaper   fleet ") == "cheaper fleet"
    assert sorted(store.names()) == ["cheaper fleet", "doubled"]
    assert store.load("cheaper fleet").name == "cheaper fleet"
    with pytest.raises(ScenarioError, match="exists already"):
        store.rename("doubled", "cheaper fleet")
    with pytest.raises(ScenarioError, match="needs a name"):
        store.rename("doubled", "   ")
    with pytest.raises(ScenarioError, match="at most 100"):
        store.rename("doubled", "x" * 101)
    with pytest.raises(ScenarioError, match="no scenario named 'base'"):
        store.rename("base", "again")


def test_delete(store: ScenarioStore, base: Scenario) -> None:
    store.save(base)
    store.delete("base")
    assert store.names() == []
    with pytest.raises(ScenarioError, match="no scenario named"):
        store.delete("base")
    with pytest.raises(ScenarioError, match="no scenario named"):
        store.load("base")


def test_free_name(store: ScenarioStore, base: Scenario) -> None:
    store.save(base)
    assert store.free_name("other") == "other"
    assert store.free_name("base") == "base (2)"
    store.save(base.model_copy(update={"name": "base (2)"}))
    assert store.free_name("base") == "base (3)"


SESSIONS = 12


def save_together(store_path: Path, scenarios: list[Scenario]) -> list[str]:
    """Each scenario saved by its own thread and store (as page sessions do), all released at
    the same moment; returns the errors."""
    start = threading.Barrier(len(scenarios))
    errors: list[str] = []

    def save(scenario: Scenario) -> None:
        store = ScenarioStore(store_path)
        start.wait(30)
        try:
            store.save(scenario)
        except ScenarioError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=save, args=(s,)) for s in scenarios]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_scenarios_saved_at_the_same_moment_are_all_there(tmp_path: Path, base: Scenario) -> None:
    path = tmp_path / "scenarios.sqlite"
    ScenarioStore(path)
    names = [f"session {n}" for n in range(SESSIONS)]
    errors = save_together(path, [base.model_copy(update={"name": n}) for n in names])
    assert errors == []
    store = ScenarioStore(path)
    assert sorted(store.names()) == sorted(names)
    assert all(store.load(n).plan == base.plan for n in names)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_one_name_saved_at_the_same_moment_is_saved_once(tmp_path: Path, base: Scenario) -> None:
    path = tmp_path / "scenarios.sqlite"
    ScenarioStore(path)
    costs = [base.model_copy(update={"name": "same", "created_at": f"t{n}"}) for n in range(8)]
    errors = save_together(path, costs)
    assert len(errors) == 7
    assert all("a scenario named 'same' exists already" in e for e in errors)
    assert ScenarioStore(path).names() == ["same"]


def test_a_damaged_row_is_reported(store: ScenarioStore, base: Scenario) -> None:
    store.save(base)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE scenarios SET payload = replace(payload, '\"llm\"', '\"LLM\"')")
    with pytest.raises(ScenarioError, match=r"damaged.*checksum"):
        store.load("base")


# --- refusing files that are not ours ----------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("my precious notes\n" * 100)
    with pytest.raises(ScenarioError, match="not a usable scenario database"):
        ScenarioStore(path)
    assert path.read_text() == "my precious notes\n" * 100


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER)")
    before = path.read_bytes()
    with pytest.raises(ScenarioError, match="another application's SQLite database"):
        ScenarioStore(path)
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    ScenarioStore(path)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ScenarioError, match="newer than this version"):
        ScenarioStore(path)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="is a directory"):
        ScenarioStore(tmp_path)


def test_database_path_precedence(tmp_path: Path) -> None:
    env = {DB_ENV: str(tmp_path / "env.sqlite")}
    assert database_path(str(tmp_path / "opt.sqlite"), env) == tmp_path / "opt.sqlite"
    assert database_path(None, env) == tmp_path / "env.sqlite"
    assert database_path(None, {}) == Path.home() / ".mig-recommender" / "scenarios.sqlite"


# --- export and import -------------------------------------------------------------------------


def test_export_import_round_trip(base: Scenario) -> None:
    text = export_scenario(base)
    document = json.loads(text)
    assert document["format"] == EXPORT_FORMAT
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["sha256"] == hashlib.sha256(canonical_json(base).encode()).hexdigest()
    assert import_scenario(text.encode()) == base


def test_import_keeps_an_uploaded_catalog(catalog: Catalog) -> None:
    builtin = json.loads(BUILTIN_CATALOG_PATH.read_text())
    lab = {"schema_version": 1, "models": {"LAB-GPU": builtin["models"]["A100-40GB"]}}
    inputs = ScenarioInputs(
        workloads_csv=WORKLOADS_CSV,
        fleet_csv="pool,gpu_model,gpus,cost_per_hour\nlab,LAB-GPU,3,1.5\n",
        catalog_file=json.dumps(lab),
        catalog_name="lab.json",
    )
    lab_catalog = scenario_catalog(inputs)
    scenario = make_scenario("lab", Knobs(), lab_catalog, inputs)
    assert {g.gpu_model for g in scenario.plan.gpus} == {"LAB-GPU"}
    assert import_scenario(export_scenario(scenario).encode()) == scenario


def _document(scenario: Scenario) -> dict:
    return json.loads(export_scenario(scenario))


def _resealed(document: dict) -> bytes:
    """The document with a checksum that matches its (edited) scenario again."""
    body = json.dumps(
        document["scenario"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    document["sha256"] = hashlib.sha256(body.encode()).hexdigest()
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe garbage", "not a JSON scenario file"),
        (b"[1, 2, 3]", "not a mig-recommender scenario"),
        (b'{"format": "something-else", "scenario": {}}', "not a mig-recommender scenario"),
        (b'{"status": "optimal", "gpus": []}', "not a mig-recommender scenario"),
    ],
)
def test_foreign_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        import_scenario(data, "upload.json")


def test_an_edited_file_fails_the_checksum(base: Scenario) -> None:
    document = _document(base)
    document["scenario"]["plan"]["cost_per_hour"] = 0.01
    with pytest.raises(ScenarioError, match="checksum does not match"):
        import_scenario(json.dumps(document).encode())


def test_a_newer_or_missing_version_is_refused(base: Scenario) -> None:
    document = _document(base)
    document["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ScenarioError, match="newer than this version"):
        import_scenario(json.dumps(document).encode())
    document["schema_version"] = "1"
    with pytest.raises(ScenarioError, match="no valid schema_version"):
        import_scenario(json.dumps(document).encode())


def test_a_resealed_file_with_a_broken_schema_is_refused(base: Scenario) -> None:
    document = _document(base)
    document["scenario"]["knobs"]["demand_multiplier"] = -1
    with pytest.raises(ScenarioError, match=r"does not hold a valid scenario.*demand_multiplier"):
        import_scenario(_resealed(document))


def test_a_resealed_file_with_bad_inputs_is_refused(base: Scenario) -> None:
    document = _document(base)
    document["scenario"]["inputs"]["fleet_csv"] = "pool,gpu_model,gpus,cost_per_hour\nx,NOPE,1,1\n"
    with pytest.raises(ScenarioError, match=r"(?s)inputs do not load.*unknown GPU model 'NOPE'"):
        import_scenario(_resealed(document))


def test_a_resealed_file_with_an_invalid_plan_is_refused(base: Scenario) -> None:
    plan = base.plan.model_copy(deep=True)
    first = plan.gpus[0]
    first.instances.append(PlanInstance(profile="7g.40gb", start=0, workload=None, replica=None))
    document = _document(base.model_copy(update={"plan": plan}))
    with pytest.raises(ScenarioError, match="plan breaks the placement rules"):
        import_scenario(_resealed(document))


def test_an_oversized_file_is_refused() -> None:
    with pytest.raises(ScenarioError, match="larger than 20 MB"):
        import_scenario(b" " * (20 * 1024 * 1024 + 1))


def test_import_fills_in_a_missing_summary(base: Scenario, catalog: Catalog) -> None:
    document = _document(base)
    document["scenario"]["plan"]["summary"] = None
    imported = import_scenario(_resealed(document))
    assert imported.plan.summary == base.plan.summary


# --- opening a scenario (the page's load and the import share it) ------------------------------


def test_open_scenario_reads_inputs_applies_knobs_and_summarizes(
    doubled: Scenario, catalog: Catalog
) -> None:
    bare = doubled.model_copy(update={"plan": doubled.plan.model_copy(update={"summary": None})})
    opened = open_scenario(bare, "scenario 'doubled'")
    assert opened.violations == []
    assert opened.problem == scenario_problem(doubled.inputs, catalog)
    assert opened.knobbed == apply_knobs(opened.problem, doubled.knobs)
    assert opened.knobbed.total_replicas == 2 * opened.problem.total_replicas
    assert opened.scenario.plan.summary == doubled.plan.summary
    assert_valid(opened.scenario.plan, opened.knobbed, opened.catalog)


def test_open_scenario_returns_violations_and_leaves_the_plan(base: Scenario) -> None:
    plan = base.plan.model_copy(deep=True)
    plan.gpus[0].instances.append(
        PlanInstance(profile="7g.40gb", start=0, workload=None, replica=None)
    )
    broken = base.model_copy(update={"plan": plan})
    opened = open_scenario(broken, "scenario 'base'")
    assert opened.violations
    assert opened.scenario.plan == plan


def test_open_scenario_names_the_scenario_when_inputs_do_not_load(base: Scenario) -> None:
    inputs = base.inputs.model_copy(
        update={"fleet_csv": "pool,gpu_model,gpus,cost_per_hour\nx,NOPE,1,1\n"}
    )
    with pytest.raises(ScenarioError, match=r"(?s)^scenario 'base': its inputs do not load.*NOPE"):
        open_scenario(base.model_copy(update={"inputs": inputs}), "scenario 'base'")


# --- comparison --------------------------------------------------------------------------------


def test_comparison_highlights_differences(base: Scenario, doubled: Scenario) -> None:
    shown, mask = comparison_table([("base", base.plan), ("doubled", doubled.plan)])
    assert list(shown.columns) == ["base", "doubled"]
    assert {
        "cost per hour",
        "cost per month",
        "gap",
        "GPUs used",
        "GPUs used: a100",
        "GPUs used: h100",
        "compute utilization",
        "memory utilization",
        "unplaced replicas",
        "status",
    } == set(shown.index)
    assert not mask["base"].any()
    assert mask.loc["cost per hour", "doubled"]
    assert shown.loc["cost per hour", "base"] == f"${base.plan.cost_per_hour:,.2f}"
    assert not mask.loc["unplaced replicas", "doubled"]
    assert shown.loc["unplaced replicas", "doubled"] == "0"


def test_comparison_of_equal_plans_highlights_nothing(base: Scenario) -> None:
    shown, mask = comparison_table([("a", base.plan), ("b", base.plan), ("c", base.plan)])
    assert not mask.to_numpy().any()
    assert shown["a"].tolist() == shown["c"].tolist()


def test_comparison_marks_pools_one_plan_lacks(base: Scenario, catalog: Catalog) -> None:
    plan = base.plan
    assert plan.summary is not None
    fewer = plan.summary.model_copy(update={"pools": plan.summary.pools[:1]})
    other: Plan = plan.model_copy(update={"summary": fewer})
    assert_valid(other, apply_knobs(scenario_problem(base.inputs, catalog), base.knobs), catalog)
    shown, mask = comparison_table([("all", plan), ("fewer", other)])
    assert shown.loc["GPUs used: h100", "fewer"] == "-"
    assert mask.loc["GPUs used: h100", "fewer"]
    with pytest.raises(ValueError, match="distinct names"):
        comparison_table([("x", plan), ("x", plan)])

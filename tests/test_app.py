"""The what-if page under Streamlit's AppTest: it opens solved, re-solves on what-if changes,
keeps bad input out, and saves, compares and reloads scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from recommender.baselines import BASELINES
from recommender.catalog import Catalog
from recommender.exports import EXPORTS
from recommender.page import solving
from recommender.report import format_gap
from recommender.scenarios import ScenarioStore, export_scenario
from recommender.validate import validate_plan
from tests.conftest import assert_valid

APP = Path(__file__).resolve().parent.parent / "app.py"
DATA = Path(__file__).resolve().parent.parent / "data"
# One AppTest run may solve once (time limit below) and build the page around it.
RUN_TIMEOUT = 90
HIGHLIGHT_COLOR = "#fff2a8"


@pytest.fixture(autouse=True)
def page_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private scenario database and a short solver time limit for every page run."""
    db = tmp_path / "scenarios.sqlite"
    monkeypatch.setenv("MIG_RECOMMENDER_DB", str(db))
    monkeypatch.setenv("MIG_RECOMMENDER_TIME_LIMIT", "3")
    return db


def open_page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def cost(at: AppTest) -> float:
    return float(metric(at, "Cost per hour").lstrip("$").replace(",", ""))


def button(at: AppTest, label: str) -> Button:
    return next(b for b in at.button if b.label == label)


def assert_page_plan_valid(at: AppTest, catalog: Catalog) -> None:
    """The plan the page shows passes the independent validator for what the page solved."""
    plan, problem = at.session_state["plan"], at.session_state["problem"]
    assert validate_plan(plan, problem, catalog) == []
    assert any("independent check passed" in c.value for c in at.caption)


def open_tab(at: AppTest, name: str) -> AppTest:
    """Select a tab (the lazy ones draw only while open) and rerun."""
    at.session_state["page_tab"] = name
    return rerun(at)


def error_texts(at: AppTest) -> str:
    return "\n".join([e.value for e in at.error] + [c.value for c in at.code])


def test_opens_on_the_sample_plan(catalog: Catalog) -> None:
    at = open_page()
    assert_page_plan_valid(at, catalog)
    assert at.session_state["problem"].total_replicas == 69
    assert cost(at) > 0
    assert metric(at, "Replicas placed") == "69 of 69"
    assert [t.label for t in at.tabs] == [
        "Plan", "Layouts", "Baselines", "Scenarios", "Inputs", "Downloads"
    ]  # fmt: skip
    # The Plan tab's charts are drawn; the Layouts tab's only once it is open.
    assert len(at.get("vega_lite_chart")) >= 3
    assert "**A100\\-40GB** (8 units per GPU)" not in [m.value for m in at.markdown]
    open_tab(at, "Layouts")
    # One layout chart per GPU model.
    assert len(at.get("vega_lite_chart")) == 3
    markdown = [m.value for m in at.markdown]
    assert "**A100\\-40GB** (8 units per GPU)" in markdown
    open_tab(at, "Downloads")
    labels = [d.label for d in at.get("download_button")]
    for file_name, _mime, _fn in EXPORTS.values():
        assert any(label.endswith(file_name) for label in labels)
    assert not at.error


def test_the_headline_says_what_each_plan_places(catalog: Catalog) -> None:
    at = open_page()
    plan, problem = at.session_state["plan"], at.session_state["problem"]
    labels = [m.label for m in at.metric]
    gap_label = next(label for label in labels if label.startswith("Lower bound"))
    assert gap_label == f"Lower bound (gap {format_gap(plan.summary.gap)})"
    whole = BASELINES["whole-gpu"](problem, catalog)
    assert_valid(whole, problem, catalog)
    whole_placed = sum(1 for g in whole.gpus for i in g.instances if i.workload is not None)
    # The sample's whole-GPU baseline places fewer replicas: its cost is shown with what it
    # places, uncoloured, never as a green saving.
    assert whole_placed < problem.total_replicas
    assert "Saving vs whole GPUs" not in labels
    tile = next(m for m in at.metric if m.label == "Whole GPUs (no MIG)")
    assert tile.value == f"${whole.cost_per_hour:,.2f}/h"
    assert tile.delta == f"places {whole_placed:,} of {problem.total_replicas:,}"
    assert tile.proto.color == tile.proto.MetricColor.GRAY
    # The baselines table prints no `None`.
    open_tab(at, "Baselines")
    table = next(d.value for d in at.dataframe if "saving" in d.value.columns)
    assert table.loc[table["planner"] == "Optimized plan", "saving"].tolist() == ["-"]
    assert not table.isna().any().any()


def test_a_solve_slower_than_the_first_plan_shows_a_provisional_plan_then_the_solved_one(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page()
    followed: list[str] = []
    follow = solving.follow_then_rerun

    def recorded(job: Any, area: Any, total: int) -> None:
        followed.append(job.state)
        follow(job, area, total)

    monkeypatch.setattr(solving, "FIRST_PLAN_SECONDS", 0.0)
    monkeypatch.setattr(solving, "follow_then_rerun", recorded)
    at.number_input(key="demand_multiplier").set_value(3.0)
    # The run shows best fit decreasing at once, follows the solve, then reruns with its plan.
    rerun(at)
    # Followed under a provisional plan (only the not-ready path follows; the solve may have
    # ended while the provisional page was drawn).
    assert followed
    assert_page_plan_valid(at, catalog)
    assert at.session_state["problem"].total_replicas > 3 * 69 - 1
    assert not any("provisional" in c.value for c in at.caption)


def test_a_what_if_change_resolves_and_the_cost_changes(catalog: Catalog) -> None:
    at = open_page()
    before = cost(at)
    at.number_input(key="demand_multiplier").set_value(2.0)
    rerun(at)
    assert at.session_state["problem"].total_replicas > 69
    assert cost(at) > before
    assert_page_plan_valid(at, catalog)


def test_a_pool_price_knob_changes_the_cost(catalog: Catalog) -> None:
    at = open_page()
    before = cost(at)
    # The pool table is a data editor; AppTest seeds its edits through session state.
    at.session_state["pool_knobs_0"] = {
        "edited_rows": {"2": {"cost_per_hour": 99.0}},
        "added_rows": [],
        "deleted_rows": [],
    }
    rerun(at)
    h100 = next(p for p in at.session_state["problem"].pools if p.pool == "h100-80-central")
    assert h100.cost_per_hour == 99.0
    assert cost(at) != before
    assert_page_plan_valid(at, catalog)


def test_switching_a_model_off_lists_the_unplaced(catalog: Catalog) -> None:
    at = open_page()
    at.multiselect(key="models_off").set_value(["H100-80GB"])
    rerun(at)
    assert_page_plan_valid(at, catalog)
    assert any("replicas could not be placed" in e.value for e in at.error)
    unplaced = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert "llama-3.1-70b-instruct-awq" in set(unplaced["workload"])
    assert all(g.gpu_model != "H100-80GB" for g in at.session_state["plan"].gpus)


def test_bad_csv_shows_every_error_and_keeps_the_last_good_data(catalog: Catalog) -> None:
    at = open_page()
    before = cost(at)
    bad = b"name,memory_gb,replicas\nx,-1,2\n,abc,1\n"
    at.file_uploader(key="upload_workloads").upload("mine.csv", bad, "text/csv")
    rerun(at)
    text = error_texts(at)
    assert "Uploaded files have problems" in text
    assert "mine.csv:2: memory_gb: -1 is out of range" in text
    assert "mine.csv:3: name: is empty (required)" in text
    assert "mine.csv:3: memory_gb: 'abc' is not a number" in text
    assert cost(at) == before
    assert at.session_state["problem"].total_replicas == 69
    # A good file afterwards replaces the data and clears the errors.
    good = b"name,memory_gb,compute_slices,replicas\nsmall,4,1,3\n"
    at.file_uploader(key="upload_workloads").upload("good.csv", good, "text/csv")
    rerun(at)
    assert "Uploaded files have problems" not in error_texts(at)
    assert at.session_state["problem"].total_replicas == 3
    assert cost(at) < before
    assert_page_plan_valid(at, catalog)


def test_removing_a_rejected_upload_clears_its_errors(catalog: Catalog) -> None:
    at = open_page()
    at.file_uploader(key="upload_fleet").upload(
        "f.csv", b"pool,gpu_model\nx,A100-40GB\n", "text/csv"
    )
    rerun(at)
    assert "f.csv:1: gpus: required column is missing" in error_texts(at)
    at.file_uploader(key="upload_fleet").clear()
    rerun(at)
    assert "Uploaded files have problems" not in error_texts(at)
    # The rejected file is gone: a good workloads upload now loads with the sample fleet.
    good = b"name,memory_gb\nsmall,4\n"
    at.file_uploader(key="upload_workloads").upload("w.csv", good, "text/csv")
    rerun(at)
    assert not at.error
    assert at.session_state["problem"].total_replicas == 1
    assert_page_plan_valid(at, catalog)


def test_uploading_both_files_replaces_the_inputs(catalog: Catalog) -> None:
    at = open_page()
    workloads = b"name,memory_gb,gpu_models\nrtx-job,40,RTX-PRO-6000-96GB\n"
    fleet = b"pool,gpu_model,gpus,cost_per_hour\nrtx,RTX-PRO-6000-96GB,2,3.5\n"
    # The workloads alone name a model the current fleet lacks: planned, and reported unplaced
    # (a fact about the fleet, not an input error).
    at.file_uploader(key="upload_workloads").upload("w.csv", workloads, "text/csv")
    rerun(at)
    assert [c.value for c in at.code] == []  # no input error listed
    assert any("could not be placed" in e.value for e in at.error)
    assert_page_plan_valid(at, catalog)
    unplaced = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert list(unplaced["reason"]) == ["no pool of RTX-PRO-6000-96GB in the fleet"]
    at.file_uploader(key="upload_fleet").upload("f.csv", fleet, "text/csv")
    rerun(at)
    assert not at.error
    assert cost(at) == 3.5
    open_tab(at, "Layouts")
    assert "**RTX\\-PRO\\-6000\\-96GB** (12 units per GPU)" in [m.value for m in at.markdown]
    assert_page_plan_valid(at, catalog)


def test_upload_caps(catalog: Catalog) -> None:
    at = open_page()
    too_many = b"name,memory_gb,replicas\nhuge,1,1000001\n"
    at.file_uploader(key="upload_workloads").upload("many.csv", too_many, "text/csv")
    rerun(at)
    assert "1,000,001 replicas in all; at most 1,000,000 are accepted here" in error_texts(at)
    too_big = b"name,memory_gb\n" + b"x" * (20 * 1024 * 1024)
    at.file_uploader(key="upload_fleet").upload("big.csv", too_big, "text/csv")
    rerun(at)
    assert "big.csv: 20.0 MB is over the 20 MB cap" in error_texts(at)
    assert at.session_state["problem"].total_replicas == 69
    assert_page_plan_valid(at, catalog)


def test_a_bad_catalog_upload_is_reported(catalog: Catalog) -> None:
    at = open_page()
    at.file_uploader(key="upload_catalog").upload("cat.yaml", b"models: [unclosed", "text/yaml")
    rerun(at)
    assert "cat.yaml:1: not valid YAML" in error_texts(at)
    assert_page_plan_valid(at, catalog)


def test_table_edits_apply_and_bad_edits_are_reported(catalog: Catalog) -> None:
    at = open_page()
    before = cost(at)
    at.session_state["fleet_editor_0"] = {
        "edited_rows": {"0": {"cost_per_hour": 0.5}},
        "added_rows": [],
        "deleted_rows": [],
    }
    rerun(at)
    assert at.session_state["problem"].pools[0].cost_per_hour == 0.5
    assert cost(at) < before
    edited = cost(at)
    at.session_state["workloads_editor_0"] = {
        "edited_rows": {"1": {"memory_gb": None}},
        "added_rows": [{"name": "new-one"}],
        "deleted_rows": [],
    }
    rerun(at)
    text = error_texts(at)
    assert "The edited tables have problems" in text
    assert "workloads table:3: memory_gb: is empty (required)" in text
    assert "workloads table:42: memory_gb: is empty (required)" in text
    assert cost(at) == edited
    assert_page_plan_valid(at, catalog)


def test_one_sessions_edits_stay_in_that_session() -> None:
    first = open_page()
    sample_cost = cost(first)
    fleet = (DATA / "fleet.csv").read_bytes().replace(b"4.10", b"1.10")
    first.file_uploader(key="upload_fleet").upload("fleet.csv", fleet, "text/csv")
    rerun(first)
    assert cost(first) < sample_cost
    second = open_page()
    assert cost(second) == sample_cost
    assert second.session_state["problem"].pools[0].cost_per_hour == 4.10


def test_scenarios_are_saved_survive_a_restart_and_are_compared(
    page_environment: Path, catalog: Catalog
) -> None:
    at = open_page()
    sample_cost = cost(at)
    at.text_input(key="scenario_name").input("sample as is")
    button(at, "Save scenario").click()
    rerun(at)
    assert any("Saved scenario" in s.value for s in at.success)
    assert page_environment.exists()

    # A fresh page (a restart, another browser) against the same database.
    at = open_page()
    at.number_input(key="demand_multiplier").set_value(1.5)
    rerun(at)
    assert cost(at) > sample_cost
    assert at.multiselect(key="compare_names").value == ["Current (unsaved)", "sample as is"]
    table = next(d for d in at.dataframe if "sample as is" in d.value.columns)
    compared = table.value
    assert compared.loc["cost per hour", "sample as is"] == f"${sample_cost:,.2f}"
    assert compared.loc["cost per hour", "Current (unsaved)"] != f"${sample_cost:,.2f}"
    assert HIGHLIGHT_COLOR in table.proto.arrow_data.styler.styles

    # Loading the scenario brings its knobs and its plan back.
    button(at, "Load into the page").click()
    rerun(at)
    assert at.number_input(key="demand_multiplier").value == 1.0
    assert cost(at) == sample_cost
    assert_page_plan_valid(at, catalog)


def test_scenarios_are_renamed_and_deleted() -> None:
    at = open_page()
    at.text_input(key="scenario_name").input("first")
    button(at, "Save scenario").click()
    rerun(at)
    at.text_input(key="scenario_new_name").input("renamed")
    button(at, "Rename").click()
    rerun(at)
    assert at.selectbox(key="scenario_pick").options == ["renamed"]
    button(at, "Delete").click()
    rerun(at)
    assert any("Tick 'yes, delete it' first" in e.value for e in at.error)
    at.checkbox(key="scenario_confirm_delete").check()
    button(at, "Delete").click()
    rerun(at)
    assert any("Deleted scenario" in s.value for s in at.success)
    assert not at.selectbox


def test_a_foreign_scenario_file_is_refused() -> None:
    at = open_page()
    at.file_uploader(key="upload_scenario").upload("x.json", b'{"hello": 1}', "application/json")
    rerun(at)
    assert "Scenario file refused." in error_texts(at)
    assert "not a mig-recommender scenario" in error_texts(at)


def test_a_corrupt_database_is_reported_not_raised(page_environment: Path) -> None:
    page_environment.write_bytes(b"definitely not sqlite" * 50)
    at = open_page()
    assert "Saved scenarios are unavailable." in error_texts(at)
    assert "not a usable scenario database" in error_texts(at)
    assert cost(at) > 0


def test_an_exported_scenario_imports_into_another_database(
    page_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog: Catalog
) -> None:
    at = open_page()
    at.text_input(key="scenario_name").input("to share")
    button(at, "Save scenario").click()
    rerun(at)
    exported = export_scenario(ScenarioStore(page_environment).load("to share"))
    assert next(d for d in at.get("download_button") if d.label == "Export as JSON")

    other_db = tmp_path / "other" / "scenarios.sqlite"
    monkeypatch.setenv("MIG_RECOMMENDER_DB", str(other_db))
    at = open_page()
    upload = at.file_uploader(key="upload_scenario")
    upload.upload("to-share.json", exported.encode(), "application/json")
    rerun(at)
    assert any("Imported scenario 'to share'" in s.value.replace("\\", "") for s in at.success)
    assert ScenarioStore(other_db).names() == ["to share"]
    # Importing it again keeps both under distinct names.
    at.file_uploader(key="upload_scenario").upload(
        "again.json", exported.encode(), "application/json"
    )
    rerun(at)
    assert sorted(ScenarioStore(other_db).names()) == ["to share", "to share (2)"]
    imported = ScenarioStore(other_db).load("to share")
    assert validate_plan(imported.plan, at.session_state["problem"], catalog) == []

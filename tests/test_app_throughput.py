"""Throughput demand on the page (AppTest): the throughput sample, served vs required per
workload, the demand multiplier on rates, the performance upload and editor (with their errors),
and the throughput baselines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from recommender.baselines import BASELINES, baselines_for
from recommender.catalog import Catalog
from recommender.plan import Plan
from recommender.whatif import throughput_table
from tests.conftest import assert_valid
from tests.test_app import button, error_texts, open_page, open_tab, rerun

THROUGHPUT = Path(__file__).resolve().parent.parent / "data" / "throughput"
SERVED_HEADING = "Throughput: required vs served"


@pytest.fixture(autouse=True)
def page_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIG_RECOMMENDER_DB", str(tmp_path / "scenarios.sqlite"))
    monkeypatch.setenv("MIG_RECOMMENDER_TIME_LIMIT", "3")


def throughput_page() -> AppTest:
    at = open_page()
    button(at, "Throughput sample").click()
    return rerun(at)


def shown(at: AppTest) -> Plan:
    return at.session_state["plan"]


def served_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "served_rps" in d.value.columns)


def test_the_throughput_sample_shows_served_against_required(catalog: Catalog) -> None:
    at = throughput_page()
    problem = at.session_state["problem"]
    assert problem.performance
    assert at.session_state["inputs"].sources["performance"] == "throughput sample"
    plan = shown(at)
    assert_valid(plan, problem, catalog)
    assert SERVED_HEADING in [s.value for s in at.subheader]
    table = served_table(at)
    expected = throughput_table(plan)
    assert table.drop(columns="latency_ms").equals(expected.drop(columns="latency_ms"))
    objectives = {w.name: w.latency_ms for w in problem.workloads if w.requests_per_second}
    for row in table.itertuples():
        ms = objectives[row.workload]
        assert row.latency_ms == ("none" if ms is None else f"{ms:g}")
    rated = {w.name: w.requests_per_second for w in problem.workloads if w.requests_per_second}
    assert set(table["workload"]) == set(rated)
    for row in table.itertuples():
        assert row.required_rps == pytest.approx(rated[row.workload])
        assert row.served_rps >= row.required_rps - 1e-6  # the sample fits its fleet
        assert row.profile_mix
    # Served share and profile mix charts next to the table.
    assert len(at.get("vega_lite_chart")) >= 5
    captions = "\n".join(c.value for c in at.caption)
    assert "performance\\: throughput sample" in captions


def test_the_demand_multiplier_scales_the_rates(catalog: Catalog) -> None:
    at = throughput_page()
    before = served_table(at).set_index("workload")["required_rps"]
    at.number_input(key="demand_multiplier").set_value(1.5)
    rerun(at)
    problem = at.session_state["problem"]
    assert_valid(shown(at), problem, catalog)
    after = served_table(at).set_index("workload")["required_rps"]
    for name, rate in before.items():
        assert after[name] == pytest.approx(1.5 * rate)
    # Minimum instances of rated workloads stay; count workloads scale.
    notebook = problem.workload("notebook")
    assert notebook.replicas == 3


def test_the_baselines_tab_shows_the_throughput_baselines() -> None:
    at = throughput_page()
    open_tab(at, "Baselines")
    table = at.dataframe[0].value
    planners = list(table["planner"])
    # The optimized plan serves every rate in full; the rate column says it.
    assert table.iloc[0]["planner"] == "Optimized plan"
    assert table.iloc[0]["rate_served"] == pytest.approx(1.0)
    for baseline in baselines_for(at.session_state["problem"]):
        assert baseline.display_name in planners
    assert BASELINES["biggest-instance"].display_name in planners
    assert BASELINES["best-per-slice"].display_name in planners
    # The count sample has no throughput baselines.
    button(at, "Back to the sample data").click()
    rerun(at)
    open_tab(at, "Baselines")
    planners = list(at.dataframe[0].value["planner"])
    assert BASELINES["best-per-slice"].display_name not in planners


def test_a_performance_upload_lists_every_problem_and_keeps_the_last_good_inputs(
    catalog: Catalog,
) -> None:
    at = open_page()
    bad = (
        b"model,gpu_model,profile,throughput_rps\n"
        b"resnet50,A100-80GB,9g.99gb,100\n"
        b"resnet50,NO-SUCH-GPU,1g.10gb,100\n"
        b"resnet50,A100-80GB,1g.10gb,-3\n"
    )
    at.file_uploader(key="upload_performance").upload("perf.csv", bad, "text/csv")
    rerun(at)
    text = error_texts(at)
    assert "Uploaded files have problems" in text
    assert "perf.csv:2: profile" in text
    assert "perf.csv:3: gpu_model" in text
    assert "perf.csv:4: throughput_rps" in text
    assert not at.session_state["problem"].performance
    at.file_uploader(key="upload_performance").upload("perf.csv", b"\x00\x01\x02binary", "text/csv")
    rerun(at)
    assert "perf.csv" in error_texts(at)
    assert not at.exception
    # The throughput workloads and their table, uploaded together, load.
    at.file_uploader(key="upload_performance").upload(
        "performance.csv", (THROUGHPUT / "performance.csv").read_bytes(), "text/csv"
    )
    at.file_uploader(key="upload_workloads").upload(
        "workloads.csv", (THROUGHPUT / "workloads.csv").read_bytes(), "text/csv"
    )
    at.file_uploader(key="upload_fleet").upload(
        "fleet.csv", (THROUGHPUT / "fleet.csv").read_bytes(), "text/csv"
    )
    rerun(at)
    assert "Uploaded files have problems" not in error_texts(at)
    problem = at.session_state["problem"]
    assert problem.performance and any(w.requests_per_second for w in problem.workloads)
    assert_valid(shown(at), problem, catalog)
    assert SERVED_HEADING in [s.value for s in at.subheader]


def test_rate_workloads_without_a_performance_table_are_an_error() -> None:
    at = open_page()
    at.file_uploader(key="upload_workloads").upload(
        "rates.csv", (THROUGHPUT / "workloads.csv").read_bytes(), "text/csv"
    )
    rerun(at)
    text = error_texts(at)
    assert "Uploaded files have problems" in text
    assert "rates.csv:" in text and "performance" in text
    assert at.session_state["problem"].total_replicas == 69


def test_the_performance_editor_applies_edits_and_reports_bad_ones(catalog: Catalog) -> None:
    at = throughput_page()
    version = at.session_state["editor_version"]
    before = at.session_state["problem"].performance
    at.session_state[f"performance_editor_{version}"] = {
        "edited_rows": {"0": {"throughput_rps": 2 * before[0].throughput_rps}},
        "added_rows": [],
        "deleted_rows": [],
    }
    rerun(at)
    problem = at.session_state["problem"]
    assert problem.performance[0].throughput_rps == pytest.approx(2 * before[0].throughput_rps)
    assert at.session_state["inputs"].sources["performance"] == "edited table"
    assert_valid(shown(at), problem, catalog)
    at.session_state[f"performance_editor_{version}"] = {
        "edited_rows": {"1": {"throughput_rps": -5.0}},
        "added_rows": [],
        "deleted_rows": [],
    }
    rerun(at)
    text = error_texts(at)
    assert "The edited tables have problems" in text
    assert "performance table:3: throughput_rps" in text
    assert at.session_state["problem"].performance[1] == before[1]


def test_the_count_sample_hides_the_rate_columns_but_keeps_its_inputs() -> None:
    at = open_page()
    # Drawing the editors changed nothing: the inputs are still the sample's.
    assert at.session_state["inputs"].sources["workloads"] == "sample"
    assert "performance" not in at.session_state["inputs"].sources
    at = throughput_page()
    assert at.session_state["inputs"].sources["workloads"] == "throughput sample"

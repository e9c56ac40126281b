"""The page's "Import from a cluster" (Inputs tab) under AppTest: kubectl listings previewed as
tables with notes, "Use these" loads them like an upload, problems listed like everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recommender.catalog import Catalog
from tests.conftest import assert_valid
from tests.test_app import button, error_texts, open_page, rerun

DATA = Path(__file__).resolve().parent / "data" / "cluster"


@pytest.fixture(autouse=True)
def page_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIG_RECOMMENDER_DB", str(tmp_path / "scenarios.sqlite"))
    monkeypatch.setenv("MIG_RECOMMENDER_TIME_LIMIT", "3")


def _upload(at: AppTest, key: str, name: str, data: bytes) -> None:
    at.file_uploader(key=key).upload(name, data, "application/json")


def test_import_nodes_and_pods_then_use_them(catalog: Catalog) -> None:
    at = open_page()
    _upload(at, "cluster_nodes", "nodes.json", (DATA / "nodes.json").read_bytes())
    _upload(at, "cluster_pods", "pods.json", (DATA / "pods.json").read_bytes())
    at.number_input(key="cluster_price").set_value(3.5)
    at.text_input(key="cluster_pool_label").input("cloud.google.com/gke-nodepool")
    rerun(at)
    assert button(at, "Use these").disabled is False
    tables = [frame.value for frame in at.dataframe]
    fleet = next(t for t in tables if "gpus_per_node" in t.columns)
    assert list(fleet["pool"]) == ["a100-pool", "h100-pool"]
    assert set(fleet["cost_per_hour"]) == {3.5}
    workloads = next(t for t in tables if "replicas" in t.columns and "media" in t.columns)
    assert set(workloads["name"]) == {"serving/llm-small", "serving/embedder", "media/transcode"}
    notes = [c.value.replace("\\", "") for c in at.caption]  # markdown-escaped
    assert "node cpu-node-1: no GPUs, skipped" in notes
    button(at, "Use these").click()
    rerun(at)
    problem = at.session_state["problem"]
    assert [p.pool for p in problem.pools] == ["a100-pool", "h100-pool"]
    assert problem.total_replicas == 4
    assert_valid(at.session_state["plan"], problem, catalog)
    sources = at.session_state["inputs"].sources
    assert (sources["fleet"], sources["workloads"]) == ("imported nodes.json", "imported pods.json")


def test_bad_cluster_files_are_listed_and_not_used() -> None:
    at = open_page()
    before = at.session_state["problem"]
    _upload(at, "cluster_nodes", "nodes.json", (DATA / "nodes.json").read_bytes()[:400])
    _upload(at, "cluster_pods", "pods.json", (DATA / "nodes.json").read_bytes())
    rerun(at)
    text = error_texts(at)
    assert "The cluster files have problems." in text
    assert "nodes.json:" in text and "not valid JSON" in text
    assert "pods.json: items[0]: a 'Node', not a Pod" in text
    assert button(at, "Use these").disabled is True
    assert at.session_state["problem"] == before


def test_nodes_without_a_price_say_so() -> None:
    at = open_page()
    _upload(at, "cluster_nodes", "nodes.json", (DATA / "nodes.json").read_bytes())
    rerun(at)
    assert "no price for pool 'A100-40GB'" in error_texts(at)

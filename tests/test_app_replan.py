"""Re-planning from the running fleet on the page (AppTest): the current-state upload and its
errors, the budgets, the Transition tab (counts, waves, dips), the GPU states in the Layouts
view, the frontier (computed as a job, a picked point shown and exported) and the rollout
downloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from recommender.catalog import Catalog
from recommender.exports import ROLLOUT_EXPORTS
from recommender.plan import Plan
from recommender.reading.current import load_current
from recommender.validate import validate_plan
from recommender.whatif import wave_table
from tests.test_app import button, error_texts, metric, open_page, open_tab, rerun

DATA = Path(__file__).resolve().parent.parent / "data"
TRY_SAMPLE = "Try re-planning from a running fleet"


@pytest.fixture(autouse=True)
def page_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIG_RECOMMENDER_DB", str(tmp_path / "scenarios.sqlite"))
    monkeypatch.setenv("MIG_RECOMMENDER_TIME_LIMIT", "3")


def upload_current(at: AppTest, name: str, data: bytes) -> AppTest:
    version = at.session_state["current_version"]
    at.file_uploader(key=f"upload_current_{version}").upload(name, data, "application/json")
    return rerun(at)


def plain(elements: Any) -> str:
    """The texts of markdown elements, one a line, without the escapes of user text."""
    return "\n".join(e.value.replace("\\", "") for e in elements)


def shown(at: AppTest) -> Plan:
    return at.session_state["plan"]


def assert_replan_valid(at: AppTest, catalog: Catalog) -> Plan:
    """The page's plan is a re-plan of the sample current state, valid with its transition and
    the budgets set in the sidebar."""
    plan, problem = shown(at), at.session_state["problem"]
    current = load_current(DATA / "current.json", problem, catalog)
    assert plan.transition is not None
    violations = validate_plan(
        plan,
        problem,
        catalog,
        current,
        max_recarve=at.session_state["max_recarve"],
        max_moves=at.session_state["max_moves"],
    )
    assert violations == []
    return plan


def test_the_sample_running_fleet_opens_the_transition_tab(catalog: Catalog) -> None:
    at = open_page()
    assert "Transition" not in [t.label for t in at.tabs]
    assert shown(at).transition is None
    button(at, TRY_SAMPLE).click()
    rerun(at)
    assert [t.label for t in at.tabs] == [
        "Plan", "Layouts", "Transition", "Baselines", "Scenarios", "Inputs", "Downloads"
    ]  # fmt: skip
    assert at.session_state["page_tab"] == "Transition"
    plan = assert_replan_valid(at, catalog)
    transition = plan.transition
    assert transition is not None
    assert metric(at, "GPUs kept") == f"{transition.kept:,}"
    assert metric(at, "GPUs re-carved") == f"{transition.recarved:,}"
    assert metric(at, "GPUs released") == f"{transition.released:,}"
    assert metric(at, "New GPUs carved") == f"{transition.new:,}"
    assert metric(at, "Replicas moved") == f"{transition.moved_replicas:,}"
    assert metric(at, "Nodes touched") == f"{transition.nodes_touched:,}"
    assert metric(at, "Cost per hour: now → plan") == (
        f"${transition.current_cost_per_hour:,.2f} → ${plan.cost_per_hour:,.2f}"
    )
    # The waves table is the transition's, wave by wave.
    waves = next(d.value for d in at.dataframe if "gpus_recarved" in d.value.columns)
    assert waves.equals(wave_table(transition))
    assert len(waves) == len(transition.waves) > 0
    assert "Re-planning from: sample current.json." in plain(at.caption)


def test_uploading_a_current_state_and_budgets_resolve_within_them(catalog: Catalog) -> None:
    at = open_page()
    upload_current(at, "running.json", (DATA / "current.json").read_bytes())
    assert "Current state loaded: running.json" in plain(at.success)
    free = assert_replan_valid(at, catalog)
    assert free.transition is not None and free.transition.moved_replicas > 6
    at.number_input(key="max_moves").set_value(6)
    at.number_input(key="max_recarve").set_value(1)
    at.number_input(key="wave_size").set_value(2)
    rerun(at)
    budgeted = assert_replan_valid(at, catalog)
    transition = budgeted.transition
    assert transition is not None
    assert transition.moved_replicas <= 6 and transition.recarved <= 1
    assert (transition.max_moves, transition.max_recarve, transition.wave_size) == (6, 1, 2)
    assert all(len(w.nodes) <= 2 for w in transition.waves)
    assert budgeted.cost_per_hour >= free.cost_per_hour - 1e-6


def test_a_bad_current_state_is_listed_and_the_last_good_one_stays(catalog: Catalog) -> None:
    at = open_page()
    document = json.loads((DATA / "current.json").read_text())
    document["gpus"][0]["pool"] = "nowhere"
    document["gpus"][1]["instances"][0]["profile"] = "9g.999gb"
    upload_current(at, "broken.json", json.dumps(document).encode())
    text = error_texts(at)
    assert "The current state has problems; the plan uses the last good one." in text
    assert "broken.json: gpu nowhere#0" in text
    assert "9g.999gb" in text
    assert shown(at).transition is None  # no good state yet: planned from an empty fleet
    upload_current(at, "good.json", (DATA / "current.json").read_bytes())
    assert "The current state has problems" not in error_texts(at)
    assert_replan_valid(at, catalog)
    upload_current(at, "truncated.json", (DATA / "current.json").read_bytes()[:500])
    assert "truncated.json" in error_texts(at)
    # The good state is still the one planned from.
    assert_replan_valid(at, catalog)
    assert "Re-planning from: uploaded good.json." in plain(at.caption)


def test_empty_and_binary_current_states_are_refused() -> None:
    at = open_page()
    upload_current(at, "empty.json", b"")
    assert "empty.json" in error_texts(at) and "empty" in error_texts(at)
    upload_current(at, "noise.csv", bytes(range(256)) * 4)
    assert "noise.csv" in error_texts(at)
    assert not at.exception
    assert shown(at).transition is None


def test_clear_goes_back_to_an_empty_fleet(catalog: Catalog) -> None:
    at = open_page()
    button(at, TRY_SAMPLE).click()
    rerun(at)
    assert_replan_valid(at, catalog)
    button(at, "Clear current state").click()
    rerun(at)
    assert "Transition" not in [t.label for t in at.tabs]
    assert shown(at).transition is None
    assert [n.label for n in at.number_input if n.key == "max_moves"] == []
    assert "Current state cleared" in plain(at.success)


def test_a_knob_that_takes_away_running_gpus_plans_from_an_empty_fleet(catalog: Catalog) -> None:
    at = open_page()
    button(at, TRY_SAMPLE).click()
    rerun(at)
    at.multiselect(key="models_off").set_value(["H100-80GB"])
    rerun(at)
    text = error_texts(at)
    assert "The current state does not fit these inputs" in text
    assert "h100-80-central" in text
    assert shown(at).transition is None
    at.multiselect(key="models_off").set_value([])
    rerun(at)
    assert_replan_valid(at, catalog)


def test_layouts_mark_every_gpu_with_its_state(catalog: Catalog) -> None:
    at = open_page()
    button(at, TRY_SAMPLE).click()
    rerun(at)
    plan = shown(at)
    open_tab(at, "Layouts")
    captions = "\n".join(c.value for c in at.caption)
    assert "the strip left of each GPU says what the plan does to it" in captions
    specs = [json.dumps(c.proto.spec) for c in at.get("vega_lite_chart")]
    joined = "\n".join(specs)
    transition = plan.transition
    assert transition is not None
    for state, count in (
        ("kept", transition.kept),
        ("re-carved", transition.recarved),
        ("released", transition.released),
        ("new", transition.new),
    ):
        assert (f"{state} GPU" in joined) == (count > 0), state


def test_the_frontier_runs_as_a_job_and_a_picked_point_is_shown_and_exported(
    catalog: Catalog,
) -> None:
    at = open_page()
    button(at, TRY_SAMPLE).click()
    rerun(at)
    solved = shown(at)
    button(at, "Compute the frontier").click()
    rerun(at)  # the page follows the job, then reruns with it done
    assert not [i for i in at.info if "Computing the frontier" in i.value]
    picker = at.selectbox[0]
    assert picker.label == "Show the plan of"
    assert len(picker.options) >= 3  # the solved plan and at least both ends
    assert picker.options[1].startswith("change nothing")
    assert picker.options[-1].startswith("fresh optimum")
    assert len(at.get("vega_lite_chart")) >= 1
    picker.set_value(1)
    rerun(at)
    point = shown(at)
    assert point is not solved
    assert point.transition is not None and point.transition.moved_replicas == 0
    problem = at.session_state["problem"]
    current = load_current(DATA / "current.json", problem, catalog)
    assert validate_plan(point, problem, catalog, current, max_moves=0, max_recarve=0) == []
    assert "Showing the frontier point 'change nothing'" in "\n".join(i.value for i in at.info)
    open_tab(at, "Downloads")
    labels = [d.label for d in at.get("download_button")]
    for file_name, _mime, _export in ROLLOUT_EXPORTS.values():
        assert any(label.endswith(file_name) for label in labels)
    # Back to the solved plan.
    open_tab(at, "Transition")
    at.selectbox[0].set_value(0)
    rerun(at)
    assert shown(at).cost_per_hour == solved.cost_per_hour


def test_a_fresh_plan_has_no_rollout_downloads() -> None:
    at = open_page()
    open_tab(at, "Downloads")
    labels = [d.label for d in at.get("download_button")]
    for file_name, _mime, _export in ROLLOUT_EXPORTS.values():
        assert not any(label.endswith(file_name) for label in labels)

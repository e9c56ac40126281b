"""Re-planning and throughput demand in a real browser (`streamlit run app.py`, headless Chromium):
upload a current state, read the Transition tab, compute the frontier, see the GPU states in the
Layouts view, download the rollout script; switch to the throughput sample and read served vs
required. Screenshots (1440 px wide) go to `test-artifacts/`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from benchmarks.browser import (
    ROOT,
    upload,
    wait_for_checked_plan,
    wait_for_final_plan,
    wait_until_idle,
)
from tests.test_browser import ARTIFACTS, SOLVE_WAIT_SECONDS, browser_page, server_url

pytestmark = pytest.mark.browser

__all__ = ["browser_page", "server_url"]  # fixtures, used by name
DATA = ROOT / "data"


@pytest.fixture
def artifacts(browser_page: Page) -> Iterator[Page]:
    """The page; on a failure, a screenshot of what it showed."""
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield browser_page
    except BaseException:
        browser_page.screenshot(path=str(ARTIFACTS / "browser-replan-failure.png"), full_page=True)
        raise


def settle(page: Page) -> None:
    """Until the rerun a click started ends and the charts have drawn."""
    wait_until_idle(page)
    page.wait_for_timeout(1500)


def test_replan_transition_frontier_and_rollout(
    server_url: str, artifacts: Page, tmp_path: Path
) -> None:
    page = artifacts
    page.goto(server_url)
    wait_for_final_plan(page, SOLVE_WAIT_SECONDS, metric="Cost per hour")
    upload(page, "Current state", DATA / "current.json")
    page.get_by_text("Current state loaded: current.json").wait_for(timeout=60_000)
    wait_for_final_plan(page, SOLVE_WAIT_SECONDS, metric="Cost per hour")
    wait_for_checked_plan(page)
    page.get_by_role("tab", name="Transition").click()
    settle(page)
    for label in ("GPUs kept", "GPUs re-carved", "GPUs released", "Replicas moved"):
        assert page.get_by_test_id("stMetric").filter(has_text=label).count() == 1
    assert page.get_by_text("Rollout", exact=True).is_visible()
    assert page.get_by_test_id("stDataFrame").count() >= 1
    page.get_by_role("button", name="Compute the frontier").click()
    page.get_by_text("Show the plan of").wait_for(timeout=SOLVE_WAIT_SECONDS * 1000)
    settle(page)
    chart = page.locator("[data-testid=stVegaLiteChart]:visible")
    assert chart.count() >= 1 and chart.first.locator("canvas, svg").count() > 0
    page.screenshot(path=str(ARTIFACTS / "browser-transition.png"), full_page=True)

    page.get_by_role("tab", name="Layouts").click()
    settle(page)
    assert page.get_by_text("the strip left of each GPU").is_visible()
    page.screenshot(path=str(ARTIFACTS / "browser-layouts-replan.png"), full_page=True)

    page.get_by_role("tab", name="Downloads").click()
    settle(page)
    with page.expect_download(timeout=60_000) as download_info:
        page.get_by_role("button", name="Rollout script: rollout.sh").click()
    script = tmp_path / "rollout.sh"
    download_info.value.save_as(script)
    text = script.read_text()
    assert text.startswith("#!")
    for command in ("cordon", "drain", "nvidia.com/mig.config", "uncordon"):
        assert command in text, command


def test_throughput_sample_shows_served_against_required(server_url: str, artifacts: Page) -> None:
    page = artifacts
    page.goto(server_url)
    _, sample_cost = wait_for_final_plan(page, SOLVE_WAIT_SECONDS, metric="Cost per hour")
    page.get_by_role("button", name="Throughput sample").click()
    page.get_by_text("Switched to the throughput sample").wait_for(timeout=60_000)
    wait_for_final_plan(page, SOLVE_WAIT_SECONDS, sample_cost, "Cost per hour")
    wait_for_checked_plan(page)
    heading = page.get_by_text("Throughput: required vs served")
    heading.wait_for(timeout=60_000)
    heading.scroll_into_view_if_needed()
    settle(page)
    table = page.get_by_test_id("stDataFrame").filter(has_text="served req/s")
    assert table.count() == 1
    page.screenshot(path=str(ARTIFACTS / "browser-throughput.png"), full_page=True)
    page.get_by_role("tab", name="Baselines").click()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "browser-throughput-baselines.png"), full_page=True)

"""The page in a real browser: `streamlit run app.py` driven by headless Chromium (Playwright).

Uploads the two CSVs through the file inputs, waits for the solve, checks the cost and the
layout chart, downloads the plan JSON and checks it with the independent validator, and saves
screenshots to `test-artifacts/`. It needs Debian's `chromium` (`apt-get install chromium`); when
the browser is missing it fails, it never skips.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from benchmarks.browser import (
    ROOT,
    PageError,
    launch_chromium,
    metric_value,
    streamlit_server,
    upload,
    wait_for_checked_plan,
    wait_for_final_plan,
    wait_until_idle,
)
from recommender.catalog import Catalog
from recommender.plan import Plan
from recommender.reading import load_problem
from recommender.validate import validate_plan
from recommender.whatif import MAX_UPLOAD_MB

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
SOLVE_WAIT_SECONDS = 120
TIME_LIMIT = "5"


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    env = {
        "MIG_RECOMMENDER_DB": str(tmp_path / "scenarios.sqlite"),
        "MIG_RECOMMENDER_TIME_LIMIT": TIME_LIMIT,
    }
    try:
        with streamlit_server(tmp_path / "streamlit.log", env) as url:
            yield url
    except PageError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def browser_page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        try:
            browser = launch_chromium(playwright)
        except PageError as exc:
            pytest.fail(str(exc))
        try:
            context = browser.new_context(
                viewport={"width": 1440, "height": 2000}, accept_downloads=True
            )
            yield context.new_page()
        finally:
            browser.close()


def test_upload_solve_view_and_download(
    server_url: str, browser_page: Page, tmp_path: Path, catalog: Catalog
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        upload_solve_view_and_download(browser_page, server_url, tmp_path, catalog)
    except BaseException:
        # What the page showed when it went wrong, for the CI log's reader.
        browser_page.screenshot(path=str(ARTIFACTS / "browser-failure.png"), full_page=True)
        raise


def upload_solve_view_and_download(
    page: Page, server_url: str, tmp_path: Path, catalog: Catalog
) -> None:
    page.goto(server_url)
    # It opens on the sample, already solved.
    _, sample_cost = wait_for_final_plan(page, SOLVE_WAIT_SECONDS, metric="Cost per hour")
    assert sample_cost.startswith("$")
    # Every headline number shows whole (nothing cut off with an ellipsis).
    for value in page.get_by_test_id("stMetricValue").all():
        box = value.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert box[0] <= box[1], value.inner_text()

    # A file over the cap is refused where the user sees it, not only in a tooltip.
    too_big = tmp_path / "huge.csv"
    too_big.write_bytes(b"name,memory_gb\n" + b"x,1\n" * ((MAX_UPLOAD_MB + 1) * 2**20 // 4))
    upload(page, "Workloads CSV", too_big)
    refusal = page.get_by_test_id("stFileChip").get_by_role("alert")
    refusal.wait_for(timeout=30_000)
    assert refusal.is_visible()
    assert f"{MAX_UPLOAD_MB:.1f}MB or smaller" in refusal.inner_text()
    assert refusal.bounding_box()["height"] > 5  # type: ignore[index]
    page.get_by_role("button", name="Remove huge.csv").click()

    # The user's own files: the sample workloads on a fleet with other prices.
    workloads = tmp_path / "workloads.csv"
    fleet = tmp_path / "fleet.csv"
    workloads.write_bytes((ROOT / "data" / "workloads.csv").read_bytes())
    fleet.write_text(
        "pool,gpu_model,gpus,cost_per_hour,gpus_per_node\n"
        "a100-40-east,A100-40GB,12,3.20,8\n"
        "a100-80-west,A100-80GB,10,4.75,8\n"
        "h100-80-central,H100-80GB,8,9.99,4\n"
    )
    upload(page, "Workloads CSV", workloads)
    page.get_by_text("Uploaded inputs loaded: workloads.csv").wait_for(timeout=60_000)
    upload(page, "Fleet CSV", fleet)
    page.get_by_text("Uploaded inputs loaded: fleet.csv").wait_for(timeout=60_000)
    _, new_cost = wait_for_final_plan(page, SOLVE_WAIT_SECONDS, sample_cost, "Cost per hour")
    wait_for_checked_plan(page)
    assert page.get_by_text(
        "Using workloads: uploaded workloads.csv; fleet: uploaded fleet.csv"
    ).is_visible()

    page.get_by_role("tab", name="Layouts").click()
    wait_until_idle(page)  # the tab draws on a rerun
    charts = page.locator("[data-testid=stVegaLiteChart]:visible")
    charts.first.wait_for(timeout=30_000)
    heading = page.locator("p:visible", has_text="A100-40GB (8 units per GPU)")
    assert heading.count() == 1
    for _ in range(100):  # one chart per GPU model; they arrive one after another
        if charts.count() >= 3:
            break
        page.wait_for_timeout(300)
    assert charts.count() >= 3
    assert charts.first.locator("canvas, svg").count() > 0
    page.wait_for_timeout(1500)  # let the charts finish drawing before the screenshot
    page.screenshot(path=str(ARTIFACTS / "browser-layouts.png"), full_page=True)

    page.get_by_role("tab", name="Downloads").click()
    with page.expect_download(timeout=60_000) as download_info:
        page.get_by_role("button", name="Plan (JSON): plan.json").click()
    saved = tmp_path / "plan.json"
    download_info.value.save_as(saved)
    plan = Plan.read(saved)
    problem = load_problem(workloads, fleet, catalog)
    assert validate_plan(plan, problem, catalog) == []
    assert new_cost == metric_value(page, "Cost per hour") == f"${plan.cost_per_hour:,.2f}"
    assert not plan.unplaced

    page.get_by_role("tab", name="Plan").click()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "browser-plan.png"), full_page=True)

"""The page in a real browser: `streamlit run app.py` driven by headless Chromium (Playwright).

Uploads the two CSVs through the file inputs, waits for the solve, checks the cost and the
layout chart, downloads the plan JSON and checks it with the independent validator, and saves
screenshots to `test-artifacts/`. It needs Debian's `chromium` (`apt-get install chromium`); when
the browser is missing it fails, it never skips.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from recommender.catalog import Catalog
from recommender.plan import Plan
from recommender.reading import load_problem
from recommender.validate import validate_plan

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_SECONDS = 90
SOLVE_WAIT_MS = 120_000
TIME_LIMIT = "5"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"streamlit did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()}")


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        MIG_RECOMMENDER_DB=str(tmp_path / "scenarios.sqlite"),
        MIG_RECOMMENDER_TIME_LIMIT=TIME_LIMIT,
    )
    log = tmp_path / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


@pytest.fixture
def browser_page() -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser test needs Debian's chromium "
            "(apt-get install -y chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(
                viewport={"width": 1500, "height": 2000}, accept_downloads=True
            )
            yield context.new_page()
        finally:
            browser.close()


def upload(page: Page, label: str, path: Path) -> None:
    uploader = page.get_by_test_id("stFileUploader").filter(has_text=label)
    uploader.locator("input[type=file]").set_input_files(str(path))


def metric_value(page: Page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label)
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def wait_for_metric_change(page: Page, label: str, old: str) -> str:
    deadline = time.monotonic() + SOLVE_WAIT_MS / 1000
    while time.monotonic() < deadline:
        try:
            value = metric_value(page, label)
        except Exception:  # the metric is re-rendered while the page reruns
            value = old
        if value != old:
            return value
        page.wait_for_timeout(500)
    pytest.fail(f"'{label}' stayed {old} after the upload")


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
    page.get_by_test_id("stMetric").filter(has_text="Cost per hour").wait_for(timeout=SOLVE_WAIT_MS)
    sample_cost = metric_value(page, "Cost per hour")
    assert sample_cost.startswith("$")

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
    page.get_by_text("Uploaded inputs loaded: workloads.csv").wait_for(timeout=SOLVE_WAIT_MS)
    upload(page, "Fleet CSV", fleet)
    new_cost = wait_for_metric_change(page, "Cost per hour", sample_cost)
    page.get_by_text("independent check passed").wait_for(timeout=SOLVE_WAIT_MS)
    assert page.get_by_text(
        "Using workloads: uploaded workloads.csv; fleet: uploaded fleet.csv"
    ).is_visible()

    page.get_by_role("tab", name="Layouts").click()
    charts = page.locator("[data-testid=stVegaLiteChart]:visible")
    charts.first.wait_for(timeout=30_000)
    heading = page.locator("p:visible", has_text="A100-40GB (8 units per GPU)")
    assert heading.count() == 1
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
    assert new_cost == f"${plan.cost_per_hour:,.2f}"
    assert not plan.unplaced

    page.get_by_role("tab", name="Plan").click()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "browser-plan.png"), full_page=True)

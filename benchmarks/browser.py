"""Driving the real page: `streamlit run app.py` as a subprocess and headless Chromium sessions.

Shared by the browser test (`tests/test_browser.py`), the screenshot script
(`benchmarks/screenshots.py`) and the concurrent-sessions measurement (`benchmarks/sessions.py`),
so the three start the server and read the page the same way. Needs Debian's `chromium`
(`apt-get install chromium`) and Playwright's Python package.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

ROOT = Path(__file__).resolve().parent.parent
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


class PageError(RuntimeError):
    """The server or the browser did not do what the caller waited for."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise PageError(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise PageError(f"streamlit did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()}")


def peak_rss_mib(pid: int) -> float | None:
    """A process's peak resident memory (VmHWM) in MiB, None where /proc cannot tell."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextlib.contextmanager
def streamlit_server(
    log: Path, env: Mapping[str, str], started: list[subprocess.Popen] | None = None
) -> Iterator[str]:
    """`streamlit run app.py` on a free local port with `env` added; yields its URL and stops
    the server (only this process) afterwards. The process is appended to `started` (to read
    its memory)."""
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    if started is not None:
        started.append(server)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


def launch_chromium(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise PageError(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        )
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


def upload(page: Page, label: str, path: Path) -> None:
    uploader = page.get_by_test_id("stFileUploader").filter(has_text=label)
    uploader.locator("input[type=file]").set_input_files(str(path))


def metric_value(page: Page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label)
    return metric.get_by_test_id("stMetricValue").first.inner_text().strip()


def wait_for_metric(page: Page, label: str, timeout_seconds: float, old: str | None = None) -> str:
    """The value of metric `label` once it shows (and differs from `old`, when given)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            value = metric_value(page, label) if page.get_by_test_id("stMetric").count() else None
        except Exception:  # the metric is re-rendered while the page reruns
            value = None
        if value is not None and value != old:
            return value
        page.wait_for_timeout(200)
    raise PageError(f"metric '{label}' did not show a new value within {timeout_seconds:.0f} s")


def plan_status(page: Page) -> str | None:
    """The status word of the plan the page shows (`optimal`, `feasible`, `provisional`...),
    None while no plan shows or the page is between runs."""
    try:
        caption = page.get_by_text("Plan status:")
        if caption.count() == 0:
            return None
        text = caption.first.inner_text()
    except Exception:  # re-rendered while we read
        return None
    return text.removeprefix("Plan status:").strip().split(" ")[0].rstrip(",;")


def wait_for_final_plan(
    page: Page, timeout_seconds: float, old: str | None = None, metric: str = "Replicas placed"
) -> tuple[str, str]:
    """Wait until the page shows a solved (not provisional) plan whose `metric` differs from
    `old` (when given); returns (status, the metric's value)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        status = plan_status(page)
        # The provisional notice comes first on the page: with it gone, nothing shown is
        # provisional any more.
        if (
            status not in (None, "provisional")
            and page.get_by_text("Provisional plan").count() == 0
        ):
            try:
                value = metric_value(page, metric)
            except Exception:
                value = None
            if value is not None and value != old:
                return status, value
        page.wait_for_timeout(200)
    raise PageError(f"no solved plan within {timeout_seconds:.0f} s")


def wait_for_checked_plan(page: Page, timeout_seconds: float = 60) -> None:
    """Until the solved plan's status line says the independent check passed.

    A provisional plan's line says so too, and may linger on the page for a moment after the
    solved one is drawn, so only a solved status counts.
    """
    solved = re.compile(r"Plan status: (optimal|feasible)\b.*independent check passed", re.S)
    page.locator("p:visible", has_text=solved).first.wait_for(timeout=timeout_seconds * 1000)


def wait_until_idle(page: Page, timeout_seconds: float = 60) -> None:
    """Until the page's script run ends (Streamlit shows a status widget while it runs)."""
    deadline = time.monotonic() + timeout_seconds
    page.wait_for_timeout(300)  # a click's rerun takes a moment to start
    while time.monotonic() < deadline:
        if page.get_by_test_id("stStatusWidget").count() == 0:
            return
        page.wait_for_timeout(200)

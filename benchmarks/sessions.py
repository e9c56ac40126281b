"""Concurrent visitors: real Chromium sessions on one page server, uploading fleets at once.

    python -m benchmarks.sessions [--time-limit 10] [--out benchmarks/RESULTS.md] [--no-write]

Five sessions (one headless Chromium each) open the page, wait for its first plan, then upload
60- to 600-GPU instances (`benchmarks/generate.py`, 5 replicas per GPU) at the same moment; a
sixth visitor opens the page 3 s later, while they solve. Measured per session: time from opening
the page to its first plan, from the first upload to the first plan of the new inputs (the
provisional one counts) and to the solved plan, the solved plan's status and gap, its seconds in
the solve queue (from the page's own words), and whether the downloaded plan JSON passes the
independent validator for that session's own inputs. The server's peak memory is read from /proc.

The numbers go into a section of `benchmarks/RESULTS.md` (between the markers below; the rest of
the file is left alone). `tests/test_sessions.py` runs the same measurement in the slow tier.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from benchmarks.browser import (
    ROOT,
    launch_chromium,
    metric_value,
    peak_rss_mib,
    plan_status,
    streamlit_server,
    upload,
    wait_for_final_plan,
)
from benchmarks.generate import write_instance
from benchmarks.results import replace_section
from recommender.plan import Plan
from recommender.reading import load_catalog, load_problem
from recommender.validate import validate_plan

GPU_SIZES = (60, 150, 300, 450, 600)
REPLICAS_PER_GPU = 5
LATE_VISITOR_DELAY = 3.0
WAIT_SECONDS = 600
ARTIFACTS = ROOT / "test-artifacts"
SECTION = "sessions"  # its section of RESULTS.md (benchmarks/results.py)


@dataclass
class SessionResult:
    """What one browser session saw; times in seconds."""

    name: str
    gpus: int = 0
    replicas: int = 0
    open_to_first_plan: float | None = None
    upload_to_first_plan: float | None = None
    upload_to_solved_plan: float | None = None
    first_plan_status: str | None = None
    status: str | None = None
    gap: str | None = None
    queued_seen: bool = False
    valid: bool | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _gap(page: Page) -> str | None:
    text = page.get_by_text("Plan status:").first.inner_text()
    found = re.search(r"gap ([^;,]+)", text)
    return found.group(1) if found else None


def _placed_total(page: Page) -> str | None:
    try:
        return metric_value(page, "Replicas placed").split(" of ")[-1]
    except Exception:
        return None


def run_session(
    url: str, result: SessionResult, instance: tuple[Path, Path] | None, start: threading.Barrier
) -> None:
    """One visitor: open the page, wait for its plan; with an instance, upload it when every
    session is ready and follow it to the solved plan, then download and check that plan."""
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                context = browser.new_context(
                    viewport={"width": 1440, "height": 1000}, accept_downloads=True
                )
                page = context.new_page()
                if instance is None:  # the late visitor
                    start.wait(WAIT_SECONDS)
                    time.sleep(LATE_VISITOR_DELAY)
                opened = time.monotonic()
                page.goto(url)
                wait_for_first_plan(page, None)
                result.open_to_first_plan = time.monotonic() - opened
                if instance is None:
                    return
                start.wait(WAIT_SECONDS)
                try:
                    follow_upload(page, result, instance)
                except Exception:
                    # What the page showed, for whoever reads the failure.
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    name = result.name.replace(" ", "-")
                    page.screenshot(path=str(ARTIFACTS / f"sessions-{name}.png"), full_page=True)
                    raise
            finally:
                browser.close()
    except Exception as exc:  # one broken session is reported, the others go on
        result.error = f"{type(exc).__name__}: {exc}"[:300]


def wait_for_first_plan(page: Page, total: str | None) -> str:
    """Any plan (provisional or solved) whose replica total is `total` (any, when None);
    returns its status word."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        status = plan_status(page)
        if status is not None and (total is None or _placed_total(page) == total):
            return status
        page.wait_for_timeout(100)
    raise TimeoutError("no plan shown")


def upload_surely(page: Page, label: str, path: Path) -> None:
    """Upload `path`, again if the page was redrawing its uploader at that moment and lost it
    (the file's chip never shows)."""
    chip = page.get_by_test_id("stFileUploader").filter(has_text=label).get_by_test_id("stFileChip")
    for _ in range(5):
        upload(page, label, path)
        try:
            chip.wait_for(timeout=15_000)
            return
        except Exception:
            continue
    raise TimeoutError(f"{label}: the upload never registered")


def follow_upload(page: Page, result: SessionResult, instance: tuple[Path, Path]) -> None:
    workloads, fleet = instance
    total = f"{result.replicas:,}"
    uploaded = time.monotonic()
    # The fleet first: alone it loads with the sample workloads (their models are in every
    # generated fleet), where the workloads alone name models the sample fleet lacks.
    upload_surely(page, "Fleet CSV", fleet)
    upload_surely(page, "Workloads CSV", workloads)
    result.first_plan_status = wait_for_first_plan(page, total)
    result.upload_to_first_plan = time.monotonic() - uploaded
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if page.get_by_text("Queued:").count():
            result.queued_seen = True
        try:
            status, placed = wait_for_final_plan(page, 0.5)
        except Exception:
            continue
        if placed.endswith(f"of {total}"):
            result.status = status
            break
    else:
        raise TimeoutError("no solved plan")
    result.upload_to_solved_plan = time.monotonic() - uploaded
    result.gap = _gap(page)
    page.get_by_role("tab", name="Downloads").click()
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="Plan (JSON): plan.json").click()
    with tempfile.TemporaryDirectory() as scratch:
        saved = Path(scratch) / "plan.json"
        download.value.save_as(saved)
        plan = Plan.read(saved)
    catalog = load_catalog()
    problem = load_problem(workloads, fleet, catalog)
    violations = validate_plan(plan, problem, catalog)
    result.valid = not violations and plan.summary is not None
    if plan.summary is not None and plan.summary.replicas_total != result.replicas:
        result.valid = False
        result.notes.append("the plan is of other inputs")
    result.notes += violations[:3]


def measure(time_limit: float, sizes: tuple[int, ...] = GPU_SIZES) -> dict[str, object]:
    """Run the sessions against a fresh server; returns the machine, settings and results."""
    results = [
        SessionResult(f"session {n + 1}", gpus, gpus * REPLICAS_PER_GPU)
        for n, gpus in enumerate(sizes)
    ]
    late = SessionResult("late visitor (opens the page 3 s into the uploads)")
    started: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        instances = [
            write_instance(scratch / f"s{n}", r.gpus, r.replicas, seed=n)
            for n, r in enumerate(results)
        ]
        env = {
            "MIG_RECOMMENDER_DB": str(scratch / "scenarios.sqlite"),
            "MIG_RECOMMENDER_TIME_LIMIT": f"{time_limit:g}",
        }
        began = time.monotonic()
        log = scratch / "streamlit.log"
        with streamlit_server(log, env, started) as url:
            start = threading.Barrier(len(results) + 1)
            threads = [
                threading.Thread(target=run_session, args=(url, r, inst, start))
                for r, inst in zip(results, instances, strict=True)
            ]
            threads.append(threading.Thread(target=run_session, args=(url, late, None, start)))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(WAIT_SECONDS * 2)
            peak = peak_rss_mib(started[0].pid)
        if any(r.error for r in [*results, late]):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "sessions-server.log").write_text(log.read_text())
        wall = time.monotonic() - began
    return {
        "time_limit": time_limit,
        "sessions": results,
        "late": late,
        "server_peak_rss_mib": peak,
        "wall_seconds": wall,
        "cores": len(os.sched_getaffinity(0)),
        "load": os.getloadavg(),
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(measured: dict[str, object], command: str) -> str:
    sessions: list[SessionResult] = measured["sessions"]  # type: ignore[assignment]
    late: SessionResult = measured["late"]  # type: ignore[assignment]
    peak = measured["server_peak_rss_mib"]
    load = ", ".join(f"{x:.2f}" for x in measured["load"])  # type: ignore[attr-defined]
    lines = [
        "## Concurrent sessions (the page)",
        "",
        f"Written {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC by `{command}`: "
        f"{len(sessions)} headless Chromium sessions against one `streamlit run app.py`, "
        f"solver time limit {measured['time_limit']:g} s. Machine: {platform.machine()}, "
        f"{measured['cores']} cores usable, Python {platform.python_version()}; load average "
        f"at the end {load}. The browsers run on the same 2 cores as the server.",
        "",
        "| session | GPUs | replicas | open to first plan | upload to first plan (kind) "
        "| upload to solved plan | status | gap | saw 'Queued' | plan valid |",
        "|---|---:|---:|---:|---|---:|---|---:|---|---|",
    ]
    for r in sessions:
        first = f"{_seconds(r.upload_to_first_plan)} s ({r.first_plan_status or '-'})"
        lines.append(
            f"| {r.name} | {r.gpus:,} | {r.replicas:,} | {_seconds(r.open_to_first_plan)} s "
            f"| {first} | {_seconds(r.upload_to_solved_plan)} s | {r.status or '-'} "
            f"| {r.gap or '-'} | {'yes' if r.queued_seen else 'no'} "
            f"| {'yes' if r.valid else 'NO'}{': ' + r.error if r.error else ''} |"
        )
    lines += [
        "",
        f"- {late.name}: first plan (the shared sample) after "
        f"{_seconds(late.open_to_first_plan)} s" + (f" ({late.error})" if late.error else "."),
        "- server peak memory (VmHWM): "
        + ("-" if peak is None else f"{peak:,.0f} MiB")
        + f"; whole run {measured['wall_seconds']:.0f} s.",
        "- 'upload to first plan' is the first plan of the session's own inputs on its page: "
        "`provisional` (best fit decreasing, shown while the solve queues or runs) or the solved "
        "one. Solves run at most one per core, each with the cores the others leave; the rest "
        "wait in a queue the page shows, and each solve's time limit starts when it starts.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    given = argv if argv is not None else sys.argv[1:]
    command = " ".join(["python -m benchmarks.sessions", *given])
    section = report(measure(args.time_limit), command)
    print(section)
    if not args.no_write:
        replace_section(args.out, SECTION, section)


if __name__ == "__main__":
    main()

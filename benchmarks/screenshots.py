"""Real-browser screenshots of the page at several widths, to check it reads at a glance.

    python -m benchmarks.screenshots [--out test-artifacts/screens] [--widths 1280,1440,1920]
                                     [--docs]

Opens the page on the bundled sample, then uploads a 600-GPU fleet and a capacity-short fleet
(`benchmarks/generate.py`, seed 0) and saves the headline with the Plan, Layouts and Baselines
tabs of each at each width. `--docs` also writes `docs/screenshot.png` (the sample at 1440 px).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from benchmarks.browser import (
    ROOT,
    launch_chromium,
    streamlit_server,
    upload,
    wait_for_final_plan,
    wait_until_idle,
)
from benchmarks.generate import write_instance

TIME_LIMIT = "10"
SOLVE_WAIT_SECONDS = 180
TABS = ("Plan", "Layouts", "Baselines")
DOCS_WIDTH = 1440


@dataclass(frozen=True)
class Case:
    name: str
    gpus: int = 0  # 0: the bundled sample
    replicas: int = 0
    capacity_short: bool = False


CASES = (
    Case("sample"),
    Case("fleet600", gpus=600, replicas=3000),
    Case("short", gpus=200, replicas=1000, capacity_short=True),
)


MAX_HEIGHT = 6000
# Streamlit scrolls inside its main block, so a "full page" screenshot needs a window that tall.
CONTENT_HEIGHT_JS = """() => Math.max(...Array.from(document.querySelectorAll(
    '[data-testid=stMain], [data-testid=stSidebarContent]')).map(e => e.scrollHeight))"""


def shoot(page: Page, path: Path) -> None:
    """The whole page (up to MAX_HEIGHT px tall) at the current width."""
    width = page.viewport_size["width"] if page.viewport_size else 1440
    page.wait_for_timeout(1000)
    height = min(int(page.evaluate(CONTENT_HEIGHT_JS)) + 40, MAX_HEIGHT)
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(1500)  # let the charts finish drawing at the new size
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 1000})


def shoot_tabs(page: Page, out: Path, case: str, width: int) -> list[Path]:
    paths = []
    for tab in TABS:
        page.get_by_role("tab", name=tab).click()
        wait_until_idle(page)  # lazy tabs draw on a rerun
        path = out / f"{case}-{width}-{tab.lower()}.png"
        shoot(page, path)
        paths.append(path)
    page.get_by_role("tab", name="Plan").click()
    return paths


def run(out: Path, widths: list[int], docs: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        env = {
            "MIG_RECOMMENDER_DB": str(scratch / "scenarios.sqlite"),
            "MIG_RECOMMENDER_TIME_LIMIT": TIME_LIMIT,
        }
        with streamlit_server(scratch / "streamlit.log", env) as url, sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                page = browser.new_context(viewport={"width": widths[0], "height": 1000}).new_page()
                page.goto(url)
                _, placed = wait_for_final_plan(page, SOLVE_WAIT_SECONDS)
                for case in CASES:
                    if case.gpus:
                        workloads, fleet = write_instance(
                            scratch / case.name, case.gpus, case.replicas, 0, case.capacity_short
                        )
                        upload(page, "Workloads CSV", workloads)
                        # Alone it may not load (the sample fleet lacks its models): it waits.
                        page.get_by_test_id("stFileChip").first.wait_for()
                        upload(page, "Fleet CSV", fleet)
                        _, placed = wait_for_final_plan(page, SOLVE_WAIT_SECONDS, placed)
                    for width in widths:
                        page.set_viewport_size({"width": width, "height": 1000})
                        saved += shoot_tabs(page, out, case.name, width)
                        if docs and case.name == "sample" and width == DOCS_WIDTH:
                            shoot(page, ROOT / "docs" / "screenshot.png")
                            saved.append(ROOT / "docs" / "screenshot.png")
            finally:
                browser.close()
    return saved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "screens")
    parser.add_argument("--widths", default="1280,1440,1920")
    parser.add_argument("--docs", action="store_true", help="also write docs/screenshot.png")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    for path in run(args.out, widths, args.docs):
        print(path)


if __name__ == "__main__":
    main()

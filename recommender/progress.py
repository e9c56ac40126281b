"""The CLI's solver progress line: a small thread that keeps one line of stderr up to date.

Apart from `cli.py` because it is the CLI's only concurrent code (the solver reports from its own
thread, a ticker redraws in between); the text itself is `report.format_progress`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, TextIO

from recommender.report import format_progress

if TYPE_CHECKING:
    from recommender.solve import Progress

# On a terminal the line redraws this often so elapsed time moves between solutions.
PROGRESS_TICK_SECONDS = 0.5


def is_tty(stream: TextIO) -> bool:
    """Whether `stream` is a terminal (False for anything that cannot say, e.g. a closed file)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressLine:
    """Solver progress on one line of `stream`.

    On a terminal the line is redrawn in place (and every PROGRESS_TICK_SECONDS, so elapsed time
    moves while the solver searches); elsewhere (`--progress` into a log) each new best solution
    is one line. The solver calls `update` from its own thread, hence the lock.
    """

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.in_place = enabled and is_tty(stream)
        self._latest: Progress | None = None
        self._started = time.perf_counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._width = 0

    def __enter__(self) -> ProgressLine:
        if self.in_place:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.in_place and self._width:
            # Leave the final state on screen and move to a fresh line for the summary.
            self.stream.write("\n")
            self.stream.flush()

    def update(self, progress: Progress) -> None:
        """The solver's callback: remember the newest best solution and redraw."""
        if not self.enabled:
            return
        with self._lock:
            self._latest = progress
            self._draw()

    def _tick(self) -> None:
        while not self._stop.wait(PROGRESS_TICK_SECONDS):
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        # One clock for solver reports and ticks, so elapsed time never steps back.
        text = format_progress(self._latest, time.perf_counter() - self._started)
        if self.in_place:
            padding = " " * max(0, self._width - len(text))
            self.stream.write("\r" + text + padding)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

"""Pausing Python's cyclic garbage collector while a big plan is read, built or written.

A plan of 500,000 rows is a million objects (pydantic models for every workload, GPU, instance
and unplaced entry) holding no reference cycles. While they are created the collector keeps
walking them, ever more often the older ones too: measured on 500,000 rows, 40% of the time
spent expanding and summarizing the plan. Pausing it for such a phase frees nothing later than
the end of the phase. Phases may overlap (the page solves in threads; the CLI pauses around a
solve that pauses too): the collector runs again when the last one ends, if it ran before the
first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused = 0  # phases running now
_was_enabled = False  # whether the collector ran when the first of them began


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the `with` block with the cyclic collector off (reference counting still frees)."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()

"""Pausing Python's cyclic garbage collector around one large batch of work.

A batch of 5,000 gate events holds some 100,000 container objects (parsed lines, models, rows)
until it is stored; while they accumulate, the collector runs full collections that rescan the
whole process heap, measured at about 22 µs of CPU per event: a fifth of the ingest's own
work (docs/benchmarks.md, "Gate events"). Reference counting still frees everything such a
batch makes, since it builds no reference cycles; the collector resumes when the last
concurrent batch ends, and was never paused if something else had turned it off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0
_resume = False


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection while any thread is inside ``paused()``."""
    global _active, _resume
    with _lock:
        if _active == 0:
            _resume = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _resume:
                gc.enable()

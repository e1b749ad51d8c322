"""Running the assessor: ``assess_pending`` (tests, ``silkgate risk worker --once``) and the
polling ``AssessorWorker`` (a thread in the API process, or ``silkgate risk worker``)."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from time import monotonic
from typing import TYPE_CHECKING, Any

from silkgate.core.supervise import Supervised
from silkgate.risk.platform.assessor import Assessor

if TYPE_CHECKING:
    from silkgate.core.platform import Platform

log = logging.getLogger("silkgate.risk")

_ASSESSORS: weakref.WeakKeyDictionary[Any, Assessor] = weakref.WeakKeyDictionary()
_ASSESSORS_LOCK = threading.Lock()


def assessor_for(platform: Platform) -> Assessor:
    """The process's assessor for a platform (engines and models cached between calls)."""
    with _ASSESSORS_LOCK:
        found = _ASSESSORS.get(platform)
        if found is None:
            found = _ASSESSORS[platform] = Assessor(platform)
        return found


def assess_pending(platform: Platform, limit: int | None = None) -> int:
    """Assess every declaration waiting now (in batches); return how many were assessed."""
    assessor = assessor_for(platform)
    total = 0
    while limit is None or total < limit:
        size = assessor.batch_size(platform.settings.risk_worker_batch)
        if limit is not None:
            size = min(size, limit - total)
        n = assessor.run_once(size)
        total += n
        if n < size:
            break
    return total


class AssessorWorker:
    """A daemon thread polling for pending declarations (the API starts one per process)."""

    def __init__(
        self, platform: Platform, interval: float | None = None, yield_share: float = 1.0
    ) -> None:
        self.platform = platform
        self.interval = interval if interval is not None else platform.settings.risk_worker_interval
        # Supervised: should the loop itself fail, it is logged, shown in readiness and restarted.
        self._supervised = Supervised("silkgate-risk", self.run, pause=5.0)
        self._stop = self._supervised.stopping
        self.assessed = 0
        #: Pause after a full batch, as a share of its duration (1.0: run at most half the time).
        self.yield_share = yield_share

    def start(self) -> None:
        self._supervised.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._supervised.stop(timeout)

    @property
    def running(self) -> bool:
        return self._supervised.alive

    def status(self) -> dict[str, Any]:
        """For readiness: the thread's state (revived first if it is gone) and its count."""
        self._supervised.ensure_running()
        return {**self._supervised.status(), "assessed": self.assessed}

    def run(self) -> None:
        """Poll until stopped; a failing batch is logged and retried after a pause."""
        most = self.platform.settings.risk_worker_batch
        _lower_priority(self.platform.settings.risk_worker_nice)
        assessor = assessor_for(self.platform)
        while not self._stop.is_set():
            batch = assessor.batch_size(most)
            started = monotonic()
            try:
                n = assessor.run_once(batch)
            except Exception:  # keep the worker alive; the batch rolled back and is retried
                log.exception("risk assessment batch failed")
                self._stop.wait(max(1.0, self.interval * 10))
                continue
            self.assessed += n
            if n < batch:
                self._stop.wait(self.interval)
            elif self.yield_share > 0:
                # A backlog: a burst is being lodged. Pause as long as the batch took, so the
                # lodgings keep at least half of the interpreter; lanes catch up afterwards.
                self._stop.wait((monotonic() - started) * self.yield_share)


def _lower_priority(nice: int) -> None:
    """Make this thread yield the CPU to lodging under load (Linux: threads have their own
    niceness). When the machine is idle it changes nothing; in a burst, lanes trail lodging."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:  # not permitted or not supported: run at normal priority
        log.info("risk worker keeps its priority: %s", exc)

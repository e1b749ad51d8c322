"""Audit verifications asked for in the console, run in the background: one at a time, in a
supervised thread of the API process, so that a large log (minutes of hashing and signature
checks) does not hold a request open. The page shows the run in progress and then its result;
every run is recorded in the audit log with the person who asked (``admin_service``)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from silkgate.console import admin_service as admin
from silkgate.console.service import Person
from silkgate.core.platform import Platform
from silkgate.core.supervise import Supervised

log = logging.getLogger("silkgate.console.audit")


@dataclass(frozen=True)
class Asked:
    """A verification asked for: by whom and when."""

    person: str
    at: datetime


@dataclass(frozen=True)
class Finished:
    """A verification done: its result, or the error that stopped it."""

    person: str
    asked_at: datetime
    finished_at: datetime
    result: admin.Verification | None
    error: str | None = None


class AuditVerifications:
    """Runs the verifications people ask for, one at a time, in the background.

    A run that raises is recorded as failed (``Finished.error``), counted and logged; should
    the thread itself die, ``core.supervise`` restarts it, readiness shows it, and a run asked
    for and not finished runs again.
    """

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._asked: tuple[Person, datetime] | None = None
        self.last: Finished | None = None
        self.failures = 0
        self.started = False  # readiness shows the thread once it has been started
        self._supervised = Supervised("silkgate-audit-verify", self._loop, pause=5.0)

    def start(self) -> None:
        self.started = True
        self._supervised.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread at once when idle (a run under way finishes first, up to timeout)."""
        self._supervised.stopping.set()
        self._wake.set()
        self._supervised.stop(timeout)

    def ask(self, person: Person) -> bool:
        """Ask for a run (the caller has checked the person may); False if one is under way."""
        admin.require_platform_admin(person)
        with self._lock:
            if self._asked is not None:
                return False
            self._asked = (person, self.platform.clock())
        self.started = True
        self._supervised.ensure_running()
        self._wake.set()
        return True

    @property
    def running(self) -> Asked | None:
        """The run asked for and not finished, if any."""
        with self._lock:
            asked = self._asked
        return Asked(asked[0].login, asked[1]) if asked else None

    def _loop(self) -> None:
        stopping = self._supervised.stopping
        if self._asked is not None:  # asked before the thread was restarted: run it now
            self._wake.set()
        while not stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            if stopping.is_set():
                break
            with self._lock:
                asked = self._asked
            if asked is not None:
                self._run(*asked)

    def _run(self, person: Person, at: datetime) -> None:
        try:
            result = admin.verify_audit(self.platform, person)
            self.last = Finished(person.login, at, self.platform.clock(), result)
        except Exception as exc:  # the page and readiness show it; the next ask runs again
            self.failures += 1
            error = f"{type(exc).__name__}: {exc}"[:500]
            self.last = Finished(person.login, at, self.platform.clock(), None, error)
            log.exception("audit verification asked by %s failed", person.login)
        finally:
            with self._lock:
                self._asked = None

    def status(self) -> dict[str, Any]:
        """For readiness: the thread's state (revived first if it is gone), the run under way
        and the last one's outcome."""
        self._supervised.ensure_running()
        running, last = self.running, self.last
        return {
            **self._supervised.status(),
            "running_since": running.at.isoformat() if running else None,
            "last_finished_at": last.finished_at.isoformat() if last else None,
            "last_ok": (last.result.ok if last.result else False) if last else None,
            "failures": self.failures,
        }

"""Supervised background threads: a failure is logged, counted, shown in readiness, and the
work starts again — a background thread never dies silently."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("silkgate.supervise")


class Supervised:
    """Runs ``body`` in a daemon thread until it returns or ``stop`` is called.

    If ``body`` raises (anything, even ``SystemExit``), the error is logged and recorded and
    ``body`` runs again after ``pause`` seconds. ``ensure_running`` starts a new thread should
    the old one be gone all the same (readiness calls it).
    """

    def __init__(self, name: str, body: Callable[[], None], pause: float = 1.0) -> None:
        self.name = name
        self.body = body
        self.pause = pause
        self.restarts = 0
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._finished = False

    def start(self) -> None:
        """Start the thread; a no-op while it runs."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._finished = False
            self.stopping.clear()
            self._spawn()

    def ensure_running(self) -> None:
        """Start the thread if it never ran, or a new one if it is gone without being stopped."""
        with self._lock:
            thread = self._thread
            if thread is not None and (thread.is_alive() or self._finished):
                return
            if thread is not None:
                self.restarts += 1
                log.error("%s thread was gone; started a new one", self.name)
            self._spawn()

    def _spawn(self) -> None:
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the body to finish (it watches ``stopping``) and wait up to ``timeout`` seconds."""
        self.stopping.set()
        with self._lock:
            thread = self._thread
            self._finished = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        """What readiness shows: state, restarts so far and the last error."""
        if self._thread is None:
            state = "not started"
        elif self._thread.is_alive():
            state = "running"
        else:
            state = "stopped" if self._finished else "dead"
        return {
            "state": state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
        }

    def _main(self) -> None:
        while not self.stopping.is_set():
            try:
                self.body()
            except BaseException as exc:  # a supervisor outlives any error
                self.restarts += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self.last_error_at = datetime.now(UTC)
                log.error("%s failed; restarting in %.1fs", self.name, self.pause, exc_info=exc)
                if self.stopping.wait(self.pause):
                    break
                continue
            break
        with self._lock:
            self._finished = True

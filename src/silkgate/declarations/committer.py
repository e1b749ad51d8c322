"""Group commit: a supervised thread stores whatever lodgings are waiting in one transaction.

Each waiting request gets its own outcome (``lodging.store_isolated``); an error the committer
did not foresee fails only the requests of that group, and the thread carries on. If it dies
all the same, the next lodging or readiness probe starts a new one.
"""

from __future__ import annotations

import logging
import queue
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from silkgate.core.errors import InternalError, SilkgateError, Unavailable
from silkgate.core.supervise import Supervised
from silkgate.declarations.lodging import Lodging, Outcome, store_isolated
from silkgate.declarations.schemas import DeclarationOut

if TYPE_CHECKING:
    from silkgate.core.platform import Platform

log = logging.getLogger("silkgate.lodging")
Waiter = tuple[Lodging, "Future[tuple[DeclarationOut, bool]]"]


class GroupCommitter:
    """Stores waiting lodgings together; ``submit`` blocks until its own outcome."""

    def __init__(self, platform: Platform, max_group: int = 256) -> None:
        self.platform = platform
        self.max_group = max_group
        self._queue: queue.Queue[Waiter | None] = queue.Queue()
        self.thread = Supervised("silkgate-group-commit", self._run)
        self._closed = False

    def submit(self, lodging: Lodging) -> tuple[DeclarationOut, bool]:
        """Queue a lodging and wait for its outcome (from a worker thread)."""
        return self.enqueue(lodging).result()

    def enqueue(self, lodging: Lodging) -> Future[tuple[DeclarationOut, bool]]:
        """Queue a lodging; the future settles when its group has committed (for async callers).

        A future cancelled before the committer takes it (the client went away) is not stored.
        """
        future: Future[tuple[DeclarationOut, bool]] = Future()
        if self._closed:
            future.set_exception(Unavailable("the server is shutting down; nothing was stored"))
            return future
        self.thread.ensure_running()
        self._queue.put((lodging, future))
        return future

    def status(self) -> dict[str, Any]:
        """For readiness: the thread's state (revived first if it is gone) and the queue length."""
        self.thread.ensure_running()
        return {**self.thread.status(), "waiting": self._queue.qsize()}

    def close(self, timeout: float = 10.0) -> None:
        """Store what is queued, stop the thread, and refuse what is still waiting after it."""
        if self._closed:
            return
        self._closed = True
        if self.thread.alive:
            self._queue.put(None)
            self.thread.stop(timeout)
        while True:
            try:
                waiter = self._queue.get_nowait()
            except queue.Empty:
                break
            if waiter is not None and waiter[1].set_running_or_notify_cancel():
                waiter[1].set_exception(
                    Unavailable("the server is shutting down; nothing was stored")
                )

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            pending = [first]
            while len(pending) < self.max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                pending.append(nxt)
            # A cancelled future cannot take a result: drop its lodging before storing anything.
            live = [w for w in pending if w[1].set_running_or_notify_cancel()]
            try:
                self._settle(live)
            except BaseException:
                for _, future in live:
                    if not future.done():
                        future.set_exception(InternalError())
                raise

    def _settle(self, pending: list[Waiter]) -> None:
        if not pending:
            return
        outcomes: list[Outcome] = store_isolated(self.platform, [w[0] for w in pending])
        for (_, future), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, SilkgateError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

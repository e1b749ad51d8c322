"""Group commit: one supervised thread stores whatever requests are waiting, in one transaction.

Writes that all need the audit chain's head (and so one lock) serialise one durable commit
each; a committer thread takes every request queued meanwhile and stores them together, so
the lock is taken and the disk flushed once per group. No request waits on purpose: a group
is whatever arrived while the previous one was being stored. Each request still gets its own
outcome from the domain's ``settle`` function (a result, or the SilkgateError refusing it);
an error ``settle`` did not foresee fails only the requests of that group, and the thread
carries on. If it dies all the same, the next request or readiness probe starts a new one.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from silkgate.core.errors import InternalError, SilkgateError, Unavailable
from silkgate.core.supervise import Supervised

T = TypeVar("T")
R = TypeVar("R")


class GroupCommitter(Generic[T, R]):
    """Stores waiting requests together; ``submit`` blocks until its own outcome.

    ``settle(items)`` stores a group and returns one outcome per item, in order: a result or
    the SilkgateError refusing that item.
    """

    def __init__(
        self,
        name: str,
        settle: Callable[[list[T]], Sequence[R | SilkgateError]],
        max_group: int = 256,
    ) -> None:
        self.settle = settle
        self.max_group = max_group
        self._queue: queue.Queue[tuple[T, Future[R]] | None] = queue.Queue()
        self.thread = Supervised(name, self._run)
        self._closed = False

    def submit(self, item: T) -> R:
        """Queue an item and wait for its outcome (from a worker thread)."""
        return self.enqueue(item).result()

    def enqueue(self, item: T) -> Future[R]:
        """Queue an item; the future settles when its group has committed (for async callers).

        A future cancelled before the committer takes it (the client went away) is not stored.
        """
        future: Future[R] = Future()
        if self._closed:
            future.set_exception(Unavailable("the server is shutting down; nothing was stored"))
            return future
        self.thread.ensure_running()
        self._queue.put((item, future))
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
            # A cancelled future cannot take a result: drop its item before storing anything.
            live = [w for w in pending if w[1].set_running_or_notify_cancel()]
            try:
                self._settle(live)
            except BaseException:
                for _, future in live:
                    if not future.done():
                        future.set_exception(InternalError())
                raise

    def _settle(self, pending: list[tuple[T, Future[R]]]) -> None:
        if not pending:
            return
        outcomes = self.settle([w[0] for w in pending])
        for (_, future), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, SilkgateError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

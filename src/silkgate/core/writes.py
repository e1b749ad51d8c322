"""The write an HTTP request is making: who, its verified signature, the audit entries it made.

The receipts middleware (``audit.middleware``) opens a ``WriteContext`` for every write request;
authentication fills in the caller and, when the request carries one, its verified detached
signature; every transaction that appends to the audit log on the request's behalf stores the
signature with the records it writes and, once committed, adds its entries here; the
middleware then signs the receipt from it. A context variable carries it to the services
(``run_in_threadpool`` copies the context); the group committer's thread, which stores many
requests at once, is handed each request's context with its lodging instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Submission:
    """A request's detached JWS, verified against the organization's registered key."""

    id: str  # signed_submissions.id, fixed when verified so retries of a group store it once
    organization_id: int
    member_id: str
    jws: str
    jws_sha256: str
    alg: str
    key_id: str
    public_key: str
    iat: int
    method: str
    target: str
    body: bytes
    body_sha256: str


@dataclass
class WriteContext:
    """One write request, filled in as it is served."""

    method: str
    target: str  # path and query as the client sent them
    member_id: str | None = None
    submission: Submission | None = None
    submission_stored: bool = False
    entries: list[tuple[int, str]] = field(default_factory=list)  # (seq, entry_hash) committed
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def committed(self, rows: Iterable[Mapping[str, Any]], stored_submission: bool) -> None:
        """Called after a transaction of this write committed ``rows`` (audit entries)."""
        with self._lock:
            self.entries.extend((int(r["seq"]), str(r["entry_hash"])) for r in rows)
            self.submission_stored = self.submission_stored or stored_submission


_CURRENT: ContextVar[WriteContext | None] = ContextVar("silkgate_write", default=None)


def current_write() -> WriteContext | None:
    """The write the running request is making, if any."""
    return _CURRENT.get()


def open_write(ctx: WriteContext | None) -> Any:
    """Make ``ctx`` current; returns the token for ``close_write``."""
    return _CURRENT.set(ctx)


def close_write(token: Any) -> None:
    _CURRENT.reset(token)


_PERSON: ContextVar[str | None] = ContextVar("silkgate_person", default=None)


def current_person() -> str | None:
    """The person acting in the console for this request (see ``acting``), if any."""
    return _PERSON.get()


@contextmanager
def acting(person: str) -> Iterator[None]:
    """Every audit entry appended inside names ``person`` beside the actor organization.

    The console wraps each service call a signed-in user makes in it, so services keep
    taking the organization (``Caller``) and the audit log still says which person acted."""
    token = _PERSON.set(person)
    try:
        yield
    finally:
        _PERSON.reset(token)

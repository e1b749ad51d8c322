"""Fault injection for lodging tests: a database error tied to one declaration, a write lock
held by another connection, and requests that must answer within a deadline."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from silkgate.audit import service as audit_service
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings

POISON = "POISON"
_AUDIT_LOCK = 0x5117_6A7E  # audit.service._PG_AUDIT_LOCK


def variant(base: Platform, **extra: Any) -> Platform:
    """A platform on the same database and keys as ``base`` with other settings."""
    s = base.settings
    return Platform(
        Settings(database_url=s.database_url, demo_mode=True, data_dir=s.data_dir, **extra)  # type: ignore[arg-type]
    )


def poison_lodging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the database refuse any transaction storing an LRN that starts with POISON.

    The refusal is a real constraint error raised by the database inside the lodging's
    transaction (a row missing NOT NULL columns), as a NUL byte in a text column is on
    PostgreSQL; unlike NUL, it cannot be refused earlier by the schema.
    """
    real = audit_service.append

    def append(session: Any, signer: Any, events: Any, **kw: Any) -> Any:
        events = list(events)
        for e in events:
            lrn = e.payload.get("lrn", "") if isinstance(e.payload, dict) else ""
            if e.action == "declaration.submitted" and str(lrn).startswith(POISON):
                session.execute(text("INSERT INTO declarations (id) VALUES ('poison')"))
        return real(session, signer, events, **kw)

    monkeypatch.setattr(audit_service, "append", append)


@contextmanager
def write_lock_held(platform: Platform) -> Iterator[None]:
    """Another connection holds what lodging needs: SQLite's write lock, or PostgreSQL's
    audit-chain lock."""
    url = platform.settings.database_url
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(url)
    with engine.connect() as pg:
        pg.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _AUDIT_LOCK})
        pg.commit()
        try:
            yield
        finally:
            pg.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _AUDIT_LOCK})
            pg.commit()
    engine.dispose()


def within(seconds: float, calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once in daemon threads; fail the test if any is still running after
    ``seconds`` (a stalled server must fail the test, not hang it)."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = sum(t.is_alive() for t in threads)
    assert not stuck, f"{stuck} of {len(calls)} requests got no answer within {seconds} s"
    return results

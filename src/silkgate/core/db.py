"""Database engine, sessions and the declarative base shared by every domain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table, create_engine, event
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from silkgate.core.errors import (
    Conflict,
    FieldError,
    InternalError,
    SilkgateError,
    Unavailable,
    ValidationFailed,
)
from silkgate.core.settings import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (needed by Alembic on SQLite)."""

    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """The Core table behind a mapped class, for fast executemany inserts."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _sqlite_pragmas(busy_ms: int) -> Any:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, see _sqlite_begin
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.close()

    return on_connect


def _sqlite_begin(conn: Any) -> None:
    # Writers queue on the database lock up front, so the audit chain head a
    # transaction reads is still the head when it appends. Readers (``snapshot``) do not.
    if conn.get_execution_options().get("silkgate_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(settings: Settings) -> Engine:
    """Create the engine for the configured URL (SQLite file by default, PostgreSQL by URL)."""
    url = settings.database_url
    # A lock held elsewhere (another process, a stuck transaction) fails the request after this
    # long instead of stalling it and every request queued behind it.
    lock_ms = max(1, int(settings.db_lock_timeout * 1000))
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": settings.db_lock_timeout},
        )
        event.listen(engine, "connect", _sqlite_pragmas(lock_ms))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={"options": f"-c lock_timeout={lock_ms}"},
    )


# lock_not_available, query_canceled, serialization_failure, deadlock_detected, admin/crash
# shutdown, cannot_connect_now, too_many_connections: the same request may succeed if retried.
_PG_TRANSIENT = {"55P03", "57014", "40001", "40P01", "57P01", "57P02", "57P03", "53300"}


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is about the moment (a lock, a lost connection), not the request."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    if state:
        return state in _PG_TRANSIENT or state.startswith("08")
    name = getattr(orig, "sqlite_errorname", None)
    if name is not None:
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    # psycopg raises OperationalError without a state when it cannot reach the server
    return isinstance(exc, OperationalError)


def is_unique_violation(exc: IntegrityError) -> bool:
    """Whether the database refused a duplicate key (not a NULL, foreign-key or check error)."""
    state = getattr(exc.orig, "sqlstate", None)
    if state:
        return bool(state == "23505")
    return "UNIQUE constraint failed" in str(exc.orig)


def db_problem(exc: DBAPIError, retry_after: int = 1) -> SilkgateError:
    """The problem a client is told about a database error (nothing of its request stored)."""
    if is_transient(exc):
        return Unavailable(
            "the database is busy or unreachable; nothing was stored, send the request again",
            retry_after,
        )
    if isinstance(exc, IntegrityError) and is_unique_violation(exc):
        return Conflict("the request clashes with a record stored meanwhile; nothing was stored")
    if isinstance(exc, DataError):
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "refused"
        return ValidationFailed(
            [FieldError("", "unstorable_value", f"the database cannot store a value: {reason}")]
        )
    return InternalError()


AFTER_COMMIT = "silkgate_after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once ``session`` (a ``Database.session`` unit of work) has committed;
    never if it rolls back."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


class Database:
    """Engine plus session factory; one per process (the API app and CLI each build one)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any error."""
        with self.session_factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            for callback in session.info.pop(AFTER_COMMIT, ()):
                callback()

    def refresh_planner_statistics(self) -> None:
        """SQLite: statistics of each index for the query planner (``ANALYZE``), which SQLite
        never gathers by itself: without them it reads every declaration of a crossing and
        sorts them for a page of 50 (1.3 s instead of 0.02 s on a year of traffic). Whole
        indexes are read (2 s for 3.2 GB): a sample of 1,000 rows led to the same bad plan.
        PostgreSQL's autovacuum keeps its own: nothing to do."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only session seeing one consistent state for its whole life, without
        blocking writers (PostgreSQL REPEATABLE READ; SQLite a deferred WAL read)."""
        with self.session_factory() as session:
            if self.engine.dialect.name == "sqlite":
                session.connection(execution_options={"silkgate_read_only": True})
            else:
                session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()

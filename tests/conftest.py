"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from SILKGATE_TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432). Where it
is not reachable the PostgreSQL half skips, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from silkgate.bootstrap import prepare_database
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "SILKGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
KEEP_TABLES = {"alembic_version", "member_states", "crossings"}
# No per-example deadline: on a shared two-core machine one slow example (a code list's first
# load, a busy neighbour) made Hypothesis report "unreliable test timings", not a defect.
hypothesis_settings.register_profile("silkgate", deadline=None)
hypothesis_settings.load_profile("silkgate")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep ``xdist_group`` working: ``--dist loadgroup`` sends the tests whose id ends in
    ``@<group>`` to one worker, and xdist 3.8 writes that suffix into ``item._nodeid``, which
    pytest 9.2 no longer reads (ids are ``item._id``): each group (one Spark JVM, one Chromium
    and live console, one demo played per backend) was spread over both workers. A test's own
    mark wins over its module's (xdist would join both names into a group of its own)."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        mark = item.get_closest_marker("xdist_group")
        node_id = getattr(item, "_id", None)
        if mark is None or node_id is None:
            continue
        suffix = "@" + str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        if not item.nodeid.endswith(suffix):
            item._id = type(node_id).parse(item.nodeid + suffix)


def _postgres_database(worker: str) -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    # SILKGATE_TEST_DB_TAG keeps concurrent runs (several work trees) out of each other's way.
    tag = os.environ.get("SILKGATE_TEST_DB_TAG", "")
    name = f"silkgate_test_{tag}{worker}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"PostgreSQL required under CI=true but unreachable at {PG_ADMIN_URL}: {exc}"
            )
        pytest.skip(
            "PostgreSQL not reachable; start it or set SILKGATE_TEST_POSTGRES_URL="
            "postgresql+psycopg://USER@HOST:PORT/postgres to run the PostgreSQL half"
        )
    finally:
        admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def one_backend(platform: Platform, what: str) -> None:
    """Skip on PostgreSQL a test about ``what`` no database changes (a page in each language:
    the catalogs and formats are the same on both; the pages' behaviour runs on both)."""
    if not platform.settings.is_sqlite:
        pytest.skip(f"about {what}, not the database: one backend is enough")


def make_settings(url: str, data_dir: Path, **extra: object) -> Settings:
    # the tests' webhook receivers listen on 127.0.0.1, which production refuses by default
    extra.setdefault("exchange_webhook_allow", ["127.0.0.1/32"])
    return Settings(database_url=url, demo_mode=True, data_dir=data_dir, **extra)  # type: ignore[arg-type]


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2id at its lowest cost in tests: they check what is hashed and verified, not the
    cost (the library's defaults, kept in production, spend ~0.1 s per hash: a third of a
    console test's time)."""
    from argon2 import PasswordHasher

    from silkgate.console import security

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    saved = security._hasher, security._DUMMY_HASH
    security._hasher, security._DUMMY_HASH = cheap, cheap.hash("not a password")
    yield
    security._hasher, security._DUMMY_HASH = saved


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated template database for the backend; yields its URL."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        url = f"sqlite:///{path}"
    else:
        url = _postgres_database(worker)
    platform = Platform(make_settings(url, tmp_path_factory.mktemp("keys")))
    prepare_database(platform)
    platform.close()
    yield url


_WIPERS: dict[str, Engine] = {}


def wipe_postgres(url: str) -> None:
    """Empty every table but the seeded code lists: only the tables holding rows (~16 ms to
    find the few), by DELETE with foreign-key triggers off for the transaction (the session's
    replication role; the test server's user is a superuser). TRUNCATE of those few cost
    ~70 ms a test: it swaps each table's files; a DELETE of a test's few rows ~20 ms."""
    engine = _WIPERS.get(url)
    if engine is None:
        # pinged at each checkout: the backend fixture drops and recreates the database (its
        # connections terminated) each time pytest sets it up again for another parameter
        engine = _WIPERS[url] = create_engine(url, pool_size=1, pool_pre_ping=True)
    with engine.begin() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        held = " UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")"
            for (t,) in tables
            if t not in KEEP_TABLES
        )
        wipe = [r[0] for r in conn.execute(text(held))]
        if wipe:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in wipe:
                conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def platform(backend: str, tmp_path: Path) -> Iterator[Platform]:
    """A platform on an empty (but migrated and seeded) database."""
    if backend.startswith("sqlite"):
        src = Path(backend.split("///", 1)[1])
        dst = tmp_path / "silkgate.db"
        shutil.copy(src, dst)
        url = f"sqlite:///{dst}"
    else:
        url = backend
        wipe_postgres(url)
    p = Platform(make_settings(url, tmp_path))
    yield p
    p.close()

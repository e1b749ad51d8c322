"""A database at an earlier revision, on SQLite and on the suite's PostgreSQL, and versions
stored in it without their declarations (as a revision's fill meets them)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL, _postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    module = request.node.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    url = _postgres_database(f"migration_{module}{os.environ.get('PYTEST_XDIST_WORKER', '')}")
    yield url
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def store_versions(database: str, versions: Mapping[tuple[str, int], dict[str, Any]]) -> None:
    """Rows of ``declaration_versions`` (declaration id, version → payload), without their
    declarations: on PostgreSQL the foreign keys are not checked while they are written."""
    engine = create_engine(database)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET session_replication_role = replica"))
        for (decl_id, version), payload in versions.items():
            conn.execute(
                text(
                    "INSERT INTO declaration_versions (declaration_id, version, payload, "
                    "payload_digest, created_at, created_by) VALUES (:id, :v, :p, 'd', "
                    "'2025-01-01 00:00:00+00', 'CN-X')"
                ),
                {"id": decl_id, "v": version, "p": json.dumps(payload)},
            )
    engine.dispose()

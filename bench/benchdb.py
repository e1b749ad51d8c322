"""The database a benchmark fills: a SQLite file in its temporary folder, or a PostgreSQL
database created afresh (SILKGATE_TEST_DB_TAG keeps concurrent runs apart)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text

PG_ADMIN = os.environ.get(
    "SILKGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def backend_url(kind: str, tmp: Path, purpose: str) -> str:
    """A URL for an empty database of ``kind`` (sqlite or postgresql) named after ``purpose``."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / (purpose + '.db')}"
    name = f"silkgate_bench_{purpose}_{os.environ.get('SILKGATE_TEST_DB_TAG', '')}".rstrip("_")
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name

"""The Alembic revisions build exactly the tables the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import silkgate.models  # noqa: F401  (registers every table on the metadata)
from silkgate.core.db import Base
from silkgate.core.platform import Platform


def test_migrated_schema_has_no_difference_from_the_models(platform: Platform) -> None:
    with platform.db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []

"""The Alembic revisions build exactly the tables the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import silkgate.models  # noqa: F401  (registers every table on the metadata)
from silkgate.core.db import Base
from silkgate.core.platform import Platform


# SQLite's reflection cannot read an expression index (the lanes' change marker): that it is
# there, and used, is tests/analytics/test_export_reads_changes.py's to show
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_migrated_schema_has_no_difference_from_the_models(platform: Platform) -> None:
    with platform.db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []

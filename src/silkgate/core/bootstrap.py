"""Bring a database to the current schema and load the shipped reference data."""

from __future__ import annotations

from silkgate.core.migrations import upgrade
from silkgate.core.platform import Platform


def prepare_database(platform: Platform) -> None:
    """Apply Alembic migrations, then insert or refresh member states and crossings."""
    from silkgate.registry.service import seed_reference_data

    upgrade(platform.settings.database_url)
    with platform.db.session() as session:
        seed_reference_data(session)

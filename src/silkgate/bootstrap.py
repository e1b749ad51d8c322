"""Bring a database to the current schema and load the shipped reference data.

Outside ``core/`` because the reference data (member states, crossings) is the registry's.
"""

from __future__ import annotations

from silkgate.core.migrations import upgrade
from silkgate.core.platform import Platform
from silkgate.registry.service import seed_reference_data


def prepare_database(platform: Platform) -> None:
    """Apply Alembic migrations, then insert or refresh member states and crossings."""
    upgrade(platform.settings.database_url)
    with platform.db.session() as session:
        seed_reference_data(session)

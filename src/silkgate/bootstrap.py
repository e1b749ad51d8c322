"""Bring a database to the current schema and load the shipped reference data.

Outside ``core/`` because the reference data (member states, crossings) is the registry's.
"""

from __future__ import annotations

from silkgate.core.migrations import upgrade
from silkgate.core.platform import Platform
from silkgate.registry.service import seed_reference_data


def prepare_database(platform: Platform) -> None:
    """Apply Alembic migrations, insert or refresh member states and crossings, and bring the
    default agreements of crossings served by customs up to date (see exchange.agreements)."""
    from silkgate.exchange.agreements.defaults import ensure_defaults, served_crossings

    upgrade(platform.settings.database_url)
    with platform.db.session() as session:
        seed_reference_data(session)
        served = served_crossings(session)
        if served:
            share = platform.settings.share_driver_data_across_border
            ensure_defaults(session, platform.signer, served, share, "platform")

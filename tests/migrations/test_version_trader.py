"""Revision 0110 fills ``declaration_versions.trader`` from each stored payload exactly as
``lodging_trader`` computes it for new versions (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from silkgate.core.migrations import upgrade
from silkgate.declarations.lodging import lodging_trader
from tests.migrations.conftest import store_versions

PAYLOADS = {
    "export": {"type": "export", "exporter": {"country": "CN", "identifier": "91650000X"},
               "importer": {"country": "KZ", "identifier": "123456789012"}},
    "import": {"type": "import", "exporter": {"country": "CN", "identifier": "91650000X"},
               "importer": {"country": "KZ", "identifier": "123456789012"}},
    "transit": {"type": "transit", "exporter": {"country": "UZ", "identifier": "201122334"}},
    "no-identifier": {"type": "export", "exporter": {"country": "CN"}},
    "no-party": {"type": "import", "exporter": {"country": "CN", "identifier": "1"}},
}  # fmt: skip


def test_upgrade_fills_the_trader_of_versions_stored_before_it(database: str) -> None:
    upgrade(database, "0100_console_people")
    store_versions(database, {(d, 1): p for d, p in PAYLOADS.items()})
    # to this revision only: on PostgreSQL a later revision's UPDATE of these rows (without
    # their declarations) would meet the foreign key
    upgrade(database, "0110_version_trader")
    engine = create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT declaration_id, trader FROM declaration_versions"))
        got = {r[0]: r[1] for r in rows}
    engine.dispose()
    assert got == {k: lodging_trader(p["type"], p) for k, p in PAYLOADS.items()}
    assert got["import"] == "KZ:123456789012"
    assert got["export"] == "CN:91650000X"
    assert got["no-identifier"] is None and got["no-party"] is None

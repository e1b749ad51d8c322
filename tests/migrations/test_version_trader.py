"""Revision 0110 fills ``declaration_versions.trader`` from each stored payload exactly as
``lodging_trader`` computes it for new versions (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text

from silkgate.core.migrations import upgrade
from silkgate.declarations.lodging import lodging_trader

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
    engine = create_engine(database)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # rows without their organization and crossing
            conn.execute(text("SET session_replication_role = replica"))
        for decl_id, payload in PAYLOADS.items():
            conn.execute(
                text(
                    "INSERT INTO declaration_versions (declaration_id, version, payload, "
                    "payload_digest, created_at, created_by) VALUES (:id, 1, :p, 'd', "
                    "'2025-01-01 00:00:00+00', 'CN-X')"
                ),
                {"id": decl_id, "p": json.dumps(payload)},
            )
    engine.dispose()
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

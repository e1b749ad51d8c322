"""Revision 0130 fills each declaration version's type, crossing, direction and currency from
its stored payload, as ``audit.declaration_state.header_of`` reads them (SQLite and
PostgreSQL): an amended declaration's first version keeps its own crossing and currency."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from silkgate.audit.declaration_state import header_of
from silkgate.core.migrations import upgrade
from silkgate.declarations.models import VERSION_ROUTING
from tests.migrations.conftest import store_versions

FIRST = {"type": "export", "crossing": {"code": "KHG-NZH", "exit_country": "CN",
         "entry_country": "KZ"}, "invoice": {"currency": "CNY", "total_amount": 10}}  # fmt: skip
AMENDED = {**FIRST, "crossing": {"code": "ALA-DOS", "exit_country": "CN", "entry_country": "KZ"},
           "invoice": {"currency": "USD", "total_amount": 2}}  # fmt: skip
NO_INVOICE = {"type": "import", "crossing": {"code": "BAK-TAC"}}
VERSIONS = {("D1", 1): FIRST, ("D1", 2): AMENDED, ("D2", 1): NO_INVOICE}


def test_upgrade_fills_each_versions_own_routing(database: str) -> None:
    upgrade(database, "0120_lookup_indexes")
    store_versions(database, VERSIONS)
    # to this revision only: on PostgreSQL a later revision's UPDATE of these rows (without
    # their declarations) would meet the foreign key
    upgrade(database, "0130_version_routing")
    engine = create_engine(database)
    with engine.connect() as conn:
        got = {
            (r[0], r[1]): dict(zip(VERSION_ROUTING, r[2:], strict=True))
            for r in conn.execute(
                text(
                    f"SELECT declaration_id, version, {', '.join(VERSION_ROUTING)} "
                    "FROM declaration_versions"
                )
            )
        }
    engine.dispose()
    assert got == {
        key: {c: header_of(p)[c] for c in VERSION_ROUTING} for key, p in VERSIONS.items()
    }
    assert got["D1", 1]["crossing_code"] == "KHG-NZH" and got["D1", 1]["currency"] == "CNY"
    assert got["D1", 2]["crossing_code"] == "ALA-DOS" and got["D1", 2]["currency"] == "USD"
    assert got["D2", 1] == {"type": "import", "crossing_code": "BAK-TAC", "exit_country": None,
                            "entry_country": None, "currency": None}  # fmt: skip

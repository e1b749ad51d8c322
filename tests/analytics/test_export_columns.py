"""The export's contract columns: ``trader_ref`` and ``declarant_role`` of declarations,
``trader_ref`` of goods items, and the ``gate_event_refs`` dataset (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from silkgate.analytics import lake as lk
from silkgate.codelists.identifiers import generate_kz_bin, generate_uscc
from silkgate.core.platform import Platform
from silkgate.core.signing import public_key_b64
from silkgate.declarations import service as declarations
from silkgate.declarations.models import Declaration, DeclarationVersion
from silkgate.gates import service as gates
from silkgate.gates.ingest import sign_event
from silkgate.gates.models import GateEventRef
from silkgate.queue.models import Booking
from silkgate.registry import service as registry
from silkgate.registry.models import Organization
from tests.analytics.lake_world import World, build
from tests.factories import export_cn_to_kz
from tests.gates.helpers import event


@pytest.fixture
def world(platform: Platform) -> World:
    return build(platform)


def pseudonym(platform: Platform, value: str) -> str:
    """The documented derivation, computed here independently of the exporter's code."""
    pepper = platform.settings.api_key_pepper.get_secret_value().encode()
    key = hmac.new(pepper, b"silkgate analytics truck_ref v1", hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:20]


def lodge(w: World, org: str, lrn: str, kind: str) -> tuple[str, dict[str, Any]]:
    """A declaration of ``kind`` with its own exporter (CN) and importer (KZ)."""
    rng = random.Random(lrn)
    body = export_cn_to_kz(lrn, type=kind)
    body["exporter"] = body["exporter"] | {"country": "CN", "identifier": generate_uscc(rng)}
    body["importer"] = body["importer"] | {"country": "KZ", "identifier": generate_kz_bin(rng)}
    return declarations.create(w.platform, w.env.who(org), body)[0].id, body


def party(body: dict[str, Any], side: str) -> str:
    return f"{body[side]['country']}:{body[side]['identifier']}"


def test_trader_ref_is_the_lodging_side_trader_per_declaration_type(world: World) -> None:
    exp, exp_body = lodge(world, "cn-broker", "TR1", "export")
    imp, imp_body = lodge(world, "kz-service", "TR2", "import")
    tra, tra_body = lodge(world, "kz-carrier", "TR3", "transit")
    report = world.export("declarations", "goods_items")
    assert report.rejected_total == 0
    con = world.duck()
    got = dict(con.execute("SELECT declaration_id, trader_ref FROM declarations").fetchall())
    # export and transit: the exporter; import: the importer ("COUNTRY:IDENTIFIER")
    assert got[exp] == pseudonym(world.platform, party(exp_body, "exporter"))
    assert got[tra] == pseudonym(world.platform, party(tra_body, "exporter"))
    assert got[imp] == pseudonym(world.platform, party(imp_body, "importer"))
    assert got[exp] != pseudonym(world.platform, party(exp_body, "importer"))
    assert party(exp_body, "exporter").startswith("CN:9")  # e.g. "CN:91654004…"
    # the world's export declarations share one exporter: one trader_ref
    body = export_cn_to_kz("x")
    shared = pseudonym(
        world.platform, f"{body['exporter']['country']}:{body['exporter']['identifier']}"
    )
    assert got[world.plain] == got[world.amended] == shared
    # goods items carry their declaration's trader_ref (every version)
    items = con.execute(
        "SELECT DISTINCT g.declaration_id, g.trader_ref = d.trader_ref "
        "FROM goods_items_all g JOIN declarations d USING (declaration_id)"
    ).fetchall()
    assert len(items) == len(got) and all(same for _, same in items)
    # no identifier of a party reaches a file
    files = " ".join(
        str(con.execute(f"SELECT * FROM {n}_all").fetchall())
        for n in ("declarations", "goods_items")
    )
    for b in (exp_body, imp_body, tra_body):
        for side in ("exporter", "importer"):
            assert b[side]["identifier"] not in files and b[side]["name"] not in files


def test_declarant_role_is_the_registry_role_of_the_declarant(world: World) -> None:
    broker = lodge(world, "cn-broker", "R1", "export")[0]
    service_co = lodge(world, "kz-service", "R2", "import")[0]  # customs-service and broker
    carrier = lodge(world, "kz-carrier", "R3", "import")[0]
    eport = lodge(world, "cn-eport", "R4", "export")[0]
    world.export("declarations")
    got = dict(
        world.duck().execute("SELECT declaration_id, declarant_role FROM declarations").fetchall()
    )
    # several declarant roles: the first in the documented order (broker, customs-service, …)
    assert [got[d] for d in (broker, service_co, carrier, eport)] == [
        "broker", "broker", "carrier", "e-port",
    ]  # fmt: skip
    with world.platform.db.session() as s:
        s.execute(
            update(Organization)
            .where(Organization.member_id == world.env.ids["kz-service"])
            .values(roles=["customs-service"])
        )
    world.tick()
    with world.platform.db.session() as s:  # the declaration changes: exported again
        s.execute(
            update(Declaration)
            .where(Declaration.id == service_co)
            .values(updated_at=world.env.now[0])
        )
    assert world.export("declarations").datasets[0].rows == 1
    got = dict(
        world.duck().execute("SELECT declaration_id, declarant_role FROM declarations").fetchall()
    )
    assert got[service_co] == "customs-service"


def test_missing_trader_or_declarant_role_rejects_the_row_by_name(world: World) -> None:
    no_id, _ = lodge(world, "cn-broker", "M1", "export")
    no_role, _ = lodge(world, "cn-broker", "M2", "export")
    with world.platform.db.session() as s:
        s.execute(  # a version stored without a trader (its payload lacked the identifier)
            update(DeclarationVersion)
            .where(DeclarationVersion.declaration_id == no_id)
            .values(trader=None)
        )
        analyst = s.scalar(
            select(Organization.id).where(Organization.member_id == world.env.ids["karamay"])
        )
        s.execute(
            update(Declaration).where(Declaration.id == no_role).values(declarant_org_id=analyst)
        )
    report = world.export("declarations")
    named = {(r.key, r.column) for r in report.rejected}
    assert named == {(no_id, "trader_ref"), (no_role, "declarant_role")}
    assert report.datasets[0].rows == 6 - 2
    kept = lk.load_manifest(world.lake(), "declarations")
    assert kept.rejected_total == 2


def _ingest_with_refs(w: World, refs: list[dict[str, str]], minutes: float) -> None:
    """Two KZ-side events of the booked truck: the first names ``refs``, the second the first
    of them."""
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(w.platform, w.env.ids["kz-customs"], public_key_b64(key), "t")
    with w.platform.db.session() as s:
        b = s.get_one(Booking, w.booking)
        truck = {"nationality": b.tractor_nationality, "plate": b.tractor_plate}
    bodies = [
        event("entry_gate_in", minutes, side="KZ", truck=truck, bizTransactionList=refs),
        event("release", minutes + 30, side="KZ", truck=truck, bizTransactionList=refs[:1]),
    ]
    signed = [{"event": b, "signature": sign_event(key, b)} for b in bodies]
    rep = gates.ingest(w.platform, w.env.who("kz-customs"), signed)
    assert rep.stored == 2, [line.errors for line in rep.lines]


def _parquet_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}


def test_gate_event_refs_rows_partitions_and_incremental_rerun(world: World) -> None:
    refs = [
        {"type": "declaration", "bizTransaction": world.inspected},
        {"type": "booking", "bizTransaction": world.booking},
    ]
    _ingest_with_refs(world, refs, 120)
    first = world.export("gate_events", "gate_event_refs")
    by = {d.dataset: d for d in first.datasets}
    assert by["gate_event_refs"].rows == 3 and first.rejected_total == 0
    con = world.duck()
    rows = con.execute(
        "SELECT r.ref_type, r.ref, r.event_time = e.event_time, r.record_time = e.record_time, "
        "r.owner_country, r.crossing, r.date FROM gate_event_refs r JOIN gate_events e "
        "USING (event_id) ORDER BY e.read_point, r.ref_type"
    ).fetchall()
    # entry_gate_in names both, release the declaration: 10 Nov 2025 at 18:00 and 18:30 (UTC+8),
    # reported by the KZ side
    day = dt.date(2025, 11, 10)
    assert rows == [
        ("booking", world.booking, True, True, "KZ", "KHG-NZH", day),
        ("declaration", world.inspected, True, True, "KZ", "KHG-NZH", day),
        ("declaration", world.inspected, True, True, "KZ", "KHG-NZH", day),
    ]
    cols = [c[0] for c in con.execute("DESCRIBE gate_event_refs").fetchall()]
    assert cols == ["record_time", "event_id", "ref_type", "ref", "event_time", "crossing_code",
                    "side", "owner_country", "crossing", "date", "export_run"]  # fmt: skip
    wm = lk.load_manifest(world.lake(), "gate_event_refs").watermark
    assert wm is not None and len(wm.key) == 3  # event_id, ref_type, ref
    files = _parquet_files(world.lake())
    again = world.export("gate_event_refs")
    assert again.datasets[0].rows == 0 and _parquet_files(world.lake()) == files
    # a later event: only its references are exported
    world.tick()
    _ingest_with_refs(world, refs[1:], 200)
    later = world.export("gate_event_refs")
    assert later.datasets[0].rows == 2
    with world.platform.db.session() as s:
        total = s.scalar(select(func.count()).select_from(GateEventRef))
    con = world.duck()
    assert total == 5
    assert int(con.execute("SELECT count(*) FROM gate_event_refs_all").fetchone()[0]) == 5
    assert int(con.execute("SELECT count(*) FROM gate_event_refs").fetchone()[0]) == 5


def test_crash_before_gate_event_refs_commit_then_rerun(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ingest_with_refs(world, [{"type": "booking", "bizTransaction": world.booking}], 120)

    class Crash(RuntimeError):
        pass

    real_commit = lk.commit_manifest

    def commit(lake: Path, manifest: lk.Manifest, run: str) -> None:
        if manifest.dataset == "gate_event_refs":
            raise Crash
        real_commit(lake, manifest, run)

    monkeypatch.setattr(lk, "commit_manifest", commit)
    with pytest.raises(Crash):
        world.export("gate_events", "gate_event_refs")
    con = world.duck()
    assert int(con.execute("SELECT count(*) FROM gate_event_refs_all").fetchone()[0]) == 0
    assert int(con.execute("SELECT count(*) FROM gate_events_all").fetchone()[0]) == 6
    monkeypatch.undo()
    report = world.export("gate_events", "gate_event_refs")
    assert {d.dataset: d.rows for d in report.datasets} == {"gate_events": 0, "gate_event_refs": 2}
    lake = world.lake()
    listed = {f"gate_event_refs/{f}" for f in lk.load_manifest(lake, "gate_event_refs").files()}
    assert {p for p in _parquet_files(lake) if p.startswith("gate_event_refs/")} == listed
    assert not (lake / lk.STAGING).exists()
    assert int(world.duck().execute("SELECT count(*) FROM gate_event_refs").fetchone()[0]) == 2

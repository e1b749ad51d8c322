"""The disclosure log (a row per record disclosed, written in one bulk insert per request,
listed to the provider) and the count of persons whose personal data crossed a border."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import event, func, select
from typer.testing import CliRunner

from silkgate.cli import app as cli
from silkgate.core.platform import Platform
from silkgate.declarations import reading
from silkgate.declarations.reading import ListFilter
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking
from silkgate.exchange.disclosures import service as disclosures
from silkgate.exchange.disclosures.models import Disclosure, PersonalTransfer
from silkgate.gates import timeline
from tests.exchange.enforce_world import World, grant, make_world

CUSTOMS_CONTROL = "customs_control"


@pytest.fixture
def world(platform: Platform) -> World:
    return make_world(platform)


def _rows(platform: Platform) -> list[Disclosure]:
    with platform.db.session() as s:  # rows stay readable after it (expire_on_commit off)
        return list(s.scalars(select(Disclosure).order_by(Disclosure.id)))


class _Inserts:
    """Counts the SQL statements that write disclosure rows."""

    def __init__(self, platform: Platform) -> None:
        self.engine = platform.db.engine
        self.statements: list[tuple[str, bool]] = []

    def _seen(self, conn: Any, cursor: Any, sql: str, params: Any, ctx: Any, many: bool) -> None:
        if sql.lstrip().upper().startswith("INSERT INTO EXCHANGE_DISCLOSURES "):
            self.statements.append((sql, many))

    def __enter__(self) -> _Inserts:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def test_a_list_read_logs_every_record_in_one_insert(world: World) -> None:
    env, p = world.env, world.platform
    for _ in range(29):
        env.declaration()
    kz = Asking(env.who("kz-customs"), CUSTOMS_CONTROL)
    with _Inserts(p) as seen:
        page = reading.list_declarations(p, kz, ListFilter(), None, 100)
    assert len(page.items) == 30
    rows = _rows(p)
    assert len(rows) == 30 and {r.record_id for r in rows} == {d.id for d in page.items}
    assert len({r.request_id for r in rows}) == 1 and len({r.grant for r in rows}) == 1
    assert {(r.consumer, r.category, r.owner, r.authority) for r in rows} == {
        (env.ids["kz-customs"], "declaration", env.ids["cn-broker"], "CN")
    }
    # one statement for all rows (SQLite: executemany; PostgreSQL: the rows as one parameter)
    assert len(seen.statements) == 1
    # the owner and the lodging customs reading are not disclosures
    reading.list_declarations(p, env.who("cn-broker"), ListFilter(), None, 100)
    reading.list_declarations(p, env.who("cn-customs"), ListFilter(), None, 100)
    assert len(_rows(p)) == 30


def test_each_read_names_fields_purpose_place_and_agreement(world: World) -> None:
    env, p = world.env, world.platform
    kz = Asking(env.who("kz-customs"), CUSTOMS_CONTROL)
    reading.get(p, kz, world.decl)
    reading.versions(p, kz, world.decl)
    timeline.declaration_timeline(p, kz, world.decl)
    page = disclosures.list_disclosures(p, env.who("cn-broker"), disclosures.DisclosureFilter())
    got = [(d.category.value, d.record_id) for d in reversed(page.items)]
    assert got == [
        ("declaration", world.decl),  # GET
        ("declaration", world.decl),  # versions
        ("booking", world.booking),  # the timeline: its booking (default booking agreement)
        ("declaration", world.decl),  # and its states
    ]
    first, _, booking, states = reversed(page.items)
    assert first.purpose == CUSTOMS_CONTROL and first.place == "KZ" and first.basis == "agreement"
    assert [(a.agreement_id, a.version) for a in first.agreements] == [
        ("default-pre-arrival-KHG-NZH-CN-KZ", 1)
    ]
    assert "/data/driver" not in first.fields and "/lane" not in first.fields
    assert "/data/goods_items" in first.fields and not first.personal
    # a timeline shows a few fields: the row says which
    assert states.fields == ["/id", "/status"]
    assert booking.fields == ["/day", "/hour", "/id", "/organization", "/quota_class", "/status"]
    assert booking.agreements[0].agreement_id == "default-booking-KHG-NZH-CN-KZ"


def test_the_provider_lists_who_received_what_and_others_do_not(world: World) -> None:
    env, p = world.env, world.platform
    reading.get(p, Asking(env.who("kz-customs"), CUSTOMS_CONTROL), world.decl)
    everything = disclosures.DisclosureFilter()
    by_declarant = disclosures.list_disclosures(p, env.who("cn-broker"), everything)
    by_authority = disclosures.list_disclosures(p, env.who("cn-customs"), everything)
    assert [d.record_id for d in by_declarant.items] == [world.decl]
    assert [d.consumer for d in by_authority.items] == [env.ids["kz-customs"]]
    for other in ("kz-customs", "cn-eport", "kz-carrier"):  # consumer, not provider; others
        assert disclosures.list_disclosures(p, env.who(other), everything).items == []
    mine = disclosures.DisclosureFilter(record_id="no-such-declaration")
    assert disclosures.list_disclosures(p, env.who("cn-broker"), mine).items == []


def test_disclosures_api_pages_and_cli(world: World) -> None:
    from fastapi.testclient import TestClient

    from silkgate.app import create_app
    from silkgate.registry import service as registry

    env, p = world.env, world.platform
    kz = Asking(env.who("kz-customs"), CUSTOMS_CONTROL)
    for _ in range(3):
        reading.get(p, kz, world.decl)
    _, key = registry.issue_api_key(p, env.ids["cn-broker"], "test", "test")
    with TestClient(create_app(platform=p)) as client:
        auth = {"Authorization": f"Bearer {key}"}
        first = client.get("/api/v1/exchange/disclosures?limit=2", headers=auth)
        assert first.status_code == 200, first.text
        body = first.json()
        assert len(body["items"]) == 2 and body["next_cursor"]
        rest = client.get(
            f"/api/v1/exchange/disclosures?limit=2&cursor={body['next_cursor']}", headers=auth
        ).json()
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None
        bad = client.get("/api/v1/exchange/disclosures?cursor=%%%", headers=auth)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "/query/cursor"
    runner = CliRunner()
    r = runner.invoke(
        cli, ["exchange", "disclosures", "--as", env.ids["cn-broker"], "--json"], env=_cli_env(p)
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert len(rows) == 3 and {x["consumer"] for x in rows} == {env.ids["kz-customs"]}


def _cli_env(p: Platform) -> dict[str, str]:
    return {
        "SILKGATE_DATABASE_URL": p.settings.database_url,
        "SILKGATE_DATA_DIR": str(p.settings.data_dir),
        "SILKGATE_DEMO_MODE": "true",
    }


def _driver(world: World, number: str, country: str = "KZ") -> str:
    """A further CN→KZ export whose driver carries ``number``; its id."""
    decl_id, _ = world.env.declaration(
        driver={"name": "Serik Akhmetov", "document_number": number, "document_country": country}
    )
    return decl_id


def test_persons_whose_data_crossed_are_counted_once_per_agreement_and_year(
    world: World,
) -> None:
    env, p = world.env, world.platform
    kz = env.who("kz-customs")
    a = _driver(world, "N1234567")
    b = _driver(world, "N1234567")  # the same person on another truck
    c = _driver(world, "N7654321")
    # the defaults share no driver: nothing counted, whatever is read
    reading.list_declarations(p, Asking(kz, CUSTOMS_CONTROL), ListFilter(), None, 100)
    assert disclosures.personal_counts(p, None) == []
    # an agreement naming the driver, for KZ customs, processed in KZ
    agreement = grant(
        p,
        "KZ",
        Category.PRE_ARRIVAL,
        ["/id", "/data/driver"],
        purposes=("risk_analysis",),
        personal=True,
    )
    shared = Asking(kz, "risk_analysis")
    for decl in (a, b, c, a):
        got = reading.get(p, shared, decl)
        assert got.data is not None and got.data["driver"]["document_number"]
    counts = disclosures.personal_counts(p, None)
    assert [(x.agreement_id, x.persons, x.origins, x.places) for x in counts] == [
        (agreement, 2, ["CN"], ["KZ"])
    ]
    assert counts[0].year == p.clock().year
    with p.db.snapshot() as s:
        stored = list(s.scalars(select(PersonalTransfer.person)))
        assert s.scalar(select(func.count()).select_from(PersonalTransfer)) == 2
    assert all(len(x) == 64 and "N1234567" not in x for x in stored)  # a keyed digest only
    # the parties see the count (KZ customs speaks for consumer KZ), others do not
    assert [x.persons for x in disclosures.personal_counts(p, kz)] == [2]
    assert disclosures.personal_counts(p, env.who("cn-broker")) == []
    assert disclosures.personal_counts(p, None, year=2001) == []


def test_personal_data_counts_api_and_cli(world: World) -> None:
    from fastapi.testclient import TestClient

    from silkgate.app import create_app
    from silkgate.registry import service as registry

    env, p = world.env, world.platform
    decl = _driver(world, "P0000001")
    agreement = grant(
        p,
        "KZ",
        Category.PRE_ARRIVAL,
        ["/id", "/data/driver"],
        purposes=("risk_analysis",),
        personal=True,
    )
    reading.get(p, Asking(env.who("kz-customs"), "risk_analysis"), decl)
    _, key = registry.issue_api_key(p, env.ids["kz-customs"], "test", "test")
    with TestClient(create_app(platform=p)) as client:
        auth = {"Authorization": f"Bearer {key}"}
        r = client.get("/api/v1/exchange/personal-data-transfers", headers=auth)
        assert r.status_code == 200, r.text
        assert [(x["agreement_id"], x["persons"]) for x in r.json()] == [(agreement, 1)]
        assert (
            client.get(
                "/api/v1/exchange/personal-data-transfers?year=1999", headers=auth
            ).status_code
            == 422
        )
    r2 = CliRunner().invoke(cli, ["exchange", "personal-transfers", "--json"], env=_cli_env(p))
    assert r2.exit_code == 0, r2.output
    assert [(x["agreement_id"], x["persons"]) for x in json.loads(r2.stdout)] == [(agreement, 1)]


def test_no_transfer_counted_when_processed_where_the_data_is(world: World) -> None:
    """A personal-data agreement whose consumer processes the data in the provider's country
    discloses (logged) but moves no one across a border."""
    env, p = world.env, world.platform
    decl = _driver(world, "Q0000001")
    kz = env.who("kz-customs")
    grant(
        p,
        kz.member_id,
        Category.PRE_ARRIVAL,
        ["/id", "/data/driver"],
        purposes=("risk_analysis",),
        places=("CN",),
        personal=True,
    )
    got = reading.get(p, Asking(kz, "risk_analysis", "CN"), decl)
    assert got.data is not None and got.data["driver"]
    assert disclosures.personal_counts(p, None) == []
    assert [r.personal for r in _rows(p)] == [True]


def test_a_read_commits_its_log_without_waiting_for_the_disk_unless_told(
    world: World,
) -> None:
    """PostgreSQL: a read that only logged sets synchronous_commit off for its transaction;
    SILKGATE_DISCLOSURE_SYNC_COMMIT keeps the wait. A state change (a transition) always
    waits. (SQLite in WAL mode does not wait for the disk at commit either way.)"""
    from sqlalchemy import text

    from silkgate.declarations.models import Declaration
    from silkgate.exchange.agreements.enforce import Point
    from silkgate.exchange.agreements.records import declaration_record

    p = world.platform
    if p.db.engine.dialect.name != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    kz = Asking(world.env.who("kz-customs"), CUSTOMS_CONTROL)

    def commit_mode(read_only: bool, sync: bool) -> str:
        p.settings.disclosure_sync_commit = sync
        with p.db.session() as s:
            point = Point(p, s, kz, read_only=read_only)
            d = s.get(Declaration, world.decl)
            assert d is not None
            record = declaration_record(d)
            point.disclose(record, d.id, point.decide(record))
            point.flush()
            return str(s.execute(text("SHOW synchronous_commit")).scalar())

    try:
        assert commit_mode(read_only=True, sync=False) == "off"
        assert commit_mode(read_only=True, sync=True) == "on"
        assert commit_mode(read_only=False, sync=False) == "on"
    finally:
        p.settings.disclosure_sync_commit = False
    assert len(_rows(p)) == 3


def test_a_large_batch_goes_in_by_copy_and_asynchronously(world: World) -> None:
    """Past COPY_FROM rows (deliveries in bulk; a list read is at most 500) the rows go in by
    COPY on PostgreSQL (executemany on SQLite), after relaxing the commit."""
    from silkgate.exchange.disclosures.service import COPY_FROM, store

    p = world.platform
    row = {
        "at": p.clock(),
        "request_id": "r" * 24,
        "channel": "delivery",
        "consumer": "KZ/GOV/X",
        "category": "declaration",
        "owner": "CN/COM/Y",
        "authority": "CN",
        "grant": "g" * 64,
        "personal": False,
    }
    grant_row = {
        "digest": "g" * 64,
        "category": "declaration",
        "basis": "agreement",
        "purpose": "customs_control",
        "place": "KZ",
        "agreements": [["a", 1]],
        "fields": ["/id"],
    }
    rows = [{**row, "record_id": f"D{i:06d}"} for i in range(COPY_FROM + 5)]
    with p.db.session() as s:
        store(s, [grant_row], rows, [], relaxed=True)
    page = disclosures.list_disclosures(
        p, None, disclosures.DisclosureFilter(consumer="KZ/GOV/X"), None, 500
    )
    assert len(page.items) == 500 and page.next_cursor
    assert page.items[0].record_id == f"D{COPY_FROM + 4:06d}"
    with p.db.snapshot() as s:
        assert s.scalar(select(func.count()).select_from(Disclosure)) == COPY_FROM + 5

"""The active agreements cached per process (``exchange.agreements.active``), on both
databases: a revocation or a new version applies to the very next read — made by this
platform or by another one on the same database (another process) — and while nothing
changes a read asks the database nothing beyond its records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select

from silkgate.core.errors import NotFound
from silkgate.core.platform import Platform
from silkgate.declarations import reading
from silkgate.declarations.reading import ListFilter
from silkgate.exchange.agreements import service
from silkgate.exchange.agreements.defaults import default_id
from silkgate.exchange.agreements.enforce import Asking
from silkgate.exchange.agreements.models import Agreement
from silkgate.exchange.agreements.terms import digest
from tests.exchange.enforce_world import World, grant, make_world

DEFAULT = default_id("KHG-NZH", "CN", "KZ")


@pytest.fixture
def world(platform: Platform) -> World:
    return make_world(platform)


@pytest.fixture
def other(platform: Platform) -> Iterator[Platform]:
    """A second platform on the same database: another process, as far as caches go."""
    p = Platform(platform.settings)
    p.clock = platform.clock
    yield p
    p.close()


def _kz(world: World, purpose: str = "customs_control", who: str = "kz-customs") -> Asking:
    return Asking(world.env.who(who), purpose)


def _get(world: World, asking: Asking) -> dict[str, Any] | None:
    try:
        out = reading.get(world.platform, asking, world.decl)
    except NotFound:
        return None
    return out.model_dump(mode="json", exclude_unset=True)


def _listed(world: World, asking: Asking, limit: int = 50) -> list[str]:
    page = reading.list_declarations(world.platform, asking, ListFilter(), None, limit)
    return [str(d.id) for d in page.items]


def test_a_revocation_applies_to_the_next_read(world: World) -> None:
    kz = _kz(world)
    assert _get(world, kz) is not None and world.decl in _listed(world, kz)
    service.revoke(world.platform, world.env.who("cn-customs"), DEFAULT, "suspended")
    assert _get(world, kz) is None
    assert world.decl not in _listed(world, kz)


@pytest.mark.parametrize("first", ["get", "list"])
def test_a_revocation_by_another_platform_applies_to_the_next_read(
    world: World, other: Platform, first: str
) -> None:
    for _ in range(3):
        world.env.declaration()
    kz = _kz(world)
    # both reads cached the shipped default's rules in this platform
    assert _get(world, kz) is not None and len(_listed(world, kz, 1)) == 1
    service.revoke(other, world.env.who("cn-customs"), DEFAULT, "suspended")
    if first == "get":  # the key read with the record names another set
        assert _get(world, kz) is None
        assert _listed(world, kz, 1) == []
    else:  # a full page's query, built from the cached set: the guard refuses its rows
        assert _listed(world, kz, 1) == []
        assert _get(world, kz) is None


def test_a_new_agreement_by_another_platform_applies_to_the_next_read(
    world: World, other: Platform
) -> None:
    service_co = _kz(world, "statistics", "kz-service")
    assert _get(world, service_co) is None and world.decl not in _listed(world, service_co)
    grant(other, world.env.ids["kz-service"], "declaration", ["/id", "/status"])
    assert _get(world, service_co) == {"id": world.decl, "status": "risk_assessed"}
    assert _listed(world, service_co) == [world.decl]


def test_a_new_version_by_another_platform_applies_to_the_next_read(
    world: World, other: Platform
) -> None:
    service_co = _kz(world, "statistics", "kz-service")
    aid = grant(other, world.env.ids["kz-service"], "declaration", ["/id"])
    assert _get(world, service_co) == {"id": world.decl}
    with other.db.session() as s:  # what signing v2 does: v1 superseded, v2 active
        v1 = s.scalars(select(Agreement).where(Agreement.agreement_id == aid)).one()
        v1.status = "superseded"
        v2 = Agreement(
            **{
                c: getattr(v1, c)
                for c in Agreement.__table__.columns.keys()  # noqa: SIM118
                if c not in ("id", "status", "version", "fields", "terms_digest")
            },
            status="active",
            version=2,
            fields=["/id", "/lrn"],
            terms_digest="",
        )
        v2.terms_digest = digest(v2)
        s.add(v2)
    got = _get(world, service_co)
    assert got is not None and set(got) == {"id", "lrn"}


class _Selects:
    """The SELECT statements a block sends through the engine."""

    def __init__(self, platform: Platform) -> None:
        self.engine = platform.db.engine
        self.sql: list[str] = []

    def _seen(self, conn: Any, cursor: Any, sql: str, *rest: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            self.sql.append(sql)

    def __enter__(self) -> _Selects:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def test_while_nothing_changes_a_read_is_one_select(world: World) -> None:
    """The key comes with the record (a GET) or checks the list's query (the guard); the
    rules come from the process's cache — no statement of their own."""
    for _ in range(3):
        world.env.declaration()
    kz = _kz(world)
    _get(world, kz), _listed(world, kz)  # the cache is warm
    with _Selects(world.platform) as seen:
        assert _get(world, kz) is not None
    assert len(seen.sql) == 1 and "exchange_agreements" in seen.sql[0]
    with _Selects(world.platform) as seen:  # a full page: no check beyond the guard
        page = reading.list_declarations(world.platform, kz, ListFilter(), None, 2)
    assert len(page.items) == 2 and page.next_cursor is not None
    assert len(seen.sql) == 1 and "exchange_agreements" in seen.sql[0]

"""The declarations export for one organization goes through the policy decision (CLI --as)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from silkgate.core.platform import Platform
from silkgate.declarations import reading
from silkgate.exchange.agreements.enforce import Asking, PurposeRequired
from tests.exchange.enforce_world import World, drop_grants, grant, make_world


@pytest.fixture
def world(platform: Platform) -> World:
    return make_world(platform)  # cn-broker's accepted CN→KZ export


def test_export_for_each_role(world: World) -> None:
    p, who = world.platform, world.env.who
    (mine,) = reading.export_for(p, who("cn-broker"))
    assert mine["_id"] == world.decl and "driver" in mine
    (lodged,) = reading.export_for(p, who("cn-customs"))  # the lodging customs: whole
    assert "driver" in lodged
    with pytest.raises(PurposeRequired):  # the other side: pre-arrival, for a purpose
        reading.export_for(p, who("kz-customs"))
    (pre,) = reading.export_for(p, Asking(who("kz-customs"), "customs_control"))
    assert pre["_id"] == world.decl and "driver" not in pre and "goods_items" in pre
    for org in ("kz-carrier", "cn-eport", "karamay"):
        assert reading.export_for(p, Asking(who(org), "statistics")) == [], org
    grant(p, world.env.ids["karamay"], "declaration", ["/id", "/data/goods_items"], places=("CN",))
    (shared,) = reading.export_for(p, Asking(who("karamay"), "statistics"))
    assert set(shared) == {"_id", "goods_items"}
    drop_grants(p)
    assert reading.export_for(p, Asking(who("karamay"), "statistics")) == []


def test_export_command_as_an_organization(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from silkgate.cli import app

    settings = world.platform.settings
    monkeypatch.setenv("SILKGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(settings.data_dir))
    kz = world.env.ids["kz-customs"]
    run = CliRunner().invoke
    bare = run(app, ["declarations", "export", "--as", kz])
    assert bare.exit_code == 1 and "--purpose" in bare.output
    out = run(app, ["declarations", "export", "--as", kz, "--purpose", "customs_control"])
    assert out.exit_code == 0, out.output
    (row,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert row["_id"] == world.decl and "driver" not in row

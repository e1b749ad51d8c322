"""A declaration's history (audit trail, timeline, receipt) tells a reader no more than the
policy decision shares, and only the customs it is lodged with changes its state."""

from __future__ import annotations

import pytest

from silkgate.audit.keys import trusted_keys
from silkgate.audit.receipts import declaration_receipt, verify_receipt
from silkgate.core.errors import Forbidden, NotFound
from silkgate.core.platform import Platform
from silkgate.core.signing import canonical_json, sha256_hex
from silkgate.declarations import reading
from silkgate.declarations import service as declarations
from silkgate.declarations.schemas import DeclarationStatus as S
from silkgate.exchange.agreements.enforce import Asking
from silkgate.gates import timeline
from silkgate.risk.platform import service as risk
from silkgate.risk.platform.schemas import LaneOverrideIn
from tests.exchange.enforce_world import World, make_world, reader
from tests.queue.env import make_env

#: Audit actions about the lodging side's risk findings, not the declaration's state.
RISK_ACTIONS = {"inspection.recorded", "declaration.lane_overridden"}


@pytest.fixture
def world(platform: Platform) -> World:
    """CN→KZ export (auto-accepted), assessed, inspected and its lane overridden by CN
    customs, then at the border."""
    w = make_world(platform)
    cn = w.env.who("cn-customs")
    risk.override_lane(w.platform, cn, w.decl, LaneOverrideIn(lane="red", reason="tip-off"))
    declarations.transition(platform, cn, w.decl, S.AT_BORDER, "gate-in")
    return w


def _kz(world: World) -> Asking:
    """The other side's customs, reading under the shipped pre-arrival agreement."""
    return Asking(world.env.who("kz-customs"), "customs_control")


def test_other_side_may_not_read_the_inspection_or_the_lane(world: World) -> None:
    """The premise: nothing shares the risk categories with KZ customs (404)."""
    p, kz = world.platform, _kz(world)
    with pytest.raises(NotFound):
        risk.get_inspection(p, kz, world.decl)
    with pytest.raises(NotFound):
        risk.get_assessment(p, kz, world.decl)
    assert "lane" not in reading.get(p, kz, world.decl).model_dump(exclude_unset=True)


def test_pre_arrival_reader_sees_only_the_shared_state_changes(world: World) -> None:
    p = world.platform
    got = reading.audit_trail(p, _kz(world), world.decl)
    # submitted is not shared (the default's condition: status != "submitted"); the
    # inspection and the lane override are CN customs' own findings
    assert [e.action for e in got] == [
        "declaration.accepted",
        "declaration.risk_assessed",
        "declaration.at_border",
    ]
    # the platform's automatic steps are named, CN customs' officers are not
    assert [e.actor for e in got] == ["platform", "platform", None]
    for e in got:
        assert (e.payload_digest, e.entry_hash, e.signature) == (None, None, None)


def test_audit_trail_gives_no_digest_of_the_withheld_driver(world: World) -> None:
    """A digest of the whole payload (driver included) would let a reader test guesses of
    the withheld driver's document number offline."""
    p = world.platform
    whole = reading.get(p, world.env.who("cn-broker"), world.decl).data  # the declarant
    assert "driver" in whole
    assert "driver" not in reading.get(p, _kz(world), world.decl).data
    digest = sha256_hex(canonical_json(whole))
    given = {e.payload_digest for e in reading.audit_trail(p, _kz(world), world.decl)}
    assert digest not in given


@pytest.mark.parametrize("who", ["cn-broker", "cn-customs"])
def test_owner_and_lodging_customs_see_every_entry_as_stored(world: World, who: str) -> None:
    p = world.platform
    got = reading.audit_trail(p, world.env.who(who), world.decl)
    actions = [e.action for e in got]
    assert actions[0] == "declaration.submitted" and set(actions) >= RISK_ACTIONS
    first = got[0]
    assert first.actor == world.env.ids["cn-broker"]
    whole = reading.get(p, world.env.who("cn-broker"), world.decl).data
    assert first.payload_digest == sha256_hex(canonical_json(whole))
    assert all(e.entry_hash and e.signature and e.actor for e in got)


def test_lodging_customs_processing_abroad_sees_every_entry_without_digests(
    world: World,
) -> None:
    """Abroad it reads everything but personal data: its own findings yes, no digest that
    could carry the driver."""
    abroad = Asking(world.env.who("cn-customs"), "customs_control", "KZ")
    got = reading.audit_trail(world.platform, abroad, world.decl)
    assert {e.action for e in got} >= RISK_ACTIONS
    assert all(e.actor for e in got)
    assert all(e.payload_digest is None and e.entry_hash is None for e in got)


def test_a_reader_not_allowed_the_status_gets_no_trail(world: World) -> None:
    from tests.exchange.enforce_world import grant

    kz = reader("customs")
    grant(world.platform, kz.member_id, "pre_arrival", ["/id", "/lrn"])
    asking = Asking(kz, "statistics")
    assert reading.get(world.platform, asking, world.decl).id == world.decl
    with pytest.raises(NotFound):
        reading.audit_trail(world.platform, asking, world.decl)


def test_declaration_timeline_shows_only_shared_states_without_officers(world: World) -> None:
    tl = timeline.declaration_timeline(world.platform, _kz(world), world.decl)
    states = [e for e in tl.entries if e.kind == "declaration"]
    assert [e.what for e in states] == [
        "declaration.accepted",
        "declaration.risk_assessed",
        "declaration.at_border",
    ]
    assert [e.detail.get("actor") for e in states] == ["platform", "platform", None]
    mine = timeline.declaration_timeline(world.platform, world.env.who("cn-customs"), world.decl)
    assert {e.what for e in mine.entries if e.kind == "declaration"} >= RISK_ACTIONS


def test_declaration_receipt_cites_the_newest_shared_entry_without_its_hash(
    world: World,
) -> None:
    p = world.platform
    body = declaration_receipt(p, _kz(world), world.decl)
    assert body["status"] == "at_border"
    assert body["entry"]["action"] == "declaration.at_border"
    assert body["entry"]["entry_hash"] is None
    assert body["checkpoint"]["seq"] >= body["entry"]["seq"]
    assert verify_receipt(body, trusted_keys(p.settings))
    # the lodging customs: the newest entry whatever it is, with its hash
    full = declaration_receipt(p, world.env.who("cn-customs"), world.decl)
    assert full["entry"]["seq"] == body["entry"]["seq"]  # at_border is the newest
    assert full["entry"]["entry_hash"]


def test_declaration_receipt_never_names_a_withheld_action(platform: Platform) -> None:
    """The newest entry is an override KZ may not see: the receipt cites the one before."""
    w = make_world(platform)
    cn = w.env.who("cn-customs")
    risk.override_lane(platform, cn, w.decl, LaneOverrideIn(lane="red", reason="tip-off"))
    body = declaration_receipt(platform, _kz(w), w.decl)
    assert body["entry"]["action"] == "declaration.risk_assessed"
    full = declaration_receipt(platform, cn, w.decl)
    assert full["entry"]["action"] == "declaration.lane_overridden"
    assert full["checkpoint"]["seq"] >= full["entry"]["seq"]
    assert body["checkpoint"]["seq"] >= full["entry"]["seq"]


def test_only_the_lodging_customs_changes_the_state(platform: Platform) -> None:
    """KZ customs reads a CN-lodged export as pre-arrival information but may not reject or
    release it: 403 saying whose it is; an outsider gets 404; CN customs moves it."""
    env = make_env(platform)
    decl, _ = env.declaration()  # accepted CN→KZ export, lodged with CN customs
    kz = env.who("kz-customs")
    with pytest.raises(Forbidden) as refused:
        declarations.transition(platform, kz, decl, S.REJECTED, "not ours")
    assert "lodged with (CN" in str(refused.value.detail)
    with pytest.raises(Forbidden):
        declarations.transition(platform, env.who("cn-broker"), decl, S.AT_BORDER, None)
    with pytest.raises(NotFound):
        declarations.transition(platform, reader("customs", "UZ"), decl, S.REJECTED, None)
    assert reading.get(platform, env.who("cn-broker"), decl).status == "accepted"
    out = declarations.transition(platform, env.who("cn-customs"), decl, S.AT_BORDER, None)
    assert out.status == "at_border"

"""Agreement lifecycle on both databases: proposed → signed by every party → active;
forged signatures, overlap and expiry refused; revocation immediate; versions kept; audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from silkgate.audit.keys import trusted_keys
from silkgate.audit.models import AuditEntry
from silkgate.audit.service import verify_chain
from silkgate.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.core.signing import b64, public_key_b64
from silkgate.exchange.agreements import service
from silkgate.exchange.agreements.models import Agreement, AgreementSignature
from silkgate.exchange.agreements.policy import Record
from silkgate.exchange.agreements.schemas import AgreementIn, AgreementOut
from silkgate.registry import service as registry
from silkgate.registry.service import Caller
from tests.factories import caller, seeded


@dataclass
class World:
    platform: Platform
    ids: dict[str, str]
    keys: dict[str, Ed25519PrivateKey]

    def who(self, key: str) -> Caller:
        return caller(self.platform, self.ids, key)

    def sign(self, key: str, a: AgreementOut, with_key: str | None = None) -> AgreementOut:
        sig = b64(self.keys[with_key or key].sign(a.signing_input.encode("utf-8")))
        return service.sign(self.platform, self.who(key), a.agreement_id, a.version, sig)


@pytest.fixture
def world(platform: Platform) -> World:
    ids = seeded(platform)
    keys = {}
    for k in ("cn-eport", "kz-service", "kz-carrier", "cn-customs", "kz-customs"):
        keys[k] = Ed25519PrivateKey.generate()
        registry.register_signing_key(platform, ids[k], public_key_b64(keys[k]), "test")
    return World(platform, ids, keys)


def booking_terms(w: World, **kw: Any) -> AgreementIn:
    base: dict[str, Any] = dict(
        provider=w.ids["cn-eport"],
        consumers=[w.ids["kz-service"]],
        category="booking",
        fields=["/id", "/status", "/truck"],
        purposes=["queue_management"],
        places=["KZ"],
        crossings=["KHG-NZH"],
        valid_from=datetime.now(UTC) - timedelta(hours=1),
        condition='direction == "CN-KZ"',
    )
    return AgreementIn.model_validate({**base, **kw})


def booking(w: World) -> Record:
    return Record(
        "booking", owner=w.ids["cn-eport"], crossing="KHG-NZH", exit_country="CN",
        entry_country="KZ", status="confirmed",
    )  # fmt: skip


def active(w: World, **kw: Any) -> AgreementOut:
    a = service.propose(w.platform, w.who("cn-eport"), booking_terms(w, **kw))
    w.sign("cn-eport", a)
    return w.sign("kz-service", a)


def test_signed_by_both_parties_then_active_and_audited(world: World) -> None:
    w = world
    a = service.propose(w.platform, w.who("kz-service"), booking_terms(w))
    assert a.status == "proposed" and a.awaiting == [w.ids["cn-eport"], w.ids["kz-service"]]
    reader = w.who("kz-service")
    assert not service.decide_for(w.platform, reader, "queue_management", "KZ", booking(w)).allowed
    a = w.sign("cn-eport", a)
    assert a.status == "proposed" and a.awaiting == [w.ids["kz-service"]]
    a = w.sign("kz-service", a)
    assert a.status == "active" and a.in_force and a.awaiting == []
    assert [s.party for s in a.signatures] == [w.ids["cn-eport"], w.ids["kz-service"]]
    got = service.decide_for(w.platform, reader, "queue_management", "KZ", booking(w))
    assert got.fields == {"/id", "/status", "/truck"} and got.agreements == ((a.agreement_id, 1),)
    with w.platform.db.session() as s:
        actions = s.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_id == a.agreement_id)
            .order_by(AuditEntry.seq)
        ).all()
        assert actions == [
            "agreement.proposed",
            "agreement.signed",
            "agreement.signed",
            "agreement.activated",
        ]
        assert verify_chain(s, trusted_keys(w.platform.settings)).ok


def test_forged_or_misplaced_signatures_are_refused(world: World) -> None:
    w = world
    a = service.propose(w.platform, w.who("cn-eport"), booking_terms(w))
    with pytest.raises(ValidationFailed) as exc:  # signed with another org's key
        w.sign("cn-eport", a, with_key="kz-carrier")
    assert exc.value.errors[0].field == "/signature" and exc.value.errors[0].code == "bad_signature"
    tampered = a.model_copy(update={"signing_input": a.signing_input.replace("KZ", "RU")})
    with pytest.raises(ValidationFailed):  # a signature over other terms
        w.sign("cn-eport", tampered)
    with pytest.raises(NotFound):  # not a party: the agreement does not exist for it
        w.sign("kz-carrier", a)
    w.sign("cn-eport", a)
    with pytest.raises(Conflict):  # twice
        w.sign("cn-eport", a)
    with w.platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AgreementSignature).where(
            AgreementSignature.signer == w.ids["cn-eport"])) == 1  # fmt: skip
    keyless = service.propose(
        w.platform, w.who("cn-broker"),
        booking_terms(w, provider=w.ids["cn-broker"], category="declaration", fields=["/id"]),
    )  # fmt: skip
    with pytest.raises(Conflict) as no_key:
        service.sign(w.platform, w.who("cn-broker"), keyless.agreement_id, 1, "A" * 88)
    assert no_key.value.errors[0].code == "no_signing_key"


def test_only_parties_propose_and_see(world: World) -> None:
    w = world
    with pytest.raises(Forbidden):
        service.propose(w.platform, w.who("kz-carrier"), booking_terms(w))
    a = active(w)
    with pytest.raises(NotFound):
        service.history(w.platform, w.who("kz-carrier"), a.agreement_id)
    assert service.list_agreements(w.platform, w.who("kz-carrier")) == []
    assert [x.agreement_id for x in service.list_agreements(w.platform, w.who("kz-service"))] == [
        a.agreement_id
    ]


def test_revocation_takes_effect_at_once(world: World) -> None:
    w = world
    a = active(w)
    reader = w.who("kz-service")
    assert service.decide_for(w.platform, reader, "queue_management", "KZ", booking(w)).allowed
    h = service.revoke(w.platform, w.who("cn-eport"), a.agreement_id, "contract ended")
    assert [v.status for v in h.versions] == ["revoked"] and h.versions[0].ended_by
    assert not service.decide_for(w.platform, reader, "queue_management", "KZ", booking(w)).allowed
    with pytest.raises(Conflict):
        service.revoke(w.platform, reader, a.agreement_id, "again")


def test_overlapping_agreements_are_refused(world: World) -> None:
    w = world
    a = active(w)
    with pytest.raises(Conflict) as exc:
        service.propose(w.platform, w.who("cn-eport"), booking_terms(w, fields=["/id"]))
    assert a.agreement_id in exc.value.detail and exc.value.errors[0].code == "overlap"
    # another purpose, another crossing or a later period does not overlap
    service.propose(w.platform, w.who("cn-eport"), booking_terms(w, purposes=["statistics"]))
    service.propose(w.platform, w.who("cn-eport"), booking_terms(w, crossings=["ALA-DOS"]))
    # the shipped default overlaps a new agreement between the same authorities
    terms = booking_terms(
        w, provider="CN", consumers=["KZ"], category="pre_arrival", fields=["/id"],
        purposes=["customs_control"], places=["KZ"], condition=None,
    )  # fmt: skip
    with pytest.raises(Conflict) as dflt:
        service.propose(w.platform, w.who("cn-customs"), terms)
    assert "default-pre-arrival-KHG-NZH-CN-KZ" in dflt.value.detail


def test_expired_agreements_are_refused(world: World) -> None:
    w = world
    now = datetime.now(UTC)
    with pytest.raises(ValidationFailed) as exc:
        service.propose(
            w.platform, w.who("cn-eport"),
            booking_terms(w, valid_from=now - timedelta(days=9), valid_until=now - timedelta(days=1)),
        )  # fmt: skip
    assert (exc.value.errors[0].field, exc.value.errors[0].code) == ("/valid_until", "expired")
    with pytest.raises(ValidationFailed) as order:
        service.propose(
            w.platform, w.who("cn-eport"), booking_terms(w, valid_until=now - timedelta(days=2))
        )
    assert order.value.errors[0].code == "before_start"
    a = service.propose(
        w.platform, w.who("cn-eport"), booking_terms(w, valid_until=now + timedelta(days=1))
    )
    w.sign("cn-eport", a)
    w.platform.clock = lambda: now + timedelta(days=2)
    with pytest.raises(Conflict) as late:
        w.sign("kz-service", a)
    assert late.value.errors[0].code == "expired"


def test_a_new_version_supersedes_once_signed_and_history_is_kept(world: World) -> None:
    w = world
    a = active(w)
    reader = w.who("kz-service")
    v2 = service.propose(
        w.platform, reader, booking_terms(w, agreement_id=a.agreement_id, fields=["/id"])
    )
    assert v2.version == 2 and v2.status == "proposed"
    with pytest.raises(Conflict):  # one pending version at a time
        service.propose(w.platform, reader, booking_terms(w, agreement_id=a.agreement_id))
    decided = service.decide_for(w.platform, reader, "queue_management", "KZ", booking(w))
    assert decided.agreements == ((a.agreement_id, 1),)
    w.sign("kz-service", v2)
    w.sign("cn-eport", v2)
    decided = service.decide_for(w.platform, reader, "queue_management", "KZ", booking(w))
    assert decided.fields == {"/id"} and decided.agreements == ((a.agreement_id, 2),)
    h = service.history(w.platform, reader, a.agreement_id)
    assert [(v.version, v.status) for v in h.versions] == [(1, "superseded"), (2, "active")]
    with w.platform.db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(Agreement)) == 2 + 8
        )  # and 8 defaults (pre-arrival, booking and gate events each way; KPIs per side)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"fields": ["/id", "/nope"]}, "/fields/1", "unknown_field"),
        ({"fields": ["/id", "/driver/name"]}, "/fields/1", "personal_data"),
        ({"personal_data": True}, "/personal_data", "no_personal_field"),
        ({"places": ["KZ", "XX"]}, "/places/1", "unknown_country"),
        ({"crossings": ["NOPE-X"]}, "/crossings/0", "unknown_crossing"),
        ({"consumers": ["KZ/COM/000000000000"]}, "/consumers/0", "unknown_party"),
        ({"consumers": ["US"]}, "/consumers/0", "not_member"),
        ({"condition": 'crossing == "KHG-NZH" &&'}, "/condition", "cel_syntax"),
    ],
)
def test_bad_terms_are_named(world: World, changes: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        service.propose(world.platform, world.who("cn-eport"), booking_terms(world, **changes))
    assert (exc.value.errors[0].field, exc.value.errors[0].code) == (field, code)
    with world.platform.db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(Agreement)) == 8
        )  # the defaults only (pre-arrival, booking, gate events each way; KPIs per side)

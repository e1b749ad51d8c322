"""Agreement tables against the log: every edit of an agreement version or signature made
outside the service fails `silkgate audit verify`, naming the version and what differs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from silkgate.core.platform import Platform
from silkgate.core.signing import b64, public_key_b64
from silkgate.exchange.agreements import service
from silkgate.exchange.agreements.defaults import default_id, ensure_defaults
from silkgate.exchange.agreements.models import Agreement, AgreementSignature
from silkgate.exchange.agreements.schemas import AgreementIn, AgreementOut
from silkgate.exchange.agreements.terms import digest, signing_input
from silkgate.registry import service as registry
from tests.audit.world import run_verify
from tests.factories import caller, seeded

SIGNERS = ("cn-eport", "kz-service", "cn-customs", "kz-customs")


@dataclass
class World:
    """``queue``: v1 superseded by v2 (active); ``revoked``: revoked; ``pending``: proposed,
    signed by cn-eport only; ``default``: the shipped CN→KZ pre-arrival default."""

    platform: Platform
    ids: dict[str, str]
    keys: dict[str, Ed25519PrivateKey]
    queue: str
    revoked: str
    pending: str
    default: str

    def row(self, s: Session, agreement_id: str, version: int = 1) -> Agreement:
        stmt = select(Agreement).where(
            Agreement.agreement_id == agreement_id, Agreement.version == version
        )
        return s.scalars(stmt).one()


def _terms(ids: dict[str, str], **kw: Any) -> AgreementIn:
    base: dict[str, Any] = dict(
        provider=ids["cn-eport"],
        consumers=[ids["kz-service"]],
        category="booking",
        fields=["/id", "/status"],
        purposes=["queue_management"],
        places=["KZ"],
        crossings=["KHG-NZH"],
        valid_from=datetime.now(UTC) - timedelta(hours=1),
    )
    return AgreementIn.model_validate({**base, **kw})


def build(platform: Platform) -> World:
    ids = seeded(platform)
    keys = {}
    for k in SIGNERS:
        keys[k] = Ed25519PrivateKey.generate()
        registry.register_signing_key(platform, ids[k], public_key_b64(keys[k]), "test")

    def sign(key: str, a: AgreementOut) -> AgreementOut:
        sig = b64(keys[key].sign(a.signing_input.encode("utf-8")))
        return service.sign(platform, caller(platform, ids, key), a.agreement_id, a.version, sig)

    def agree(**kw: Any) -> AgreementOut:
        a = service.propose(platform, caller(platform, ids, "cn-eport"), _terms(ids, **kw))
        sign("cn-eport", a)
        return sign("kz-service", a)

    queue = agree().agreement_id
    agree(agreement_id=queue, fields=["/id", "/status", "/truck"])  # v2 supersedes v1
    revoked = agree(category="gate_events", fields=["/event_id"]).agreement_id
    service.revoke(platform, caller(platform, ids, "kz-service"), revoked, "no longer needed")
    pending = service.propose(
        platform,
        caller(platform, ids, "cn-eport"),
        _terms(ids, category="kpi_aggregates", fields=["/passages"], purposes=["statistics"]),
    )
    sign("cn-eport", pending)
    # the driver setting changed: the default gets a new builtin version (supersedes v1)
    with platform.db.session() as s:
        ensure_defaults(s, platform.signer, ["KHG-NZH"], True, "platform")
    return World(
        platform,
        ids,
        keys,
        queue,
        revoked,
        pending.agreement_id,
        default_id("KHG-NZH", "CN", "KZ"),
    )


Tamper = Callable[[Session, World], None]


def _terms_edit(s: Session, w: World) -> None:
    w.row(s, w.queue, 2).fields = ["/id", "/status", "/truck", "/driver"]


def _terms_and_digest_edit(s: Session, w: World) -> None:
    row = w.row(s, w.queue, 2)
    row.purposes = ["customs_control", "queue_management"]
    row.terms_digest = digest(row)  # made consistent with itself, not with the log


def _unrevoked(s: Session, w: World) -> None:
    row = w.row(s, w.revoked)
    row.status, row.ended_at, row.ended_by, row.end_reason = "active", None, None, None


def _superseded_reactivated(s: Session, w: World) -> None:
    w.row(s, w.queue, 1).status = "active"


def _signature_added(s: Session, w: World) -> None:
    row = w.row(s, w.pending)
    s.add(
        AgreementSignature(
            row_id=row.id,
            party=w.ids["kz-service"],
            signer=w.ids["kz-service"],
            public_key=public_key_b64(w.keys["kz-service"]),
            signature=b64(w.keys["kz-service"].sign(signing_input(row))),
            signed_at=datetime.now(UTC),
        )
    )
    row.status = "active"  # and made active, as the last signature would have


def _signature_removed(s: Session, w: World) -> None:
    row = w.row(s, w.queue, 2)
    s.execute(
        delete(AgreementSignature).where(
            AgreementSignature.row_id == row.id, AgreementSignature.party == w.ids["kz-service"]
        )
    )


def _signature_altered(s: Session, w: World) -> None:
    row = w.row(s, w.queue, 2)
    other = b64(w.keys["kz-service"].sign(b"something else"))
    s.execute(
        update(AgreementSignature)
        .where(AgreementSignature.row_id == row.id, AgreementSignature.party == w.ids["kz-service"])
        .values(signature=other)
    )


def _signer_altered(s: Session, w: World) -> None:
    row = w.row(s, w.queue, 2)
    s.execute(
        update(AgreementSignature)
        .where(AgreementSignature.row_id == row.id, AgreementSignature.party == w.ids["kz-service"])
        .values(signer=w.ids["kz-carrier"])
    )


def _key_swapped(s: Session, w: World) -> None:
    """A key and a signature by it, swapped in together: the pair verifies, the key is not the
    one the log says the signer had."""
    row = w.row(s, w.queue, 2)
    forger = Ed25519PrivateKey.generate()
    s.execute(
        update(AgreementSignature)
        .where(AgreementSignature.row_id == row.id, AgreementSignature.party == w.ids["kz-service"])
        .values(public_key=public_key_b64(forger), signature=b64(forger.sign(signing_input(row))))
    )


def _default_key_swapped(s: Session, w: World) -> None:
    row = w.row(s, w.default, 2)
    forger = Ed25519PrivateKey.generate()
    s.execute(
        update(AgreementSignature)
        .where(AgreementSignature.row_id == row.id)
        .values(public_key=public_key_b64(forger), signature=b64(forger.sign(signing_input(row))))
    )


def _version_inserted(s: Session, w: World) -> None:
    v2 = s.execute(
        select(Agreement.__table__).where(Agreement.agreement_id == w.queue, Agreement.version == 2)
    ).one()
    values = {**v2._asdict(), "version": 3, "status": "proposed"}
    del values["id"]
    s.execute(insert(Agreement.__table__), [values])


def _version_deleted(s: Session, w: World) -> None:
    row = w.row(s, w.revoked)
    s.execute(delete(AgreementSignature).where(AgreementSignature.row_id == row.id))
    s.execute(delete(Agreement).where(Agreement.id == row.id))


def _reason_edit(s: Session, w: World) -> None:
    w.row(s, w.revoked).end_reason = "the consumer breached the terms"


CASES: dict[str, tuple[Tamper, str, tuple[str, ...]]] = {
    "terms": (_terms_edit, "queue:2", ("terms no longer hash to the logged digest",)),
    "terms and digest": (
        _terms_and_digest_edit,
        "queue:2",
        ("terms no longer hash to the logged digest", "terms_digest is"),
    ),
    "revoked made active": (_unrevoked, "revoked:1", ("status is 'active'", "'revoked'")),
    "superseded made active": (
        _superseded_reactivated,
        "queue:1",
        ("status is 'active'", "'superseded'"),
    ),
    "signature added": (
        _signature_added,
        "pending:1",
        ("a signature of", "no audit entry records it", "status is 'active'"),
    ),
    "signature removed": (
        _signature_removed,
        "queue:2",
        ("the signature of", "missing from exchange_agreement_sigs"),
    ),
    "signature altered": (_signature_altered, "queue:2", ("does not verify over its terms",)),
    "signer altered": (_signer_altered, "queue:2", ("names signer",)),
    "key and signature swapped": (_key_swapped, "queue:2", ("registered key was",)),
    "default's key swapped": (_default_key_swapped, "default:2", ("not the platform key",)),
    "version not in the log": (_version_inserted, "queue:3", ("no audit entry records it",)),
    "logged version deleted": (
        _version_deleted,
        "revoked:1",
        ("agreement.revoked", "missing from exchange_agreements"),
    ),
    "revocation reason": (_reason_edit, "revoked:1", ("end_reason differs",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_agreement_tampering_fails_verify(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    w = build(platform)
    tamper, which, expected = CASES[case]
    with platform.db.session() as s:
        tamper(s, w)
    out = run_verify(platform, monkeypatch)
    assert out.exit_code == 1, out.output
    text = " ".join(out.output.split())
    name, version = which.split(":")
    assert f"agreement {getattr(w, name)} version {version}:" in text, text
    for fragment in expected:
        assert fragment in text, text


def test_agreements_verify_untampered(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """Proposed, signed, superseded, revoked and re-seeded defaults all match the log (a
    default's builtin supersession has no entry of its own: the seeded entry says it)."""
    w = build(platform)
    with platform.db.session() as s:
        assert w.row(s, w.default, 1).status == "superseded"
        assert w.row(s, w.queue, 1).status == "superseded"
    out = run_verify(platform, monkeypatch)
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "exchange agreement signatures" in text and "exchange agreement versions" in text


def test_a_signing_key_rotated_later_keeps_old_signatures_valid(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key checked is the one registered when the party signed, not today's."""
    w = build(platform)
    new = Ed25519PrivateKey.generate()
    registry.register_signing_key(platform, w.ids["kz-service"], public_key_b64(new), "test")
    assert run_verify(platform, monkeypatch).exit_code == 0

"""Append to and verify the hash-chained, signed audit log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from silkgate.audit.models import AuditEntry, SigningKey
from silkgate.core.db import table_of
from silkgate.core.signing import b64, canonical_json, key_id, public_key_b64, sha256_hex, verify

GENESIS_HASH = "0" * 64
_PG_AUDIT_LOCK = 0x5117_6A7E  # advisory lock id serialising appends to the chain


@dataclass(frozen=True)
class AuditEvent:
    """What happened, before it is chained and signed."""

    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload: Any
    digest: str | None = None  # precomputed SHA-256 of the canonical payload, if known


class AuditSigner:
    """Signs entries with the platform key and registers its public half once."""

    def __init__(self, private_key: Ed25519PrivateKey, owner: str = "platform") -> None:
        self._key = private_key
        self.public_key = public_key_b64(private_key)
        self.key_id = key_id(self.public_key)
        self.owner = owner
        self._registered_on: set[str] = set()

    def sign(self, message: bytes) -> str:
        return b64(self._key.sign(message))

    def register(self, session: Session) -> None:
        """Record the public key in the database (once per database per process)."""
        where = str(session.get_bind().engine.url)
        if where in self._registered_on:
            return
        if session.get(SigningKey, self.key_id) is None:
            session.add(
                SigningKey(
                    key_id=self.key_id,
                    owner=self.owner,
                    public_key=self.public_key,
                    created_at=datetime.now(UTC),
                )
            )
            session.flush()
        self._registered_on.add(where)


def payload_digest(payload: Any) -> str:
    """SHA-256 of the canonical JSON form of a payload."""
    return sha256_hex(canonical_json(payload))


def _entry_hash(
    seq: int, at: datetime, event: AuditEvent | AuditEntry, digest: str, prev: str
) -> str:
    body = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(),
        "actor": event.actor,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "payload_digest": digest,
        "prev_hash": prev,
    }
    return sha256_hex(canonical_json(body))


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    # SQLite transactions begin IMMEDIATE (see core.db), which already serialises writers.


def append(
    session: Session, signer: AuditSigner, events: Iterable[AuditEvent]
) -> list[dict[str, Any]]:
    """Chain, sign and add events in order; call last in a transaction to keep the lock short."""
    events = list(events)
    if not events:
        return []
    signer.register(session)
    _lock_chain(session)
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS_HASH)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for event in events:
        seq += 1
        digest = event.digest or payload_digest(event.payload)
        entry_hash = _entry_hash(seq, now, event, digest, prev)
        rows.append(
            {
                "seq": seq,
                "at": now,
                "actor": event.actor,
                "action": event.action,
                "entity_type": event.entity_type,
                "entity_id": event.entity_id,
                "payload_digest": digest,
                "prev_hash": prev,
                "entry_hash": entry_hash,
                "key_id": signer.key_id,
                "signature": signer.sign(entry_hash.encode("ascii")),
            }
        )
        prev = entry_hash
    session.execute(insert(table_of(AuditEntry)), rows)
    return rows


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a chain verification; ``broken_seq`` is the first bad entry."""

    checked: int
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def verify_chain(session: Session, progress: Any = None) -> VerifyResult:
    """Recompute every hash and signature in order; stop at the first broken entry."""
    keys = {k.key_id: k.public_key for k in session.scalars(select(SigningKey))}
    prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for entry in _iter_entries(session):
        if entry.seq != expected_seq:
            return VerifyResult(checked, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return VerifyResult(checked, entry.seq, "previous-hash link does not match")
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
        recomputed = _entry_hash(entry.seq, at, entry, entry.payload_digest, entry.prev_hash)
        if recomputed != entry.entry_hash:
            return VerifyResult(checked, entry.seq, "content does not match its hash")
        public = keys.get(entry.key_id)
        if public is None:
            return VerifyResult(checked, entry.seq, f"unknown signing key {entry.key_id}")
        if not verify(public, entry.signature, entry.entry_hash.encode("ascii")):
            return VerifyResult(checked, entry.seq, "signature does not verify")
        prev = entry.entry_hash
        expected_seq += 1
        checked += 1
        if progress is not None:
            progress(1)
    return VerifyResult(checked)


def count_entries(session: Session) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _iter_entries(session: Session) -> Iterator[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=2000)
    yield from session.scalars(stmt)


def trail(session: Session, entity_type: str, entity_id: str) -> list[AuditEntry]:
    """All entries about one entity, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.seq)
    )
    return list(session.scalars(stmt))


def verify_log(platform_db: Any, progress: Any = None) -> tuple[int, VerifyResult]:
    """Open a session on ``platform_db`` (a core.db.Database) and verify the whole chain."""
    with platform_db.session() as s:
        total = count_entries(s)
        if progress is not None:
            progress(0, total)
        return total, verify_chain(s, (lambda n: progress(n, total)) if progress else None)

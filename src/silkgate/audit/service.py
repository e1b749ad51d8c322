"""Append to and verify the hash-chained, signed audit log."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from silkgate.audit.models import AuditEntry, SigningKey
from silkgate.core.db import after_commit, table_of
from silkgate.core.signing import b64, canonical_json, key_id, public_key_b64, sha256_hex
from silkgate.core.writes import current_person, current_write

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
    state: dict[str, Any] | None = None  # the entity's resulting state (small records only)
    # the person of the actor organization who acted (console users); None for systems
    person: str | None = None


class AuditSigner:
    """Signs entries with the platform key and registers its public half once."""

    def __init__(self, private_key: Ed25519PrivateKey, owner: str = "platform") -> None:
        # the time entries are stamped with: the platform's clock (see core.platform)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._key = private_key
        self.public_key = public_key_b64(private_key)
        self.key_id = key_id(self.public_key)
        self.owner = owner
        self._registered_on: set[str] = set()

    def sign(self, message: bytes) -> str:
        return b64(self._key.sign(message))

    def sign_raw(self, message: bytes) -> bytes:
        """The raw 64-byte signature (JWS receipts encode it themselves)."""
        return self._key.sign(message)

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


def _entry_hash(seq: int, at: datetime, event: Any, digest: str, prev: str) -> str:
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
    if event.state is not None:  # absent from older entries, whose hashes stay as they were
        body["state_digest"] = payload_digest(event.state)
    if event.person is not None:  # only console actions name a person; others hash as before
        body["person"] = event.person
    return sha256_hex(canonical_json(body))


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    # SQLite transactions begin IMMEDIATE (see core.db), which already serialises writers.


def append(
    session: Session, signer: AuditSigner, events: Iterable[AuditEvent], ambient: bool = True
) -> list[dict[str, Any]]:
    """Chain, sign and add events in order; call last in a transaction to keep the lock short.

    When an HTTP write request is being served (``core.writes``; ``ambient``), its verified
    signature is stored with the records the events are about (one more event, see
    ``audit.submissions``) and, once the transaction commits, the entries are reported to the
    request for its receipt. When a person acts through the console (``core.writes.acting``),
    events that name no person are stamped with theirs. The group committer passes
    ``ambient=False`` and does this per lodging itself.
    """
    events = list(events)
    if not events:
        return []
    write = current_write() if ambient else None
    person = current_person() if ambient else None
    if person is not None:  # a person acting in the console: every event is theirs
        events = [e if e.person is not None else replace(e, person=person) for e in events]
    if write is not None:
        from silkgate.audit.submissions import stored_with

        events += stored_with(session, write, events)
    signer.register(session)
    _lock_chain(session)
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS_HASH)
    now = signer.clock()
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
                "person": event.person,
                "action": event.action,
                "entity_type": event.entity_type,
                "entity_id": event.entity_id,
                "payload_digest": digest,
                "state": event.state,
                "prev_hash": prev,
                "entry_hash": entry_hash,
                "key_id": signer.key_id,
                "signature": signer.sign(entry_hash.encode("ascii")),
            }
        )
        prev = entry_hash
    session.execute(insert(table_of(AuditEntry)), rows)
    if write is not None:
        signed = write.submission is not None
        after_commit(session, lambda: write.committed(rows, signed))
    return rows


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a chain verification; ``broken_seq`` is the first bad entry."""

    checked: int
    broken_seq: int | None = None
    reason: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS_HASH

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


_CHAIN_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.at,
    AuditEntry.actor,
    AuditEntry.person,
    AuditEntry.action,
    AuditEntry.entity_type,
    AuditEntry.entity_id,
    AuditEntry.payload_digest,
    AuditEntry.state,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
    AuditEntry.key_id,
    AuditEntry.signature,
)


def verify_chain(
    session: Session,
    trusted: Mapping[str, str],
    progress: Any = None,
    checkpoints: Mapping[int, str] | None = None,
) -> VerifyResult:
    """Recompute every hash and check every signature against ``trusted`` (key id → public
    key, from configuration — see ``audit.keys``); stop at the first broken entry.

    ``checkpoints`` (seq → head hash) are compared on the way, so a checkpointed prefix that
    was rewritten or cut off is named even though the rest of the chain is consistent.
    """
    from cryptography.exceptions import InvalidSignature

    from silkgate.core.signing import load_public_key

    public = {k: load_public_key(v) for k, v in trusted.items()}
    pending = dict(checkpoints or {})
    prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    stmt = select(*_CHAIN_COLUMNS).order_by(AuditEntry.seq).execution_options(yield_per=5000)
    for entry in session.execute(stmt):
        seq = entry.seq
        if seq != expected_seq:
            return VerifyResult(checked, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return VerifyResult(checked, seq, "previous-hash link does not match")
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
        if _entry_hash(seq, at, entry, entry.payload_digest, prev) != entry.entry_hash:
            return VerifyResult(checked, seq, "content does not match its hash")
        key = public.get(entry.key_id)
        if key is None:
            return VerifyResult(
                checked,
                seq,
                f"signed by key {entry.key_id}, which is not a pinned platform key "
                "(SILKGATE_PLATFORM_VERIFY_KEYS or the pinned key file)",
            )
        try:
            key.verify(base64.b64decode(entry.signature), entry.entry_hash.encode("ascii"))
        except (InvalidSignature, ValueError):
            return VerifyResult(checked, seq, "signature does not verify")
        expected = pending.pop(seq, None)
        if expected is not None and expected != entry.entry_hash:
            return VerifyResult(
                checked,
                seq,
                "hash differs from the signed checkpoint at this entry: this entry or one "
                "before it was changed",
            )
        prev = entry.entry_hash
        expected_seq += 1
        checked += 1
        if progress is not None and checked % 1000 == 0:
            progress(1000)
    if progress is not None:
        progress(checked % 1000)
    if pending:
        first = min(pending)
        return VerifyResult(
            checked,
            first,
            f"a signed checkpoint covers entry {first}, but the log ends at entry {checked}: "
            "entries were removed",
            checked,
            prev,
        )
    return VerifyResult(checked, head_seq=checked, head_hash=prev)


def count_entries(session: Session) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def trail(session: Session, entity_type: str, entity_id: str) -> list[AuditEntry]:
    """All entries about one entity, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.seq)
    )
    return list(session.scalars(stmt))


def head(session: Session) -> tuple[int, str]:
    """Sequence number and hash of the newest entry (0 and the genesis hash when empty)."""
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

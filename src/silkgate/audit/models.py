"""Audit log tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from silkgate.core.db import Base


class SigningKey(Base):
    """A public key that has signed audit entries (the platform key, possibly rotated).

    A record for people, not a trust anchor: ``audit verify`` trusts only pinned keys.
    """

    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One audited event; ``entry_hash`` covers the previous hash, so edits break the chain."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(120))
    # the person of the actor organization (a console user's login); None for systems
    person: Mapped[str | None] = mapped_column(String(120), nullable=True)
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    payload_digest: Mapped[str] = mapped_column(String(64))
    # The entity's resulting state, for small records whose events alone do not say it
    # (organizations and their keys, an office's active model); covered by the entry hash.
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)


class SignedSubmission(Base):
    """A write request an organization signed (detached JWS), verified and kept as evidence.

    The exact body is kept: the signature covers those bytes, not the record as stored, so
    only with them can anyone check it again later. Its ``signed_submission`` audit entry
    records the digests of the JWS and of the body in the write's own transaction.
    """

    __tablename__ = "signed_submissions"

    id: Mapped[str] = mapped_column(String(22), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(80))
    key_id: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(64))  # the key at the time: keys rotate
    alg: Mapped[str] = mapped_column(String(16))
    jws: Mapped[str] = mapped_column(Text)
    jws_sha256: Mapped[str] = mapped_column(String(64), unique=True)  # a JWS is used once
    method: Mapped[str] = mapped_column(String(10))
    target: Mapped[str] = mapped_column(Text)
    iat: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignedSubmissionRecord(Base):
    """A record a signed write created or changed (many for a batch)."""

    __tablename__ = "signed_submission_records"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    submission_id: Mapped[str] = mapped_column(ForeignKey("signed_submissions.id"), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))

    __table_args__ = (Index("ix_signed_submission_records_entity", "entity_type", "entity_id"),)

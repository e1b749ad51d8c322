"""API shapes of the audit log: signed checkpoints, receipts and signed submissions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CheckpointOut(BaseModel):
    """The chain's head signed by the platform key; keep it to check the log later."""

    type: str = Field(description="Always silkgate.audit.checkpoint.v1.")
    seq: int = Field(description="Sequence number of the newest entry covered.")
    head_hash: str = Field(description="entry_hash of that entry (hex SHA-256).")
    at: str = Field(description="When the platform signed it (RFC 3339, UTC).")
    key_id: str = Field(description="Which pinned platform key signed it.")
    signature: str = Field(
        description="Base64 Ed25519 signature over the canonical JSON of the other fields."
    )


class ReceiptEntry(BaseModel):
    """The newest audit entry about the declaration the caller may see when the receipt was
    issued (``declarations.history``: a reader other than the owner and the lodging customs
    sees only the state changes shared with it)."""

    seq: int
    action: str
    entry_hash: str | None = Field(
        description="Only for the declarant and the lodging customs: with a neighbouring "
        "entry's hash it would let withheld data be guessed."
    )


class ReceiptOut(BaseModel):
    """What the platform has recorded about one declaration, signed by the platform key.

    ``entry`` says where in the audit log; ``checkpoint`` is the newest signed checkpoint.
    The signature covers the canonical JSON of every other field, ``checkpoint`` included.
    """

    type: str = Field(description="Always silkgate.receipt.v1.")
    declaration_id: str
    version: int | None = Field(description="None when the caller's agreements withhold it.")
    status: str | None = Field(description="None when the caller's agreements withhold it.")
    view: str = Field(
        description="full (declarant, lodging customs), pre_arrival (the other side's customs "
        "under a pre-arrival agreement) or shared (other agreements)."
    )
    payload_digest: str = Field(
        description="SHA-256 of the canonical JSON of the payload as the caller may read it "
        "(pre-arrival: without the driver's personal data unless an agreement names it)."
    )
    entry: ReceiptEntry | None = Field(
        description="None when the caller may see none of the declaration's audit entries."
    )
    checkpoint: CheckpointOut | None = Field(
        description="Covers the newest entry about the declaration, seen or not."
    )
    issued_at: str
    key_id: str
    signature: str


class SubmissionRecord(BaseModel):
    """A record the signed write created or changed."""

    entity_type: str
    entity_id: str


class SubmissionOut(BaseModel):
    """A signed write as stored: the detached JWS, the exact body it covers and the key."""

    id: str
    organization: str
    key_id: str = Field(description="The registered key's id (first 16 hex of its SHA-256).")
    public_key: str = Field(description="The organization's key when it signed (base64).")
    alg: str
    jws: str = Field(description="The X-JWS-Signature value as received (header..signature).")
    jws_sha256: str
    method: str
    target: str = Field(description="Path and query as signed (htu).")
    iat: int
    body_base64: str = Field(description="The request body exactly as signed (base64).")
    body_sha256: str
    received_at: datetime
    records: list[SubmissionRecord]

"""Signed receipts: what the platform recorded about a declaration, for counterpart parties.

A receipt names the declaration's current version and status, the digest of its payload and
the audit entry that recorded the latest of it, and carries the newest signed checkpoint — so a
counterpart organization holds evidence outside the database. Later exchange messages reuse
``sign_receipt`` / ``verify_receipt`` for any record, not only declarations.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from silkgate.audit import checkpoints
from silkgate.audit.models import AuditEntry
from silkgate.audit.service import AuditSigner
from silkgate.core.errors import Conflict, FieldError
from silkgate.core.platform import Platform
from silkgate.core.signing import canonical_json, sha256_hex, verify
from silkgate.declarations.access import View, redact
from silkgate.declarations.service import load_visible
from silkgate.registry.service import Caller

RECEIPT_TYPE = "silkgate.receipt.v1"


def sign_receipt(signer: AuditSigner, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` plus type, issue time, key id and the signature over all of it."""
    unsigned = {
        **body,
        "type": RECEIPT_TYPE,
        "issued_at": datetime.now(UTC).isoformat(),
        "key_id": signer.key_id,
    }
    return {**unsigned, "signature": signer.sign(canonical_json(unsigned))}


def verify_receipt(receipt: Mapping[str, Any], trusted: Mapping[str, str]) -> bool:
    """True if the receipt, and the checkpoint inside it, are signed by a pinned key."""
    unsigned = {k: v for k, v in receipt.items() if k != "signature"}
    public = trusted.get(str(receipt.get("key_id")))
    if public is None or not verify(
        public, str(receipt.get("signature")), canonical_json(unsigned)
    ):
        return False
    cp = receipt.get("checkpoint")
    return cp is None or checkpoints.Checkpoint.from_dict(cp).verify(trusted)


def declaration_receipt(platform: Platform, caller: Caller, decl_id: str) -> dict[str, Any]:
    """A signed receipt for a declaration the caller may see (404 otherwise)."""
    with platform.db.session() as s:
        decl, view = load_visible(s, caller, decl_id)
        payload = decl.payload
        if view is View.PRE_ARRIVAL:
            # The digest of what this caller received: a digest of the full payload would let
            # the other side test guesses of the driver's personal data.
            payload = redact(payload, platform.settings.share_driver_data_across_border)
        entry = s.execute(
            select(AuditEntry.seq, AuditEntry.action, AuditEntry.entry_hash)
            .where(AuditEntry.entity_type == "declaration", AuditEntry.entity_id == decl_id)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).first()
        if entry is None:  # rows without a log entry: verify will name them
            raise Conflict(
                f"the audit log has no entry for declaration {decl_id}; no receipt can be issued",
                [FieldError("/declaration_id", "not_audited", "no audit entry")],
            )
        body: dict[str, Any] = {
            "declaration_id": decl.id,
            "version": decl.version,
            "status": decl.status,
            "view": "pre_arrival" if view is View.PRE_ARRIVAL else "full",
            "payload_digest": sha256_hex(canonical_json(payload)),
            "entry": {"seq": entry.seq, "action": entry.action, "entry_hash": entry.entry_hash},
        }
    cp = checkpoints.latest_covering(platform, int(entry.seq))
    return sign_receipt(platform.signer, {**body, "checkpoint": cp.as_dict()})

"""Signed receipts: what the platform recorded, for the party that sent it or may see it.

Two kinds, one signing key (the platform's, which signs the audit log) and one verifier:

- a **record receipt** (``silkgate.receipt.v1``, JSON with a ``signature`` member): what the
  platform holds about a declaration now — version, status, payload digest, the newest audit
  entry about it the caller may see and a checkpoint covering the newest entry
  (``GET …/declarations/{id}/receipt``);
- a **write receipt** (``silkgate.receipt.write.v1``, a compact JWS in the ``Silkgate-Receipt``
  header of every successful write): it binds the SHA-256 of the request body and of the
  response body, the time, the organization, the method and target, the request's verified
  signature, the audit entries the write made (the last one's hash) and the newest signed
  checkpoint — as X-Road binds a request and its response.

``check_receipt`` verifies either offline, with only the platform's public key
(``silkgate receipt verify``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from silkgate.audit import checkpoints
from silkgate.audit.service import AuditSigner, trail
from silkgate.core import jws
from silkgate.core.errors import Conflict, FieldError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.core.signing import canonical_json, load_public_key, sha256_hex, verify
from silkgate.core.validation import load_json
from silkgate.core.writes import WriteContext
from silkgate.declarations import history
from silkgate.declarations.models import Declaration
from silkgate.declarations.service import as_asking, read_decided
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.enforce import Asking, Point, covers
from silkgate.exchange.agreements.fields import filter_document
from silkgate.registry.service import Caller

RECEIPT_TYPE = "silkgate.receipt.v1"
WRITE_RECEIPT_TYPE = "silkgate.receipt.write.v1"
RECEIPT_HEADER = "Silkgate-Receipt"


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


def declaration_receipt(platform: Platform, who: Caller | Asking, decl_id: str) -> dict[str, Any]:
    """A signed receipt for a declaration, as the policy decision lets the caller read it (404
    when nothing is allowed, 400 when a declared purpose would allow some). The digest is of
    the payload as answered to this caller: a digest of the whole would let another
    organization test guesses of what is withheld (the driver's personal data). The entry
    cited is the newest the caller may see (``declarations.history``; ``null`` when none),
    its hash only for the owner and the lodging customs; the checkpoint covers the newest
    entry about the declaration."""
    with platform.db.session() as s:
        # status and log entry from one state: the risk worker changes both in one transaction
        # and skips a row held for share (PostgreSQL; SQLite already reads one snapshot)
        s.execute(
            select(Declaration.id).where(Declaration.id == decl_id).with_for_update(read=True)
        )
        point = Point(platform, s, as_asking(who))
        decl, record, decision = read_decided(point, s, decl_id)
        payload = decl.payload
        view = "full"
        if not decision.full:
            payload = filter_document({"data": payload}, decision.fields).get("data", {})
            pre = Category.PRE_ARRIVAL in decision.categories
            view = "pre_arrival" if pre else "shared"
        point.disclose(record, decl.id, decision, {"data": payload})
        point.flush()
        entries = trail(s, "declaration", decl_id)
        if not entries:  # rows without a log entry: verify will name them
            raise Conflict(
                f"the audit log has no entry for declaration {decl_id}; no receipt can be issued",
                [FieldError("/declaration_id", "not_audited", "no audit entry")],
            )
        seen = history.visible(point, record, decision, entries)
        cited = None
        if seen:
            e = seen[-1]
            cited = {
                "seq": e.entry.seq,
                "action": e.entry.action,
                "entry_hash": e.entry.entry_hash if e.full else None,
            }
        body: dict[str, Any] = {
            "declaration_id": decl.id,
            "version": decl.version if covers(decision, "/version") else None,
            "status": decl.status if covers(decision, "/status") else None,
            "view": view,
            "payload_digest": sha256_hex(canonical_json(payload)),
            "entry": cited,
        }
        newest = entries[-1].seq
    cp = checkpoints.latest_covering(platform, int(newest))
    return sign_receipt(platform.signer, {**body, "checkpoint": cp.as_dict()})


def write_receipt_claims(
    write: WriteContext,
    status: int,
    request: tuple[str | None, int | None],
    response: tuple[str, int],
    checkpoint: checkpoints.Checkpoint | None,
) -> dict[str, Any]:
    """The claims of a write receipt; ``request``/``response`` are (SHA-256 hex, length) of
    the bodies (the request's None if it could not be read to the end)."""
    sub = write.submission
    signature = None
    if sub is not None:
        signature = {
            "key_id": sub.key_id,
            "jws_sha256": sub.jws_sha256,
            "submission_id": sub.id if write.submission_stored else None,
        }
    entries = sorted(write.entries)
    audit = None
    if entries:
        audit = {
            "entries": len(entries),
            "first_seq": entries[0][0],
            "last_seq": entries[-1][0],
            "last_entry_hash": entries[-1][1],
        }
    return {
        "type": WRITE_RECEIPT_TYPE,
        "issued_at": datetime.now(UTC).isoformat(),
        "organization": write.member_id,
        "request": {
            "method": write.method,
            "target": write.target,
            "sha256": request[0],
            "bytes": request[1],
            "signature": signature,
        },
        "response": {"status": status, "sha256": response[0], "bytes": response[1]},
        "audit": audit,
        "checkpoint": checkpoint.as_dict() if checkpoint is not None else None,
    }


def sign_write_receipt(signer: AuditSigner, claims: dict[str, Any]) -> str:
    """The claims as a compact JWS signed by the platform key (``kid`` = its key id)."""
    return jws.compact_with(
        signer.sign_raw,
        {"kid": signer.key_id, "typ": "silkgate-receipt+jws"},
        canonical_json(claims),
    )


class BadReceipt(ValueError):
    """Input that is not a receipt at all (not JSON, not a JWS)."""


@dataclass
class ReceiptCheck:
    """What ``check_receipt`` found: the receipt's kind and claims, and every problem."""

    kind: str  # "write" or "record"
    claims: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_receipt(text: str) -> tuple[str, dict[str, Any], jws.Compact | None]:
    """(kind, claims, parsed JWS or None) of a receipt: a JSON record receipt, or a write
    receipt's compact JWS — bare, or the ``Silkgate-Receipt: …`` line of a header dump such as
    ``curl -D``."""
    value = text.strip()
    prefix = RECEIPT_HEADER.lower() + ":"
    for line in value.splitlines():
        if line.lower().startswith(prefix):
            value = line.split(":", 1)[1].strip()
            break
    if value.startswith("{"):
        try:
            data = load_json(value)
        except ValidationFailed as exc:
            raise BadReceipt(f"not a JSON receipt: {exc}") from None
        if not isinstance(data, dict):
            raise BadReceipt("not a JSON object")
        return "record", data, None
    try:
        parsed = jws.parse_compact(value)
    except jws.JWSError as exc:
        raise BadReceipt(f"not a receipt (JSON, or a compact JWS): {exc.message}") from None
    try:
        claims = load_json(parsed.payload)
    except ValidationFailed:
        raise BadReceipt("the JWS payload is not JSON") from None
    if not isinstance(claims, dict):
        raise BadReceipt("the JWS payload is not a JSON object")
    return "write", claims, parsed


def check_receipt(
    text: str,
    trusted: Mapping[str, str],
    request: bytes | None = None,
    response: bytes | None = None,
) -> ReceiptCheck:
    """Verify a receipt with pinned platform keys only (key id → base64 public key): its
    signature, the checkpoint inside it and, given the bodies, the digests they must have."""
    kind, claims, parsed = read_receipt(text)
    out = ReceiptCheck(kind, claims)
    if parsed is None:
        if claims.get("type") != RECEIPT_TYPE:
            out.problems.append(f"type is {claims.get('type')!r}, not {RECEIPT_TYPE}")
        public = trusted.get(str(claims.get("key_id")))
        unsigned = {k: v for k, v in claims.items() if k != "signature"}
        if public is None:
            out.problems.append(f"signed by key {claims.get('key_id')!r}, which is not trusted")
        elif not verify(public, str(claims.get("signature")), canonical_json(unsigned)):
            out.problems.append("the receipt's signature does not verify: it was changed or forged")
        if request is not None or response is not None:
            out.problems.append(
                "--request/--response belong to write receipts; a record receipt binds the "
                "record's payload digest"
            )
    else:
        kid = parsed.header.get("kid")
        public = trusted.get(str(kid))
        if claims.get("type") != WRITE_RECEIPT_TYPE:
            out.problems.append(f"type is {claims.get('type')!r}, not {WRITE_RECEIPT_TYPE}")
        if public is None:
            out.problems.append(f"signed by key {kid!r}, which is not trusted")
        elif not parsed.verify(load_public_key(public)):
            out.problems.append("the receipt's signature does not verify: it was changed or forged")
        _check_body(out, "request", request)
        _check_body(out, "response", response)
    cp = claims.get("checkpoint")
    if cp is not None:
        try:
            if not checkpoints.Checkpoint.from_dict(cp).verify(trusted):
                out.problems.append("the checkpoint inside does not verify with a trusted key")
        except checkpoints.BadCheckpoint as exc:
            out.problems.append(str(exc))
    return out


def _check_body(out: ReceiptCheck, part: str, body: bytes | None) -> None:
    if body is None:
        return
    section = out.claims.get(part)
    expected = section.get("sha256") if isinstance(section, dict) else None
    if expected != sha256_hex(body):
        out.problems.append(
            f"the {part} file is not the {part} this receipt binds (SHA-256 {sha256_hex(body)}, "
            f"receipt says {expected})"
        )

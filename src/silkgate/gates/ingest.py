"""Checking one signed gate event: shape, time, signature and the reporter's right to report it.

Pure functions (no database); ``service.py`` stores what passes.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from silkgate.core.errors import FieldError, ValidationFailed, pointer
from silkgate.core.signing import b64, canonical_json, sha256_hex
from silkgate.core.validation import describe, load_json
from silkgate.gates.schemas import GateEventIn, SignedGateEvent
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller

REPORTER_ROLES = (Role.CUSTOMS, Role.E_PORT)


@dataclass
class Rejected(Exception):
    """A line refused: HTTP-like status and the fields at fault."""

    status: int
    errors: list[FieldError] = field(default_factory=list)


@dataclass(frozen=True)
class Checked:
    """An event that passed every check that needs no database."""

    event_id: str
    event: GateEventIn
    content: dict[str, Any]  # the event object as signed
    signature: str
    digest: str  # SHA-256 of the canonical audit payload


def sign_event(key: Ed25519PrivateKey, event: dict[str, Any]) -> str:
    """Detached Ed25519 signature (base64) over the canonical JSON: what a checkpoint sends."""
    return b64(key.sign(canonical_json(event)))


def event_id(reporter: str, event: dict[str, Any]) -> str:
    """SHA-256 of the reporter (JSON string), a newline and the event's canonical JSON as signed:
    the same event always gets this id."""
    return sha256_hex(json.dumps(reporter).encode() + b"\n" + canonical_json(event))


def truck_key(nationality: str, plate: str) -> str:
    return f"{nationality}:{plate}"


def parse_line(raw: bytes | str) -> Any:
    """JSON of one line, read strictly (repeated keys, NaN, bad UTF-8 refused): 422 otherwise."""
    try:
        return load_json(raw)
    except ValidationFailed as exc:
        raise Rejected(422, exc.errors) from None


def check(
    obj: Any,
    caller: Caller,
    public_key: Ed25519PublicKey | None,
    crossings: dict[str, tuple[str, ...]],
    now: datetime,
    max_skew: timedelta,
) -> Checked:
    """Every check of one signed event that needs no stored data; raises ``Rejected``."""
    try:
        signed = SignedGateEvent.model_validate(obj)
    except ValidationError as exc:
        raise Rejected(422, _errors(exc, ())) from None
    try:
        ev = GateEventIn.model_validate(signed.event)
    except ValidationError as exc:
        raise Rejected(422, _errors(exc, ("event",))) from None
    if not caller.has(*REPORTER_ROLES):
        raise Rejected(403, [FieldError("", "role", "only customs or an e-port operator reports")])
    countries = crossings.get(ev.crossing)
    if countries is None:
        raise Rejected(
            422, [FieldError("/event/crossing", "unknown", f"no crossing {ev.crossing}")]
        )
    if ev.side not in countries:
        raise Rejected(
            422, [FieldError("/event/side", "not_a_side", f"{ev.crossing} has sides {countries}")]
        )
    if ev.side != caller.country or ev.crossing not in caller.crossings:
        raise Rejected(
            403,
            [
                FieldError(
                    "/event/side",
                    "not_your_side",
                    f"{caller.member_id} does not report for the {ev.side} side of {ev.crossing}",
                )
            ],
        )
    if ev.eventTime.astimezone(UTC) > now + max_skew:
        raise Rejected(
            422,
            [
                FieldError(
                    "/event/eventTime",
                    "in_future",
                    f"more than {max_skew.total_seconds():.0f} s ahead of the server clock",
                )
            ],
        )
    if public_key is None:
        raise Rejected(
            422,
            [
                FieldError(
                    "/signature",
                    "no_public_key",
                    f"{caller.member_id} has no registered signing key (silkgate org set-key)",
                )
            ],
        )
    message = canonical_json(signed.event)
    try:
        sig = base64.b64decode(signed.signature, validate=True)
        public_key.verify(sig, message)
    except (InvalidSignature, binascii.Error, ValueError):
        raise Rejected(
            422,
            [
                FieldError(
                    "/signature",
                    "bad_signature",
                    "does not verify over the event's canonical JSON with the reporter's key",
                )
            ],
        ) from None
    # id and audit digest reuse the canonical bytes the signature was checked over
    eid = sha256_hex(json.dumps(caller.member_id).encode() + b"\n" + message)
    audit_payload = (
        b'{"event":'
        + message
        + b',"reporter":'
        + json.dumps(caller.member_id, ensure_ascii=False).encode()
        + b',"signature":'
        + json.dumps(signed.signature).encode()
        + b"}"
    )
    return Checked(eid, ev, signed.event, signed.signature, sha256_hex(audit_payload))


def _errors(exc: ValidationError, prefix: tuple[str, ...]) -> list[FieldError]:
    out = []
    for e in exc.errors():
        loc = prefix + tuple(e.get("loc", ()))
        out.append(FieldError(pointer(*loc), *describe(e)))
    return out

"""Checking one signed gate event: shape, time, signature and the reporter's right to report it.

Pure functions (no database); ``service.py`` stores what passes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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


def stored_columns(ev: GateEventIn) -> dict[str, Any]:
    """The ``gate_events`` columns an event's signed content determines (views read these);
    ``audit verify`` derives them again from the stored content."""
    return {
        "crossing_code": ev.crossing,
        "side": ev.side,
        "read_point": ev.readPoint.value,
        "biz_step": ev.bizStep.value,
        "disposition": ev.disposition.value if ev.disposition else None,
        "truck": truck_key(ev.truck.nationality, ev.truck.plate),
        "event_time": ev.eventTime.astimezone(UTC),
        "event_offset": utc_offset(ev.eventTime),
        "corrects": ev.corrects,
    }


def stored_refs(ev: GateEventIn) -> list[tuple[str, str]]:
    """(ref_type, ref) of each ``gate_event_refs`` row of the event, in its order."""
    return [(t.type.value, t.bizTransaction) for t in ev.bizTransactionList]


def utc_offset(t: datetime) -> str:
    """ "+08:00": the offset the event time was written with (kept for local-time splits)."""
    off = t.utcoffset() or timedelta(0)
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


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
    return precheck(obj, caller, public_key, crossings, now, max_skew).verify()


@dataclass(frozen=True)
class Pending:
    """An event that passed every check but its signature, with what the signature covers."""

    event: GateEventIn
    content: dict[str, Any]
    signature: str
    raw_signature: bytes
    message: bytes  # the event's canonical JSON, what the signature is over
    reporter: str
    public_key: Ed25519PublicKey

    def verify(self) -> Checked:
        """Check the signature (Ed25519 releases the GIL); raises ``Rejected`` naming it."""
        try:
            self.public_key.verify(self.raw_signature, self.message)
        except InvalidSignature:
            raise _bad_signature() from None
        # id and audit digest reuse the canonical bytes the signature was checked over
        message, reporter = self.message, self.reporter
        eid = sha256_hex(json.dumps(reporter).encode() + b"\n" + message)
        audit_payload = (
            b'{"event":'
            + message
            + b',"reporter":'
            + json.dumps(reporter, ensure_ascii=False).encode()
            + b',"signature":'
            + json.dumps(self.signature).encode()
            + b"}"
        )
        return Checked(eid, self.event, self.content, self.signature, sha256_hex(audit_payload))


def _bad_signature() -> Rejected:
    return Rejected(
        422,
        [
            FieldError(
                "/signature",
                "bad_signature",
                "does not verify over the event's canonical JSON with the reporter's key",
            )
        ],
    )


def precheck(
    obj: Any,
    caller: Caller,
    public_key: Ed25519PublicKey | None,
    crossings: dict[str, tuple[str, ...]],
    now: datetime,
    max_skew: timedelta,
) -> Pending:
    """Every check of ``check`` in the same order except the signature arithmetic itself,
    which ``Pending.verify`` does (so a batch can verify on several threads)."""
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
    try:
        sig = base64.b64decode(signed.signature, validate=True)
    except (binascii.Error, ValueError):
        raise _bad_signature() from None
    if len(sig) != 64:  # what Ed25519 verify would refuse too
        raise _bad_signature()
    return Pending(
        ev,
        signed.event,
        signed.signature,
        sig,
        canonical_json(signed.event),
        caller.member_id,
        public_key,
    )


#: Lines handed to a verifying thread at a time: small enough to start verifying early.
VERIFY_CHUNK = 256


def check_many(
    objs: Sequence[tuple[int, Any]],
    caller: Caller,
    public_key: Ed25519PublicKey | None,
    crossings: dict[str, tuple[str, ...]],
    now: datetime,
    max_skew: timedelta,
    threads: int,
    load: Callable[[Any], Any] | None = None,
) -> list[tuple[int, Checked | Rejected]]:
    """``check`` of numbered objects, or of what ``load`` (a line parser, which may raise
    ``Rejected``) makes of each item; the outcomes in line order.

    With ``threads`` > 1, signatures are verified on worker threads while this thread goes
    on checking the next lines: the Ed25519 arithmetic, most of the cost, runs without the
    GIL in pyca/cryptography, so the verifications of a batch use every core.
    """
    out: list[tuple[int, Checked | Rejected]] = []
    pending: list[tuple[int, Pending]] = []

    def verify(chunk: list[tuple[int, Pending]]) -> list[tuple[int, Checked | Rejected]]:
        done: list[tuple[int, Checked | Rejected]] = []
        for no, p in chunk:
            try:
                done.append((no, p.verify()))
            except Rejected as r:
                done.append((no, r))
        return done

    def precheck_all(submit: Any) -> None:
        for no, item in objs:
            try:
                obj = item if load is None else load(item)
                pending.append((no, precheck(obj, caller, public_key, crossings, now, max_skew)))
            except Rejected as r:
                out.append((no, r))
            if submit is not None and len(pending) >= VERIFY_CHUNK:
                submit(pending[:])
                pending.clear()

    if threads <= 1 or len(objs) < 2 * VERIFY_CHUNK:
        precheck_all(None)
        out += verify(pending)
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="gate-verify") as pool:
            futures = []
            precheck_all(lambda chunk: futures.append(pool.submit(verify, chunk)))
            futures.append(pool.submit(verify, pending))
            for f in futures:
                out += f.result()
    out.sort(key=lambda x: x[0])
    return out


def _errors(exc: ValidationError, prefix: tuple[str, ...]) -> list[FieldError]:
    out = []
    for e in exc.errors():
        loc = prefix + tuple(e.get("loc", ()))
        out.append(FieldError(pointer(*loc), *describe(e)))
    return out

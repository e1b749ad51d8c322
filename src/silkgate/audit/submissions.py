"""Signed submissions: an organization signs a write request with its registered Ed25519 key.

The signature is a detached JWS (``core.jws``) in the ``X-JWS-Signature`` header over the exact
request body, with ``kid`` (the registered key's id), ``iat`` (Unix seconds), ``htm`` (the HTTP
method) and ``htu`` (the path and query as sent) in its protected header, so it says who asked
for which change, when. Authentication checks it on every write (``check_request``); the write's
transaction stores it with the records it wrote (``stored_with``, called by ``audit.append``).
See docs/audit.md, "Signed submissions and receipts".
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from silkgate.audit.models import SignedSubmission, SignedSubmissionRecord
from silkgate.core import jws
from silkgate.core.db import table_of
from silkgate.core.errors import FieldError, NotFound, SilkgateError
from silkgate.core.signing import key_id as key_id_of
from silkgate.core.signing import load_public_key, sha256_hex
from silkgate.core.writes import Submission, WriteContext, current_write

if TYPE_CHECKING:
    from fastapi import Request

    from silkgate.audit.service import AuditEvent
    from silkgate.core.platform import Platform
    from silkgate.registry.service import Caller

HEADER = "X-JWS-Signature"
POINTER = "/headers/x-jws-signature"
UNDERSTOOD = ("iat", "htm", "htu")  # the extensions ``crit`` may list
ENTITY = "signed_submission"
ACTION = "submission.signed"
_SESSION_KEY = "silkgate_submissions"


class SignatureRefused(SilkgateError):
    """The request's signature is missing where required, malformed or does not verify."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(
            "Request signature not accepted",
            status,
            f"{HEADER}: {message}",
            [FieldError(POINTER, code, message)],
            "request-signature",
        )


def new_submission_id() -> str:
    """Time-ordered id: 12 hex digits of milliseconds then 10 random hex digits."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(5)}"


def request_target(scope: Mapping[str, Any]) -> str:
    """Path and query as the client sent them (``htu`` must equal this)."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(scope.get("path", ""))
    query = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def verify_request(
    caller: Caller,
    value: str,
    body: bytes,
    method: str,
    target: str,
    now: float,
    max_age: float,
) -> Submission:
    """Check one ``X-JWS-Signature`` value against the caller's registered key.

    Raises ``SignatureRefused``: 422 for a value that cannot be read (``malformed``,
    ``not_detached``, ``unsupported_alg``, ``unsupported_crit``); 401 for one that can but is
    not accepted (``no_key``, ``unknown_kid``, ``stale``, ``wrong_target``, ``bad_signature``).
    """
    try:
        parsed = jws.parse_detached(value, UNDERSTOOD)
    except jws.JWSError as exc:
        raise SignatureRefused(422, exc.code, exc.message) from None
    header = parsed.header
    for name in ("kid", "htm", "htu"):
        if not isinstance(header.get(name), str):
            raise SignatureRefused(422, "malformed", f"the protected header needs {name} (text)")
    iat = header.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise SignatureRefused(
            422, "malformed", "the protected header needs iat (Unix seconds, an integer)"
        )
    if caller.signing_key is None:
        raise SignatureRefused(
            401,
            "no_key",
            f"{caller.member_id} has no registered signing key ('silkgate org keygen')",
        )
    registered = key_id_of(caller.signing_key)
    if header["kid"] != registered:
        raise SignatureRefused(
            401,
            "unknown_kid",
            f"kid {header['kid'][:40]!r} is not {caller.member_id}'s registered key ({registered})",
        )
    age = now - iat
    if abs(age) > max_age:
        when = f"{int(age)} s old" if age > 0 else f"{int(-age)} s in the future"
        raise SignatureRefused(
            401, "stale", f"iat is {when}; at most {int(max_age)} s either way (sign again)"
        )
    if header["htm"] != method:
        raise SignatureRefused(
            401, "wrong_target", f"signed for method {header['htm'][:10]!r}, sent as {method}"
        )
    if header["htu"] != target:
        raise SignatureRefused(
            401, "wrong_target", f"signed for {header['htu'][:200]!r}, sent to {target!r}"
        )
    if not parsed.verify(body, load_public_key(caller.signing_key)):
        raise SignatureRefused(
            401,
            "bad_signature",
            f"does not verify over the request body with {caller.member_id}'s key {registered}",
        )
    return Submission(
        id=new_submission_id(),
        organization_id=caller.id,
        member_id=caller.member_id,
        jws=value,
        jws_sha256=sha256_hex(value.encode("ascii")),
        alg=str(header["alg"]),
        key_id=registered,
        public_key=caller.signing_key,
        iat=iat,
        method=method,
        target=target,
        body=body,
        body_sha256=sha256_hex(body),
    )


def sign_request(
    key: Ed25519PrivateKey,
    method: str,
    target: str,
    body: bytes,
    iat: int | None = None,
    encoded: bool = True,
) -> str:
    """The ``X-JWS-Signature`` value a client sends (``encoded=False``: RFC 7797 form)."""
    from silkgate.core.signing import public_key_b64

    header = {
        "kid": key_id_of(public_key_b64(key)),
        "iat": int(time.time()) if iat is None else iat,
        "htm": method,
        "htu": target,
    }
    return jws.sign_detached(key, header, body, encoded)


async def check_request(request: Request, platform: Platform, caller: Caller) -> None:
    """For a write: verify its signature (refusing it if missing and required) and hand the
    verified submission to the write's context, which stores it with the records written."""
    from starlette.concurrency import run_in_threadpool

    # read the body now, signed or not: the receipt hashes it as it passes
    body = await request.body()
    values = request.headers.getlist(HEADER)
    if not values:
        if platform.settings.requires_signed_writes(caller.member_id):
            raise SignatureRefused(
                401, "missing", f"{caller.member_id} must sign its writes (detached JWS)"
            )
        return
    if len(values) > 1:
        raise SignatureRefused(422, "malformed", "send the header once")
    sub = verify_request(
        caller,
        values[0],
        body,
        request.method,
        request_target(request.scope),
        time.time(),
        platform.settings.signed_write_max_age,
    )
    used = await run_in_threadpool(_used_by, platform, sub.jws_sha256)
    if used is not None:
        raise SignatureRefused(
            401,
            "replayed",
            f"this signature was already used (submission {used}); sign each request anew",
        )
    write = current_write()
    if write is not None:
        write.submission = sub


def _used_by(platform: Platform, jws_sha256: str) -> str | None:
    with platform.db.snapshot() as s:
        return s.scalar(
            select(SignedSubmission.id).where(SignedSubmission.jws_sha256 == jws_sha256)
        )


def submission_state(sub: Submission) -> dict[str, Any]:
    """What the audit entry of a signed submission records (the body by its digest)."""
    return {
        "organization": sub.member_id,
        "key_id": sub.key_id,
        "public_key": sub.public_key,
        "alg": sub.alg,
        "method": sub.method,
        "target": sub.target,
        "iat": sub.iat,
        "jws_sha256": sub.jws_sha256,
        "body_sha256": sub.body_sha256,
    }


def stored_with(
    session: Session, write: WriteContext, events: Sequence[AuditEvent]
) -> list[AuditEvent]:
    """Store the write's verified submission with the records ``events`` are about, in the
    caller's transaction; returns the audit event to append after them (none if unsigned).

    The submission row is written by the first transaction of the write; each transaction
    links the records it wrote and appends a ``submission.signed`` entry listing them.
    """
    from silkgate.audit.service import AuditEvent

    sub = write.submission
    if sub is None or not events:
        return []
    records: list[tuple[str, str]] = []
    for e in events:
        pair = (e.entity_type, e.entity_id)
        if pair not in records:
            records.append(pair)
    inserted: set[str] = session.info.setdefault(_SESSION_KEY, set())
    if not write.submission_stored and sub.id not in inserted:
        session.execute(
            insert(table_of(SignedSubmission)),
            [
                {
                    "id": sub.id,
                    "organization_id": sub.organization_id,
                    "member_id": sub.member_id,
                    "key_id": sub.key_id,
                    "public_key": sub.public_key,
                    "alg": sub.alg,
                    "jws": sub.jws,
                    "jws_sha256": sub.jws_sha256,
                    "method": sub.method,
                    "target": sub.target,
                    "iat": sub.iat,
                    "body": sub.body,
                    "body_sha256": sub.body_sha256,
                    "received_at": datetime.now(UTC),
                }
            ],
        )
        inserted.add(sub.id)
    session.execute(
        insert(table_of(SignedSubmissionRecord)),
        [{"submission_id": sub.id, "entity_type": t, "entity_id": i} for t, i in records],
    )
    payload = {**submission_state(sub), "records": [list(r) for r in records]}
    return [AuditEvent(sub.member_id, ACTION, ENTITY, sub.id, payload, state=submission_state(sub))]


def submission_out(row: SignedSubmission, records: list[tuple[str, str]]) -> dict[str, Any]:
    import base64

    return {
        "id": row.id,
        "organization": row.member_id,
        "key_id": row.key_id,
        "public_key": row.public_key,
        "alg": row.alg,
        "jws": row.jws,
        "jws_sha256": row.jws_sha256,
        "method": row.method,
        "target": row.target,
        "iat": row.iat,
        "body_base64": base64.b64encode(row.body).decode("ascii"),
        "body_sha256": row.body_sha256,
        "received_at": row.received_at,
        "records": [{"entity_type": t, "entity_id": i} for t, i in records],
    }


def _records(s: Session, submission_id: str) -> list[tuple[str, str]]:
    rows = s.execute(
        select(SignedSubmissionRecord.entity_type, SignedSubmissionRecord.entity_id)
        .where(SignedSubmissionRecord.submission_id == submission_id)
        .order_by(SignedSubmissionRecord.id)
    )
    return [(r[0], r[1]) for r in rows]


def get_submission(platform: Platform, caller: Caller, submission_id: str) -> dict[str, Any]:
    """A stored submission of the caller's organization (404 for anyone else's)."""
    with platform.db.snapshot() as s:
        row = s.get(SignedSubmission, submission_id)
        if row is None or row.organization_id != caller.id:
            raise NotFound(f"signed submission {submission_id}")
        return submission_out(row, _records(s, row.id))


def submissions_for(
    platform: Platform, caller: Caller, entity_type: str, entity_id: str
) -> list[dict[str, Any]]:
    """The caller's signed submissions that wrote a record, oldest first."""
    with platform.db.snapshot() as s:
        ids = s.scalars(
            select(SignedSubmissionRecord.submission_id)
            .join(SignedSubmission, SignedSubmission.id == SignedSubmissionRecord.submission_id)
            .where(
                SignedSubmissionRecord.entity_type == entity_type,
                SignedSubmissionRecord.entity_id == entity_id,
                SignedSubmission.organization_id == caller.id,
            )
            .distinct()
        ).all()
        rows = s.scalars(
            select(SignedSubmission)
            .where(SignedSubmission.id.in_(ids))
            .order_by(SignedSubmission.id)
        )
        return [submission_out(r, _records(s, r.id)) for r in rows]


def reverify(row: dict[str, Any]) -> bool:
    """Check a stored submission again: its JWS over its body with the key it was made with."""
    import base64

    try:
        parsed = jws.parse_detached(row["jws"], UNDERSTOOD)
    except jws.JWSError:
        return False
    body = base64.b64decode(row["body_base64"])
    return key_id_of(row["public_key"]) == parsed.header.get("kid") and parsed.verify(
        body, load_public_key(row["public_key"])
    )


def document_signed_writes(schema: dict[str, Any]) -> None:
    """Describe in OpenAPI what every authenticated write takes and answers besides its own
    parameters: the optional ``X-JWS-Signature`` (a malformed one is 422) and the
    ``Silkgate-Receipt`` of a successful answer."""
    from silkgate.core.http import problem_responses

    param = {
        "name": HEADER,
        "in": "header",
        "required": False,
        "description": "Detached JWS (header..signature, alg Ed25519 or EdDSA) over the exact "
        "body with the organization's registered key; protected header kid, iat, htm, htu. "
        "Required for organizations listed in SILKGATE_REQUIRE_SIGNED_WRITES. See "
        "docs/audit.md, 'Signed submissions and receipts'.",
        "schema": {"type": "string", "maxLength": jws.MAX_LENGTH},
    }
    receipt = {
        "description": "Compact JWS by the platform key: request and response digests, "
        "organization, route, audit entries and the newest checkpoint "
        "(`silkgate receipt verify`).",
        "schema": {"type": "string"},
    }
    for ops in schema.get("paths", {}).values():
        for method, op in ops.items():
            if method not in ("post", "put", "patch", "delete") or not isinstance(op, dict):
                continue
            responses = op.get("responses", {})
            if "401" not in responses:
                continue  # not an authenticated route
            op.setdefault("parameters", []).append(param)
            responses.setdefault("422", problem_responses(422)[422])
            for status, response in responses.items():
                if status.startswith("2") and isinstance(response, dict):
                    response.setdefault("headers", {})["Silkgate-Receipt"] = receipt

"""Signed writes: a detached JWS over the request body is verified against the organization's
registered key, stored with the records written and in the audit log; forged, stale, replayed,
wrongly addressed or unknown-key signatures are refused naming the header and the reason, and
nothing is stored; organizations required to sign cannot write unsigned."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from silkgate.app import create_app
from silkgate.audit.models import AuditEntry, SignedSubmission, SignedSubmissionRecord
from silkgate.audit.submissions import SignatureRefused, reverify, sign_request, verify_request
from silkgate.audit.verify import verify_all
from silkgate.core import jws
from silkgate.core.platform import Platform
from silkgate.core.signing import key_id, public_key_b64
from silkgate.declarations.models import Declaration
from silkgate.registry import service as registry
from silkgate.registry.service import Caller
from tests.factories import export_cn_to_kz, tokens
from tests.queue.env import Env, make_env

API = "/api/v1"
DECLS = f"{API}/declarations"
POINTER = "/headers/x-jws-signature"


class World:
    """A platform with the demo organizations; the CN broker has a registered signing key."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.env: Env = make_env(platform)
        self.keys = tokens(platform, self.env.ids)
        self.key = Ed25519PrivateKey.generate()
        self.broker = self.env.ids["cn-broker"]
        registry.register_signing_key(platform, self.broker, public_key_b64(self.key), "test")
        self.client = TestClient(create_app(platform=platform))

    def auth(self, who: str = "cn-broker") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def post(
        self,
        path: str,
        body: bytes,
        signature: str | None = None,
        who: str = "cn-broker",
        media: str = "application/json",
        method: str = "POST",
    ) -> Any:
        headers = {**self.auth(who), "Content-Type": media}
        if signature is not None:
            headers["X-JWS-Signature"] = signature
        return self.client.request(method, path, content=body, headers=headers)

    def signed(self, path: str, body: bytes, method: str = "POST", **kw: Any) -> Any:
        return self.post(
            path, body, sign_request(self.key, method, path, body), method=method, **kw
        )

    def count(self, model: Any) -> int:
        with self.platform.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def world(platform: Platform) -> Iterator[World]:
    w = World(platform)
    with w.client:
        yield w


def _body(lrn: str) -> bytes:
    return json.dumps(export_cn_to_kz(lrn), ensure_ascii=False).encode()


def test_signed_lodging_is_stored_with_the_declaration_and_audited(world: World) -> None:
    body = _body("SIG-1")
    r = world.signed(DECLS, body)
    assert r.status_code == 201, r.text
    decl = r.json()["id"]
    listed = world.client.get(
        f"{API}/audit/submissions",
        params={"entity_type": "declaration", "entity_id": decl},
        headers=world.auth(),
    ).json()
    assert len(listed) == 1
    sub = listed[0]
    assert base64.b64decode(sub["body_base64"]) == body  # the exact bytes the JWS covers
    assert sub["key_id"] == key_id(public_key_b64(world.key))
    assert sub["method"] == "POST" and sub["target"] == DECLS
    assert {"entity_type": "declaration", "entity_id": decl} in sub["records"]
    assert reverify(sub)
    # one audit entry records it in the same transaction: its state names both digests
    with world.platform.db.session() as s:
        entry = s.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_type == "signed_submission", AuditEntry.entity_id == sub["id"]
            )
        ).one()
        submitted = s.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_id == decl, AuditEntry.action == "declaration.submitted"
            )
        ).one()
    assert entry.state is not None
    assert entry.state["jws_sha256"] == sub["jws_sha256"]
    assert entry.state["body_sha256"] == sub["body_sha256"]
    assert entry.seq > submitted.seq
    # the owner alone reads it; the same id is 404 for anyone else
    one = f"{API}/audit/submissions/{sub['id']}"
    assert world.client.get(one, headers=world.auth()).json()["jws"] == sub["jws"]
    assert world.client.get(one, headers=world.auth("kz-customs")).status_code == 404
    outcome = verify_all(world.platform)
    assert outcome.ok, outcome


def test_signed_amend_cancel_batch_and_booking(world: World) -> None:
    decl = world.signed(DECLS, _body("SIG-2")).json()["id"]
    amended = json.dumps(export_cn_to_kz("SIG-2"), indent=1).encode()  # other bytes
    r = world.signed(f"{DECLS}/{decl}", amended, method="PUT")
    assert r.status_code == 200, r.text
    r = world.signed(f"{DECLS}/{decl}/cancel", b'{"reason": "truck broke down"}')
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    targets = [
        s["target"]
        for s in world.client.get(
            f"{API}/audit/submissions",
            params={"entity_type": "declaration", "entity_id": decl},
            headers=world.auth(),
        ).json()
    ]
    assert targets == [DECLS, f"{DECLS}/{decl}", f"{DECLS}/{decl}/cancel"]
    # a batch: one signature, every declaration it stored linked to it
    lines = b"\n".join(_body(f"SIG-B{i}") for i in range(3))
    r = world.signed(f"{DECLS}/batch", lines, media="application/x-ndjson")
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
    ids = [line["id"] for line in r.json()["lines"]]
    with world.platform.db.session() as s:
        sub_id = s.scalars(
            select(SignedSubmission.id).where(SignedSubmission.target == f"{DECLS}/batch")
        ).one()
        linked = s.scalars(
            select(SignedSubmissionRecord.entity_id).where(
                SignedSubmissionRecord.submission_id == sub_id
            )
        ).all()
    assert set(ids) <= set(linked)
    # the e-queue's writes get the same treatment
    booking = json.dumps(world.env.booking_body(hour=11)).encode()
    r = world.signed(f"{API}/queue/bookings", booking)
    assert r.status_code == 201, r.text
    subs = world.client.get(
        f"{API}/audit/submissions",
        params={"entity_type": "queue_booking", "entity_id": r.json()["id"]},
        headers=world.auth(),
    ).json()
    assert len(subs) == 1 and reverify(subs[0])
    outcome = verify_all(world.platform)
    assert outcome.ok, outcome


def _forged_kid(world: World) -> tuple[str, bytes]:
    body = _body("BAD-1")
    other = Ed25519PrivateKey.generate()
    header = {"kid": key_id(public_key_b64(world.key)), "iat": int(time.time()), "htm": "POST"}
    return jws.sign_detached(other, {**header, "htu": DECLS}, body), body


def _signed(world: World, body: bytes, **header: Any) -> str:
    base = {
        "kid": key_id(public_key_b64(world.key)),
        "iat": int(time.time()),
        "htm": "POST",
        "htu": DECLS,
    }
    return jws.sign_detached(world.key, {**base, **header}, body)


REFUSALS: list[tuple[str, Any, int, str]] = [
    # (case, how to build (signature, body sent), status, code)
    ("forged", _forged_kid, 401, "bad_signature"),
    (
        "body changed after signing",
        lambda w: (sign_request(w.key, "POST", DECLS, _body("BAD-2")), _body("BAD-3")),
        401,
        "bad_signature",
    ),
    (
        "stale",
        lambda w: (_signed(w, _body("BAD-4"), iat=int(time.time()) - 3600), _body("BAD-4")),
        401,
        "stale",
    ),
    (
        "from the future",
        lambda w: (_signed(w, _body("BAD-5"), iat=int(time.time()) + 3600), _body("BAD-5")),
        401,
        "stale",
    ),
    (
        "unknown kid",
        lambda w: (_signed(w, _body("BAD-6"), kid="0123456789abcdef"), _body("BAD-6")),
        401,
        "unknown_kid",
    ),
    (
        "signed for another route",
        lambda w: (_signed(w, _body("BAD-7"), htu=f"{DECLS}/batch"), _body("BAD-7")),
        401,
        "wrong_target",
    ),
    (
        "signed for another method",
        lambda w: (_signed(w, _body("BAD-8"), htm="PUT"), _body("BAD-8")),
        401,
        "wrong_target",
    ),
    (
        "wrong alg",
        lambda w: (
            jws.b64url_encode(json.dumps({"alg": "HS256", "kid": "k"}).encode())
            + ".."
            + jws.b64url_encode(b"\0" * 32),
            _body("BAD-9"),
        ),
        422,
        "unsupported_alg",
    ),
    (
        "alg none",
        lambda w: (jws.b64url_encode(b'{"alg":"none"}') + "..", _body("BAD-10")),
        422,
        "unsupported_alg",
    ),
    (
        "no iat",
        lambda w: (
            jws.sign_detached(
                w.key, {"kid": key_id(public_key_b64(w.key)), "htm": "POST", "htu": DECLS}, b"{}"
            ),
            _body("BAD-11"),
        ),
        422,
        "malformed",
    ),
    ("garbage", lambda w: ("not a jws", _body("BAD-12")), 422, "malformed"),
    (
        "payload attached",
        lambda w: (jws.sign_compact(w.key, {"kid": "k"}, b"{}"), _body("BAD-13")),
        422,
        "not_detached",
    ),
]


@pytest.mark.parametrize(
    ("case", "build", "status", "code"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_bad_signatures_are_refused_naming_header_and_reason(
    world: World, case: str, build: Any, status: int, code: str
) -> None:
    signature, body = build(world)
    before = world.count(Declaration), world.count(SignedSubmission), world.count(AuditEntry)
    r = world.post(DECLS, body, signature)
    assert r.status_code == status, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["type"].endswith("/request-signature")
    assert problem["errors"][0]["field"] == POINTER and problem["errors"][0]["code"] == code
    assert "silkgate-receipt" not in r.headers
    after = world.count(Declaration), world.count(SignedSubmission), world.count(AuditEntry)
    assert after == before  # nothing half-written


def test_a_signature_is_used_once(world: World) -> None:
    body = _body("ONCE-1")
    signature = sign_request(world.key, "POST", DECLS, body)
    assert world.post(DECLS, body, signature).status_code == 201
    r = world.post(DECLS, body, signature)
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "replayed"
    # signed again (a new iat), an Idempotency-Key retry is answered as a replay
    body2 = _body("ONCE-2")
    now = int(time.time())  # the retry's iat differs from the first's even across a second
    first = world.client.post(
        DECLS,
        content=body2,
        headers={
            **world.auth(),
            "Content-Type": "application/json",
            "Idempotency-Key": "k-1",
            "X-JWS-Signature": sign_request(world.key, "POST", DECLS, body2, iat=now),
        },
    )
    again = world.client.post(
        DECLS,
        content=body2,
        headers={
            **world.auth(),
            "Content-Type": "application/json",
            "Idempotency-Key": "k-1",
            "X-JWS-Signature": sign_request(world.key, "POST", DECLS, body2, iat=now - 1),
        },
    )
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"


def test_organization_without_a_key_cannot_sign(world: World) -> None:
    body = _body("NOKEY-1")
    signature = sign_request(Ed25519PrivateKey.generate(), "POST", DECLS, body)
    r = world.post(DECLS, body, signature, who="kz-carrier")
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "no_key"


def test_required_signing_refuses_unsigned_writes_only_of_that_organization(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(world.platform.settings, "require_signed_writes", [world.broker])
    r = world.post(DECLS, _body("REQ-1"))
    assert r.status_code == 401
    err = r.json()["errors"][0]
    assert err == {
        "field": POINTER,
        "code": "missing",
        "message": f"{world.broker} must sign its writes (detached JWS)",
    }
    assert world.count(Declaration) == 0
    assert world.signed(DECLS, _body("REQ-2")).status_code == 201
    # reads need no signature; another organization is not required to sign
    assert world.client.get(DECLS, headers=world.auth()).status_code == 200
    other = world.post(
        f"{API}/exchange/subscriptions", b'{"url": "https://example.org/h"}', who="kz-customs"
    )
    assert other.status_code == 201, other.text
    monkeypatch.setattr(world.platform.settings, "require_signed_writes", ["*"])
    other = world.post(
        f"{API}/exchange/subscriptions", b'{"url": "https://example.org/g"}', who="kz-customs"
    )
    assert other.status_code == 401 and other.json()["errors"][0]["code"] == "missing"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.text(max_size=400) | st.from_regex(r"[A-Za-z0-9_\-]{0,80}\.\.[A-Za-z0-9_\-]{0,90}"))
def test_any_header_value_is_refused_by_name_or_verified(value: str) -> None:
    key = Ed25519PrivateKey.generate()
    caller = Caller(1, "CN/COM/X", "CN", frozenset({"broker"}), frozenset(), public_key_b64(key))
    try:
        verify_request(caller, value, b"{}", "POST", DECLS, time.time(), 300)
    except SignatureRefused as exc:
        assert exc.status in (401, 422)
        assert exc.errors[0].field == POINTER and exc.errors[0].code
    else:  # pragma: no cover - a random value that verifies would be a forgery
        raise AssertionError(f"accepted {value!r}")


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300), encoded=st.booleans(), skew=st.integers(-299, 299))
def test_what_a_client_signs_verifies_and_is_recorded_as_signed(
    body: bytes, encoded: bool, skew: int
) -> None:
    key = Ed25519PrivateKey.generate()
    caller = Caller(1, "CN/COM/X", "CN", frozenset({"broker"}), frozenset(), public_key_b64(key))
    now = time.time()
    value = sign_request(key, "PUT", "/api/v1/x?y=1", body, iat=int(now) + skew, encoded=encoded)
    sub = verify_request(caller, value, body, "PUT", "/api/v1/x?y=1", now, 300)
    assert sub.body == body and sub.iat == int(now) + skew
    assert sub.jws_sha256 == hashlib.sha256(value.encode()).hexdigest()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"body": b'{"lrn": "FORGED"}'}, "body_sha256"),
        ({"public_key": public_key_b64(Ed25519PrivateKey.generate())}, "public_key"),
        ({"target": "/api/v1/declarations/batch"}, "target"),
    ],
)
def test_audit_verify_names_a_changed_submission(
    world: World, change: dict[str, Any], expected: str
) -> None:
    r = world.signed(DECLS, _body("TAMPER-1"))
    assert r.status_code == 201
    assert verify_all(world.platform).ok
    with world.platform.db.session() as s:
        s.execute(SignedSubmission.__table__.update().values(**change))
    outcome = verify_all(world.platform)
    assert outcome.tables is not None
    found = " ".join(str(p) for p in outcome.tables.problems)
    assert "signed submission" in found and expected in found, found


def test_audit_verify_names_unlinked_and_unlogged_submissions(world: World) -> None:
    assert world.signed(DECLS, _body("TAMPER-2")).status_code == 201
    with world.platform.db.session() as s:
        s.execute(SignedSubmissionRecord.__table__.delete())
    outcome = verify_all(world.platform)
    assert outcome.tables is not None
    found = " ".join(str(p) for p in outcome.tables.problems)
    assert "records linked to it differ" in found, found
    with world.platform.db.session() as s:
        s.execute(
            AuditEntry.__table__.delete().where(AuditEntry.entity_type == "signed_submission")
        )
    outcome = verify_all(world.platform)
    assert not outcome.ok
    if outcome.chain.ok:  # the newest entries cut off: the table still holds what they logged
        assert outcome.tables is not None
        found = " ".join(str(p) for p in outcome.tables.problems)
        assert "in signed_submissions, but no audit entry records it" in found, found


def test_the_documented_python_signer_and_cli_signer_are_accepted(
    world: World, tmp_path: Any
) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from silkgate.cli import app as cli
    from silkgate.core.signing import write_private_key_file

    doc = (Path(__file__).parents[2] / "docs" / "audit.md").read_text()
    block = doc.split("#### Signing in Python", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {"declaration": export_cn_to_kz("DOC-1"), "key": world.key}
    exec(block, scope)
    r = world.post(DECLS, scope["body"], scope["headers"]["X-JWS-Signature"])
    assert r.status_code == 201, r.text
    # silkgate org sign-request, as in the curl example
    key_file, body_file = tmp_path / "broker.key", tmp_path / "decl.json"
    write_private_key_file(key_file, world.key)
    body_file.write_bytes(_body("DOC-2"))
    out = CliRunner().invoke(
        cli,
        ["org", "sign-request", "--method", "POST", "--target", DECLS,
         "--body", str(body_file), "--key-file", str(key_file)],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    r = world.post(DECLS, body_file.read_bytes(), out.output.strip())
    assert r.status_code == 201, r.text

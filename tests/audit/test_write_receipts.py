"""Every successful write is answered with a signed receipt binding the request and response
bodies, the organization, the route, the audit entries and the newest checkpoint; it verifies
offline with the platform's public key only (``silkgate receipt verify``), and a changed
receipt, request or response is detected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from silkgate.app import create_app
from silkgate.audit import receipts
from silkgate.audit.keys import trusted_keys
from silkgate.audit.models import AuditEntry
from silkgate.audit.submissions import sign_request
from silkgate.cli import app as cli
from silkgate.core import jws
from silkgate.core.platform import Platform
from silkgate.core.signing import public_key_b64
from silkgate.registry import service as registry
from tests.factories import export_cn_to_kz, seeded, tokens

API = "/api/v1"
DECLS = f"{API}/declarations"


@pytest.fixture
def served(platform: Platform) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    ids = seeded(platform)
    keys = tokens(platform, ids)
    with TestClient(create_app(platform=platform)) as client:
        yield client, ids, {k: f"Bearer {v}" for k, v in keys.items()}


def _lodge(client: TestClient, auth: str, lrn: str, **headers: str) -> tuple[bytes, Any]:
    body = json.dumps(export_cn_to_kz(lrn)).encode()
    r = client.post(
        DECLS,
        content=body,
        headers={"Authorization": auth, "Content-Type": "application/json", **headers},
    )
    return body, r


def public_key_b64_of(platform: Platform) -> str:
    (key,) = [k for k in trusted_keys(platform.settings).values()]
    return key


def test_write_receipt_binds_bodies_entries_and_checkpoint(platform: Platform, served: Any) -> None:
    client, ids, auth = served
    body, r = _lodge(client, auth["cn-broker"], "RC-1")
    assert r.status_code == 201, r.text
    token = r.headers["Silkgate-Receipt"]
    trusted = trusted_keys(platform.settings)
    check = receipts.check_receipt(token, trusted, body, r.content)
    assert check.ok, check.problems
    claims = check.claims
    assert claims["type"] == "silkgate.receipt.write.v1"
    assert claims["organization"] == ids["cn-broker"]
    assert claims["request"]["method"] == "POST" and claims["request"]["target"] == DECLS
    assert claims["request"]["bytes"] == len(body) and claims["request"]["signature"] is None
    assert claims["response"]["status"] == 201 and claims["response"]["bytes"] == len(r.content)
    # the audit entries the write made: submitted and accepted, the last one's hash as stored
    audit = claims["audit"]
    with platform.db.session() as s:
        rows = s.execute(
            select(AuditEntry.seq, AuditEntry.action, AuditEntry.entry_hash)
            .where(
                AuditEntry.entity_id == r.json()["id"],
                AuditEntry.action.in_(["declaration.submitted", "declaration.accepted"]),
            )
            .order_by(AuditEntry.seq)
        ).all()  # the risk worker may have assessed it since
    assert [a for _, a, _ in rows] == ["declaration.submitted", "declaration.accepted"]
    assert (audit["first_seq"], audit["last_seq"], audit["entries"]) == (rows[0][0], rows[1][0], 2)
    assert audit["last_entry_hash"] == rows[1][2]
    assert claims["checkpoint"]["type"] == "silkgate.audit.checkpoint.v1"
    header = jws.parse_compact(token).header
    assert header["alg"] == "Ed25519" and header["kid"] == platform.signer.key_id


def test_signed_write_receipt_names_the_submission(platform: Platform, served: Any) -> None:
    client, ids, auth = served
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(platform, ids["cn-broker"], public_key_b64(key), "test")
    body = json.dumps(export_cn_to_kz("RC-2")).encode()
    signature = sign_request(key, "POST", DECLS, body)
    r = client.post(
        DECLS,
        content=body,
        headers={
            "Authorization": auth["cn-broker"],
            "Content-Type": "application/json",
            "X-JWS-Signature": signature,
        },
    )
    assert r.status_code == 201, r.text
    claims = receipts.check_receipt(
        r.headers["Silkgate-Receipt"], trusted_keys(platform.settings)
    ).claims
    sig = claims["request"]["signature"]
    assert sig["submission_id"] and sig["key_id"]
    stored = client.get(
        f"{API}/audit/submissions/{sig['submission_id']}",
        headers={"Authorization": auth["cn-broker"]},
    ).json()
    assert stored["jws"] == signature and stored["jws_sha256"] == sig["jws_sha256"]
    assert claims["audit"]["entries"] == 3  # submitted, accepted and the submission's entry


def test_other_writes_get_receipts_and_failures_none(platform: Platform, served: Any) -> None:
    client, ids, auth = served
    r = client.post(
        f"{API}/exchange/subscriptions",
        json={"url": "https://example.org/hook"},
        headers={"Authorization": auth["kz-customs"]},
    )
    assert r.status_code == 201
    claims = receipts.check_receipt(
        r.headers["Silkgate-Receipt"], trusted_keys(platform.settings)
    ).claims
    assert claims["organization"] == ids["kz-customs"] and claims["audit"]["entries"] == 1
    sub = r.json()["id"]
    r = client.delete(
        f"{API}/exchange/subscriptions/{sub}", headers={"Authorization": auth["kz-customs"]}
    )
    assert r.status_code in (200, 204) and "Silkgate-Receipt" in r.headers
    # refused writes and reads carry none
    _, bad = _lodge(client, auth["cn-broker"], "")
    assert bad.status_code == 422 and "Silkgate-Receipt" not in bad.headers
    assert (
        "Silkgate-Receipt"
        not in client.get(DECLS, headers={"Authorization": auth["cn-broker"]}).headers
    )
    # an idempotent replay is a successful answer that wrote nothing
    _, first = _lodge(client, auth["cn-broker"], "RC-3", **{"Idempotency-Key": "i-1"})
    assert first.status_code == 201
    _, again = _lodge(client, auth["cn-broker"], "RC-3", **{"Idempotency-Key": "i-1"})
    assert again.status_code == 200
    replay = receipts.check_receipt(
        again.headers["Silkgate-Receipt"], trusted_keys(platform.settings)
    )
    assert (
        replay.ok and replay.claims["audit"] is None and replay.claims["response"]["status"] == 200
    )


def test_receipts_can_be_turned_off_and_signing_failures_do_not_lose_the_write(
    platform: Platform, served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, auth = served
    monkeypatch.setattr(platform.settings, "write_receipts", False)
    _, r = _lodge(client, auth["cn-broker"], "RC-4")
    assert r.status_code == 201 and "Silkgate-Receipt" not in r.headers
    monkeypatch.setattr(platform.settings, "write_receipts", True)

    def broken(*_: Any) -> str:
        raise OSError("disk gone")

    monkeypatch.setattr(receipts, "sign_write_receipt", broken)
    _, r = _lodge(client, auth["cn-broker"], "RC-5")
    assert r.status_code == 201 and r.json()["lrn"] == "RC-5"
    assert "Silkgate-Receipt" not in r.headers
    assert r.headers["Silkgate-Receipt-Error"].startswith("OSError")


def _tamper(token: str, change: Any) -> str:
    head, payload, sig = token.split(".")
    claims = json.loads(jws.b64url_decode(payload))
    change(claims)
    return f"{head}.{jws.b64url_encode(json.dumps(claims).encode())}.{sig}"


def test_receipt_verify_command_offline(platform: Platform, served: Any, tmp_path: Path) -> None:
    client, _, auth = served
    body, r = _lodge(client, auth["cn-broker"], "RC-6")
    files = {
        "receipt": tmp_path / "receipt.txt",
        "request": tmp_path / "request.json",
        "response": tmp_path / "response.json",
        "keys": tmp_path / "platform.pub",
    }
    # a header dump as curl -D writes it
    dump = "".join(f"{k}: {v}\r\n" for k, v in r.headers.items())
    files["receipt"].write_text(f"HTTP/1.1 201 Created\r\n{dump}\r\n")
    files["request"].write_bytes(body)
    files["response"].write_bytes(r.content)
    public = public_key_b64_of(platform)
    files["keys"].write_text(f"# the platform's key\n{public}\n")
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, ["receipt", "verify", *args])

    ok = run(str(files["receipt"]), "--key", public, "--request", str(files["request"]),
             "--response", str(files["response"]))  # fmt: skip
    assert ok.exit_code == 0, ok.output
    text = " ".join(ok.output.split())
    assert "receipt valid" in text and "request body matches" in text and "POST" in text
    assert run(str(files["receipt"]), "--keys-file", str(files["keys"])).exit_code == 0
    # another key, a changed request or response, a changed receipt: each is named
    other = public_key_b64(Ed25519PrivateKey.generate())
    bad = run(str(files["receipt"]), "--key", other)
    assert bad.exit_code == 1 and "not trusted" in bad.output
    files["request"].write_bytes(body.replace(b"RC-6", b"RC-7"))
    bad = run(str(files["receipt"]), "--key", public, "--request", str(files["request"]))
    assert bad.exit_code == 1 and "request file is not the request" in " ".join(bad.output.split())
    files["response"].write_bytes(r.content + b" ")
    bad = run(str(files["receipt"]), "--key", public, "--response", str(files["response"]))
    assert bad.exit_code == 1 and "response file" in bad.output
    forged = _tamper(r.headers["Silkgate-Receipt"], lambda c: c["response"].update(status=200))
    files["receipt"].write_text(forged)
    bad = run(str(files["receipt"]), "--key", public)
    assert bad.exit_code == 1 and "does not verify" in bad.output
    cp_forged = _tamper(
        r.headers["Silkgate-Receipt"],
        lambda c: c["checkpoint"].update(seq=c["checkpoint"]["seq"] + 1),
    )
    assert not receipts.check_receipt(cp_forged, {platform.signer.key_id: public}).ok
    files["receipt"].write_text("hello")
    bad = run(str(files["receipt"]), "--key", public)
    assert bad.exit_code == 1 and "not a receipt" in bad.output
    bad = run(str(files["receipt"]), "--key", "AAAA")
    assert bad.exit_code == 1 and "bad key" in bad.output


def test_receipt_verify_also_reads_record_receipts(
    platform: Platform, served: Any, tmp_path: Path
) -> None:
    client, _, auth = served
    _, r = _lodge(client, auth["cn-broker"], "RC-8")
    record = client.get(
        f"{DECLS}/{r.json()['id']}/receipt", headers={"Authorization": auth["cn-broker"]}
    )
    path = tmp_path / "record.json"
    path.write_text(record.text)
    public = public_key_b64_of(platform)
    out = CliRunner().invoke(cli, ["receipt", "verify", str(path), "--key", public])
    assert out.exit_code == 0 and "declaration" in out.output, out.output
    changed = {**record.json(), "status": "released"}
    path.write_text(json.dumps(changed))
    out = CliRunner().invoke(cli, ["receipt", "verify", str(path), "--key", public])
    assert out.exit_code == 1 and "does not verify" in out.output

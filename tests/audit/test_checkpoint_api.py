"""The checkpoint thread is supervised and shown in readiness; checkpoints and receipts are
served to authenticated organizations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from silkgate.app import create_app
from silkgate.audit import checkpoints
from silkgate.audit.checkpoints import CheckpointWorker
from silkgate.audit.keys import trusted_keys
from silkgate.audit.receipts import verify_receipt
from silkgate.core.platform import Platform
from silkgate.core.signing import canonical_json, sha256_hex
from tests.factories import export_cn_to_kz, seeded, tokens

API = "/api/v1"


def _wait(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_worker_survives_failures_and_is_restarted_if_dead(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(platform)
    real = checkpoints.make
    calls = {"n": 0}

    def flaky(p: Platform) -> checkpoints.Checkpoint:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return real(p)

    monkeypatch.setattr(checkpoints, "make", flaky)
    worker = CheckpointWorker(platform, interval=0.05)
    worker.start()
    try:
        _wait(lambda: worker.last is not None)
        status = worker.status()
        assert status["state"] == "running" and status["failures"] == 1
        assert status["last_round_error"] is None
        assert status["last_seq"] == worker.last.seq > 0  # type: ignore[union-attr]
        # a thread that is gone anyway is replaced when readiness asks for the status
        gone = threading.Thread(target=lambda: None)
        gone.start()
        gone.join()
        worker._supervised._thread = gone
        assert not worker.running
        assert worker.status()["state"] == "running" and worker.status()["restarts"] == 1
    finally:
        worker.stop()
    assert worker.status()["state"] == "stopped"  # stopped on purpose: not restarted


def test_readiness_shows_the_checkpoint_thread_and_routes_serve_signed_objects(
    platform: Platform,
) -> None:
    ids = seeded(platform)
    keys = tokens(platform, ids)
    auth = {"Authorization": f"Bearer {keys['cn-broker']}"}
    trusted = trusted_keys(platform.settings)
    with TestClient(create_app(platform=platform)) as client:
        ready = client.get(f"{API}/health/ready").json()
        assert {"group_commit", "risk_worker", "audit_checkpoints"} <= ready["threads"].keys()
        status = ready["threads"]["audit_checkpoints"]
        assert status["state"] == "running" and status["interval_seconds"] == 300
        # the first round runs at start-up, in the thread
        path = f"{API}/health/ready"
        _wait(
            lambda: client.get(path).json()["threads"]["audit_checkpoints"]["last_seq"] is not None
        )
        r = client.post(f"{API}/declarations", json=export_cn_to_kz("R-1"), headers=auth)
        assert r.status_code == 201, r.text
        decl = r.json()["id"]

        assert client.get(f"{API}/audit/checkpoints/latest").status_code == 401
        cp = client.get(f"{API}/audit/checkpoints/latest", headers=auth).json()
        assert checkpoints.Checkpoint.from_dict(cp).verify(trusted)

        receipt = client.get(f"{API}/declarations/{decl}/receipt", headers=auth).json()
        # accepted, or already assessed by the risk worker thread
        assert receipt["declaration_id"] == decl
        assert receipt["status"] in ("accepted", "risk_assessed")
        assert receipt["entry"]["action"] == f"declaration.{receipt['status']}"
        assert receipt["checkpoint"]["seq"] >= receipt["entry"]["seq"]
        assert verify_receipt(receipt, trusted)
        assert not verify_receipt({**receipt, "status": "released"}, trusted)
        # the other side's customs gets the receipt too (pre-arrival); an outsider does not
        kz = {"Authorization": f"Bearer {keys['kz-customs']}"}
        purpose = {"Silkgate-Purpose": "customs_control"}  # another organization's data
        assert client.get(f"{API}/declarations/{decl}/receipt", headers=kz).status_code == 400
        theirs = client.get(f"{API}/declarations/{decl}/receipt", headers={**kz, **purpose}).json()
        seen = client.get(f"{API}/declarations/{decl}", headers={**kz, **purpose}).json()["data"]
        assert theirs["view"] == "pre_arrival" and "driver" not in seen
        assert theirs["payload_digest"] == sha256_hex(canonical_json(seen))
        assert theirs["payload_digest"] != receipt["payload_digest"]
        assert verify_receipt(theirs, trusted)
        # the newest entry KZ may see, without the hash that could test guesses of the driver
        assert theirs["entry"]["action"] == f"declaration.{theirs['status']}"
        assert theirs["entry"]["entry_hash"] is None and receipt["entry"]["entry_hash"]
        outsider = {"Authorization": f"Bearer {keys['kz-carrier']}"}
        assert client.get(f"{API}/declarations/{decl}/receipt", headers=outsider).status_code == 404
        # a thread that is gone and cannot be started again makes the process not ready
        worker = client.app.state.checkpoint_worker  # type: ignore[attr-defined]
        gone = threading.Thread(target=lambda: None)
        gone.start()
        gone.join()
        worker._supervised._thread = gone
        worker._supervised._spawn = lambda: None
        r = client.get(f"{API}/health/ready")
        assert r.status_code == 503 and "audit_checkpoints" in r.json()["detail"]
        worker._supervised._finished = True  # let the app stop cleanly
    lines = checkpoints.read(platform.settings.checkpoint_path)
    assert all(c.verify(trusted) for _, c in lines)

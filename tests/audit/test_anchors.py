"""Trust comes from outside the database: pinned keys and signed checkpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from silkgate.audit import checkpoints
from silkgate.audit.models import AuditEntry, SigningKey
from silkgate.audit.service import AuditSigner, _entry_hash
from silkgate.audit.verify import CannotVerify, verify_all
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.core.signing import public_key_b64
from tests.audit.world import build, run_verify


def _rewrite_chain(
    platform: Platform, signer: AuditSigner, edit: Callable[[AuditEntry], None]
) -> None:
    """Re-hash and re-sign every entry after ``edit`` — what an attacker holding ``signer``
    and write access to the database can do."""
    with platform.db.session() as s:
        prev = "0" * 64
        for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
            edit(e)
            at = e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC)
            e.prev_hash = prev
            e.entry_hash = _entry_hash(e.seq, at, e, e.payload_digest, prev)
            e.key_id = signer.key_id
            e.signature = signer.sign(e.entry_hash.encode("ascii"))
            prev = e.entry_hash


def _rename_actor(e: AuditEntry) -> None:
    if e.seq == 3:
        e.actor = "someone-else"


def _head(platform: Platform) -> int:
    with platform.db.session() as s:
        return int(s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)))


@pytest.mark.parametrize("removed", [1, 2, 6])
def test_deleting_the_newest_entries_is_found_from_the_tables(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, removed: int
) -> None:
    w = build(platform)
    head = _head(platform)
    with platform.db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > head - removed))
    out = run_verify(platform, monkeypatch)
    text = " ".join(out.output.split())
    assert out.exit_code == 1, text
    assert f"declaration {w.accepted}" in text


def test_truncation_before_a_checkpoint_is_found(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(platform)
    cp = checkpoints.make(platform)
    checkpoints.append(platform.settings.checkpoint_path, cp)
    with platform.db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > cp.seq - 2))
    out = run_verify(platform, monkeypatch)
    text = " ".join(out.output.split())
    assert out.exit_code == 1
    assert f"a signed checkpoint covers entry {cp.seq}" in text
    assert f"the log ends at entry {cp.seq - 2}" in text


def test_inserted_key_and_resigned_chain_fail(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(platform)
    attacker = AuditSigner(Ed25519PrivateKey.generate())
    with platform.db.session() as s:
        attacker.register(s)
    _rewrite_chain(platform, attacker, _rename_actor)
    out = run_verify(platform, monkeypatch)
    text = " ".join(out.output.split())
    assert out.exit_code == 1
    assert "broken at entry 1" in text and f"signed by key {attacker.key_id}" in text
    assert "not a pinned platform key" in text
    with platform.db.session() as s:  # the table holds it, and that is not enough
        assert s.get(SigningKey, attacker.key_id) is not None


def test_rewrite_with_the_platform_key_is_caught_by_an_earlier_checkpoint(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    build(platform)
    kept = tmp_path / "kept-by-counterpart.json"
    cp = checkpoints.make(platform)
    kept.write_text(json.dumps(cp.as_dict(), indent=2))
    _rewrite_chain(platform, platform.signer, _rename_actor)
    # Without a checkpoint nothing can tell: the key holder made a consistent history.
    assert run_verify(platform, monkeypatch).exit_code == 0
    out = run_verify(platform, monkeypatch, "--checkpoint", str(kept))
    text = " ".join(out.output.split())
    assert out.exit_code == 1
    assert f"broken at entry {cp.seq}" in text and "differs from the signed checkpoint" in text
    assert "this entry or one before it was changed" in text


def test_a_checkpoint_not_signed_by_a_pinned_key_is_refused(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    build(platform)
    forged = checkpoints.sign(AuditSigner(Ed25519PrivateKey.generate()), 3, "a" * 64)
    path = tmp_path / "forged.jsonl"
    path.write_text(json.dumps(forged.as_dict()) + "\n")
    out = run_verify(platform, monkeypatch, "--checkpoint", str(path))
    assert out.exit_code == 2
    assert "does not verify with a pinned platform key" in " ".join(out.output.split())
    path.write_text('{"seq": "three"}\n')
    out = run_verify(platform, monkeypatch, "--checkpoint", str(path))
    assert out.exit_code == 2 and "line 1: field head_hash is missing" in " ".join(
        out.output.split()
    )


def test_audit_checkpoint_command_appends_signed_lines(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from silkgate.audit.keys import trusted_keys
    from silkgate.cli import app

    build(platform)
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "checkpoint"]).exit_code == 0
    assert runner.invoke(app, ["audit", "checkpoint"]).exit_code == 0  # same head: not repeated
    lines = checkpoints.read(platform.settings.checkpoint_path)
    assert len(lines) == 1
    (_, cp), trusted = lines[0], trusted_keys(platform.settings)
    assert cp.seq == _head(platform) and cp.verify(trusted)
    assert not checkpoints.Checkpoint(
        cp.seq + 1, cp.head_hash, cp.at, cp.key_id, cp.signature
    ).verify(trusted)


def test_rotated_key_old_entries_still_verify(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from silkgate.cli import app
    from silkgate.declarations import service as declarations
    from tests.factories import caller, export_cn_to_kz

    w = build(platform)
    old_public = platform.signer.public_key
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    out = CliRunner().invoke(app, ["platform-key", "generate", "--force"])
    assert out.exit_code == 0, out.output
    pinned = platform.settings.verify_keys_path.read_text().split()
    assert old_public in pinned and len(pinned) == 2
    rotated = Platform(platform.settings)
    try:
        assert rotated.signer.public_key != old_public
        declarations.create(rotated, caller(rotated, w.ids, "cn-broker"), export_cn_to_kz("W-9"))
    finally:
        rotated.close()
    assert run_verify(platform, monkeypatch).exit_code == 0
    # a pinned file without the old key no longer vouches for the old entries
    platform.settings.verify_keys_path.write_text(pinned[1] + "\n")
    out = run_verify(platform, monkeypatch)
    assert out.exit_code == 1 and "broken at entry 1" in " ".join(out.output.split())


def test_keys_come_from_configuration_only(platform: Platform, tmp_path: Path) -> None:
    build(platform)
    elsewhere = tmp_path / "verifier"
    common = {"database_url": platform.settings.database_url, "demo_mode": True}
    bare = Platform(Settings(data_dir=elsewhere, **common))  # type: ignore[arg-type]
    try:
        with pytest.raises(CannotVerify, match="no pinned platform key"):
            verify_all(bare)
    finally:
        bare.close()
    public = public_key_b64(Ed25519PrivateKey.generate())
    env_only = Settings(data_dir=elsewhere, platform_verify_keys=public, **common)  # type: ignore[arg-type]
    p = Platform(env_only)
    try:
        assert not verify_all(p).chain.ok  # a key, but not the one that signed
    finally:
        p.close()
    good = Settings(
        data_dir=elsewhere, platform_verify_keys=f"{public}, {platform.signer.public_key}", **common
    )  # type: ignore[arg-type]
    p = Platform(good)
    try:
        assert verify_all(p).ok
    finally:
        p.close()
    bad = Settings(data_dir=elsewhere, platform_verify_keys="not-a-key", **common)  # type: ignore[arg-type]
    p = Platform(bad)
    try:
        with pytest.raises(CannotVerify, match="SILKGATE_PLATFORM_VERIFY_KEYS"):
            verify_all(p)
    finally:
        p.close()


def test_entry_state_is_covered_by_the_hash(platform: Platform) -> None:
    build(platform)
    with platform.db.session() as s:
        seq = s.scalar(select(AuditEntry.seq).where(AuditEntry.state.is_not(None)).limit(1))
        e = s.get(AuditEntry, seq)
        assert e is not None and e.state is not None
        s.execute(
            update(AuditEntry).where(AuditEntry.seq == seq).values(state={**e.state, "name": "x"})
        )
    outcome = verify_all(platform)
    assert outcome.chain.broken_seq == seq


def test_entries_from_before_state_are_still_checked(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logs written before entries carried ``state`` verify, and their records are matched by
    payload digest: an API key, a revocation, an active model."""
    from datetime import datetime

    from silkgate.audit.record_state import model_payload
    from silkgate.audit.service import AuditEvent, append
    from silkgate.registry.models import ApiKey
    from silkgate.risk.platform.models import ActiveRiskModel, RiskModelRecord

    w = build(platform)
    now = datetime.now(UTC)
    with platform.db.session() as s:
        m = RiskModelRecord(
            model_id="m-1",
            office="CN-KHORGOS",
            path="/models/m-1",
            model_sha256="1" * 64,
            summary={"auc": 0.7},
            registered_at=now,
            registered_by="test",
        )
        s.add(m)
        s.flush()
        s.add(
            ActiveRiskModel(office="CN-KHORGOS", model_id="m-1", activated_at=now, activated_by="t")
        )
        append(
            s,
            platform.signer,
            [
                AuditEvent("t", "risk.model_registered", "risk_model", "m-1", model_payload(m)),
                AuditEvent(
                    "t",
                    "risk.model_activated",
                    "risk_office",
                    "CN-KHORGOS",
                    {"model_id": "m-1", "previous": None},
                ),
            ],
        )

    def drop_state(e: AuditEntry) -> None:
        e.state = None

    _rewrite_chain(platform, platform.signer, drop_state)
    assert run_verify(platform, monkeypatch).exit_code == 0
    with platform.db.session() as s:
        s.execute(update(ApiKey).where(ApiKey.prefix == w.api_key_prefix).values(label="changed"))
        s.execute(update(ActiveRiskModel).values(model_id="m-1"))
        s.add(
            RiskModelRecord(
                model_id="m-2",
                office=None,
                path="/x",
                model_sha256="2" * 64,
                summary={},
                registered_at=now,
                registered_by="x",
            )
        )
        s.flush()
        s.execute(update(ActiveRiskModel).values(model_id="m-2"))
    out = run_verify(platform, monkeypatch)
    text = " ".join(out.output.split())
    assert out.exit_code == 1
    assert f"API key {w.api_key_prefix} ('changed') has no api_key.created entry" in text
    assert "office CN-KHORGOS: active model is 'm-2'; the log (entry" in text and "'m-1'" in text
    assert "risk model m-2: in risk_models, but no audit entry records it" in text

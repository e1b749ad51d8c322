"""The audit log is a signed hash chain; any edit is found and named."""

from __future__ import annotations

from sqlalchemy import update
from typer.testing import CliRunner

from silkgate.audit.keys import trusted_keys
from silkgate.audit.models import AuditEntry
from silkgate.audit.service import verify_chain
from silkgate.audit.verify import verify_all
from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from tests.factories import caller, export_cn_to_kz, seeded


def _lodge_some(platform: Platform, n: int = 3) -> None:
    ids = seeded(platform)
    broker = caller(platform, ids, "cn-broker")
    for i in range(n):
        declarations.create(platform, broker, export_cn_to_kz(f"A-{i}"))


def test_intact_chain_verifies(platform: Platform) -> None:
    _lodge_some(platform)
    outcome = verify_all(platform)
    assert outcome.ok and outcome.chain.checked > 6


def test_tampered_row_is_found_and_named(platform: Platform) -> None:
    _lodge_some(platform)
    with platform.db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(actor="someone-else"))
    with platform.db.session() as s:
        result = verify_chain(s, trusted_keys(platform.settings))
    assert not result.ok and result.broken_seq == 5 and result.checked == 4


def test_rehashed_row_still_fails_on_signature_or_link(platform: Platform) -> None:
    _lodge_some(platform)
    with platform.db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(entry_hash="f" * 64))
    with platform.db.session() as s:
        result = verify_chain(s, trusted_keys(platform.settings))
    assert result.broken_seq == 3


def test_deleted_row_is_found(platform: Platform) -> None:
    _lodge_some(platform)
    with platform.db.session() as s:
        s.query(AuditEntry).filter(AuditEntry.seq == 2).delete()
    with platform.db.session() as s:
        assert verify_chain(s, trusted_keys(platform.settings)).broken_seq == 2


def test_cli_verify_exits_non_zero_naming_entry(platform: Platform, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from silkgate.cli import app

    _lodge_some(platform)
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    with platform.db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(payload_digest="0" * 64))
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "entry 4" in bad.output

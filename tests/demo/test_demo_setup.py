"""`silkgate demo` seeds a working platform: lanes, bookings, keys, an intact audit log; a second
run on the same database lodges more traffic but does not replay the crossing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from silkgate.audit.verify import verify_all
from silkgate.cli import app
from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration
from silkgate.demo import crossing
from silkgate.demo.service import demo_member_ids, run_demo_setup, seed_registry
from silkgate.exchange.models import Subscription
from silkgate.gates.models import GateEvent
from silkgate.queue.models import Booking
from silkgate.registry.service import authenticate
from silkgate.risk.platform import profiles

# yesterday 18:00 at the crossing (UTC+8): a fixed time of day, before the real clock
END = datetime.now(timezone(timedelta(hours=8))).replace(
    hour=18, minute=0, second=0, microsecond=0
) - timedelta(days=1)


def _count(platform: Platform, what: type, *where: object) -> int:
    with platform.db.session() as s:
        return s.scalar(select(func.count()).select_from(what).where(*where)) or 0  # type: ignore[arg-type]


def test_demo_setup_gives_lanes_bookings_keys_and_an_intact_log(platform: Platform) -> None:
    tokens = run_demo_setup(platform, days=1, per_day=12, seed=1, end=END).tokens
    assert _count(platform, Declaration) == 12
    assert _count(platform, Declaration, Declaration.lane.is_(None)) == 0
    assert _count(platform, Booking) > 0
    assert all(authenticate(platform, t) is not None for t in tokens.values())
    with platform.db.session() as s:
        submitted = [t if t.tzinfo else t.replace(tzinfo=UTC)
                     for t in s.scalars(select(Declaration.submitted_at))]  # fmt: skip
    # lodged through the demo day as the generator submitted them, not all at once
    assert max(submitted) <= END and END - min(submitted) > timedelta(hours=3)
    outcome = verify_all(platform)
    assert outcome.chain.ok and outcome.tables is not None
    assert outcome.tables.problems == []
    assert outcome.tables.checked["declarations"] == 12


def test_second_run_lodges_again_without_replaying_the_crossing(platform: Platform) -> None:
    run_demo_setup(platform, days=1, per_day=10, seed=2, end=END)
    bookings, events = _count(platform, Booking), _count(platform, GateEvent)
    assert bookings > 0
    report = crossing.play(platform, seed_registry(platform), 1, 10, 2, END, lrn_prefix="AGAIN")
    assert report.skipped and report.lodged == 10
    assert (_count(platform, Booking), _count(platform, GateEvent)) == (bookings, events)
    assert _count(platform, Declaration) == 20
    assert demo_member_ids()["kz-eport"].startswith("KZ/COM/")
    assert verify_all(platform).chain.ok


def test_a_second_run_keeps_the_selectivity_profiles_officers_saved(platform: Platform) -> None:
    run_demo_setup(platform, days=1, per_day=4, seed=5, end=END, play_crossing=False)
    officer = demo_member_ids()["cn-customs"]
    edited = profiles.get(platform, "CN-KHORGOS", "export").profile
    edited["random"]["rates"] = {"red": 10.0}
    profiles.save(platform, officer, "CN-KHORGOS", "export", edited)
    run_demo_setup(platform, days=1, per_day=4, seed=5, end=END, play_crossing=False)
    kept = {(v.office, v.direction): v.version for v in profiles.versions(platform)}
    assert kept[("CN-KHORGOS", "export")] == 2 and kept[("KZ-NURZHOLY", "export")] == 1
    latest = profiles.get(platform, "CN-KHORGOS", "export")
    assert latest.profile["random"]["rates"] == {"red": 10.0}


def test_demo_command_plays_the_crossing_and_prints_no_private_key(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("SILKGATE_RISK_WORKER", "false")
    r = CliRunner().invoke(app, ["demo", "--no-serve", "--days", "2", "--per-day", "8"])
    assert r.exit_code == 0, r.output
    assert "16 demo declarations lodged" in r.output and "slots booked" in r.output
    assert "signed gate events from both checkpoints" in r.output
    folder = platform.settings.keys_dir / "demo"
    secrets = [f.read_text().strip() for f in folder.iterdir()]
    assert len(secrets) == 6 and not any(k in r.output for k in secrets)


def test_demo_without_the_crossing_lodges_only(platform: Platform) -> None:
    first = run_demo_setup(platform, days=1, per_day=6, seed=4, end=END, play_crossing=False)
    assert _count(platform, Declaration) == 6
    assert (_count(platform, Booking), _count(platform, GateEvent)) == (0, 0)
    # a second run keeps KZ customs' one pull subscription (and what waits in its feed)
    again = run_demo_setup(platform, days=1, per_day=6, seed=4, end=END, play_crossing=False)
    feed = first.agreements.feed_subscription
    assert feed is not None and again.agreements.feed_subscription == feed
    assert 0 < first.agreements.feed_waiting <= again.agreements.feed_waiting
    assert _count(platform, Subscription, Subscription.active.is_(True)) == 1

"""Lodging never stalls: a database error fails only the request that caused it, a lock held
elsewhere answers 503 in time, the committer is supervised, the connection stays usable."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from silkgate.app import create_app
from silkgate.core.platform import Platform
from silkgate.declarations import lodging
from tests.declarations.faults import POISON, poison_lodging, variant, within, write_lock_held
from tests.factories import export_cn_to_kz, seeded, tokens

API = "/api/v1"
NDJSON = {"Content-Type": "application/x-ndjson"}


class Env:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        ids = seeded(platform)
        self.keys = tokens(platform, ids)
        self.client = TestClient(create_app(platform=platform))

    def auth(self, who: str = "cn-broker") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def lodge(self, body: dict[str, Any], **headers: str) -> Any:
        return self.client.post(
            f"{API}/declarations", json=body, headers={**self.auth(), **headers}
        )

    def works(self, lrn: str) -> None:
        """A plain lodging and a read succeed (within 10 s)."""
        (r,) = within(10, [lambda: self.lodge(export_cn_to_kz(lrn))])
        assert r.status_code == 201, r.text
        got = self.client.get(f"{API}/declarations/{r.json()['id']}", headers=self.auth())
        assert got.status_code == 200


def _env(base: Platform, **settings: Any) -> Iterator[Env]:
    p = variant(base, **settings) if settings else base
    yield Env(p)
    if p is not base:
        p.close()


@pytest.fixture
def env(platform: Platform) -> Iterator[Env]:
    yield from _env(platform)


@pytest.fixture(params=[True, False], ids=["group-commit", "no-group-commit"])
def short_lock_env(platform: Platform, request: pytest.FixtureRequest) -> Iterator[Env]:
    """One connection per pool (so a broken one would be met again), a 1 s lock timeout."""
    yield from _env(platform, group_commit=request.param, db_pool_size=1, db_lock_timeout=1.0)


def test_database_error_fails_only_its_own_request(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison_lodging(monkeypatch)
    bodies = [export_cn_to_kz(f"G-{i}") for i in range(7)] + [export_cn_to_kz(f"{POISON}-1")]
    answers = within(30, [lambda b=b: env.lodge(b) for b in bodies])
    by_lrn = {b["lrn"]: r for b, r in zip(bodies, answers, strict=True)}
    bad = by_lrn.pop(f"{POISON}-1")
    assert bad.status_code >= 400 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["status"] == bad.status_code
    assert {r.status_code for r in by_lrn.values()} == {201}, [r.text for r in by_lrn.values()]
    env.works("AFTER-POISON")


def test_refused_group_is_split_until_only_the_bad_lodging_fails(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from silkgate.declarations.service import prepare, require_declarant
    from tests.factories import caller

    ids = seeded(platform)
    who = caller(platform, ids, "cn-broker")
    require_declarant(who)
    poison_lodging(monkeypatch)
    lrns = [f"S-{i}" for i in range(5)] + [f"{POISON}-A"] + [f"S-{i}" for i in range(5, 9)]
    group = [lodging.Lodging(who, prepare(export_cn_to_kz(lrn))) for lrn in lrns]
    calls = 0
    real = lodging.store_group

    def counting(p: Platform, g: list[lodging.Lodging]) -> Any:
        nonlocal calls
        calls += 1
        return real(p, g)

    monkeypatch.setattr(lodging, "store_group", counting)
    outcomes = lodging.store_isolated(platform, group)
    assert [isinstance(o, tuple) for o in outcomes] == [not lrn.startswith(POISON) for lrn in lrns]
    assert calls <= 12  # halving: about 2·log2(10) transactions, not one per lodging


def test_nul_in_a_text_field_is_a_422_naming_the_field_and_lodging_goes_on(env: Env) -> None:
    body = export_cn_to_kz("NUL-1")
    body["goods_items"][0]["description"] = "bolts\u0000and nuts"
    (r,) = within(15, [lambda: env.lodge(body)])
    if env.platform.settings.is_sqlite and r.status_code == 201:
        pass  # SQLite stores NUL; the schema may refuse control characters before it
    else:
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "/goods_items/0/description"
    env.works("AFTER-NUL")


def test_lock_held_elsewhere_answers_503_in_time_then_recovers(short_lock_env: Env) -> None:
    env = short_lock_env
    with write_lock_held(env.platform):
        started = time.monotonic()
        answers = within(20, [lambda i=i: env.lodge(export_cn_to_kz(f"LK-{i}")) for i in range(3)])
        elapsed = time.monotonic() - started
    for r in answers:
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["retry-after"]) >= 1
    assert elapsed < 8, f"answered after {elapsed:.1f} s with a 1 s lock timeout"
    env.works("AFTER-LOCK")
    again = env.lodge(export_cn_to_kz("LK-0"))  # nothing of the refused request was stored
    assert again.status_code == 201, again.text


def test_batch_on_a_held_lock_is_503_and_stores_nothing(short_lock_env: Env) -> None:
    env = short_lock_env
    lines = "\n".join(json.dumps(export_cn_to_kz(f"BL-{i}")) for i in range(3))
    with write_lock_held(env.platform):
        (r,) = within(
            20,
            [
                lambda: env.client.post(
                    f"{API}/declarations/batch", content=lines.encode(), headers=NDJSON | env.auth()
                )
            ],
        )
    assert r.status_code == 503 and "retry-after" in r.headers, r.text
    ok = env.client.post(
        f"{API}/declarations/batch", content=lines.encode(), headers=NDJSON | env.auth()
    )
    assert ok.json()["accepted"] == 3


def test_connection_stays_usable_after_every_kind_of_error(
    short_lock_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = short_lock_env
    poison_lodging(monkeypatch)
    bad = export_cn_to_kz("E-1")
    bad["invoice"]["currency"] = "ZZZ"
    assert env.lodge(bad).status_code == 422
    env.works("E-after-422")
    assert env.lodge(export_cn_to_kz("E-after-422")).status_code == 409
    env.works("E-after-409")
    missing = env.client.get(f"{API}/declarations/000000000000ffffffffff", headers=env.auth())
    assert missing.status_code == 404
    env.works("E-after-404")
    (r,) = within(15, [lambda: env.lodge(export_cn_to_kz(f"{POISON}-E"))])
    assert r.status_code >= 400
    env.works("E-after-db-error")
    with write_lock_held(env.platform):
        (r,) = within(15, [lambda: env.lodge(export_cn_to_kz("E-locked"))])
    assert r.status_code == 503
    env.works("E-after-503")


def test_committer_that_dies_is_restarted_and_shown_in_readiness(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = lodging.store_group
    died = False

    def dies_once(p: Platform, g: list[lodging.Lodging]) -> Any:
        nonlocal died
        if not died:
            died = True
            raise SystemExit("injected: the committer thread is told to exit")
        return real(p, g)

    monkeypatch.setattr(lodging, "store_group", dies_once)
    (first,) = within(15, [lambda: env.lodge(export_cn_to_kz("DIE-1"))])
    assert first.status_code == 500 and first.json()["status"] == 500
    env.works("DIE-2")
    ready = env.client.get(f"{API}/health/ready").json()
    committer = ready["threads"]["group_commit"]
    assert committer["state"] == "running" and committer["restarts"] >= 1
    assert "SystemExit" in committer["last_error"]


def test_readiness_reports_the_background_threads(platform: Platform) -> None:
    seeded(platform)
    with TestClient(create_app(platform=platform)) as client:
        ready = client.get(f"{API}/health/ready")
        assert ready.status_code == 200
        threads = ready.json()["threads"]
        assert threads["risk_worker"]["state"] == "running"
        assert threads["group_commit"]["restarts"] == 0


def test_identical_concurrent_retries_without_group_commit_get_one_declaration(
    platform: Platform,
) -> None:
    """Several retries of one request race; the losers read the winner back (no 409).

    The losers are held for a moment after they looked up the Idempotency-Key, so the winner
    commits in between: the moment at which, unhandled, they would see its LRN but not its key.
    """
    env = next(_env(platform, group_commit=False))
    seen_key_lookups = 0

    def hold_losers(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        nonlocal seen_key_lookups
        if "FROM idempotency_keys" in statement:
            seen_key_lookups += 1
            if seen_key_lookups > 1:
                time.sleep(0.4)

    event.listen(env.platform.db.engine, "after_cursor_execute", hold_losers)
    body = export_cn_to_kz("RACE-NGC")
    answers = within(
        30, [lambda: env.lodge(body, **{"Idempotency-Key": "race-ngc"}) for _ in range(5)]
    )
    event.remove(env.platform.db.engine, "after_cursor_execute", hold_losers)
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 200, 200, 200, 201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    env.platform.close()


def test_batch_line_the_database_refuses_is_rejected_alone(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison_lodging(monkeypatch)
    nul = export_cn_to_kz("BN-nul")
    nul["goods_items"][0]["description"] = "bolts\u0000and nuts"
    bodies = [export_cn_to_kz(f"BN-{i}") for i in range(4)]
    bodies[1:1] = [export_cn_to_kz(f"{POISON}-B")]
    bodies.append(nul)
    (r,) = within(
        30,
        [
            lambda: env.client.post(
                f"{API}/declarations/batch",
                content="\n".join(json.dumps(b) for b in bodies).encode(),
                headers=NDJSON | env.auth(),
            )
        ],
    )
    assert r.status_code == 200, r.text
    outcome = {line["lrn"]: line for line in r.json()["lines"]}
    assert {lrn for lrn, line in outcome.items() if line["outcome"] == "accepted"} >= {
        f"BN-{i}" for i in range(4)
    }
    assert outcome[f"{POISON}-B"]["outcome"] == "rejected" and outcome[f"{POISON}-B"]["errors"]
    # NUL is refused by the control-character rule before the database sees it (both databases)
    last = r.json()["lines"][-1]
    assert last["outcome"] == "rejected"
    assert last["errors"][0]["field"] == "/goods_items/0/description"
    assert last["errors"][0]["code"] == "control_character"
    env.works("AFTER-BATCH")


def test_unreachable_postgresql_answers_503_not_a_stall(platform: Platform) -> None:
    if platform.settings.is_sqlite:
        pytest.skip("a SQLite file is opened, not reached")
    from silkgate.core.db import Database
    from silkgate.core.errors import Unavailable
    from silkgate.declarations.service import prepare
    from tests.factories import caller

    who = caller(platform, seeded(platform), "cn-broker")
    lodging_ = lodging.Lodging(who, prepare(export_cn_to_kz("DOWN-1")))
    down = variant(platform)
    down.settings.database_url = "postgresql+psycopg://postgres@127.0.0.1:1/silkgate"
    down.db.dispose()
    down.db = Database(down.settings)
    (outcome,) = within(15, [lambda: lodging.store_isolated(down, [lodging_])])
    assert isinstance(outcome[0], Unavailable)
    ready = TestClient(create_app(platform=down)).get(f"{API}/health/ready")
    assert ready.status_code == 503
    down.close()

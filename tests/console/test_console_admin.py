"""Administrator pages: organizations and their keys, agreements with their signatures,
subscription health and dead letters, audit verification — role gating, organization scoping,
CSRF refusals and the changes audited with the person."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update

from silkgate.audit import checkpoints
from silkgate.audit.models import AuditEntry
from silkgate.console import admin_service, i18n
from silkgate.core.platform import Platform
from silkgate.exchange import service as exchange
from silkgate.exchange.agreements.models import Agreement, AgreementSignature
from silkgate.exchange.models import Delivery
from silkgate.exchange.schemas import SubscriptionIn
from silkgate.registry import service as registry
from tests.conftest import one_backend
from tests.console.browser import Browser
from tests.console.people import World, admin, member, world
from tests.factories import caller

LANGS = {"en": "en", "ru_KZ": "ru-KZ", "kk_KZ": "kk-KZ", "zh_Hans_CN": "zh-Hans-CN"}
ADMIN_PAGES = (
    "/console/admin/organizations",
    "/console/admin/agreements",
    "/console/admin/subscriptions",
    "/console/admin/new-agreement",
)


@dataclass
class Admins:
    w: World
    plat: Browser  # administrator of the platform administration (Karamay center)
    kz: Browser  # administrator of Kazakh customs
    broker: Browser  # administrator of a Chinese broker
    kz_key: str  # prefixes of each organization's API key
    broker_key: str
    kz_token: str


def _admins(platform: Platform, lang: str = "en") -> Admins:
    w = world(platform)
    kz_key, kz_token = registry.issue_api_key(platform, w.ids["kz-customs"], "kz system", "t")
    broker_key, _ = registry.issue_api_key(platform, w.ids["cn-broker"], "broker system", "t")
    admin(w, "karamay", "plat.boss")
    admin(w, "kz-customs", "kzboss")
    admin(w, "cn-broker", "brokerboss")
    out = []
    for login in ("plat.boss", "kzboss", "brokerboss"):
        b = Browser(platform, lang)
        b.sign_in(w, login)
        out.append(b)
    return Admins(w, *out, kz_key.prefix, broker_key.prefix, kz_token)


def _org(w: World, key: str) -> str:
    return f"/console/admin/organizations/{w.ids[key]}"


def _audit(platform: Platform, action: str) -> list[AuditEntry]:
    with platform.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_platform_admin_sees_every_organization_others_only_their_own(platform: Platform) -> None:
    a = _admins(platform)
    listed = a.plat.get("/console/admin/organizations")
    rows = re.findall(r'data-testid="organization-row" data-member-id="([^"]+)"', listed.text)
    assert listed.status_code == 200 and sorted(rows) == sorted(a.w.ids.values())
    assert "Customs broker" in listed.text and 'id="nav-audit"' in listed.text
    page = a.plat.get(_org(a.w, "cn-broker"))
    assert page.status_code == 200 and f'data-prefix="{a.broker_key}"' in page.text
    # an organization's administrator: their own organization, nothing of another
    own = a.kz.get("/console/admin/organizations")
    rows = re.findall(r'data-testid="organization-row" data-member-id="([^"]+)"', own.text)
    assert rows == [a.w.ids["kz-customs"]] and 'id="nav-audit"' not in own.text
    page = a.kz.get(_org(a.w, "kz-customs"))
    assert page.status_code == 200 and f'data-prefix="{a.kz_key}"' in page.text
    assert "kz system" in page.text and a.kz_token not in page.text  # never the secret
    for other in ("cn-broker", "karamay"):
        refused = a.kz.get(_org(a.w, other))
        assert refused.status_code == 404 and a.broker_key not in refused.text
    assert a.broker.get(_org(a.w, "kz-customs")).status_code == 404
    assert a.kz_key not in a.broker.get(_org(a.w, "cn-broker")).text


def test_revoke_and_rotate_a_key_audited_with_the_person(platform: Platform) -> None:
    a = _admins(platform)
    org = _org(a.w, "kz-customs")
    r = a.kz.post(f"{org}/keys/{a.kz_key}/rotate", {}, from_page=org)
    token = re.search(r'data-testid="new-api-key">([^<]+)<', r.text)
    assert r.status_code == 200 and token and 'data-testid="notice"' in r.text
    assert registry.authenticate(platform, token.group(1)) is not None
    assert registry.authenticate(platform, a.kz_token) is None  # the old key is revoked
    new = next(
        k for k in registry.list_api_keys(platform, a.w.ids["kz-customs"]) if not k.revoked_at
    )
    assert new.label == "kz system"
    page = a.kz.get(org)
    assert token.group(1) not in page.text  # shown once
    r = a.kz.post(f"{org}/keys/{new.prefix}/revoke", {}, from_page=org)
    assert r.status_code == 303 and "done=revoked" in r.headers["location"]
    assert registry.authenticate(platform, token.group(1)) is None
    revoked = _audit(platform, "api_key.revoked")
    assert {e.person for e in revoked} == {"kzboss"} and len(revoked) == 2
    assert {e.actor for e in revoked} == {a.w.ids["kz-customs"]}
    again = a.kz.post(f"{org}/keys/{new.prefix}/revoke", {}, from_page=org)
    assert again.status_code == 409 and "revoked already" in again.text
    # a platform administrator may revoke another organization's key
    broker = _org(a.w, "cn-broker")
    r = a.plat.post(f"{broker}/keys/{a.broker_key}/revoke", {}, from_page=broker)
    assert r.status_code == 303
    assert _audit(platform, "api_key.revoked")[-1].person == "plat.boss"


def test_no_administrator_touches_another_organizations_keys(platform: Platform) -> None:
    a = _admins(platform)
    own, other = _org(a.w, "kz-customs"), _org(a.w, "cn-broker")
    # the broker's key through Kazakh customs' own address, and through the broker's
    for path in (f"{own}/keys/{a.broker_key}/revoke", f"{other}/keys/{a.broker_key}/revoke",
                 f"{other}/keys/{a.broker_key}/rotate", f"{own}/keys/{a.broker_key}/rotate"):  # fmt: skip
        r = a.kz.post(path, {}, from_page=own)
        assert r.status_code == 404, path
    r = a.kz.post(f"{other}/signing-key", {"public_key": "A" * 43 + "="}, from_page=own)
    assert r.status_code == 404
    keys = registry.list_api_keys(platform, a.w.ids["cn-broker"])
    assert [k.revoked_at for k in keys] == [None]
    assert _audit(platform, "api_key.revoked") == []
    assert len(_audit(platform, "api_key.created")) == 2  # the two made before the test


def test_signing_key_registered_and_bad_keys_refused(platform: Platform) -> None:
    import base64

    a = _admins(platform)
    org = _org(a.w, "kz-customs")
    bad = a.kz.post(f"{org}/signing-key", {"public_key": "not a key"}, from_page=org)
    assert bad.status_code == 422 and 'data-field="public_key"' in bad.text
    public = base64.b64encode(bytes(range(32))).decode()
    r = a.kz.post(f"{org}/signing-key", {"public_key": public}, from_page=org)
    assert r.status_code == 303
    assert registry.caller_for(platform, a.w.ids["kz-customs"]).signing_key == public
    assert _audit(platform, "organization.signing_key_registered")[-1].person == "kzboss"


def test_pages_gated_by_role(platform: Platform) -> None:
    a = _admins(platform)
    anonymous = Browser(platform)
    for path in (*ADMIN_PAGES, "/console/admin/audit"):
        r = anonymous.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")
    boss, _ = admin(a.w, "kz-eport", "eportboss")
    member(a.w, boss, "eport.officer", ["officer"])
    officer = Browser(platform)
    officer.sign_in(a.w, "eport.officer")
    for path in (*ADMIN_PAGES, "/console/admin/audit", _org(a.w, "kz-eport")):
        assert officer.get(path).status_code == 403, path
    assert 'id="nav-organizations"' not in officer.get("/console/").text
    # the audit page and verification: platform administrators only
    assert a.kz.get("/console/admin/audit").status_code == 403
    r = a.kz.post("/console/admin/audit/verify", {}, from_page="/console/admin/organizations")
    assert r.status_code == 403 and _audit(platform, "console.audit_verified") == []


def test_every_action_refuses_a_bad_csrf_token(platform: Platform) -> None:
    a = _admins(platform)
    org = _org(a.w, "kz-customs")
    actions = {
        f"{org}/keys/{a.kz_key}/revoke": {},
        f"{org}/keys/{a.kz_key}/rotate": {},
        f"{org}/signing-key": {"public_key": "A" * 43 + "="},
        "/console/admin/deliveries/1/retry": {},
    }
    for path, data in actions.items():
        for token in ("", "forged"):
            r = a.kz.client.post(path, data={"csrf_token": token, **data})
            assert r.status_code == 403 and "out of date" in r.text, path
    for token in ("", "forged"):
        r = a.plat.client.post("/console/admin/audit/verify", data={"csrf_token": token})
        assert r.status_code == 403
    assert registry.authenticate(platform, a.kz_token) is not None
    assert registry.caller_for(platform, a.w.ids["kz-customs"]).signing_key is None
    assert _audit(platform, "console.audit_verified") == []


def test_agreements_of_the_organization_with_signatures_checked(platform: Platform) -> None:
    a = _admins(platform)
    listed = a.kz.get("/console/admin/agreements")
    ids = re.findall(r'data-agreement-id="([^"]+)"', listed.text)
    assert listed.status_code == 200 and ids
    first = ids[0]
    page = a.kz.get(f"/console/admin/agreements/{first}")
    assert page.status_code == 200 and 'data-testid="signature-row"' in page.text
    assert 'data-valid="yes"' in page.text and 'data-valid="no"' not in page.text
    assert 'data-testid="agreement-purposes"' in page.text
    assert 'data-testid="agreement-places"' in page.text
    # a broker is party to none of them and gets 404 for each
    other = a.broker.get("/console/admin/agreements")
    assert 'data-testid="empty"' in other.text and not re.findall(r"data-agreement-id", other.text)
    for agreement_id in ids:
        assert a.broker.get(f"/console/admin/agreements/{agreement_id}").status_code == 404
    # a signature changed in the database no longer verifies, and the page says so
    with platform.db.session() as s:
        row = s.scalar(
            select(Agreement.id).where(Agreement.agreement_id == first).order_by(Agreement.version)
        )
        s.execute(
            update(AgreementSignature)
            .where(AgreementSignature.row_id == row)
            .values(signature="A" * 86 + "==")
        )
    page = a.kz.get(f"/console/admin/agreements/{first}")
    assert 'data-valid="no"' in page.text and "does not verify" in page.text


def test_subscriptions_health_scoped_and_dead_letters_retried(platform: Platform) -> None:
    a = _admins(platform)
    kz, broker = caller(platform, a.w.ids, "kz-customs"), caller(platform, a.w.ids, "cn-broker")
    hook = exchange.add_subscription(platform, kz, SubscriptionIn(url="http://127.0.0.1:9/hook"))
    pull = exchange.add_subscription(platform, broker, SubscriptionIn(topics=["*"]))
    with platform.db.session() as s:
        msg = exchange.enqueue(s, kz.id, "queue.called_forward", {"n": 1}, "m1", platform.clock())
        from silkgate.audit.service import append

        append(s, platform.signer, [exchange.message_event(msg, "test")])
    with platform.db.session() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.subscription_id == hook.id)
            .values(status="dead", attempts=8, last_error="HTTP 500")
        )
        dead_id = s.scalar(select(Delivery.id).where(Delivery.subscription_id == hook.id))
    page = a.kz.get("/console/admin/subscriptions")
    assert page.status_code == 200
    assert re.findall(r'data-subscription-id="(\d+)"', page.text) == [str(hook.id)]
    assert f'data-delivery-id="{dead_id}"' in page.text and "HTTP 500" in page.text
    other = a.broker.get("/console/admin/subscriptions")
    assert re.findall(r'data-subscription-id="(\d+)"', other.text) == [str(pull.id)]
    assert "HTTP 500" not in other.text and 'data-testid="no-dead"' in other.text
    # the broker cannot retry Kazakh customs' delivery; Kazakh customs can
    r = a.broker.post(f"/console/admin/deliveries/{dead_id}/retry", {},
                      from_page="/console/admin/subscriptions")  # fmt: skip
    assert r.status_code == 404
    r = a.kz.post(f"/console/admin/deliveries/{dead_id}/retry", {},
                  from_page="/console/admin/subscriptions")  # fmt: skip
    assert r.status_code == 303 and "done=retried" in r.headers["location"]
    page = a.kz.get(r.headers["location"])
    assert f'data-delivery-id="{dead_id}"' not in page.text
    assert 'data-testid="subscription-waiting">1<' in page.text
    assert _audit(platform, "exchange.retried")[-1].person == "kzboss"
    again = a.kz.post(f"/console/admin/deliveries/{dead_id}/retry", {},
                      from_page="/console/admin/subscriptions")  # fmt: skip
    assert again.status_code == 409 and "Only a failed delivery" in again.text


def _verify(b: Browser) -> Any:
    """Ask for a verification on the page, wait for the background run, then the page."""
    r = b.post("/console/admin/audit/verify", {}, from_page="/console/admin/audit")
    assert r.status_code == 303 and r.headers["location"].endswith("done=verifying"), r.text[:300]
    return _wait_done(b)


def test_audit_verification_recorded_with_the_person(platform: Platform) -> None:
    a = _admins(platform)
    page = a.plat.get("/console/admin/audit")
    assert page.status_code == 200 and 'data-testid="no-runs"' in page.text
    checkpoints.append(platform.settings.checkpoint_path, checkpoints.make(platform))
    r = _verify(a.plat)
    assert r.status_code == 200, r.text[:300]
    assert 'data-testid="audit-result" data-ok="yes"' in r.text
    assert 'data-testid="checkpoint-row"' in r.text and "not by a pinned key" not in r.text
    runs = _audit(platform, "console.audit_verified")
    assert len(runs) == 1 and runs[0].person == "plat.boss" and runs[0].state["ok"] is True
    assert runs[0].actor == a.w.ids["karamay"]
    assert 'data-testid="run-person">plat.boss<' in r.text
    # a stored record changed behind the log's back is found and named
    with platform.db.session() as s:
        s.execute(
            update(Agreement).where(Agreement.id == s.scalar(select(Agreement.id).limit(1)))
            .values(places=["US"])
        )  # fmt: skip
    r = _verify(a.plat)
    assert 'data-ok="no"' in r.text and 'data-testid="audit-problems"' in r.text
    assert _audit(platform, "console.audit_verified")[-1].state["ok"] is False


def test_audit_verification_runs_in_the_background_one_at_a_time(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request only starts the run; a second ask while it runs starts nothing; a run that
    fails is shown on the page and in readiness, and the next ask runs again."""
    a = _admins(platform)
    release, entered = threading.Event(), threading.Event()
    real = admin_service.verify_audit

    def held(platform: Platform, person: Any) -> Any:
        entered.set()
        assert release.wait(30)
        return real(platform, person)

    monkeypatch.setattr(admin_service, "verify_audit", held)
    r = a.plat.post("/console/admin/audit/verify", {}, from_page="/console/admin/audit")
    assert r.status_code == 303 and r.headers["location"].endswith("done=verifying")
    assert entered.wait(10)
    page = a.plat.get("/console/admin/audit")
    assert 'data-testid="audit-running"' in page.text and "plat.boss" in page.text
    assert re.search(r'id="audit-run" data-live="', page.text)  # refreshes until done
    again = a.plat.post("/console/admin/audit/verify", {}, from_page="/console/admin/audit")
    assert again.headers["location"].endswith("done=verify_busy")
    release.set()
    page = _wait_done(a.plat)
    assert 'data-testid="audit-result" data-ok="yes"' in page.text
    assert len(_audit(platform, "console.audit_verified")) == 1  # the second ask ran nothing

    def broken(platform: Platform, person: Any) -> Any:
        raise OSError("the checkpoint file cannot be read")

    monkeypatch.setattr(admin_service, "verify_audit", broken)
    a.plat.post("/console/admin/audit/verify", {}, from_page="/console/admin/audit")
    page = _wait_done(a.plat)
    assert 'data-testid="audit-failed"' in page.text and "cannot be read" in page.text
    ready = a.plat.client.get("/api/v1/health/ready").json()
    assert ready["threads"]["audit_verifications"]["failures"] == 1
    assert ready["threads"]["audit_verifications"]["state"] == "running"
    monkeypatch.setattr(admin_service, "verify_audit", real)
    assert 'data-ok="yes"' in _verify(a.plat).text


def _wait_done(b: Browser) -> Any:
    """The audit page once the background run has finished (60 s at most)."""
    runs = b.client.app.state.audit_verifications  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while runs.running is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runs.running is None, "the verification did not finish within 60 s"
    return b.get("/console/admin/audit")


@pytest.mark.parametrize("lang", list(LANGS))
def test_admin_pages_in_each_language(platform: Platform, lang: str) -> None:
    one_backend(platform, "the pages in a language")
    a = _admins(platform, LANGS[lang])
    words = i18n.translations(lang)
    agreement = re.findall(r'data-agreement-id="([^"]+)"', a.kz.get(ADMIN_PAGES[1]).text)[0]
    for b, path in [
        *((a.kz, p) for p in ADMIN_PAGES),
        (a.kz, _org(a.w, "kz-customs")),
        (a.kz, f"/console/admin/agreements/{agreement}"),
        (a.plat, "/console/admin/audit"),
    ]:
        r = b.get(path)
        assert r.status_code == 200, path
        nav = re.search(r'id="nav-agreements"[^>]*>([^<]+)<', r.text)
        assert nav and nav.group(1) == words.gettext("Agreements")


def test_a_notice_set_by_a_form_shows_on_the_page_it_answers_with(platform: Platform) -> None:
    """The invitation link and a replaced key answer the POST directly; their notice shows
    although FastAPI read the query string before the route set it."""
    a = _admins(platform)
    r = a.kz.post(
        "/console/admin/users/invite",
        {"login": "new.officer", "display_name": "New Officer", "roles": "officer"},
        from_page="/console/admin/users",
    )
    assert r.status_code == 200 and 'data-testid="invite-link"' in r.text
    assert 'data-testid="notice"' in r.text and "The invitation is made" in r.text

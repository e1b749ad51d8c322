"""Administrators propose, sign and revoke data-sharing agreements and add or remove
subscriptions in the console: the terms go through the API's model and checks, a signature
made offline with ``silkgate org sign-text`` over the downloaded terms activates a version,
refusals land on the input they concern and store nothing, and the audit log names the person."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from typer.testing import CliRunner

from silkgate.audit.models import AuditEntry
from silkgate.cli import app as cli
from silkgate.core.platform import Platform
from silkgate.core.signing import b64, public_key_b64, write_private_key_file
from silkgate.exchange import service as exchange
from silkgate.exchange.agreements import service as agreements
from silkgate.exchange.agreements.models import Agreement
from silkgate.exchange.models import Subscription
from silkgate.registry import service as registry
from tests.console.browser import Browser, csrf_of
from tests.console.people import World, admin, world

NEW = "/console/admin/new-agreement"


def _post(b: Browser, path: str, data: dict[str, Any], from_page: str) -> httpx.Response:
    """Submit a form with repeated inputs (checkboxes) as the page would, CSRF included."""
    token = csrf_of(b.get(from_page).text)
    return b.client.post(path, data={"csrf_token": token, **data})


def _audit(platform: Platform, action: str) -> list[AuditEntry]:
    with platform.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _agreements(platform: Platform) -> int:
    with platform.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Agreement).where(~Agreement.builtin)))


def _signed_in(w: World, org: str, login: str, tmp: Path) -> tuple[Browser, Path]:
    """An organization's administrator in a browser, and its private key file (the public
    half registered)."""
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(w.platform, w.ids[org], public_key_b64(key), "test")
    path = tmp / f"{org}.key"
    write_private_key_file(path, key)
    admin(w, org, login)
    b = Browser(w.platform)
    b.sign_in(w, login)
    return b, path


def _terms(w: World, **over: Any) -> dict[str, Any]:
    """Kazakh customs-service company shares booking slots with a Chinese broker."""
    return {
        "category": "booking",
        "provider": w.ids["kz-service"],
        "consumers": w.ids["cn-broker"],
        "fields": ["/crossing", "/day", "/hour", "/status"],
        "purposes": ["queue_management"],
        "places": "KZ, CN",
        "crossings": ["KHG-NZH"],
        "valid_from": w.clock.now.date().isoformat(),
        "valid_until": "",
        "condition": "",
        **over,
    }


def _sign(b: Browser, agreement_id: str, version: int, key_file: Path, tmp: Path) -> str:
    """Download the version's terms and sign them with the CLI, as an administrator would."""
    page = f"/console/admin/agreements/{agreement_id}"
    r = b.get(f"{page}/versions/{version}/terms.json")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    terms = tmp / f"{agreement_id}-v{version}.json"
    terms.write_bytes(r.content)
    out = CliRunner().invoke(cli, ["org", "sign-text", "--key-file", str(key_file), str(terms)])
    assert out.exit_code == 0, out.output
    return out.output.strip()


def test_propose_sign_by_both_parties_renew_and_revoke(platform: Platform, tmp_path: Path) -> None:
    w = world(platform)
    svc, svc_key = _signed_in(w, "kz-service", "svcboss", tmp_path)
    broker, broker_key = _signed_in(w, "cn-broker", "brokerboss", tmp_path)
    form = svc.get(f"{NEW}?category=booking")
    assert form.status_code == 200 and 'value="/driver/name"' in form.text
    assert 'data-testid="chosen-category">Slot bookings<' in form.text

    r = _post(svc, NEW, _terms(w), NEW)
    assert r.status_code == 303 and "done=proposed" in r.headers["location"], r.text[:500]
    agreement_id = r.headers["location"].split("/")[-1].split("?")[0]
    page = svc.get(r.headers["location"])
    assert "Every party signs it now" in page.text and 'id="sign-form-1"' in page.text
    assert _audit(platform, "agreement.proposed")[-1].person == "svcboss"

    # a signature over other bytes is refused on the signature input; nothing is signed
    wrong = b64(Ed25519PrivateKey.generate().sign(b"{}"))
    base = f"/console/admin/agreements/{agreement_id}"
    bad = _post(svc, f"{base}/versions/1/sign", {"signature": wrong}, base)
    assert bad.status_code == 422 and 'data-field="signature"' in bad.text
    assert "does not verify" in bad.text and f'value="{wrong}"' in bad.text
    assert _audit(platform, "agreement.signed") == []
    # anything but a base64 signature of the API's length is refused before it is checked
    padded = " ".join(_sign(svc, agreement_id, 1, svc_key, tmp_path))
    bad = _post(svc, f"{base}/versions/1/sign", {"signature": padded}, base)
    assert bad.status_code == 422 and 'data-field="signature"' in bad.text
    assert _audit(platform, "agreement.signed") == []

    signature = _sign(svc, agreement_id, 1, svc_key, tmp_path)
    r = _post(svc, f"{base}/versions/1/sign", {"signature": signature}, base)
    assert r.status_code == 303 and "done=agreement_signed" in r.headers["location"]
    page = svc.get(base)
    assert 'id="sign-form-1"' not in page.text and 'data-valid="yes"' in page.text
    again = _post(svc, f"{base}/versions/1/sign", {"signature": signature}, base)
    assert again.status_code == 409

    # the consumer signs last: the agreement is in force
    signature = _sign(broker, agreement_id, 1, broker_key, tmp_path)
    r = _post(broker, f"{base}/versions/1/sign", {"signature": signature}, base)
    assert r.status_code == 303 and "done=agreement_active" in r.headers["location"]
    assert agreements.get_version(platform, registry.caller_for(platform, w.ids["cn-broker"]),
                                  agreement_id, 1).in_force  # fmt: skip
    assert [e.person for e in _audit(platform, "agreement.signed")] == ["svcboss", "brokerboss"]

    # the consumer subscribes to the data under it, for a purpose and place it allows
    subs = "/console/admin/subscriptions"
    assert f'<option value="{agreement_id}">' in broker.get(subs).text
    under = {"url": "", "topics": "", "agreement_id": agreement_id, "categories": ["booking"],
             "purpose": "statistics", "place": "CN"}  # fmt: skip
    r = _post(broker, subs, under, subs)
    assert (
        r.status_code == 422 and 'data-field="purpose"' in r.text and "queue_management" in r.text
    )
    r = _post(broker, subs, {**under, "purpose": "queue_management"}, subs)
    assert r.status_code == 303 and "done=subscribed" in r.headers["location"]

    # a new version starts from the current terms and keeps them unless changed
    renewal = broker.get(f"{NEW}?from={agreement_id}")
    assert (
        renewal.status_code == 200 and f'name="agreement_id" value="{agreement_id}"' in renewal.text
    )
    assert re.search(r'value="/hour" checked', renewal.text)
    changed = _terms(w, agreement_id=agreement_id, purposes=["queue_management", "statistics"])
    r = _post(broker, NEW, changed, f"{NEW}?from={agreement_id}")
    assert r.status_code == 303, r.text[:500]
    page = broker.get(base)
    assert 'data-version="2"' in page.text and 'id="sign-form-2"' in page.text

    # revoking needs a reason; then every live version ends at once
    short = _post(svc, f"{base}/revoke", {"reason": "x"}, base)
    assert short.status_code == 422 and 'data-field="reason"' in short.text
    r = _post(svc, f"{base}/revoke", {"reason": "contract ended"}, base)
    assert r.status_code == 303 and "done=agreement_revoked" in r.headers["location"]
    statuses = re.findall(r'data-testid="agreement-status">([^<]+)<', svc.get(base).text)
    assert statuses == ["Revoked", "Revoked"]
    assert _audit(platform, "agreement.revoked")[-1].person == "svcboss"


def test_a_refused_proposal_names_each_input_and_stores_nothing(
    platform: Platform, tmp_path: Path
) -> None:
    w = world(platform)
    svc, _ = _signed_in(w, "kz-service", "svcboss", tmp_path)
    before = _agreements(platform)
    bad = _terms(
        w,
        consumers=f"KZ/COM/NOBODY, {w.ids['kz-service']}",
        fields=["/crossing", "/driver/name"],
        purposes=[],
        places="KZ, XX",
        valid_from="2027-05-10",
        valid_until="2027-05-01",
        condition="crossing ==",
    )
    r = _post(svc, NEW, bad, NEW)
    assert r.status_code == 422
    fields = set(re.findall(r'data-testid="field-error" data-field="([a-z_]+)"', r.text))
    assert {"purposes"} <= fields  # the model refuses first: no purpose
    r = _post(svc, NEW, {**bad, "purposes": ["statistics"]}, NEW)
    fields = set(re.findall(r'data-testid="field-error" data-field="([a-z_]+)"', r.text))
    assert r.status_code == 422
    assert fields == {"consumers", "fields", "places", "valid_until", "condition"}, fields
    assert "KZ/COM/NOBODY" in r.text and "personal data" in r.text
    # what was typed comes back
    assert 'value="KZ/COM/NOBODY, ' in r.text and 'value="/driver/name" checked' in r.text
    assert _agreements(platform) == before
    # a new agreement's own id, refused, stays an input to correct (not a "new version")
    r = _post(svc, NEW, _terms(w, agreement_id="ab"), NEW)
    assert r.status_code == 422 and 'data-field="agreement_id"' in r.text
    assert 'id="ag-agreement_id" name="agreement_id" type="text" value="ab"' in r.text
    assert "Propose an agreement" in r.text and 'id="category-form"' in r.text
    # an organization that is not a party may not propose
    outsider = _terms(w, provider=w.ids["kz-customs"], consumers=w.ids["cn-broker"])
    r = _post(svc, NEW, outsider, NEW)
    assert r.status_code == 403 and 'data-field="provider"' in r.text
    assert _agreements(platform) == before and _audit(platform, "agreement.proposed") == []


def test_agreement_actions_are_for_parties_with_a_csrf_token(
    platform: Platform, tmp_path: Path
) -> None:
    w = world(platform)
    svc, _ = _signed_in(w, "kz-service", "svcboss", tmp_path)
    outsider, _ = _signed_in(w, "kz-customs", "kzboss", tmp_path)
    r = _post(svc, NEW, _terms(w), NEW)
    agreement_id = r.headers["location"].split("/")[-1].split("?")[0]
    base = f"/console/admin/agreements/{agreement_id}"
    assert outsider.get(base).status_code == 404
    assert outsider.get(f"{base}/versions/1/terms.json").status_code == 404
    r = _post(outsider, f"{base}/revoke", {"reason": "not mine"}, "/console/admin/agreements")
    assert r.status_code == 404
    for path, data in ((f"{base}/revoke", {"reason": "forged"}), (NEW, _terms(w))):
        for token in ("", "forged"):
            r = svc.client.post(path, data={**data, "csrf_token": token})
            assert r.status_code == 403 and "out of date" in r.text, path
    assert _audit(platform, "agreement.revoked") == [] and _agreements(platform) == 1


def test_subscriptions_added_and_removed_with_refusals_by_input(
    platform: Platform, tmp_path: Path
) -> None:
    w = world(platform)
    kz, _ = _signed_in(w, "kz-customs", "kzboss", tmp_path)
    broker, _ = _signed_in(w, "cn-broker", "brokerboss", tmp_path)
    page = "/console/admin/subscriptions"
    empty = {"url": "", "topics": "", "agreement_id": "", "purpose": "", "place": ""}
    bad = _post(kz, page, {**empty, "url": "ftp://example.org/x", "topics": "*"}, page)
    assert bad.status_code == 422 and 'data-field="url"' in bad.text
    assert 'value="ftp://example.org/x"' in bad.text and "absolute http or https" in bad.text
    mixed = _post(kz, page, {**empty, "topics": "*", "categories": ["booking"]}, page)
    assert mixed.status_code == 422 and 'data-field="categories"' in mixed.text
    assert 'value="booking" checked' in mixed.text
    unknown = _post(kz, page, {**empty, "agreement_id": "nope-123", "categories": ["booking"],
                               "purpose": "statistics"}, page)  # fmt: skip
    assert unknown.status_code == 422 and 'data-field="agreement_id"' in unknown.text
    with platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Subscription)) == 0

    r = _post(kz, page, {**empty, "topics": "declaration.accepted queue.called_forward"}, page)
    assert r.status_code == 303 and "done=subscribed" in r.headers["location"], re.findall(
        r"<p[^>]*>[^<]*</p>", r.text
    )
    caller = registry.caller_for(platform, w.ids["kz-customs"])
    (sub,) = exchange.list_subscriptions(platform, caller)
    assert sub.kind == "pull" and sub.topics == ["declaration.accepted", "queue.called_forward"]
    assert _audit(platform, "exchange.subscribed")[-1].person == "kzboss"
    listed = kz.get(page)
    assert f'id="remove-{sub.id}"' in listed.text

    # another organization cannot remove it; its own administrator can
    r = _post(broker, f"{page}/{sub.id}/remove", {}, page)
    assert r.status_code == 404
    r = _post(kz, f"{page}/{sub.id}/remove", {}, page)
    assert r.status_code == 303 and "done=unsubscribed" in r.headers["location"]
    assert not exchange.list_subscriptions(platform, caller)[0].active
    assert f'id="remove-{sub.id}"' not in kz.get(page).text
    assert _audit(platform, "exchange.unsubscribed")[-1].person == "kzboss"


def test_a_next_version_says_when_whole_days_change_the_validity(
    platform: Platform, tmp_path: Path
) -> None:
    """Terms proposed through the API may start at any time; the form gives whole UTC days,
    and says so rather than widen the validity silently."""
    from datetime import UTC, datetime, timedelta

    from silkgate.exchange.agreements.schemas import AgreementIn

    w = world(platform)
    svc, _ = _signed_in(w, "kz-service", "svcboss", tmp_path)
    start = datetime.now(UTC).replace(hour=16, minute=0, second=0, microsecond=0)
    body = AgreementIn(
        provider=w.ids["kz-service"], consumers=[w.ids["cn-broker"]], category="booking",
        fields=["/crossing"], purposes=["statistics"], places=["KZ"], valid_from=start,
        valid_until=start + timedelta(days=30),
    )  # fmt: skip
    caller = registry.caller_for(platform, w.ids["kz-service"])
    made = agreements.propose(platform, caller, body)
    agreements.revoke(platform, caller, made.agreement_id, "to renew")
    page = svc.get(f"{NEW}?from={made.agreement_id}")
    assert page.status_code == 200 and 'data-testid="days-rounded"' in page.text
    assert 'name="renewing" value="1"' in page.text
    midnight = _post(svc, NEW, _terms(w), NEW).headers["location"].split("/")[-1].split("?")[0]
    assert 'data-testid="days-rounded"' not in svc.get(f"{NEW}?from={midnight}").text

"""Administrator pages for exchange and audit: the organization's subscriptions (added and
removed) with their delivery health and dead letters to retry, and — for platform
administrators — an audit verification with the checkpoints. Agreements:
``admin_agreements.py``."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from silkgate.console import admin_service as admin
from silkgate.console import agreement_form, labels
from silkgate.console import service as console
from silkgate.console.admin_agreements import errors_of
from silkgate.console.audit_runs import AuditVerifications
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.platform_admin import administrator, platform_admin
from silkgate.console.web import field_errors, refuse_csrf
from silkgate.core.errors import Conflict, SilkgateError
from silkgate.core.validation import parse_model
from silkgate.exchange.schemas import SubscriptionIn
from silkgate.exchange.subscriptions import DELIVERED

router = APIRouter(prefix=f"{PREFIX}/admin", include_in_schema=False)


def _health(
    p: Page,
    person: console.Person,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    p.back = f"{PREFIX}/admin/subscriptions"
    return p.render(
        "admin_subscriptions.html",
        status=status,
        title=p.gettext("Subscriptions and deliveries"),
        section="subscriptions",
        health=admin.health(p.platform, person),
        errors=errors or {},
        form=form or {"topics": "*", "place": person.organization[:2], "categories": []},
        agreements=[
            a.agreement_id
            for a in admin.agreement_list(p.platform, person)
            if a.status.value == "active"
        ],
        categories=[(c.value, p.gettext(labels.CATEGORIES[c.value])) for c in sorted(DELIVERED)],
        purposes=agreement_form.purposes(p.gettext),
    )


@router.get("/subscriptions")
def subscriptions(p: Page = Depends(page)) -> Response:
    person = administrator(p)
    if isinstance(person, Response):
        return person
    return _health(p, person)


def subscription_of(form: dict[str, Any]) -> dict[str, Any]:
    """The API's ``SubscriptionIn`` for the form: raw topics, or data categories under an
    agreement (data or a purpose chosen without an agreement are sent, to be refused by name;
    the place, prefilled with the organization's country, counts only with an agreement)."""
    body: dict[str, Any] = {
        "categories": form["categories"] or None,
        "purpose": form["purpose"] or None,
    }
    if form["url"]:
        body["url"] = form["url"]
    if form["agreement_id"]:
        body["agreement_id"] = form["agreement_id"]
        if form["place"]:
            body["place"] = form["place"].upper()
    else:
        body["topics"] = [t for t in re.split(r"[\s,;]+", form["topics"]) if t] or None
    return body


def _subscribe(p: Page, person: console.Person, form: dict[str, Any]) -> Response:
    try:
        admin.subscribe(p.platform, person, parse_model(SubscriptionIn, subscription_of(form)))
    except SilkgateError as exc:
        if exc.status not in (409, 422):
            raise
        return _health(p, person, exc.status, errors_of(p, exc), form)
    return p.redirect(f"{PREFIX}/admin/subscriptions", done="subscribed")


@router.post("/subscriptions")
async def subscribe(request: Request, p: Page = Depends(page)) -> Response:
    """Add a webhook or a pull feed (the same checks as ``POST /exchange/subscriptions``)."""
    raw = await request.form(max_files=0, max_fields=50)
    if not p.csrf_ok(str(raw.get("csrf_token", ""))):
        return refuse_csrf(p)
    person = administrator(p)
    if isinstance(person, Response):
        return person
    texts = ("url", "topics", "agreement_id", "purpose", "place")
    form: dict[str, Any] = {k: str(raw.get(k, "")).strip() for k in texts}
    form["categories"] = [str(v) for v in raw.getlist("categories")]
    response: Response = await run_in_threadpool(_subscribe, p, person, form)
    return response


@router.post("/subscriptions/{subscription_id}/remove")
def unsubscribe(
    p: Page = Depends(page), subscription_id: int = Path(ge=1), csrf_token: str = Form("")
) -> Response:
    """Remove one of the organization's subscriptions (``DELETE /exchange/subscriptions``)."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = administrator(p)
    if isinstance(person, Response):
        return person
    try:
        admin.unsubscribe(p.platform, person, subscription_id)
    except Conflict as exc:
        return _health(p, person, 409, field_errors(p, exc))
    return p.redirect(f"{PREFIX}/admin/subscriptions", done="unsubscribed")


@router.post("/deliveries/{delivery_id}/retry")
def retry(
    p: Page = Depends(page), delivery_id: int = Path(ge=1), csrf_token: str = Form("")
) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = administrator(p)
    if isinstance(person, Response):
        return person
    try:
        admin.retry(p.platform, person, delivery_id)
    except Conflict as exc:
        return _health(p, person, 409, field_errors(p, exc))
    return p.redirect(f"{PREFIX}/admin/subscriptions", done="retried")


def verifications(p: Page) -> AuditVerifications:
    """The app's background verifications (made with the app, its thread started on demand)."""
    found: AuditVerifications = p.request.app.state.audit_verifications
    return found


def _audit(p: Page, person: console.Person) -> Response:
    p.back = f"{PREFIX}/admin/audit"
    runs = verifications(p)
    return p.render(
        "admin_audit.html",
        title=p.gettext("Audit log"),
        section="audit",
        running=runs.running,
        last=runs.last,
        result=runs.last.result if runs.last else None,
        live_seconds=min(p.platform.settings.console_live_seconds, 2.0),  # while one runs
        checkpoints=admin.checkpoint_list(p.platform, person),
        runs=admin.past_runs(p.platform, person),
    )


@router.get("/audit")
def audit(p: Page = Depends(page)) -> Response:
    person = platform_admin(p)
    if isinstance(person, Response):
        return person
    return _audit(p, person)


@router.post("/audit/verify")
def verify(p: Page = Depends(page), csrf_token: str = Form("")) -> Response:
    """Start verifying the chain, the checkpoints and the tables in the background (one run at
    a time); the page shows the run and then its result, logged with the person."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = platform_admin(p)
    if isinstance(person, Response):
        return person
    started = verifications(p).ask(person)
    return p.redirect(f"{PREFIX}/admin/audit", done="verifying" if started else "verify_busy")

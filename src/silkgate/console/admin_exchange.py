"""Administrator pages for exchange and audit: the organization's agreements (one with its
signatures checked again), its subscriptions with their delivery health and dead letters to
retry, and — for platform administrators — an audit verification with the checkpoints."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import Response

from silkgate.console import admin_service as admin
from silkgate.console import labels
from silkgate.console import service as console
from silkgate.console.audit_runs import AuditVerifications
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.platform_admin import administrator
from silkgate.console.web import field_errors, refuse_csrf
from silkgate.core.errors import Conflict

router = APIRouter(prefix=f"{PREFIX}/admin", include_in_schema=False)
AgreementId = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{2,79}$")


def _status(p: Page, status: str) -> str:
    found = labels.AGREEMENT_STATUSES.get(status)
    return p.gettext(found) if found else status


@router.get("/agreements")
def agreements(p: Page = Depends(page)) -> Response:
    person = administrator(p)
    if isinstance(person, Response):
        return person
    return p.render(
        "admin_agreements.html",
        title=p.gettext("Data-sharing agreements"),
        section="agreements",
        items=admin.agreement_list(p.platform, person),
        status_name=lambda s: _status(p, s),
    )


@router.get("/agreements/{agreement_id}")
def agreement(p: Page = Depends(page), agreement_id: str = AgreementId) -> Response:
    person = administrator(p)
    if isinstance(person, Response):
        return person
    history, checks = admin.agreement(p.platform, person, agreement_id)
    return p.render(
        "admin_agreement.html",
        title=p.gettext("Agreement %(id)s") % {"id": agreement_id},
        section="agreements",
        history=history,
        versions=list(reversed(history.versions)),
        checks=checks,
        status_name=lambda s: _status(p, s),
    )


def _health(
    p: Page, person: console.Person, status: int = 200, errors: dict[str, str] | None = None
) -> Response:
    p.back = f"{PREFIX}/admin/subscriptions"
    return p.render(
        "admin_subscriptions.html",
        status=status,
        title=p.gettext("Subscriptions and deliveries"),
        section="subscriptions",
        health=admin.health(p.platform, person),
        errors=errors or {},
    )


@router.get("/subscriptions")
def subscriptions(p: Page = Depends(page)) -> Response:
    person = administrator(p)
    if isinstance(person, Response):
        return person
    return _health(p, person)


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


def _platform_admin(p: Page) -> console.Person | Response:
    person = administrator(p)
    if isinstance(person, Response):
        return person
    if not person.is_platform_admin:
        return p.error(403, p.gettext("Your role does not allow this page."))
    return person


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
    person = _platform_admin(p)
    if isinstance(person, Response):
        return person
    return _audit(p, person)


@router.post("/audit/verify")
def verify(p: Page = Depends(page), csrf_token: str = Form("")) -> Response:
    """Start verifying the chain, the checkpoints and the tables in the background (one run at
    a time); the page shows the run and then its result, logged with the person."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _platform_admin(p)
    if isinstance(person, Response):
        return person
    started = verifications(p).ask(person)
    return p.redirect(f"{PREFIX}/admin/audit", done="verifying" if started else "verify_busy")

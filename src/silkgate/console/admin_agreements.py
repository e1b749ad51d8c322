"""Administrator pages for data-sharing agreements: the organization's agreements, one with its
signatures checked again, proposing an agreement or its next version, signing a proposed
version and revoking. Changes go through ``console.admin_service`` (the exchange's agreement
service, with the organization's caller and the person in the audit log).

The platform never holds an organization's private key: a version's page offers its terms as
the exact bytes to sign (``silkgate org sign-text``), and the signature is pasted back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from silkgate.codelists.crossings import load_crossings
from silkgate.console import admin_service as admin
from silkgate.console import agreement_form, labels
from silkgate.console import service as console
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.platform_admin import administrator
from silkgate.console.queue_board import crossing_name
from silkgate.console.web import refuse_csrf
from silkgate.core.errors import FieldError, Forbidden, NotFound, SilkgateError
from silkgate.core.validation import parse_model
from silkgate.exchange.agreements.catalogue import Category, spec
from silkgate.exchange.agreements.schemas import AgreementIn, AgreementOut

router = APIRouter(prefix=f"{PREFIX}/admin", include_in_schema=False)
AgreementId = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{2,79}$")
Version = Path(ge=1, le=1_000_000)
LIVE = {"active", "proposed"}
MAX_FIELDS = 700  # every field of the largest catalogue, and the rest of the form


def _status(p: Page, status: str) -> str:
    found = labels.AGREEMENT_STATUSES.get(status)
    return p.gettext(found) if found else status


def _category(p: Page, category: str) -> str:
    found = labels.CATEGORIES.get(category)
    return p.gettext(found) if found else category


def message(p: Page, e: FieldError) -> str:
    """A refusal in the page's language, with the service's specifics where they matter."""
    field = (e.field or "").strip("/").split("/")[0]
    code = e.code
    if code == "format" and field in ("provider", "consumers"):
        code = "party_format"
    elif code == "format" and field == "agreement_id":
        code = "id_format"
    elif code == "value_error" and field == "url":
        code = "url_format"
    elif code.startswith("datetime_") or code.startswith("date_"):
        code = "datetime_parsing"
    text = labels.AGREEMENT_ERRORS.get(code)
    shown = p.gettext(text) if text else labels.field_message(p.gettext, e)
    if agreement_form.detailed(code) and shown != e.message:
        return f"{shown} ({e.message})"
    return shown


def errors_of(p: Page, exc: SilkgateError) -> dict[str, str]:
    """Refusals by input (the pointer's first step names it), the first of each."""
    out: dict[str, str] = {}
    for e in exc.errors:
        out.setdefault((e.field or "").strip("/").split("/")[0] or "_form", message(p, e))
    if not out:
        out["_form"] = exc.detail or exc.title
    return out


@router.get("/agreements")
def agreements(p: Page = Depends(page)) -> Response:
    """The newest version of each agreement the organization is a party to."""
    person = administrator(p)
    if isinstance(person, Response):
        return person
    return p.render(
        "admin_agreements.html",
        title=p.gettext("Data-sharing agreements"),
        section="agreements",
        items=admin.agreement_list(p.platform, person),
        status_name=lambda s: _status(p, s),
        category_name=lambda c: _category(p, c),
    )


def _agreement_page(
    p: Page,
    person: console.Person,
    agreement_id: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    failed_version: int | None = None,
) -> Response:
    p.back = f"{PREFIX}/admin/agreements/{agreement_id}"
    history, checks = admin.agreement(p.platform, person, agreement_id)
    latest = history.versions[-1]
    to_sign = {v.version for v in history.versions if admin.awaiting_mine(person, v)}
    errors = dict(errors or {})
    if failed_version not in to_sign and "signature" in errors:  # e.g. signed meanwhile
        errors["_form"] = errors.pop("signature")
    return p.render(
        "admin_agreement.html",
        status=status,
        title=p.gettext("Agreement %(id)s") % {"id": agreement_id},
        section="agreements",
        history=history,
        versions=list(reversed(history.versions)),
        checks=checks,
        status_name=lambda s: _status(p, s),
        category_name=lambda c: _category(p, c),
        to_sign=to_sign,
        revocable=any(v.status.value in LIVE for v in history.versions),
        renewable=latest.status.value != "proposed",
        errors=errors,
        form=form or {},
        failed_version=failed_version,
    )


@router.get("/agreements/{agreement_id}")
def agreement(p: Page = Depends(page), agreement_id: str = AgreementId) -> Response:
    """One agreement's versions with their signatures checked again, and what the organization
    may do with it (sign, propose a next version, revoke)."""
    person = administrator(p)
    if isinstance(person, Response):
        return person
    return _agreement_page(p, person, agreement_id)


@router.get("/agreements/{agreement_id}/versions/{version}/terms.json")
def terms(
    p: Page = Depends(page), agreement_id: str = AgreementId, version: int = Version
) -> Response:
    """The exact bytes each party signs, as a file to sign with the organization's key."""
    person = administrator(p)
    if isinstance(person, Response):
        return person
    data = admin.terms(p.platform, person, agreement_id, version)
    name = f"{agreement_id}-v{version}-terms.json"
    return Response(
        data,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/agreements/{agreement_id}/versions/{version}/sign")
def sign(
    p: Page = Depends(page),
    agreement_id: str = AgreementId,
    version: int = Version,
    signature: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """Store the organization's signature of a proposed version (made in the page or
    elsewhere); a refusal not about the signature is shown above the page."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = administrator(p)
    if isinstance(person, Response):
        return person
    typed = {"signature": signature}
    if not signature.strip():
        errors = {"signature": p.gettext(labels.ERRORS["required"])}
        return _agreement_page(p, person, agreement_id, 422, errors, typed, version)
    try:
        signed = admin.sign_agreement(p.platform, person, agreement_id, version, signature)
    except SilkgateError as exc:
        if exc.status not in (409, 422):
            raise
        found = errors_of(p, exc)
        errors = {"signature": found.pop("signature")} if "signature" in found else {}
        if found:  # an expired version, a state changed meanwhile: not the signature's fault
            errors["_form"] = " ".join(found.values())
        return _agreement_page(p, person, agreement_id, exc.status, errors, typed, version)
    done = "agreement_active" if signed.status.value == "active" else "agreement_signed"
    return p.redirect(f"{PREFIX}/admin/agreements/{agreement_id}", done=done)


@router.post("/agreements/{agreement_id}/revoke")
def revoke(
    p: Page = Depends(page),
    agreement_id: str = AgreementId,
    reason: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """End the agreement's active and proposed versions at once, with the reason given."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = administrator(p)
    if isinstance(person, Response):
        return person
    try:
        admin.revoke_agreement(p.platform, person, agreement_id, reason)
    except SilkgateError as exc:
        if exc.status not in (409, 422):
            raise
        errors = errors_of(p, exc)  # the reason's own on its input, the rest above the page
        return _agreement_page(p, person, agreement_id, exc.status, errors, {"reason": reason})
    return p.redirect(f"{PREFIX}/admin/agreements/{agreement_id}", done="agreement_revoked")


# --------------------------------------------------------------------------- proposing


def _proposal_page(
    p: Page,
    form: dict[str, Any],
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    p.back = f"{PREFIX}/admin/agreements"
    category = agreement_form.category_or_default(form.get("category"))
    found = spec(category)
    title = (
        p.gettext("New version of agreement %(id)s") % {"id": form["agreement_id"]}
        if form.get("renewing")
        else p.gettext("Propose an agreement")
    )
    return p.render(
        "admin_agreement_new.html",
        status=status,
        title=title,
        section="agreements",
        form=form,
        shown=lambda name: agreement_form.shown(form, name),
        category=category,
        category_label=_category(p, category),
        categories=[(c.value, _category(p, c.value)) for c in Category],
        fields=[(f, f in found.personal) for f in sorted(found.pointers)],
        purposes=agreement_form.purposes(p.gettext),
        crossings=[(c.code, crossing_name(c, p.language)) for c in load_crossings()],
        errors=errors or {},
    )


@router.get("/new-agreement")
def proposal(
    p: Page = Depends(page),
    category: str | None = Query(None, max_length=40),
    from_: str | None = Query(None, alias="from", pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{2,79}$"),
) -> Response:
    """The proposal form: blank for a category, or the next version of an agreement."""
    person = administrator(p)
    if isinstance(person, Response):
        return person
    if from_ is not None:
        latest: AgreementOut = admin.agreement(p.platform, person, from_)[0].versions[-1]
        form = agreement_form.next_version(latest)
    else:
        today = p.platform.clock().astimezone(dt.UTC).date()
        form = agreement_form.blank(person, agreement_form.category_or_default(category), today)
    return _proposal_page(p, form)


def _propose(p: Page, person: console.Person, form: dict[str, Any]) -> Response:
    try:
        body = parse_model(AgreementIn, agreement_form.terms(form))
        made = admin.propose_agreement(p.platform, person, body)
    except Forbidden:
        errors = {"provider": p.gettext(labels.AGREEMENT_ERRORS["not_party"])}
        return _proposal_page(p, form, 403, errors)
    except NotFound:
        errors = {"agreement_id": p.gettext(labels.AGREEMENT_ERRORS["not_yours"])}
        return _proposal_page(p, form, 404, errors)
    except SilkgateError as exc:
        if exc.status not in (409, 422):
            raise
        return _proposal_page(p, form, exc.status, errors_of(p, exc))
    return p.redirect(f"{PREFIX}/admin/agreements/{made.agreement_id}", done="proposed")


@router.post("/new-agreement")
async def propose(request: Request, p: Page = Depends(page)) -> Response:
    """Propose the terms of the form (whole or not at all); its page then asks for signatures."""
    raw = await request.form(max_files=0, max_fields=MAX_FIELDS)
    if not p.csrf_ok(str(raw.get("csrf_token", ""))):
        return refuse_csrf(p)
    person = administrator(p)
    if isinstance(person, Response):
        return person
    form = agreement_form.read(raw, raw.getlist)
    response: Response = await run_in_threadpool(_propose, p, person, form)
    return response

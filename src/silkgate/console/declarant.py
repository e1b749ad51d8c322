"""A declarant's own declaration (brokers, customs-service companies, carriers): its page with
what the API shows its organization (state, lane, version, goods, timeline), amending it
through the lodging form filled from the stored version, and cancelling it with a reason.

Both go through ``declarations.service`` (``amend``, ``cancel``) with the organization's
``Caller`` inside ``console.as_person``, so the service's rules hold as for the API — only the
declarant, only before the truck reaches the border, the LRN never changes, an amendment
stored whole or not at all — and every audit entry names the person. Another organization's
declaration is "not found", whether or not it exists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from silkgate.console import labels
from silkgate.console import service as console
from silkgate.console.labels import N_
from silkgate.console.lodging import declarant_person
from silkgate.console.lodging_form import (
    MAX_LINES,
    declaration_of,
    errors_of,
    form_of,
    line_change,
    lines_of,
    read_form,
    render_form,
)
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.web import field_errors, refuse_csrf
from silkgate.core.errors import Forbidden, NotFound, SilkgateError
from silkgate.core.validation import parse_model
from silkgate.declarations import reading
from silkgate.declarations import service as declarations
from silkgate.declarations.schemas import CancelIn, DeclarationOut
from silkgate.exchange.agreements.enforce import PurposeRequired

router = APIRouter(prefix=PREFIX, include_in_schema=False)
NOT_YOURS = N_("Not found, or not yours to see.")
REASON_NEEDED = N_("Give the reason for cancelling.")
NOT_AMENDABLE = N_(
    "The declaration can no longer be amended: only before the truck reaches the border."
)
NOT_CANCELLABLE = N_(
    "The declaration can no longer be cancelled: only before the truck reaches the border."
)
CHANGED_MEANWHILE = N_(
    "The declaration was amended meanwhile and is at version %(version)s now. Nothing is "
    "stored: open the amendment form again to start from that version."
)
TOO_MANY_LINES = N_(
    "The declaration has %(lines)s goods lines, more than the form takes; amend it through the API."
)
#: Declaration ids are 22 characters; anything much longer is no id.
MAX_ID = 64


def _own(p: Page, person: console.Person, decl_id: str) -> DeclarationOut | None:
    """The declaration as the API shows the person's organization (``GET
    /declarations/{id}``), or None unless the organization lodged it."""
    if not decl_id or len(decl_id) > MAX_ID:
        return None
    try:
        with console.as_person(person) as caller:
            view = reading.get(p.platform, caller, decl_id)
    except (NotFound, PurposeRequired):  # another organization's, shared for a purpose
        return None
    if not isinstance(view, DeclarationOut) or view.declarant != person.organization:
        return None
    return view


def _label(p: Page, table: dict[str, str], code: str | None) -> str:
    if code is None:
        return "—"
    return p.gettext(table[code]) if code in table else code


def _open(view: DeclarationOut) -> bool:
    """Amending and cancelling are for declarations whose truck has not reached the border."""
    return view.status in declarations.BEFORE_ARRIVAL


def _page(
    p: Page,
    person: console.Person,
    view: DeclarationOut,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    from silkgate.gates.timeline import declaration_timeline

    p.back = f"{PREFIX}/my-declarations/{view.id}"
    timeline = None
    withheld = False
    try:
        with console.as_person(person) as caller:
            timeline = declaration_timeline(p.platform, caller, view.id)
    except PurposeRequired:  # parts of it are other organizations' (the API asks a purpose)
        withheld = True
    except NotFound:
        pass
    return p.render(
        "my_declaration.html",
        status=status,
        title=p.gettext("Declaration %(lrn)s") % {"lrn": view.lrn},
        section="my-declarations",
        d=view,
        data=view.data or {},
        can_change=_open(view),
        too_many_lines=len((view.data or {}).get("goods_items", [])) > MAX_LINES,
        timeline=timeline,
        timeline_withheld=withheld,
        errors=errors or {},
        form=form or {},
        label=lambda table, code: _label(p, getattr(labels, table), code),
        timeline_label=lambda what: _label(p, labels.TIMELINE, what),
    )


def _not_yours(p: Page) -> Response:
    return p.error(404, p.gettext(NOT_YOURS))


@router.get("/my-declarations/{decl_id}")
def my_declaration(decl_id: str, p: Page = Depends(page)) -> Response:
    """One of my organization's declarations and what can be done with it in its state."""
    person = declarant_person(p)
    if isinstance(person, Response):
        return person
    view = _own(p, person, decl_id)
    if view is None:
        return _not_yours(p)
    return _page(p, person, view)


# --------------------------------------------------------------------------- amending


def _amendable(p: Page, person: console.Person, view: DeclarationOut) -> Response | None:
    """The declaration's page with the reason it cannot be amended here, or None."""
    if not _open(view):
        return _page(p, person, view, 409, {"_form": p.gettext(NOT_AMENDABLE)})
    lines = len((view.data or {}).get("goods_items", []))
    if lines > MAX_LINES:
        message = p.gettext(TOO_MANY_LINES) % {"lines": lines}
        return _page(p, person, view, 409, {"_form": message})
    return None


@router.get("/my-declarations/{decl_id}/amend")
def amend_form(decl_id: str, p: Page = Depends(page)) -> Response:
    """The lodging form filled from the declaration's current version."""
    person = declarant_person(p)
    if isinstance(person, Response):
        return person
    view = _own(p, person, decl_id)
    if view is None:
        return _not_yours(p)
    refused = _amendable(p, person, view)
    if refused is not None:
        return refused
    form, lines = form_of(view.data, p.language)
    form["version"] = str(view.version)
    return render_form(p, form, lines, {}, amending=view)


@router.post("/my-declarations/{decl_id}/amend")
async def amend(decl_id: str, request: Request, p: Page = Depends(page)) -> Response:
    """Add or remove a goods line (the form comes back as typed), or store the amendment."""
    form = await read_form(request)
    if not p.csrf_ok(form.get("csrf_token")):
        return refuse_csrf(p)
    person = declarant_person(p)
    if isinstance(person, Response):
        return person
    response: Response = await run_in_threadpool(_amend, p, person, decl_id, form)
    return response


def _amend(p: Page, person: console.Person, decl_id: str, form: dict[str, str]) -> Response:
    view = _own(p, person, decl_id)
    if view is None:
        return _not_yours(p)
    lines = lines_of(form)
    changed = line_change(p, form, lines, amending=view)
    if changed is not None:
        return changed
    if form.get("version") != str(view.version):  # amended since the form was opened
        message = p.gettext(CHANGED_MEANWHILE) % {"version": view.version}
        return render_form(p, form, lines, {"_form": message}, 409, amending=view)
    body = declaration_of(form, lines, p.language)
    try:
        with console.as_person(person) as caller:  # checked again under the row's lock
            declarations.amend(p.platform, caller, decl_id, body, view.version)
    except (NotFound, Forbidden):
        return _not_yours(p)
    except SilkgateError as exc:
        if any(e.code == "changed" for e in exc.errors):
            now = _own(p, person, decl_id) or view
            message = p.gettext(CHANGED_MEANWHILE) % {"version": now.version}
            return render_form(p, form, lines, {"_form": message}, 409, amending=now)
        errors = errors_of(p, exc, form, lines)
        if any(e.code == "wrong_state" for e in exc.errors):
            errors["_form"] = p.gettext(NOT_AMENDABLE)
        return render_form(p, form, lines, errors, exc.status, amending=view)
    return p.redirect(f"{PREFIX}/my-declarations/{decl_id}", done="amended")


# --------------------------------------------------------------------------- cancelling


@router.post("/my-declarations/{decl_id}/cancel")
def cancel(
    decl_id: str,
    p: Page = Depends(page),
    reason: str = Form("", max_length=4000),
    csrf_token: str = Form(""),
) -> Response:
    """Withdraw the declaration, with a reason kept in the audit log."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = declarant_person(p)
    if isinstance(person, Response):
        return person
    view = _own(p, person, decl_id)
    if view is None:
        return _not_yours(p)
    form = {"reason": reason}
    if not reason.strip():
        return _page(p, person, view, 422, {"reason": p.gettext(REASON_NEEDED)}, form)
    try:
        body = parse_model(CancelIn, form)  # 1 to 500 characters, no control characters
        with console.as_person(person) as caller:
            declarations.cancel(p.platform, caller, decl_id, body.reason)
    except (NotFound, Forbidden):
        return _not_yours(p)
    except SilkgateError as exc:
        errors: dict[str, Any] = field_errors(p, exc)
        if any(e.code == "wrong_state" for e in exc.errors):
            errors = {"_form": p.gettext(NOT_CANCELLABLE)}
        after = _own(p, person, decl_id) or view  # its state now, which refused the cancel
        return _page(p, person, after, exc.status, errors, form)
    return p.redirect(f"{PREFIX}/my-declarations/{decl_id}", done="declaration_cancelled")

"""The organization administrator's page: the organization's people, inviting and disabling."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from silkgate.console import labels
from silkgate.console import service as console
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.web import field_errors, refuse_csrf
from silkgate.core.errors import Conflict, NotFound, ValidationFailed

router = APIRouter(prefix=f"{PREFIX}/admin", include_in_schema=False)


def _administrator(p: Page) -> console.Person | Response:
    person = p.person
    if person is None:
        return p.sign_in_first()
    if not person.has(console.ConsoleRole.ADMINISTRATOR):
        return p.error(403, p.gettext("Your role does not allow this page."))
    return person


def _people(
    p: Page,
    person: console.Person,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    invite_link: str | None = None,
) -> Response:
    roles = [
        (r.value, p.gettext(labels.ROLES[r.value])) for r in console.roles_for(person.caller.roles)
    ]
    return p.render(
        "people.html",
        status=status,
        title=p.gettext("People of your organization"),
        section="people",
        users=console.list_users(p.platform, person),
        roles=roles,
        role_name=lambda r: p.gettext(labels.ROLES[r]) if r in labels.ROLES else r,
        errors=errors or {},
        form=form or {},
        invite_link=invite_link,
    )


@router.get("/users")
def people(p: Page = Depends(page)) -> Response:
    person = _administrator(p)
    if isinstance(person, Response):
        return person
    return _people(p, person)


@router.post("/users/invite")
def invite(
    p: Page = Depends(page),
    login: str = Form("", max_length=200),
    display_name: str = Form("", max_length=400),
    roles: list[str] = Form([]),
    csrf_token: str = Form(""),
) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _administrator(p)
    if isinstance(person, Response):
        return person
    try:
        token = console.invite(p.platform, person, login, display_name, roles[:10])
    except (ValidationFailed, Conflict) as exc:
        form = {"login": login, "display_name": display_name, "roles": roles}
        status = 409 if isinstance(exc, Conflict) else 422
        return _people(p, person, status, field_errors(p, exc), form)
    link = str(p.request.base_url).rstrip("/") + f"{PREFIX}/invite/{token}"
    p.request.scope["query_string"] = b"done=invited"  # the notice above the link
    return _people(p, person, invite_link=link)


@router.post("/users/{login}/reinvite")
def reinvite(login: str, p: Page = Depends(page), csrf_token: str = Form("")) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _administrator(p)
    if isinstance(person, Response):
        return person
    try:
        token = console.reinvite(p.platform, person, login)
    except NotFound:
        return p.error(404, p.gettext("Not found, or not yours to see."))
    except Conflict as exc:
        return _people(p, person, 409, field_errors(p, exc))
    link = str(p.request.base_url).rstrip("/") + f"{PREFIX}/invite/{token}"
    p.request.scope["query_string"] = b"done=invited"
    return _people(p, person, invite_link=link)


@router.post("/users/{login}/disable")
def disable(login: str, p: Page = Depends(page), csrf_token: str = Form("")) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _administrator(p)
    if isinstance(person, Response):
        return person
    try:
        console.disable_user(p.platform, person, login)
    except NotFound:
        return p.error(404, p.gettext("Not found, or not yours to see."))
    except Conflict as exc:
        return _people(p, person, 409, field_errors(p, exc))
    return p.redirect(f"{PREFIX}/admin/users", done="disabled")

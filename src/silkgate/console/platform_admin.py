"""Administrator pages for organizations: the member directory with roles (every organization
for a platform administrator, their own for others), one organization's API keys (metadata
only) and signing key, revoking and rotating keys. Reads and changes go through
``console.admin_service``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from silkgate.codelists.crossings import load_crossings
from silkgate.console import admin_service as admin
from silkgate.console import labels
from silkgate.console import service as console
from silkgate.console.carrier import form_errors
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.queue_board import crossing_name
from silkgate.console.web import field_errors, refuse_csrf
from silkgate.core.errors import Conflict, ValidationFailed
from silkgate.core.validation import parse_model
from silkgate.registry.schemas import OrganizationCreate, Role

router = APIRouter(prefix=f"{PREFIX}/admin", include_in_schema=False)
Country = Path(pattern=r"^[A-Z]{2}$")
MemberClass = Path(pattern=r"^(GOV|COM)$")
Code = Path(pattern=r"^[A-Za-z0-9\-]{1,40}$")
Prefix = Path(pattern=r"^[0-9a-f]{12}$")


def administrator(p: Page) -> console.Person | Response:
    """The signed-in administrator, else the sign-in page or a 403 page."""
    person = p.person
    if person is None:
        return p.sign_in_first()
    if not person.has(console.ConsoleRole.ADMINISTRATOR):
        return p.error(403, p.gettext("Your role does not allow this page."))
    return person


def org_roles(p: Page, roles: list[str]) -> str:
    return ", ".join(p.gettext(labels.ORG_ROLES[r]) if r in labels.ORG_ROLES else r for r in roles)


@router.get("/organizations")
def organizations(p: Page = Depends(page)) -> Response:
    person = administrator(p)
    if isinstance(person, Response):
        return person
    return p.render(
        "admin_organizations.html",
        title=p.gettext("Organizations"),
        section="organizations",
        orgs=admin.organizations(p.platform, person),
        everyone=person.is_platform_admin,
        org_roles=lambda roles: org_roles(p, roles),
    )


def _org_page(
    p: Page,
    person: console.Person,
    member_id: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    new_token: str | None = None,
    invite_link: str | None = None,
) -> Response:
    p.back = f"{PREFIX}/admin/organizations/{member_id}"
    org = admin.organization(p.platform, person, member_id)
    return p.render(
        "admin_organization.html",
        status=status,
        title=org.name,
        section="organizations",
        org=org,
        keys=admin.api_keys(p.platform, person, member_id),
        org_roles=lambda roles: org_roles(p, roles),
        errors=errors or {},
        new_token=new_token,
        invite_link=invite_link,
        registered=invite_link is not None or status == 201,
    )


#: The registration form's inputs for the pointers of ``OrganizationCreate`` and the newcomer.
NEW_ORG_FIELDS = {
    "/member_id": "code",
    "/name": "name",
    "/roles": "roles",
    "/crossings": "crossings",
    "/signing_public_key": "public_key",
    "/login": "login",
    "/display_name": "display_name",
}


def _new_org_page(
    p: Page,
    form: dict[str, Any],
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    p.back = f"{PREFIX}/admin/organizations"
    return p.render(
        "admin_organization_new.html",
        status=status,
        title=p.gettext("Register an organization"),
        section="organizations",
        form=form,
        countries=admin.member_states(p.platform),
        roles=[(r.value, p.gettext(labels.ORG_ROLES.get(r.value, r.value))) for r in Role],
        crossings=[(c.code, crossing_name(c, p.language)) for c in load_crossings()],
        errors=errors or {},
    )


def platform_admin(p: Page) -> console.Person | Response:
    """The signed-in administrator of a platform-administration organization, else the
    sign-in page or a 403 page."""
    person = administrator(p)
    if isinstance(person, Response):
        return person
    if not person.is_platform_admin:
        return p.error(403, p.gettext("Your role does not allow this page."))
    return person


@router.get("/new-organization")
def new_organization(p: Page = Depends(page)) -> Response:
    """The registration form (platform administrators only)."""
    person = platform_admin(p)
    if isinstance(person, Response):
        return person
    return _new_org_page(p, {"member_class": "COM", "roles": [], "crossings": []})


def _register(p: Page, person: console.Person, form: dict[str, Any]) -> Response:
    member_id = f"{form['country']}/{form['member_class']}/{form['code']}"
    body = {
        "member_id": member_id,
        "name": form["name"],
        "roles": form["roles"],
        "crossings": form["crossings"],
        "signing_public_key": form["public_key"] or None,
    }
    try:
        member_id, token = admin.register_organization(
            p.platform,
            person,
            parse_model(OrganizationCreate, body),
            form["login"],
            form["display_name"],
        )
    except (ValidationFailed, Conflict) as exc:
        return _new_org_page(p, form, exc.status, form_errors(p, exc, NEW_ORG_FIELDS))
    link = str(p.request.base_url).rstrip("/") + f"{PREFIX}/invite/{token}" if token else None
    return _org_page(p, person, member_id, 201, invite_link=link)


@router.post("/new-organization")
async def register(request: Request, p: Page = Depends(page)) -> Response:
    """Register a member organization and, if a login is given, invite its first
    administrator (the one-time invitation link is shown on the answer only)."""
    raw = await request.form(max_files=0, max_fields=60)
    if not p.csrf_ok(str(raw.get("csrf_token", ""))):
        return refuse_csrf(p)
    person = platform_admin(p)
    if isinstance(person, Response):
        return person
    texts = ("country", "member_class", "code", "name", "public_key", "login", "display_name")
    form: dict[str, Any] = {k: str(raw.get(k, "")).strip() for k in texts}
    form["roles"] = [str(v) for v in raw.getlist("roles")]
    form["crossings"] = [str(v) for v in raw.getlist("crossings")]
    response: Response = await run_in_threadpool(_register, p, person, form)
    return response


@router.get("/organizations/{country}/{member_class}/{code}")
def organization(
    p: Page = Depends(page),
    country: str = Country,
    member_class: str = MemberClass,
    code: str = Code,
) -> Response:
    person = administrator(p)
    if isinstance(person, Response):
        return person
    return _org_page(p, person, f"{country}/{member_class}/{code}")


@router.post("/organizations/{country}/{member_class}/{code}/keys/{prefix}/revoke")
def revoke(
    p: Page = Depends(page),
    country: str = Country,
    member_class: str = MemberClass,
    code: str = Code,
    prefix: str = Prefix,
    csrf_token: str = Form(""),
) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = administrator(p)
    if isinstance(person, Response):
        return person
    member_id = f"{country}/{member_class}/{code}"
    try:
        admin.revoke_key(p.platform, person, member_id, prefix)
    except Conflict as exc:
        return _org_page(p, person, member_id, 409, field_errors(p, exc))
    return p.redirect(f"{PREFIX}/admin/organizations/{member_id}", done="revoked")


@router.post("/organizations/{country}/{member_class}/{code}/keys/{prefix}/rotate")
def rotate(
    p: Page = Depends(page),
    country: str = Country,
    member_class: str = MemberClass,
    code: str = Code,
    prefix: str = Prefix,
    csrf_token: str = Form(""),
) -> Response:
    """A new key replaces the old one; its token is shown on this answer only."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = administrator(p)
    if isinstance(person, Response):
        return person
    member_id = f"{country}/{member_class}/{code}"
    try:
        token = admin.rotate_key(p.platform, person, member_id, prefix)
    except Conflict as exc:
        return _org_page(p, person, member_id, 409, field_errors(p, exc))
    p.request.scope["query_string"] = b"done=rotated"  # the notice above the new key
    return _org_page(p, person, member_id, new_token=token)


@router.post("/organizations/{country}/{member_class}/{code}/signing-key")
def signing_key(
    p: Page = Depends(page),
    country: str = Country,
    member_class: str = MemberClass,
    code: str = Code,
    public_key: str = Form("", max_length=200),
    csrf_token: str = Form(""),
) -> Response:
    """Register a new Ed25519 public key (the organization keeps the private half)."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = administrator(p)
    if isinstance(person, Response):
        return person
    member_id = f"{country}/{member_class}/{code}"
    try:
        admin.register_signing_key(p.platform, person, member_id, public_key)
    except ValidationFailed as exc:
        return _org_page(p, person, member_id, 422, field_errors(p, exc))
    return p.redirect(f"{PREFIX}/admin/organizations/{member_id}", done="signing_key")

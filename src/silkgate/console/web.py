"""Console routes for everyone: sign-in with a second factor, invitations, the language, the
home page and the account page. ``install`` mounts the console on the FastAPI app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from silkgate.console import i18n, labels
from silkgate.console import service as console
from silkgate.console.labels import N_
from silkgate.console.pages import (
    LANGUAGE_COOKIE,
    PREFIX,
    STATIC,
    Page,
    page,
    safe_next,
    session_cookie,
)
from silkgate.core.errors import Forbidden, NotFound, SilkgateError, ValidationFailed

router = APIRouter(prefix=PREFIX, include_in_schema=False)
CSRF_REFUSED = N_(
    "The form is out of date or was not sent from this site. Reload the page and try again."
)
SIGN_IN_FAILED = N_(
    "The login or password is wrong, or the account is locked for a while after too many "
    "failed attempts."
)
YEAR = 365 * 24 * 3600


def refuse_csrf(p: Page) -> Response:
    return p.error(403, p.gettext(CSRF_REFUSED))


@router.get("/", name="console_home")
def home(p: Page = Depends(page)) -> Response:
    if p.signed is not None and p.person is None:
        return p.redirect(f"{PREFIX}/sign-in/code")
    person = p.person
    if person is None:
        return p.sign_in_first()
    return p.render(
        "home.html",
        title=p.gettext("Home"),
        section="home",
        role_names=[p.gettext(labels.ROLES[r]) for r in sorted(person.roles) if r in labels.ROLES],
        org_roles=[
            p.gettext(labels.ORG_ROLES[r])
            for r in sorted(person.caller.roles)
            if r in labels.ORG_ROLES
        ],
    )


# --------------------------------------------------------------------------- signing in


@router.get("/sign-in")
def sign_in_form(p: Page = Depends(page), next: str | None = None) -> Response:
    if p.person is not None:
        return p.redirect(safe_next(next))
    if p.signed is not None:
        return p.redirect(f"{PREFIX}/sign-in/code")
    return p.render("sign_in.html", title=p.gettext("Sign in"), next=safe_next(next), error=None)


@router.post("/sign-in")
def sign_in(
    p: Page = Depends(page),
    login: str = Form("", max_length=200),
    password: str = Form("", max_length=1000),
    next: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    try:
        token, stage = console.sign_in(p.platform, login, password)
    except console.SignInFailed:
        return p.render(
            "sign_in.html",
            status=401,
            title=p.gettext("Sign in"),
            next=safe_next(next),
            error=p.gettext(SIGN_IN_FAILED),
            login=login,
        )
    p.set_cookie(session_cookie(p), token)
    if stage == "full":
        return p.redirect(safe_next(next))
    return p.redirect(f"{PREFIX}/sign-in/code?next={safe_next(next)}")


def _code_page(p: Page, next: str, error: str | None, status: int = 200) -> Response:
    signed = p.signed
    assert signed is not None
    setup = None
    if not signed.person.totp_enrolled:
        setup = console.totp_setup(p.platform, p.request.cookies[session_cookie(p)])
    return p.render(
        "code.html",
        status=status,
        title=p.gettext("Two-step sign-in"),
        setup=setup,
        next=safe_next(next),
        error=error,
    )


@router.get("/sign-in/code")
def code_form(p: Page = Depends(page), next: str | None = None) -> Response:
    """The second factor: enter a code, or first set up an authenticator app."""
    if p.signed is None:
        return p.sign_in_first()
    if p.person is not None and p.person.totp_enrolled:
        return p.redirect(safe_next(next))
    return _code_page(p, next or "", None)


@router.post("/sign-in/code")
def code_check(
    p: Page = Depends(page),
    code: str = Form("", max_length=20),
    next: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    if p.signed is None:
        return p.sign_in_first()
    enrolling = not p.signed.person.totp_enrolled
    try:
        token = console.verify_totp(p.platform, p.request.cookies[session_cookie(p)], code)
    except console.SignInFailed:
        if console.session(p.platform, p.request.cookies[session_cookie(p)]) is None:
            p.set_cookie(session_cookie(p), None)  # locked out: start again
            return p.render(
                "sign_in.html",
                status=401,
                title=p.gettext("Sign in"),
                next=safe_next(next),
                error=p.gettext(SIGN_IN_FAILED),
            )
        return _code_page(
            p, next, p.gettext("The code is wrong or was used already. Try the next one."), 401
        )
    p.set_cookie(session_cookie(p), token)
    return p.redirect(safe_next(next), done="totp" if enrolling else None)


@router.post("/sign-out")
def sign_out(p: Page = Depends(page), csrf_token: str = Form("")) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    token = p.request.cookies.get(session_cookie(p))
    if token:
        console.sign_out(p.platform, token)
    p.set_cookie(session_cookie(p), None)
    return p.redirect(f"{PREFIX}/sign-in", done="signed_out")


# --------------------------------------------------------------------------- invitations


@router.get("/invite/{token}")
def invite_form(token: str, p: Page = Depends(page)) -> Response:
    try:
        info = console.invite_info(p.platform, token)
    except NotFound:
        return p.error(404, p.gettext("This invitation is unknown, used or expired."))
    return p.render("invite.html", title=p.gettext("Join"), info=info, errors={})


@router.post("/invite/{token}")
def invite_accept(
    token: str,
    p: Page = Depends(page),
    password: str = Form("", max_length=1000),
    confirm: str = Form("", max_length=1000),
    csrf_token: str = Form(""),
) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    try:
        info = console.invite_info(p.platform, token)
        console.accept_invite(p.platform, token, password, confirm)
    except NotFound:
        return p.error(404, p.gettext("This invitation is unknown, used or expired."))
    except ValidationFailed as exc:
        return p.render(
            "invite.html",
            status=422,
            title=p.gettext("Join"),
            info=info,
            errors=field_errors(p, exc),
        )
    return p.redirect(f"{PREFIX}/sign-in", done="joined")


def field_errors(p: Page, exc: SilkgateError) -> dict[str, str]:
    """Field errors by field name (``login``, ``password``, …) in the page's language."""
    out: dict[str, str] = {}
    for e in exc.errors:
        key = (e.field or "/").strip("/").split("/")[0] or "_form"
        out.setdefault(key, labels.field_message(p.gettext, e))
    if not exc.errors:
        out["_form"] = exc.detail
    return out


# --------------------------------------------------------------------------- language, account


@router.post("/language")
def change_language(
    p: Page = Depends(page),
    language: str = Form(""),
    next: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    if language not in i18n.LANGUAGES:
        return p.error(422, p.gettext("Choose one of the languages offered."))
    p.set_cookie(LANGUAGE_COOKIE, language, YEAR)
    if p.person is not None:
        console.set_language(p.platform, p.person, language)
    return p.redirect(safe_next(next), done="language")


@router.get("/account")
def account(p: Page = Depends(page)) -> Response:
    person = p.person
    if person is None:
        return p.sign_in_first()
    return p.render(
        "account.html",
        title=p.gettext("Your account"),
        section="account",
        role_names=[p.gettext(labels.ROLES[r]) for r in sorted(person.roles) if r in labels.ROLES],
        totp_required=p.signed.totp_required if p.signed else False,
    )


# --------------------------------------------------------------------------- mounting


def install(app: FastAPI) -> None:
    """Mount the console: its pages, its static files, and HTML answers for domain errors
    raised on its routes (the API keeps its problem+json)."""
    from silkgate.console import (
        admin,
        admin_agreements,
        admin_exchange,
        analyst,
        analyst_twin,
        carrier,
        declarant,
        lodging,
        lodging_form,
        officer,
        operator,
        operator_gates,
        operator_walkins,
        platform_admin,
        queue_board,
    )

    app.include_router(router)
    app.include_router(officer.router)
    app.include_router(admin.router)
    app.include_router(platform_admin.router)
    app.include_router(admin_agreements.router)
    app.include_router(admin_exchange.router)
    app.include_router(queue_board.router)
    app.include_router(carrier.router)
    app.include_router(lodging.router)
    app.include_router(lodging_form.router)
    app.include_router(declarant.router)  # after them: /my-declarations/new is no id
    app.include_router(operator.router)
    app.include_router(operator_gates.router)
    app.include_router(operator_walkins.router)
    app.include_router(analyst.router)
    app.include_router(analyst_twin.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    from silkgate.console.audit_runs import AuditVerifications

    app.state.audit_verifications = AuditVerifications(app.state.platform)

    api_handler = app.exception_handlers.get(SilkgateError)

    async def on_error(request: Request, exc: Exception) -> Response:
        p: Page | None = getattr(request.state, "console_page", None)
        if p is not None and isinstance(exc, SilkgateError):
            if isinstance(exc, Forbidden):
                return p.error(403, p.gettext("Your role does not allow this page."))
            if isinstance(exc, NotFound):
                return p.error(404, p.gettext("Not found, or not yours to see."))
            return p.error(exc.status, exc.detail or exc.title)
        assert api_handler is not None
        handler: Callable[[Request, Any], Awaitable[Response]] = api_handler  # type: ignore[assignment]
        return await handler(request, exc)

    app.add_exception_handler(SilkgateError, on_error)

    api_invalid = app.exception_handlers.get(RequestValidationError)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        p: Page | None = getattr(request.state, "console_page", None)
        if p is not None:  # a form field too long or of the wrong kind
            return p.error(422, p.gettext("Check the input"))
        assert api_invalid is not None
        handler: Callable[[Request, Any], Awaitable[Response]] = api_invalid  # type: ignore[assignment]
        return await handler(request, exc)

    app.add_exception_handler(RequestValidationError, on_invalid)

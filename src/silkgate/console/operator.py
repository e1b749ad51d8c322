"""E-port operator pages: the live board of both sides of a crossing it serves, calling the
next trucks forward, and its side's caps and stage capacity. Every read and change calls the
queue services with the organization's ``Caller`` inside ``acting(login)``, so the services'
own checks decide (an operator serves only its crossings and acts only on its own side) and
the audit log names the person. Gate events: ``operator_gates.py``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import Response

from silkgate.codelists.crossings import get_crossing
from silkgate.console import labels
from silkgate.console import service as console
from silkgate.console.carrier import form_errors
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.queue_board import crossing_name
from silkgate.console.web import refuse_csrf
from silkgate.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from silkgate.core.validation import parse_model
from silkgate.queue import board as queue_board
from silkgate.queue import public, waiting
from silkgate.queue import service as queue
from silkgate.queue.schemas import PRIORITY_CLASSES, CapIn, StageIn

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Code = Path(pattern=r"^[A-Z]{3}-[A-Z]{3}$")
MAX_CALL = 50
CAP_FIELDS = {
    "/valid_from": "valid_from",
    "/daily_cap": "daily_cap",
    "/live_share": "live_share",
    "/hourly_profile": "hourly_profile",
    "/exit_country": "route",
    "/crossing": "route",
    "/quotas": "quotas",
    **{f"/quotas/{q.value}": f"quota_{q.value}" for q in PRIORITY_CLASSES},
}


def operator_person(p: Page) -> console.Person | Response:
    """The signed-in officer or supervisor of an e-port operator, else the refusal page."""
    person = p.person
    if person is None:
        return p.sign_in_first()
    if not person.is_operator:
        return p.error(403, p.gettext("Your role does not allow this page."))
    return person


def not_yours(p: Page) -> Response:
    return p.error(404, p.gettext("Not found, or not yours to see."))


def side_label(p: Page, country: str) -> str:
    """ "Chinese side" in the page's language, capitalized to head a section or a row."""
    text = p.gettext(labels.SIDES[country]) if country in labels.SIDES else country
    return text[:1].upper() + text[1:]


@router.get("/operator")
def crossings(p: Page = Depends(page)) -> Response:
    """The crossings the operator serves, each linking to its board."""
    person = operator_person(p)
    if isinstance(person, Response):
        return person
    served = [
        (c, crossing_name(get_crossing(c), p.language)) for c in sorted(person.caller.crossings)
    ]
    return p.render(
        "operator_crossings.html",
        title=p.gettext("Crossings you operate"),
        section="operator",
        served=served,
    )


def _board(p: Page, person: console.Person, code: str, **extra: Any) -> Response:
    p.back = f"{PREFIX}/operator/{code}"
    with console.as_person(person) as caller:
        sides = queue_board.board(p.platform, caller, code)
    return p.render(
        "operator_board.html",
        status=int(extra.pop("status", 200)),
        title=p.gettext("Queue board: %(crossing)s")
        % {"crossing": crossing_name(get_crossing(code), p.language)},
        section="operator",
        code=code,
        sides=sides,
        updated=p.platform.clock(),
        live_seconds=p.platform.settings.console_live_seconds,
        side_label=lambda c: side_label(p, c),
        label=lambda table, key: _label(p, table, key),
        errors=extra.pop("errors", {}),
        form=extra.pop("form", {}),
        max_call=MAX_CALL,
    )


def _label(p: Page, table: str, key: str | None) -> str:
    found: dict[str, str] = getattr(labels, table)
    if key is None:
        return "—"
    return p.gettext(found[key]) if key in found else key


@router.get("/operator/{code}")
def board(p: Page = Depends(page), code: str = Code) -> Response:
    """Both sides' waiting areas and stages: counts, and the own side's trucks."""
    person = operator_person(p)
    if isinstance(person, Response):
        return person
    try:
        return _board(p, person, code)
    except NotFound:
        return not_yours(p)


@router.post("/operator/{code}/call-forward")
def call_forward(
    p: Page = Depends(page),
    code: str = Code,
    count: str = Form("", max_length=4),
    csrf_token: str = Form(""),
) -> Response:
    """Call the next trucks of the own side's waiting area (while the stage has room)."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = operator_person(p)
    if isinstance(person, Response):
        return person
    text = count.strip()
    limit = int(text) if text.isdigit() else None
    if text and (limit is None or not 1 <= limit <= MAX_CALL):
        error = p.gettext("Enter a whole number from 1 to %(max)s, or leave it empty.")
        try:
            return _board(p, person, code, status=422, errors={"count": error % {"max": MAX_CALL}},
                          form={"count": count})  # fmt: skip
        except NotFound:
            return not_yours(p)
    try:
        with console.as_person(person) as caller:
            sides = queue_board.served(caller, code)
            route = (code, caller.country, sides[caller.country])
            out = waiting.call_next(p.platform, caller, route, limit)
    except (NotFound, KeyError):
        return not_yours(p)
    except Forbidden:
        return p.error(403, p.gettext("Your role does not allow this page."))
    done = "called" if out.called else "called_none"
    return p.redirect(f"{PREFIX}/operator/{code}", done=done)


# --------------------------------------------------------------------------- caps and stage


def _caps(p: Page, person: console.Person, code: str, **extra: Any) -> Response:
    p.back = f"{PREFIX}/operator/{code}/caps"
    route = extra.pop("route", None)
    today = queue.local_today(p.platform, p.platform.clock())
    with console.as_person(person) as caller:
        views = queue_board.caps(p.platform, caller, code, today)
    figures = public.public_queue(p.platform, code, today)
    hours = {(d.exit_country, d.entry_country): d for d in figures.directions}
    return p.render(
        "operator_caps.html",
        status=int(extra.pop("status", 200)),
        title=p.gettext("Caps and stage: %(crossing)s")
        % {"crossing": crossing_name(get_crossing(code), p.language)},
        section="operator",
        code=code,
        views=views,
        hours=hours,
        today=today,
        can_change=person.has(console.ConsoleRole.SUPERVISOR),
        side_label=lambda c: side_label(p, c),
        quota_classes=[(q.value, _label(p, "QUOTA_CLASSES", q.value)) for q in PRIORITY_CLASSES],
        quota_label=lambda key: _label(p, "QUOTA_CLASSES", key),
        cap_errors=extra.pop("cap_errors", {}),
        stage_errors=extra.pop("stage_errors", {}),
        form={**_cap_form(views, person.caller.country, route), **extra.pop("form", {})},
    )


def _cap_form(
    views: list[queue_board.CapView], side: str, route: str | None = None
) -> dict[str, str]:
    """The cap form as first shown: the chosen direction (else the first) with the own side's
    newest quotas for it, so a new version changes only what the supervisor changes."""
    if not views:
        return {}
    v = next((v for v in views if f"{v.exit_country}:{v.entry_country}" == route), views[0])
    cap = v.latest.get(side)
    quotas = dict(cap.quotas) if cap is not None else {}
    out = {"route": f"{v.exit_country}:{v.entry_country}"}
    for q in PRIORITY_CLASSES:
        share = quotas.get(q.value, 0.0)
        out[f"quota_{q.value}"] = f"{share * 100:g}" if share else ""
    return out


@router.get("/operator/{code}/caps")
def caps(
    p: Page = Depends(page),
    code: str = Code,
    route: str | None = Query(None, pattern=r"^[A-Z]{2}:[A-Z]{2}$"),
) -> Response:
    """Each direction's newest cap of both sides, today's binding cap and places per hour,
    and the own stage's capacity; supervisors change the own side's."""
    person = operator_person(p)
    if isinstance(person, Response):
        return person
    try:
        return _caps(p, person, code, route=route)
    except NotFound:
        return not_yours(p)


def _supervisor(p: Page) -> console.Person | Response:
    person = operator_person(p)
    if isinstance(person, Response):
        return person
    if not person.has(console.ConsoleRole.SUPERVISOR):
        return p.error(403, p.gettext("Your role does not allow this page."))
    return person


def _share(text: str) -> float | str:
    """A percentage input as a share of 1 (the text itself when it is not a number)."""
    try:
        return round(float(text.strip().replace(",", ".")) / 100, 6) if text.strip() else 0.0
    except ValueError:
        return text


def _quotas(texts: dict[str, str]) -> dict[str, float | str]:
    """The quota inputs (percent) as shares of 1; empty or zero ones left out."""
    shares = {q: _share(t) for q, t in texts.items() if t.strip()}
    return {q: v for q, v in shares.items() if v != 0.0}


def _placed(exc: ValidationFailed, body: dict[str, Any]) -> ValidationFailed:
    """CapIn's checks across fields name no field: put each on the input it concerns."""
    shares = [*body["quotas"].values(), body["live_share"]]
    profile = body["hourly_profile"]
    errors = []
    for e in exc.errors:
        if e.field is None and e.code == "value_error":
            if all(isinstance(x, float) for x in shares) and sum(shares) > 1.0 + 1e-9:
                e = FieldError("/quotas", "over_one", e.message)
            elif isinstance(profile, list) and sum(profile) <= 0:
                e = FieldError("/hourly_profile", "no_weight", e.message)
        errors.append(e)
    return ValidationFailed(errors)


def _profile(text: str) -> list[float] | str | None:
    """24 weights separated by spaces or semicolons, or None for the flat profile."""
    parts = text.replace(";", " ").split()
    if not parts:
        return None
    try:
        return [float(x.replace(",", ".")) for x in parts]
    except ValueError:
        return text


@router.post("/operator/{code}/caps")
def set_cap(
    p: Page = Depends(page),
    code: str = Code,
    route: str = Form("", max_length=8),
    valid_from: str = Form("", max_length=10),
    daily_cap: str = Form("", max_length=8),
    live_share: str = Form("", max_length=8),
    hourly_profile: str = Form("", max_length=600),
    quota_perishables: str = Form("", max_length=8),
    quota_live_animals: str = Form("", max_length=8),
    quota_dangerous_goods: str = Form("", max_length=8),
    quota_humanitarian: str = Form("", max_length=8),
    quota_aeo_tir: str = Form("", max_length=8),
    csrf_token: str = Form(""),
) -> Response:
    """A new cap version of the own side for one direction, its priority quotas as given."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _supervisor(p)
    if isinstance(person, Response):
        return person
    quotas = {"perishables": quota_perishables, "live_animals": quota_live_animals,
              "dangerous_goods": quota_dangerous_goods, "humanitarian": quota_humanitarian,
              "aeo_tir": quota_aeo_tir}  # fmt: skip
    form = {"route": route, "valid_from": valid_from, "daily_cap": daily_cap,
            "live_share": live_share, "hourly_profile": hourly_profile,
            **{f"quota_{q}": text for q, text in quotas.items()}}  # fmt: skip
    exit_c, _, entry_c = route.partition(":")
    body = {
        "crossing": code,
        "exit_country": exit_c,
        "entry_country": entry_c,
        "valid_from": valid_from,
        "daily_cap": int(daily_cap) if daily_cap.strip().isdigit() else daily_cap,
        "live_share": _share(live_share),
        "hourly_profile": _profile(hourly_profile),
        "quotas": _quotas(quotas),
    }
    try:
        with console.as_person(person) as caller:
            queue_board.served(caller, code)  # another crossing: 404, as an unknown one
            try:
                cap = parse_model(CapIn, body)
            except ValidationFailed as exc:
                raise _placed(exc, body) from None
            queue.set_cap(p.platform, caller, cap)
    except NotFound:
        return not_yours(p)
    except Forbidden:
        errors = {"route": p.gettext("Your organization does not set caps for this route.")}
        return _caps(p, person, code, status=403, cap_errors=errors, form=form)
    except (ValidationFailed, Conflict) as exc:
        return _caps(p, person, code, status=422, form=form,
                     cap_errors=form_errors(p, exc, CAP_FIELDS))  # fmt: skip
    return p.redirect(f"{PREFIX}/operator/{code}/caps", done="cap_set")


@router.post("/operator/{code}/stage")
def set_stage(
    p: Page = Depends(page),
    code: str = Code,
    capacity: str = Form("", max_length=6),
    csrf_token: str = Form(""),
) -> Response:
    """The own stage's concurrent capacity; more room calls trucks at once."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _supervisor(p)
    if isinstance(person, Response):
        return person
    try:
        with console.as_person(person) as caller:
            sides = queue_board.served(caller, code)
            body = {
                "crossing": code,
                "exit_country": caller.country,
                "entry_country": sides.get(caller.country, ""),
                "capacity": int(capacity) if capacity.strip().isdigit() else capacity,
            }
            if not capacity.strip():
                raise ValidationFailed([FieldError("/capacity", "required", "a number")])
            waiting.set_stage(p.platform, caller, parse_model(StageIn, body))
    except NotFound:
        return not_yours(p)
    except Forbidden:
        return p.error(403, p.gettext("Your role does not allow this page."))
    except ValidationFailed as exc:
        errors = form_errors(p, exc, {"/capacity": "capacity"})
        return _caps(p, person, code, status=422, stage_errors=errors,
                     form={"capacity": capacity})  # fmt: skip
    return p.redirect(f"{PREFIX}/operator/{code}/caps", done="stage_set")

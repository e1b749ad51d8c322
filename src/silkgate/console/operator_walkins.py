"""E-port operator page: registering a truck that reached the own side's waiting area without a
booking (a walk-in). ``queue.walkin.register`` decides and audits exactly as the API does,
called with the organization's ``Caller`` inside ``acting(login)`` so the log names the
person; its refusals are shown on the input they concern."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from silkgate.codelists.crossings import get_crossing
from silkgate.console import i18n, labels
from silkgate.console import service as console
from silkgate.console.operator import Code, not_yours, operator_person, side_label
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.queue_board import crossing_name
from silkgate.console.web import refuse_csrf
from silkgate.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from silkgate.core.validation import parse_model
from silkgate.queue import board as queue_board
from silkgate.queue import public, walkin
from silkgate.queue import service as queue
from silkgate.queue.schemas import WalkInIn

router = APIRouter(prefix=PREFIX, include_in_schema=False)
#: JSON pointer of ``WalkInIn`` → the form's input (others are shown above the form).
FIELDS = {
    "/truck/tractor_nationality": "tractor_nationality",
    "/truck/tractor_plate": "tractor_plate",
    "/truck/trailer_nationality": "trailer_nationality",
    "/truck/trailer_plate": "trailer_plate",
    "/truck/vin": "vin",
    "/declaration_ids": "declaration_ids",
    "/at": "at",
}
INPUTS = ("tractor_nationality", "tractor_plate", "trailer_nationality", "trailer_plate", "vin",
          "declaration_ids", "at")  # fmt: skip
DECLARATION = re.compile(r"^/declaration_ids/(\d+)$")


def _page(
    p: Page, person: console.Person, code: str, form: dict[str, str],
    errors: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    """The form for the own side's direction, with today's places without a booking."""
    p.back = f"{PREFIX}/operator/{code}/walk-ins"
    with console.as_person(person) as caller:
        sides = queue_board.served(caller, code)
    side = person.caller.country
    if side not in sides:  # an operator registered for a crossing of other countries
        raise NotFound(f"crossing {code}")
    today = queue.local_today(p.platform, p.platform.clock())
    figures = public.public_queue(p.platform, code, today)
    own = next((d for d in figures.directions if d.exit_country == side), None)
    return p.render(
        "operator_walkin.html",
        status=status,
        title=p.gettext("Truck without a booking: %(crossing)s")
        % {"crossing": crossing_name(get_crossing(code), p.language)},
        section="operator",
        code=code,
        side=side,
        side_name=side_label(p, side),
        entry=sides[side],
        live=own,
        form={"route": f"{side}:{sides[side]}", **form},
        errors=errors or {},
    )


@router.get("/operator/{code}/walk-ins")
def walk_in_form(p: Page = Depends(page), code: str = Code) -> Response:
    """The walk-in form of the own side's waiting area."""
    person = operator_person(p)
    if isinstance(person, Response):
        return person
    try:
        return _page(p, person, code, {"tractor_nationality": person.caller.country})
    except NotFound:
        return not_yours(p)


def _at(text: str, side: str) -> dt.datetime | str | None:
    """The arrival as the side's checkpoint clock shows it; empty: now (the text if not a
    time, for the schema to refuse)."""
    if not text.strip():
        return None
    try:
        local = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    return local if local.tzinfo else local.replace(tzinfo=ZoneInfo(i18n.zone_of(side)))


def _body(code: str, route: str, form: dict[str, str], side: str) -> dict[str, Any]:
    """``WalkInIn`` of the form: empty optional inputs left out, codes in capitals."""
    exit_c, _, entry_c = route.partition(":")
    truck: dict[str, Any] = {}
    for name in ("tractor_nationality", "tractor_plate", "trailer_nationality", "trailer_plate",
                 "vin"):  # fmt: skip
        value = form[name].strip()
        if value:
            truck[name] = value if name.endswith("plate") else value.upper()
    return {
        "crossing": code,
        "exit_country": exit_c,
        "entry_country": entry_c,
        "truck": truck,
        "declaration_ids": form["declaration_ids"].replace(",", " ").split(),
        "at": _at(form["at"], side),
    }


def _errors(p: Page, exc: ValidationFailed | Conflict, ids: list[str]) -> dict[str, str]:
    """The refusals by input, the first of each; a declaration's error names its id."""
    out: dict[str, str] = {}
    for e in exc.errors:
        found = DECLARATION.match(e.field or "")
        if found:  # one input holds them all
            e = FieldError("/declaration_ids", e.code, e.message)
        text = labels.field_message(p.gettext, e)
        if found and int(found.group(1)) < len(ids):
            which = ids[int(found.group(1))]
            text = p.gettext("Declaration %(id)s: %(error)s") % {"id": which, "error": text}
        out.setdefault(FIELDS.get(e.field or "", "_form"), text)
    if not out:
        out["_form"] = exc.detail or exc.title
    return out


@router.post("/operator/{code}/walk-ins")
def register(
    p: Page = Depends(page),
    code: str = Code,
    route: str = Form("", max_length=8),
    tractor_nationality: str = Form("", max_length=4),
    tractor_plate: str = Form("", max_length=20),
    trailer_nationality: str = Form("", max_length=4),
    trailer_plate: str = Form("", max_length=20),
    vin: str = Form("", max_length=20),
    declaration_ids: str = Form("", max_length=400),
    at: str = Form("", max_length=30),
    csrf_token: str = Form(""),
) -> Response:
    """The walk-in joins the queue of the route's exit side: only the operator's own side, at
    a crossing it serves (the service refuses others)."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = operator_person(p)
    if isinstance(person, Response):
        return person
    values = (tractor_nationality, tractor_plate, trailer_nationality, trailer_plate, vin,
              declaration_ids, at)  # fmt: skip
    form = dict(zip(INPUTS, values, strict=True))
    body = _body(code, route, form, person.caller.country)
    try:
        with console.as_person(person) as caller:
            queue_board.served(caller, code)  # another crossing: 404, as an unknown one
            walkin.register(p.platform, caller, parse_model(WalkInIn, body))
    except NotFound:
        return not_yours(p)
    except Forbidden:
        errors = {"_form": p.gettext("Only your side's waiting area takes your walk-ins.")}
        return _page(p, person, code, form, errors, status=403)
    except (ValidationFailed, Conflict) as exc:
        errors = _errors(p, exc, body["declaration_ids"])
        return _page(p, person, code, form, errors, status=exc.status)
    return p.redirect(f"{PREFIX}/operator/{code}", done="walk_in")

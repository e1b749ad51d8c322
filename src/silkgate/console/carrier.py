"""Carrier and broker pages: my bookings of crossing slots with each truck's place in the
queue, a booking form that works on a phone, rescheduling. Every read and change calls the
queue services with the organization's ``Caller`` (the API's entitlement) inside
``acting(login)`` so the audit log names the person."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import Response

from silkgate.codelists.crossings import load_crossings
from silkgate.console import labels
from silkgate.console import service as console
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.queue_board import crossing_name
from silkgate.console.web import refuse_csrf
from silkgate.core.errors import Conflict, Forbidden, NotFound, SilkgateError, ValidationFailed
from silkgate.core.validation import parse_model
from silkgate.exchange.agreements.enforce import PurposeRequired
from silkgate.gates.schemas import Timeline
from silkgate.gates.timeline import truck_timeline
from silkgate.queue import reading
from silkgate.queue import service as queue
from silkgate.queue.schemas import BookingIn, BookingOut, CancelIn, QueuePosition, RescheduleIn

# a booking in these states changes no more (after "exited" the entry side still reports)
FINAL_STATUSES = {"no_show", "cancelled", "expired"}
router = APIRouter(prefix=PREFIX, include_in_schema=False)
BookingId = Path(pattern=r"^[0-9a-f]{22}$")
#: The API body's JSON pointers → the booking form's input that answers for them.
FIELDS = {
    "/crossing": "route",
    "/exit_country": "route",
    "/entry_country": "route",
    "/slot/day": "day",
    "/slot/hour": "hour",
    "/quota_class": "quota_class",
    "/truck/tractor_nationality": "tractor_nationality",
    "/truck/tractor_plate": "tractor_plate",
    "/truck/trailer_nationality": "trailer_nationality",
    "/truck/trailer_plate": "trailer_plate",
    "/truck/vin": "vin",
    "/driver/name": "driver_name",
    "/driver/document_number": "driver_document",
    "/declaration_ids": "declaration_ids",
}
BOOKABLE_CLASSES = ("regular", "perishables", "live_animals", "humanitarian")


def _booker(p: Page) -> console.Person | Response:
    person = p.person
    if person is None:
        return p.sign_in_first()
    if not person.is_booker:
        return p.error(403, p.gettext("Your role does not allow this page."))
    return person


def form_errors(p: Page, exc: SilkgateError, fields: dict[str, str]) -> dict[str, str]:
    """Errors by form input (``fields``: JSON pointer → input name), the first of each, in the
    page's language; an error of no input of the form is shown above it (key ``_form``)."""
    by_pointer = fields
    out: dict[str, str] = {}
    for e in exc.errors:
        pointer = e.field or ""
        name = by_pointer.get(pointer)
        if name is None:  # e.g. /slot for a full slot, /declaration_ids/0 for one id
            name = next(
                (n for ptr, n in by_pointer.items() if pointer.startswith(ptr + "/")), None
            ) or next((n for ptr, n in by_pointer.items() if ptr.startswith(pointer + "/")), None)
        out.setdefault(name or "_form", labels.field_message(p.gettext, e))
    if not out:
        out["_form"] = exc.detail or exc.title
    return out


def routes_of(p: Page) -> list[tuple[str, str]]:
    """Every crossing and direction, as ``KHG-NZH:CN:KZ`` with a label in the page's language."""
    out = []
    for c in load_crossings():
        a, b = c.countries
        for exit_c, entry_c in ((a, b), (b, a)):
            way = f"{p.fmt.country(exit_c)} → {p.fmt.country(entry_c)}"
            out.append((f"{c.code}:{exit_c}:{entry_c}", f"{crossing_name(c, p.language)}: {way}"))
    return out


@router.get("/bookings")
def bookings(p: Page = Depends(page)) -> Response:
    """My organization's bookings, newest first."""
    person = _booker(p)
    if isinstance(person, Response):
        return person
    with console.as_person(person) as caller:
        items, _ = reading.list_bookings(p.platform, caller, limit=100, own=True)
    mine = [b for b in items if isinstance(b, BookingOut)]
    return p.render(
        "bookings.html",
        title=p.gettext("Slot bookings"),
        section="bookings",
        items=mine,
        label=lambda table, key: _label(p, table, key),
    )


def _label(p: Page, table: str, key: str | None) -> str:
    found: dict[str, str] = getattr(labels, table)
    if key is None:
        return "—"
    return p.gettext(found[key]) if key in found else key


def _new_form(p: Page, form: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
    return p.render(
        "booking_new.html",
        status=status,
        title=p.gettext("Book a crossing slot"),
        section="bookings",
        form=form,
        errors=errors,
        routes=routes_of(p),
        classes=[(k, p.gettext(labels.QUOTA_CLASSES[k])) for k in BOOKABLE_CLASSES],
        hours=[(str(h), f"{h:02d}:00") for h in range(24)],
    )


@router.get("/bookings/new")
def new_booking(p: Page = Depends(page)) -> Response:
    person = _booker(p)
    if isinstance(person, Response):
        return person
    return _new_form(p, {}, {})


@router.post("/bookings")
def book(
    p: Page = Depends(page),
    route: str = Form("", max_length=20),
    day: str = Form("", max_length=10),
    hour: str = Form("", max_length=2),
    quota_class: str = Form("regular", max_length=20),
    tractor_nationality: str = Form("", max_length=2),
    tractor_plate: str = Form("", max_length=20),
    trailer_nationality: str = Form("", max_length=2),
    trailer_plate: str = Form("", max_length=20),
    vin: str = Form("", max_length=17),
    driver_name: str = Form("", max_length=200),
    driver_document: str = Form("", max_length=30),
    declaration_ids: str = Form("", max_length=400),
    csrf_token: str = Form(""),
) -> Response:
    """Book a slot: the form's fields become the API's booking body, checked the same way."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _booker(p)
    if isinstance(person, Response):
        return person
    form = {
        "route": route, "day": day, "hour": hour, "quota_class": quota_class,
        "tractor_nationality": tractor_nationality, "tractor_plate": tractor_plate,
        "trailer_nationality": trailer_nationality, "trailer_plate": trailer_plate, "vin": vin,
        "driver_name": driver_name, "driver_document": driver_document,
        "declaration_ids": declaration_ids,
    }  # fmt: skip
    crossing, exit_c, entry_c = [*route.split(":"), "", "", ""][:3]
    truck: dict[str, Any] = {
        "tractor_nationality": tractor_nationality.strip().upper(),
        "tractor_plate": tractor_plate.strip(),
        "vin": vin.strip().upper(),
    }
    if trailer_plate.strip():
        truck["trailer_plate"] = trailer_plate.strip()
        truck["trailer_nationality"] = trailer_nationality.strip().upper() or None
    body = {
        "crossing": crossing,
        "exit_country": exit_c,
        "entry_country": entry_c,
        "slot": {"day": day, "hour": int(hour) if hour.isdigit() else hour},
        "quota_class": quota_class,
        "truck": truck,
        "driver": {"name": driver_name.strip(), "document_number": driver_document.strip()},
        "declaration_ids": [d for d in declaration_ids.replace(",", " ").split() if d],
    }
    try:
        parsed = parse_model(BookingIn, body)
        with console.as_person(person) as caller:
            booking = queue.book(p.platform, caller, parsed)
    except (ValidationFailed, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _new_form(p, form, form_errors(p, exc, FIELDS), status)
    return p.redirect(f"{PREFIX}/bookings/{booking.id}", done="booked")


def _detail(
    p: Page, person: console.Person, booking_id: str, errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    p.back = f"{PREFIX}/bookings/{booking_id}"
    with console.as_person(person) as caller:
        b = reading.get_booking(p.platform, caller, booking_id)
        if not isinstance(b, BookingOut) or b.organization != person.organization:
            raise NotFound(f"booking {booking_id}")
        pos: QueuePosition = reading.position(p.platform, caller, booking_id)
        timeline, withheld = _truck_timeline(p, caller, b)
    return p.render(
        "booking.html",
        status=status,
        title=p.gettext("Booking %(id)s") % {"id": booking_id},
        section="bookings",
        b=b,
        pos=pos,
        can_reschedule=b.status == "confirmed",
        live=b.status not in FINAL_STATUSES,
        live_seconds=p.platform.settings.console_live_seconds,
        timeline=timeline,
        timeline_withheld=withheld,
        timeline_label=lambda what: _label(p, "TIMELINE", what),
        errors=errors or {},
        form=form or {"day": b.day.isoformat(), "hour": str(b.hour)},
        hours=[(str(h), f"{h:02d}:00") for h in range(24)],
        label=lambda table, key: _label(p, table, key),
    )


def _truck_timeline(p: Page, caller: Any, b: BookingOut) -> tuple[Timeline | None, bool]:
    """The booked truck's timeline as the organization may see it (gates.timeline decides),
    and whether parts were withheld for want of a declared purpose (another organization's
    declarations: the API answers those with ``Silkgate-Purpose``)."""
    nationality = b.truck.get("tractor_nationality", "")
    plate = b.truck.get("tractor_plate", "")
    try:
        return truck_timeline(p.platform, caller, nationality, plate), False
    except NotFound:
        return None, False
    except PurposeRequired:
        return None, True


@router.get("/bookings/{booking_id}")
def booking(p: Page = Depends(page), booking_id: str = BookingId) -> Response:
    person = _booker(p)
    if isinstance(person, Response):
        return person
    return _detail(p, person, booking_id)


@router.post("/bookings/{booking_id}/reschedule")
def reschedule(
    p: Page = Depends(page),
    booking_id: str = BookingId,
    day: str = Form("", max_length=10),
    hour: str = Form("", max_length=2),
    csrf_token: str = Form(""),
) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _booker(p)
    if isinstance(person, Response):
        return person
    fields = {"/slot/day": "day", "/slot/hour": "hour"}
    try:
        body = parse_model(
            RescheduleIn, {"slot": {"day": day, "hour": int(hour) if hour.isdigit() else hour}}
        )
        with console.as_person(person) as caller:
            queue.reschedule(p.platform, caller, booking_id, body.slot)
    except (ValidationFailed, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        errors = form_errors(p, exc, fields)
        return _detail(p, person, booking_id, errors, {"day": day, "hour": hour}, status)
    except Forbidden:
        return p.error(403, p.gettext("Your role does not allow this page."))
    return p.redirect(f"{PREFIX}/bookings/{booking_id}", done="rescheduled")


@router.post("/bookings/{booking_id}/cancel")
def cancel(
    p: Page = Depends(page),
    booking_id: str = BookingId,
    reason: str = Form("", max_length=2000),
    csrf_token: str = Form(""),
) -> Response:
    """Give the slot back (the queue service checks the booking is ours and still confirmed);
    the reason goes to the audit log with the person."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _booker(p)
    if isinstance(person, Response):
        return person
    try:
        body = parse_model(CancelIn, {"reason": reason.strip()})
        with console.as_person(person) as caller:
            queue.cancel(p.platform, caller, booking_id, body.reason)
    except (ValidationFailed, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        errors = form_errors(p, exc, {"/reason": "reason", "/status": "_form"})
        return _detail(p, person, booking_id, errors, {"reason": reason}, status)
    except Forbidden:
        return p.error(403, p.gettext("Your role does not allow this page."))
    return p.redirect(f"{PREFIX}/bookings/{booking_id}", done="cancelled")

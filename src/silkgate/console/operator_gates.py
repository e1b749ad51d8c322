"""E-port operator pages: the gate events its checkpoint reported at a crossing, and a form to
report one. The form is sent twice: first it shows the event's canonical text for the
checkpoint's key to sign (the platform holds no organization's private key), then, with the
signature, ``gates.service.report`` checks and stores it exactly as the API does, audited
with the person."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from silkgate.codelists.crossings import get_crossing
from silkgate.console import gate_form, labels
from silkgate.console import service as console
from silkgate.console.operator import Code, not_yours, operator_person
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.queue_board import crossing_name
from silkgate.console.web import refuse_csrf
from silkgate.core.errors import NotFound, SilkgateError
from silkgate.gates import recent
from silkgate.gates import service as gates
from silkgate.gates.schemas import BizStep, Disposition, ReadPoint

router = APIRouter(prefix=PREFIX, include_in_schema=False)
#: Words for the GS1 business steps and dispositions the form offers.
BIZ_STEPS = {
    "arriving": labels.N_("Arriving"),
    "inspecting": labels.N_("Inspecting"),
    "holding": labels.N_("Holding"),
    "departing": labels.N_("Departing"),
    "accepting": labels.N_("Accepting"),
    "loading": labels.N_("Loading"),
    "unloading": labels.N_("Unloading"),
}
DISPOSITIONS = {
    "conformant": labels.N_("Conformant"),
    "non_conformant": labels.N_("Not conformant"),
    "in_progress": labels.N_("In progress"),
    "active": labels.N_("Active"),
}


def _errors(p: Page, exc: SilkgateError, refs: list[str]) -> dict[str, str]:
    """The event's field errors by form input, the first of each, in the page's language."""
    out: dict[str, str] = {}
    for e in exc.errors:
        out.setdefault(gate_form.input_of(e.field or "", refs), labels.field_message(p.gettext, e))
    if not out:
        out["_form"] = exc.detail or exc.title
    return out


def _page(
    p: Page, person: console.Person, code: str, form: dict[str, str],
    errors: dict[str, str] | None = None, to_sign: str | None = None, status: int = 200,
) -> Response:  # fmt: skip
    p.back = f"{PREFIX}/operator/{code}/gate-events"
    with console.as_person(person) as caller:
        events = recent.recent(p.platform, caller, code)
    crossing = get_crossing(code)
    return p.render(
        "operator_gates.html",
        status=status,
        title=p.gettext("Gate events: %(crossing)s")
        % {"crossing": crossing_name(crossing, p.language)},
        section="operator",
        code=code,
        side=person.caller.country,
        events=events,
        form=form,
        errors=errors or {},
        to_sign=to_sign,
        read_points=[(r.value, _point(p, r.value)) for r in ReadPoint],
        biz_steps=[(b.value, p.gettext(BIZ_STEPS[b.value])) for b in BizStep],
        dispositions=[(d.value, p.gettext(DISPOSITIONS[d.value])) for d in Disposition],
        countries=sorted(crossing.countries),
        point=lambda key: _point(p, key),
        step=lambda key: p.gettext(BIZ_STEPS[key]) if key in BIZ_STEPS else key,
        disposition=lambda key: p.gettext(DISPOSITIONS[key]) if key in DISPOSITIONS else "—",
    )


REFUSED = labels.N_("Refused entry")


def _point(p: Page, key: str) -> str:
    """A read point in the page's language (the timeline's words)."""
    if key == "refusal":
        return p.gettext(REFUSED)
    return p.gettext(labels.TIMELINE[key]) if key in labels.TIMELINE else key


@router.get("/operator/{code}/gate-events")
def gate_events(p: Page = Depends(page), code: str = Code) -> Response:
    """The operator's recent events at the crossing and the form to report one."""
    person = operator_person(p)
    if isinstance(person, Response):
        return person
    now = gate_form.local_now(p.platform.clock(), person.caller.country)
    form = {"event_time": now, "nationality": person.caller.country, "biz_step": "arriving"}
    try:
        return _page(p, person, code, form)
    except NotFound:
        return not_yours(p)


@router.post("/operator/{code}/gate-events")
def report(
    p: Page = Depends(page),
    code: str = Code,
    read_point: str = Form("", max_length=40),
    biz_step: str = Form("", max_length=20),
    disposition: str = Form("", max_length=20),
    nationality: str = Form("", max_length=4),
    plate: str = Form("", max_length=20),
    event_time: str = Form("", max_length=30),
    declaration_id: str = Form("", max_length=64),
    booking_id: str = Form("", max_length=64),
    corrects: str = Form("", max_length=64),
    signature: str = Form("", max_length=200),
    csrf_token: str = Form(""),
) -> Response:
    """Without a signature: the text to sign. With it: the event checked and stored."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = operator_person(p)
    if isinstance(person, Response):
        return person
    form: dict[str, Any] = {
        "read_point": read_point, "biz_step": biz_step, "disposition": disposition,
        "nationality": nationality, "plate": plate, "event_time": event_time,
        "declaration_id": declaration_id, "booking_id": booking_id, "corrects": corrects,
        "signature": signature,
    }  # fmt: skip
    prepared: gate_form.Prepared | None = None
    try:
        with console.as_person(person) as caller:
            recent.recent(p.platform, caller, code, 1)  # the crossing is one it serves
            prepared = gate_form.prepare(form, code, caller.country)
            if not signature.strip():
                return _page(p, person, code, form, to_sign=prepared.to_sign)
            body = {"event": prepared.event, "signature": signature.strip()}
            gates.report(p.platform, caller, body)
    except NotFound:
        return not_yours(p)
    except SilkgateError as exc:  # the form's fields (prepare) or the stored checks (report)
        refs = gate_form.ref_inputs(form)
        to_sign = prepared.to_sign if prepared is not None else None
        status = exc.status if exc.status in (403, 409, 422) else 422
        return _page(p, person, code, form, _errors(p, exc, refs), to_sign, status)
    return p.redirect(f"{PREFIX}/operator/{code}/gate-events", done="gate_event")

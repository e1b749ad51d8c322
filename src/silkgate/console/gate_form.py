"""The e-port operator's gate-event form: its fields become one EPCIS-shaped event, checked as
the gates service checks it, and the canonical text the checkpoint's key must sign.

The platform never holds an organization's private key, so the console cannot sign for the
operator: the form first shows the exact text to sign (``core.signing.canonical_json``), and
the event is stored by ``gates.service.report`` only with the checkpoint's detached Ed25519
signature over it, exactly as the API stores it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from silkgate.console import i18n
from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.signing import canonical_json
from silkgate.core.validation import parse_model
from silkgate.gates.schemas import GateEventIn

#: The form's inputs, in the order they are shown.
INPUTS = (
    "read_point", "biz_step", "disposition", "nationality", "plate", "event_time",
    "declaration_id", "booking_id", "corrects", "signature",
)  # fmt: skip
#: The event's JSON pointers → the form input that answers for them.
FIELDS = {
    "/event/readPoint": "read_point",
    "/event/bizStep": "biz_step",
    "/event/disposition": "disposition",
    "/event/truck/nationality": "nationality",
    "/event/truck/plate": "plate",
    "/event/truck": "plate",
    "/event/eventTime": "event_time",
    "/event/corrects": "corrects",
    "/signature": "signature",
}


@dataclass(frozen=True)
class Prepared:
    """The event the form describes and the text the checkpoint signs."""

    event: dict[str, Any]
    to_sign: str
    refs: list[str]  # the form input of each bizTransactionList entry, in order


REF_TYPES = {"declaration_id": "declaration", "booking_id": "booking"}


def ref_inputs(form: dict[str, str]) -> list[str]:
    """The inputs filled in among the references, in the event's ``bizTransactionList`` order."""
    return [name for name in REF_TYPES if form.get(name, "").strip()]


def local_now(now: dt.datetime, side: str) -> str:
    """Now at the side's checkpoint, as a ``datetime-local`` input shows it."""
    return now.astimezone(ZoneInfo(i18n.zone_of(side))).strftime("%Y-%m-%dT%H:%M")


def _event_time(text: str, side: str) -> str:
    """The input's local time at the side's checkpoint, with the offset EPCIS requires."""
    try:
        local = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(
            [FieldError("/event/eventTime", "datetime_parsing", "a time as YYYY-MM-DDTHH:MM")]
        ) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(i18n.zone_of(side)))
    return local.replace(microsecond=0).isoformat()


def prepare(form: dict[str, str], crossing: str, side: str) -> Prepared:
    """The event of the form's fields for the caller's side, checked as the gates service
    checks its shape; ValidationFailed naming the event's fields otherwise."""
    inputs = ref_inputs(form)
    refs = [{"type": REF_TYPES[name], "bizTransaction": form[name].strip()} for name in inputs]
    errors: list[FieldError] = []
    event_time = ""
    try:
        event_time = _event_time(form.get("event_time", ""), side)
    except ValidationFailed as exc:
        errors += exc.errors
    event: dict[str, Any] = {
        "eventTime": event_time or "-",
        "bizStep": form.get("biz_step", ""),
        "readPoint": form.get("read_point", ""),
        "crossing": crossing,
        "side": side,
        "truck": {
            "nationality": form.get("nationality", "").strip().upper(),
            "plate": form.get("plate", "").strip().upper(),
        },
        "bizTransactionList": refs,
    }
    if form.get("disposition"):
        event["disposition"] = form["disposition"]
    if form.get("corrects", "").strip():
        event["corrects"] = form["corrects"].strip().lower()
    try:
        parse_model(GateEventIn, event)
    except ValidationFailed as exc:
        errors += [
            FieldError(f"/event{e.field or ''}", e.code, e.message)
            for e in exc.errors
            if not (e.field == "/eventTime" and event_time == "")
        ]
    if errors:
        raise ValidationFailed(errors)
    return Prepared(event, canonical_json(event).decode(), inputs)


def input_of(pointer: str, refs: list[str]) -> str:
    """The form input a field error of the event belongs to (``_form`` when none)."""
    if pointer in FIELDS:
        return FIELDS[pointer]
    prefix = "/event/bizTransactionList/"
    if pointer.startswith(prefix):
        index = pointer[len(prefix) :].split("/")[0]
        if index.isdigit() and int(index) < len(refs):
            return refs[int(index)]
    for ptr, name in FIELDS.items():
        if pointer.startswith(ptr + "/"):
            return name
    return "_form"

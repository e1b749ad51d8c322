"""The administrator's agreement proposal form: its inputs carry the names of the API's
``AgreementIn`` fields, so the terms go through the same model and the same checks as the API,
and a refusal's pointer (``/consumers/1``, ``/fields/3``) names the input it belongs to.

Validity is given in whole days (UTC): from 00:00 on the first day, until 00:00 on the day
after the last one — what a paper agreement says and what a date input offers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from silkgate.console import labels
from silkgate.console.service import Person
from silkgate.exchange.agreements.catalogue import Category, Purpose
from silkgate.exchange.agreements.schemas import AgreementOut

#: Inputs holding several values (checkboxes).
LISTS = ("fields", "purposes", "crossings")
#: Inputs holding codes separated by commas or spaces.
CODES = ("consumers", "places")
TEXTS = ("agreement_id", "provider", "valid_from", "valid_until", "condition")
#: Refusal codes whose English message carries the specifics (which party, which field).
DETAILED = {
    "unknown_party", "not_member", "is_provider", "duplicate", "unknown_field", "personal_data",
    "overlap", "pending_version", "expired", "already_signed", "not_public", "not_in_agreement",
    "unknown_country", "not_allowed", "not_yours",
}  # fmt: skip


def detailed(code: str) -> bool:
    """The service's English message carries what the translated text cannot name."""
    return code in DETAILED or code.startswith("cel_")


Form = dict[str, Any]


def _codes(text: str) -> list[str]:
    return [c for c in re.split(r"[\s,;]+", text.strip()) if c]


def read(form: Mapping[str, Any], getlist: Any) -> Form:
    """The form as typed: text inputs as strings, code lists and checkboxes as lists."""
    out: Form = {name: str(form.get(name, "")).strip() for name in TEXTS}
    out["category"] = str(form.get("category", "")).strip()
    for name in CODES:
        out[name] = _codes(str(form.get(name, "")))
    for name in LISTS:
        out[name] = [str(v) for v in getlist(name)]
    out["personal_data"] = form.get("personal_data") == "on"
    out["renewing"] = form.get("renewing") == "1"
    return out


def _day(text: str, after: bool = False) -> str:
    """A ``YYYY-MM-DD`` day as the RFC 3339 instant it starts (or the next day's start);
    anything else is passed on as typed for the model to refuse on that input."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return text
    if after:
        if day == dt.date.max:
            return text
        day += dt.timedelta(days=1)
    return f"{day.isoformat()}T00:00:00Z"


def terms(form: Form) -> dict[str, Any]:
    """The JSON body of ``AgreementIn`` the form describes."""
    body: dict[str, Any] = {
        "provider": form["provider"],
        "consumers": form["consumers"],
        "category": form["category"],
        "fields": form["fields"],
        "purposes": form["purposes"],
        "places": [c.upper() for c in form["places"]],
        "crossings": form["crossings"],
        "valid_from": _day(form["valid_from"]),
        "personal_data": form["personal_data"],
    }
    if form["agreement_id"]:
        body["agreement_id"] = form["agreement_id"]
    if form["valid_until"]:
        body["valid_until"] = _day(form["valid_until"], after=True)
    if form["condition"]:
        body["condition"] = form["condition"]
    return body


def blank(person: Person, category: str, today: dt.date) -> Form:
    """A new agreement: the organization provides its data to be kept in its own country."""
    return {
        "agreement_id": "",
        "provider": person.organization,
        "consumers": [],
        "category": category,
        "fields": [],
        "purposes": [],
        "places": [person.organization[:2]],
        "crossings": [],
        "valid_from": today.isoformat(),
        "valid_until": "",
        "condition": "",
        "personal_data": False,
        "renewing": False,
    }


def _midnight(at: dt.datetime | None) -> bool:
    return at is None or at.astimezone(dt.UTC).time() == dt.time(0)


def next_version(v: AgreementOut) -> Form:
    """The next version of an agreement, starting from its latest terms (``rounded``: its
    validity does not start and end at midnight UTC, and the form's whole days change it)."""
    until = ""
    if v.valid_until is not None:  # the last day it covers
        until = (v.valid_until - dt.timedelta(seconds=1)).date().isoformat()
    return {
        "agreement_id": v.agreement_id,
        "provider": v.provider,
        "consumers": list(v.consumers),
        "category": v.category.value,
        "fields": list(v.fields),
        "purposes": list(v.purposes),
        "places": list(v.places),
        "crossings": list(v.crossings),
        "valid_from": v.valid_from.date().isoformat(),
        "valid_until": until,
        "condition": v.condition or "",
        "personal_data": v.personal_data,
        "renewing": True,
        "rounded": not (_midnight(v.valid_from) and _midnight(v.valid_until)),
    }


def category_or_default(value: str | None) -> str:
    """The category asked for, if it is one; else pre-arrival information."""
    return value if value in {c.value for c in Category} else Category.PRE_ARRIVAL.value


def purposes(gettext: Any) -> list[tuple[str, str]]:
    """Each purpose's code and its name in the page's language."""
    return [(p.value, gettext(labels.PURPOSES.get(p.value, p.value))) for p in Purpose]


def shown(form: Form, name: str) -> str:
    """An input's value as the page shows it."""
    value = form.get(name, "")
    return ", ".join(value) if isinstance(value, Sequence) and not isinstance(value, str) else value

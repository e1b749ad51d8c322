"""Lodging one declaration field by field (declarants: brokers, carriers, customs-service
companies). The form's inputs are named like the flat CSV's columns (``exporter.name``,
``item.0.hs_code`` …), so the form becomes a declaration exactly as a CSV file of one
declaration would (``declarations.flatfile``) and goes through ``declarations.service.create``:
stored whole or not at all, every refusal shown on its input in the page's language. Numbers
are read in the page's locale (``12,5`` in Russian, ``12.5`` in English). Works without
scripts: goods lines are added and removed with buttons that send the form back.

The same form amends a lodged declaration (``console.declarant``): ``form_of`` fills it from
the stored version, numbers written in the page's locale as the form reads them back."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from silkgate.codelists import INCOTERMS
from silkgate.console import labels
from silkgate.console import service as console
from silkgate.console.carrier import routes_of
from silkgate.console.labels import N_
from silkgate.console.lodging import declarant_person
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.web import refuse_csrf
from silkgate.core.errors import FieldError, SilkgateError
from silkgate.declarations import flatfile
from silkgate.declarations import service as declarations

router = APIRouter(prefix=PREFIX, include_in_schema=False)
MAX_LINES = 99  # a form is for a few lines; a file takes up to the batch limit
MAX_FIELDS = 60 + 11 * MAX_LINES
ITEM = flatfile.ITEM_PREFIX

# (input name, label, kind, attributes); kinds: text, number, date, country, select:<choices>
Field = tuple[str, str, str, str]


def _party(role: str) -> list[Field]:
    return [
        (f"{role}.name", N_("Name"), "text", 'maxlength="512"'),
        (f"{role}.identifier", N_("Identifier (USCC in China, BIN or IIN in Kazakhstan)"),
         "text", 'maxlength="40" autocapitalize="characters"'),
        (f"{role}.country", N_("Country"), "country", ""),
        (f"{role}.address.street", N_("Street and number"), "text", 'maxlength="512"'),
        (f"{role}.address.city", N_("City"), "text", 'maxlength="70"'),
        (f"{role}.address.postcode", N_("Postcode (if any)"), "text", 'maxlength="17"'),
        (f"{role}.address.country", N_("Country of the address"), "country", ""),
    ]  # fmt: skip


SECTIONS: list[tuple[str, list[Field]]] = [
    (N_("Declaration"), [
        ("lrn", N_("Your reference (LRN, up to 35 letters, digits and - _ / .)"), "text",
         'maxlength="35"'),
        ("type", N_("Type"), "select:types", ""),
        ("route", N_("Crossing and direction"), "select:routes", ""),
        ("country_of_export", N_("Country of export"), "country", ""),
        ("country_of_destination", N_("Country of destination"), "country", ""),
    ]),
    (N_("Exporter"), _party("exporter")),
    (N_("Importer"), _party("importer")),
    (N_("Truck"), [
        ("transport.tractor_nationality", N_("Tractor country (two letters, e.g. KZ)"), "country",
         ""),
        ("transport.tractor_plate", N_("Tractor plate"), "text",
         'maxlength="15" autocapitalize="characters"'),
        ("transport.trailer_nationality", N_("Trailer country (if any)"), "country", ""),
        ("transport.trailer_plate", N_("Trailer plate (if any)"), "text",
         'maxlength="15" autocapitalize="characters"'),
        ("seals", N_("Seals (separated by ;)"), "text", 'maxlength="400"'),
        ("tir_carnet", N_("TIR carnet (if any)"), "text", 'maxlength="12"'),
    ]),
    (N_("Driver (if known)"), [
        ("driver.name", N_("Driver's name"), "text", 'maxlength="512" autocomplete="off"'),
        ("driver.document_number", N_("Driver's passport number"), "text",
         'maxlength="30" autocomplete="off"'),
        ("driver.document_country", N_("Country of the passport"), "country", ""),
    ]),
    (N_("Invoice"), [
        ("invoice.number", N_("Invoice number"), "text", 'maxlength="70"'),
        ("invoice.date", N_("Invoice date"), "date", ""),
        ("invoice.currency", N_("Currency (ISO 4217 code)"), "text",
         'maxlength="3" autocapitalize="characters"'),
        ("invoice.incoterm", N_("Incoterm"), "select:incoterms", ""),
        ("invoice.incoterm_place", N_("Incoterm place"), "text", 'maxlength="70"'),
        ("invoice.total_amount", N_("Invoice total (empty: the sum of the lines)"), "number", ""),
    ]),
    (N_("Totals"), [
        ("totals.packages", N_("Packages in all (empty: the sum of the lines)"), "number", ""),
        ("totals.gross_mass_kg", N_("Gross mass in all, kg (empty: the sum of the lines)"),
         "number", ""),
    ]),
]  # fmt: skip

ITEM_FIELDS: list[Field] = [
    ("hs_code", N_("HS code (6 to 10 digits)"), "text", 'maxlength="10" inputmode="numeric"'),
    ("description", N_("Description"), "text", 'maxlength="512"'),
    ("origin_country", N_("Origin"), "country", ""),
    ("packages.count", N_("Packages"), "number", ""),
    ("packages.kind", N_("Kind of package (UN/ECE Rec. 21, e.g. PK)"), "text",
     'maxlength="2" autocapitalize="characters"'),
    ("gross_mass_kg", N_("Gross mass, kg"), "number", ""),
    ("net_mass_kg", N_("Net mass, kg"), "number", ""),
    ("invoice_value", N_("Invoice value"), "number", ""),
    ("customs_value", N_("Customs value"), "number", ""),
    ("supplementary_quantity.value", N_("Supplementary quantity (if any)"), "number", ""),
    ("supplementary_quantity.unit", N_("Its unit (e.g. PCE, LTR)"), "text", 'maxlength="6"'),
]  # fmt: skip
# a line's totals, summed when the declarant leaves the declaration's total empty
SUMS = {
    "totals.packages": "packages.count",
    "totals.gross_mass_kg": "gross_mass_kg",
    "invoice.total_amount": "invoice_value",
}
HEAD_ORDER = [name for _, fields in SECTIONS for name, *_ in fields]
HEAD_NAMES = set(HEAD_ORDER)
#: Columns of a stored declaration the form has no input for: an amendment keeps them as they
#: are (hidden inputs), so amending through the form never drops them.
KEPT = ("containers", "container_seals")


#: Digits before the point beyond which a typed number is left as typed, for the schema to refuse.
MAX_DIGITS = 18


def _number(raw: str, kind: str, language: str) -> str:
    """A number typed in the page's locale as the flat file writes it; text that is no number
    stays as typed, so validation names the field."""
    try:
        value = parse_decimal(raw, locale=language, strict=True)
    except NumberFormatError:
        try:
            value = Decimal(raw)
        except ArithmeticError:
            return raw
    if not value.is_finite() or value.adjusted() > MAX_DIGITS:  # no quantity is that large:
        return raw  # refused by name as typed, never expanded (1E+30000000 has 30 M digits)
    return str(int(value)) if kind == "integer" and value == value.to_integral() else str(value)


def _cell(name: str, raw: str, language: str) -> str:
    kind = flatfile.number_fields().get(name)
    return _number(raw, kind, language) if kind and raw else raw


def declaration_of(form: Mapping[str, str], lines: int, language: str) -> dict[str, Any]:
    """The declaration the form holds; lines left wholly empty are not goods items."""
    head = {n: _cell(n, form.get(n, "").strip(), language) for n in HEAD_NAMES if n != "route"}
    head.update({n: form.get(n, "").strip() for n in KEPT})
    crossing, _, direction = form.get("route", "").partition(":")
    exit_c, _, entry_c = direction.partition(":")
    head.update({"crossing.code": crossing, "crossing.exit_country": exit_c,
                 "crossing.entry_country": entry_c})  # fmt: skip
    rows = []
    for i in range(lines):
        row = {
            ITEM + name: _cell(ITEM + name, form.get(f"{ITEM}{i}.{name}", "").strip(), language)
            for name, *_ in ITEM_FIELDS
        }
        if any(row.values()):
            rows.append((i, row))
    for total, part in SUMS.items():
        if not head.get(total):
            head[total] = _sum([r[ITEM + part] for _, r in rows])
    body = flatfile.declaration_from_rows([{**head, **r} for _, r in rows] or [head])
    if not rows:
        body["goods_items"] = []
    return body


def shown_number(value: str, language: str) -> str:
    """A number as the flat file writes it (``16535.4``), written as the page's locale writes
    it (``16 535,4`` in Russian), exactly: ``_number`` reads it back to the same value."""
    try:
        number = Decimal(value)
    except ArithmeticError:
        return value
    return format_decimal(number, locale=language, decimal_quantization=False)


def form_of(body: Mapping[str, Any], language: str) -> tuple[dict[str, str], int]:
    """The form's inputs filled from a declaration body (the reverse of ``declaration_of``)
    and its number of goods lines."""
    numbers = flatfile.number_fields()
    form: dict[str, str] = {}
    rows = list(flatfile.to_rows([dict(body)]))
    if not rows:  # no goods item: the declaration's columns alone, on one empty line
        rows = list(flatfile.to_rows([{**body, "goods_items": [{}]}]))
    for n, row in enumerate(rows):
        for key, value in row.items():
            if key in numbers and value:
                value = shown_number(value, language)
            if key.startswith(ITEM):
                form[f"{ITEM}{n}.{key[len(ITEM) :]}"] = value
            elif n == 0 and not key.startswith("crossing."):
                form[key] = value
    crossing = body.get("crossing") or {}
    parts = [crossing.get(k, "") for k in ("code", "exit_country", "entry_country")]
    form["route"] = ":".join(parts) if all(parts) else ""
    return form, len(rows)


def _sum(cells: list[str]) -> str:
    try:
        return str(sum(Decimal(c) for c in cells)) if cells else ""
    except ArithmeticError:
        return ""  # a line's cell is no number: that line's input answers for it


def input_of(pointer: str, lines: list[int]) -> str | None:
    """The form input answering for an error's JSON pointer (``lines``: the form line of each
    goods item sent), or None when no input of the form does."""
    parts = pointer.strip("/").split("/")
    if parts[0] == "goods_items" and len(parts) > 2 and parts[1].isdigit():
        n = int(parts[1])
        name = ".".join(parts[2:])
        line = lines[n] if n < len(lines) else n
        known = [f for f, *_ in ITEM_FIELDS]  # in the form's order: the first input of a group
        match = (
            name if name in known else next((f for f in known if f.startswith(name + ".")), None)
        )
        return f"{ITEM}{line}.{match}" if match else None
    if parts[0] == "crossing":
        return "route"
    if parts[0] == "containers":
        return None
    name = ".".join(p for p in parts if not p.isdigit())
    if name in HEAD_NAMES:
        return name
    return next((f for f in HEAD_ORDER if f.startswith(name + ".")), None)


def _errors(p: Page, exc: SilkgateError, lines: list[int]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in exc.errors:
        out.setdefault(input_of(e.field or "", lines) or "_form", _message(p, e))
    if not out:
        out["_form"] = exc.detail or exc.title
    return out


def _message(p: Page, e: FieldError) -> str:
    """The error in the page's language, with the service's specifics (a checksum's expected
    digit, the sum a total differs from) beside it where the code carries them."""
    if e.code == "int_type":  # a count: the generic text speaks of options
        return p.gettext(labels.ERRORS["int_parsing"])
    shown = labels.field_message(p.gettext, e)
    if e.code in labels.DETAILED and shown != e.message:
        return f"{shown} ({e.message})"
    return shown


def _choices(p: Page) -> dict[str, list[tuple[str, str]]]:
    return {
        "types": [(k, p.gettext(v)) for k, v in labels.TYPES.items()],
        "routes": routes_of(p),
        "incoterms": [(c, c) for c in sorted(INCOTERMS)],
    }


def render_form(
    p: Page,
    form: Mapping[str, str],
    lines: int,
    errors: dict[str, str],
    status: int = 200,
    amending: Any = None,
) -> Response:
    """The form: a new declaration, or (``amending``: the declaration as stored) an amendment,
    whose LRN is shown but cannot change."""
    if amending is None:
        title = p.gettext("Lodge a declaration")
    else:
        title = p.gettext("Amend declaration %(lrn)s") % {"lrn": amending.lrn}
    return p.render(
        "lodge_one.html",
        status=status,
        title=title,
        amending=amending,
        fixed={"lrn"} if amending is not None else set(),
        kept=KEPT,
        section="my-declarations",
        sections=SECTIONS,
        item_fields=ITEM_FIELDS,
        choices=_choices(p),
        form=form,
        lines=lines,
        max_lines=MAX_LINES,
        errors=errors,
        item=ITEM,
    )


async def read_form(request: Request) -> dict[str, str]:
    """The form as sent (text fields only; a form of more fields than it can hold is refused)."""
    raw = await request.form(max_fields=MAX_FIELDS, max_files=0)
    return {k: v for k, v in raw.items() if isinstance(v, str)}


def lines_of(form: Mapping[str, str]) -> int:
    """The number of goods lines the form shows (1 to ``MAX_LINES``)."""
    try:
        return min(max(int(form.get("lines", "1")), 1), MAX_LINES)
    except ValueError:
        return 1


def line_change(
    p: Page, form: Mapping[str, str], lines: int, amending: Any = None
) -> Response | None:
    """The form back as typed with a goods line added or removed, or None when it is sent."""
    action = form.get("action", "lodge")
    if action == "add_line":
        return render_form(p, form, min(lines + 1, MAX_LINES), {}, amending=amending)
    if action == "remove_line":
        return render_form(p, form, max(lines - 1, 1), {}, amending=amending)
    return None


def sent_lines(form: Mapping[str, str], lines: int) -> list[int]:
    """The form line of each goods item sent (lines left wholly empty are not items)."""
    return [i for i in range(lines) if any(form.get(f"{ITEM}{i}.{n}") for n, *_ in ITEM_FIELDS)]


def errors_of(p: Page, exc: SilkgateError, form: Mapping[str, str], lines: int) -> dict[str, str]:
    """A refusal's errors by the input answering for each, in the page's language."""
    return _errors(p, exc, sent_lines(form, lines))


@router.get("/my-declarations/new")
def new_form(p: Page = Depends(page)) -> Response:
    person = declarant_person(p)
    if isinstance(person, Response):
        return person
    form = {"form_id": secrets.token_urlsafe(16), "type": "export"}
    return render_form(p, form, 1, {})


@router.post("/my-declarations/new")
async def lodge_one(request: Request, p: Page = Depends(page)) -> Response:
    """Add or remove a goods line (the form comes back as typed), or lodge the declaration."""
    form = await read_form(request)
    if not p.csrf_ok(form.get("csrf_token")):
        return refuse_csrf(p)
    person = declarant_person(p)
    if isinstance(person, Response):
        return person
    lines = lines_of(form)
    changed = line_change(p, form, lines)
    if changed is not None:
        return changed
    body = declaration_of(form, lines, p.language)
    key = form.get("form_id") or None
    try:
        with console.as_person(person) as caller:
            declarations.create(p.platform, caller, body, key[:64] if key else None)
    except SilkgateError as exc:
        return render_form(p, form, lines, errors_of(p, exc, form, lines), 422)
    return p.redirect(f"{PREFIX}/my-declarations", done="lodged")

"""Declarant pages (brokers, customs-service companies, carriers): my declarations with their
state and lane, and lodging a file of declarations (JSON Lines, or the flat CSV the export
writes) with a report of every line — accepted with its id, or rejected with each field and
reason. The declaration services are called with the organization's ``Caller`` inside
``acting(login)``, exactly as the API's batch lodging and ``silkgate declarations import``."""

from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response

from silkgate.console import labels
from silkgate.console import service as console
from silkgate.console.labels import N_
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.web import refuse_csrf
from silkgate.core.errors import FieldError, SilkgateError
from silkgate.declarations import importing, reading
from silkgate.declarations import service as declarations

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE_SIZE = 25
CHUNK = 500
TOO_BIG = N_("The file is larger than %(size)s bytes; split it and lodge the parts.")
NO_FILE = N_("Choose a file to lodge.")
BAD_FORMAT = N_("Choose JSON Lines or CSV.")
TOO_MANY = N_("The file has more than %(lines)s declarations; split it and lodge the parts.")


def declarant_person(p: Page) -> console.Person | Response:
    """The signed-in person of a declarant organization, else the sign-in or a 403 page."""
    person = p.person
    if person is None:
        return p.sign_in_first()
    if not person.is_declarant:
        return p.error(403, p.gettext("Your role does not allow this page."))
    return person


def _label(p: Page, table: str, key: str | None) -> str:
    found: dict[str, str] = getattr(labels, table)
    if key is None:
        return "—"
    return p.gettext(found[key]) if key in found else key


@router.get("/my-declarations")
def my_declarations(p: Page = Depends(page), cursor: str = Query("", max_length=64)) -> Response:
    """My organization's declarations, newest first, with their state and lane."""
    person = declarant_person(p)
    if isinstance(person, Response):
        return person
    error = None
    items: list[Any] = []
    next_url = None
    try:
        with console.as_person(person) as caller:
            found = reading.list_declarations(
                p.platform, caller, reading.ListFilter(), cursor or None, PAGE_SIZE
            )
        items = [d for d in found.items if getattr(d, "declarant", None) == person.organization]
        if found.next_cursor:
            next_url = f"{PREFIX}/my-declarations?{urlencode({'cursor': found.next_cursor})}"
    except SilkgateError as exc:
        error = "; ".join(labels.field_message(p.gettext, e) for e in exc.errors) or exc.detail
    return p.render(
        "my_declarations.html",
        status=200 if error is None else 422,
        title=p.gettext("My declarations"),
        section="my-declarations",
        items=items,
        error=error,
        next_url=next_url,
        first_url=f"{PREFIX}/my-declarations" if cursor else None,
        label=lambda table, key: _label(p, table, key),
    )


def _form(p: Page, errors: dict[str, str], status: int = 200, report: Any = None) -> Response:
    return p.render(
        "lodge.html",
        status=status,
        title=p.gettext("Lodge declarations from a file"),
        section="my-declarations",
        errors=errors,
        report=report,
        message=lambda e: _message(p, e),
    )


def _message(p: Page, e: dict[str, Any]) -> str:
    """A report line's error in the page's language (the service's English when unknown)."""
    error = FieldError(e.get("field"), str(e.get("code")), str(e.get("message", "")))
    return labels.field_message(p.gettext, error)


@router.get("/my-declarations/lodge")
def lodge_form(p: Page = Depends(page)) -> Response:
    person = declarant_person(p)
    if isinstance(person, Response):
        return person
    return _form(p, {})


@router.post("/my-declarations/lodge")
def lodge(
    p: Page = Depends(page),
    file: UploadFile | None = File(None),
    format: str = Form("", max_length=8),
    csrf_token: str = Form(""),
) -> Response:
    """Lodge every declaration of the file; each line is accepted or rejected on its own."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = declarant_person(p)
    if isinstance(person, Response):
        return person
    settings = p.platform.settings
    if file is None or not file.filename:
        return _form(p, {"file": p.gettext(NO_FILE)}, 422)
    name = file.filename.lower()
    fmt_text = format or ("csv" if name.endswith(".csv") else "jsonl")
    if fmt_text not in {f.value for f in importing.FileFormat}:
        return _form(p, {"format": p.gettext(BAD_FORMAT)}, 422)
    raw = file.file.read(settings.max_body_bytes + 1)
    if len(raw) > settings.max_body_bytes:
        return _form(p, {"file": p.gettext(TOO_BIG) % {"size": settings.max_body_bytes}}, 413)
    with tempfile.TemporaryDirectory() as tmp:
        path = FilePath(tmp) / ("upload.csv" if fmt_text == "csv" else "upload.jsonl")
        path.write_bytes(raw)
        records, unreadable = importing.read_records(path, importing.FileFormat(fmt_text))
    if len(records) + len(unreadable) > settings.max_batch_lines:
        return _form(p, {"file": p.gettext(TOO_MANY) % {"lines": settings.max_batch_lines}}, 413)
    rows: list[dict[str, Any]] = [u.report_row() for u in unreadable]
    with console.as_person(person) as caller:
        for i in range(0, len(records), CHUNK):
            chunk = records[i : i + CHUNK]
            try:
                result = declarations.create_batch(p.platform, caller, [r for _, r in chunk])
            except SilkgateError as exc:  # e.g. the database was busy: nothing of it stored
                error = {"field": "", "code": exc.type_slug, "message": exc.detail or exc.title}
                rows += [
                    {"row": n, "lrn": None, "outcome": "rejected", "id": None, "errors": [error]}
                    for n, _ in chunk
                ]
                continue
            rows += [
                {"row": chunk[line.line - 1][0], **line.model_dump(exclude={"line"})}
                for line in result.lines
            ]
    rows.sort(key=lambda r: r["row"])
    accepted = sum(1 for r in rows if r["outcome"] == "accepted")
    report = {"accepted": accepted, "rejected": len(rows) - accepted, "rows": rows}
    return _form(p, {}, 200, report)

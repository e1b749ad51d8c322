"""Customs officer pages: the declarations at my crossings, one declaration with its lane and
reasons, its inspection and its consignment timeline; forms to override the lane and to
record the inspection result."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import Response

from silkgate.console import labels
from silkgate.console import service as console
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.web import field_errors, refuse_csrf
from silkgate.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

router = APIRouter(prefix=PREFIX, include_in_schema=False)
MAX_FINDINGS = 3


def _customs_person(p: Page) -> console.Person | Response:
    person = p.person
    if person is None:
        return p.sign_in_first()
    if not person.is_customs:
        return p.error(403, p.gettext("Your role does not allow this page."))
    return person


def _label(p: Page, table: dict[str, str], code: str | None) -> str:
    if code is None:
        return "—"
    return p.gettext(table[code]) if code in table else code


@router.get("/declarations")
def declarations(
    p: Page = Depends(page),
    direction: str = Query("incoming", max_length=16),
    crossing: str = Query("", max_length=16),
    status: str = Query("", max_length=16),
    type: str = Query("", max_length=16),
    lrn: str = Query("", max_length=64),
    cursor: str = Query("", max_length=64),
) -> Response:
    person = _customs_person(p)
    if isinstance(person, Response):
        return person
    filters = console.DeclarationFilters(
        direction=direction,
        crossing=crossing or None,
        status=status or None,
        type=type or None,
        lrn=lrn.strip() or None,
    )
    errors: dict[str, str] = {}
    items: list[Any] = []
    asked = {"direction": direction, "crossing": crossing, "status": status, "type": type}
    asked = {k: v for k, v in {**asked, "lrn": lrn}.items() if v}
    next_url = None
    try:
        found = console.list_declarations(p.platform, person, filters, cursor or None)
        items = found.items
        if found.next_cursor:
            next_url = f"{PREFIX}/declarations?{urlencode({**asked, 'cursor': found.next_cursor})}"
    except ValidationFailed as exc:
        errors = field_errors(p, exc)
    return p.render(
        "declarations.html",
        status=422 if errors else 200,
        title=p.gettext("Declarations"),
        section="declarations",
        items=items,
        filters=filters,
        errors=errors,
        next_url=next_url,
        first_url=f"{PREFIX}/declarations?{urlencode(asked)}" if cursor else None,
        crossings=sorted(person.caller.crossings),
        directions=[(k, p.gettext(v)) for k, v in labels.DIRECTIONS.items()],
        statuses=[(k, p.gettext(v)) for k, v in labels.STATUSES.items()],
        types=[(k, p.gettext(v)) for k, v in labels.TYPES.items()],
        label=lambda table, code: _label(p, getattr(labels, table), code),
    )


def _detail(p: Page, person: console.Person, decl_id: str, **extra: Any) -> Response:
    p.back = f"{PREFIX}/declarations/{decl_id}"
    try:
        d = console.declaration_detail(p.platform, person, decl_id)
    except NotFound:
        return p.error(404, p.gettext("Not found, or not yours to see."))
    view = d.declaration
    data = view.data or {}
    values: dict[str, Any] = {
        "override_errors": {},
        "inspection_errors": {},
        "form": {},
    }
    values.update(extra)
    assessment = d.assessment
    return p.render(
        "declaration.html",
        status=int(values.pop("status", 200)),
        title=p.gettext("Declaration %(lrn)s") % {"lrn": view.lrn or decl_id},
        section="declarations",
        d=view,
        data=data,
        assessment=assessment,
        full_assessment=assessment is not None and hasattr(assessment, "assessed_lane"),
        inspection=d.inspection,
        timeline=d.timeline,
        lodging=d.lodging,
        can_override=d.lodging
        and person.has(console.ConsoleRole.SUPERVISOR)
        and assessment is not None
        and view.status in ("risk_assessed", "at_border", "held"),
        can_inspect=d.lodging
        and d.inspection is None
        and view.status not in ("submitted", "cancelled"),
        lanes=[(k, p.gettext(v)) for k, v in labels.LANES.items()],
        outcomes=[(k, p.gettext(v)) for k, v in labels.OUTCOMES.items()],
        finding_kinds=[(k, p.gettext(v)) for k, v in labels.FINDINGS.items()],
        max_findings=MAX_FINDINGS,
        label=lambda table, code: _label(p, getattr(labels, table), code),
        timeline_label=lambda what: _label(p, labels.TIMELINE, what),
        **values,
    )


@router.get("/declarations/{decl_id}")
def declaration(decl_id: str, p: Page = Depends(page)) -> Response:
    person = _customs_person(p)
    if isinstance(person, Response):
        return person
    return _detail(p, person, decl_id)


def _refused(
    p: Page, person: console.Person, decl_id: str, exc: Exception, key: str, form: dict[str, Any]
) -> Response:
    """The declaration's page again, with the form's errors in the page's language."""
    if isinstance(exc, Forbidden):
        return p.error(403, p.gettext("Your role does not allow this page."))
    if isinstance(exc, NotFound):
        return p.error(404, p.gettext("Not found, or not yours to see."))
    assert isinstance(exc, ValidationFailed | Conflict)
    status = 409 if isinstance(exc, Conflict) else 422
    return _detail(p, person, decl_id, status=status, form=form, **{key: field_errors(p, exc)})


@router.post("/declarations/{decl_id}/override")
def override(
    decl_id: str,
    p: Page = Depends(page),
    lane: str = Form("", max_length=16),
    reason: str = Form("", max_length=2000),
    csrf_token: str = Form(""),
) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _customs_person(p)
    if isinstance(person, Response):
        return person
    try:
        console.override_lane(p.platform, person, decl_id, lane, reason)
    except (ValidationFailed, Conflict, Forbidden, NotFound) as exc:
        form = {"lane": lane, "reason": reason}
        return _refused(p, person, decl_id, exc, "override_errors", form)
    return p.redirect(f"{PREFIX}/declarations/{decl_id}", done="override")


@router.post("/declarations/{decl_id}/inspection")
def inspection(
    decl_id: str,
    p: Page = Depends(page),
    outcome: str = Form("", max_length=32),
    kind_1: str = Form("", max_length=40),
    text_1: str = Form("", max_length=1000),
    item_1: str = Form("", max_length=8),
    kind_2: str = Form("", max_length=40),
    text_2: str = Form("", max_length=1000),
    item_2: str = Form("", max_length=8),
    kind_3: str = Form("", max_length=40),
    text_3: str = Form("", max_length=1000),
    item_3: str = Form("", max_length=8),
    duties_amount: str = Form("", max_length=32),
    duties_currency: str = Form("", max_length=8),
    note: str = Form("", max_length=4000),
    csrf_token: str = Form(""),
) -> Response:
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = _customs_person(p)
    if isinstance(person, Response):
        return person
    findings = [
        console.FindingForm(kind_1, text_1, item_1),
        console.FindingForm(kind_2, text_2, item_2),
        console.FindingForm(kind_3, text_3, item_3),
    ]
    try:
        console.record_inspection(
            p.platform, person, decl_id, outcome, findings, duties_amount, duties_currency, note
        )
    except (ValidationFailed, Conflict, Forbidden, NotFound) as exc:
        form = {
            "outcome": outcome,
            "duties_amount": duties_amount,
            "duties_currency": duties_currency,
            "note": note,
            **{f"kind_{i}": f.kind for i, f in enumerate(findings, 1)},
            **{f"text_{i}": f.text for i, f in enumerate(findings, 1)},
            **{f"item_{i}": f.item for i, f in enumerate(findings, 1)},
        }
        return _refused(p, person, decl_id, exc, "inspection_errors", form)
    return p.redirect(f"{PREFIX}/declarations/{decl_id}", done="inspection")

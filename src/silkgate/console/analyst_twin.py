"""The digital twin for analysts: run a shipped scenario, or compare two under the same seeds
(``twin.service.run`` / ``compare``), and read the key figures; the twin's full HTML report
(English) opens beside them. Runs are synchronous, so the form's bounds keep one short, and
one run at a time is made per process (another request is answered "busy")."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from silkgate.console import analyst_labels as words
from silkgate.console.analyst import analyst_person
from silkgate.console.pages import PREFIX, Page, page
from silkgate.console.web import refuse_csrf
from silkgate.twin import labels as twin_labels
from silkgate.twin import report as twin_report
from silkgate.twin import service as twin
from silkgate.twin.scenario import load_scenario, shipped_scenarios
from silkgate.twin.stats import Estimate

router = APIRouter(prefix=PREFIX, include_in_schema=False)
#: Simulated days and replications a page may ask for: the shipped scenarios' own length at
#: most. The largest comparison takes about 16 s on one core (november against digital), the
#: default about 3 s.
DAYS = (7, 56)
REPLICATIONS = (1, 5)
DEFAULTS = {"a": "khorgos-2023-baseline", "b": "khorgos-digital", "days": "28", "replications": "3"}
_ONE_AT_A_TIME = threading.Lock()
#: The report is the twin's own page (inline styles and SVG, no script): shown in a sandbox.
REPORT_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@cache
def descriptions() -> dict[str, str]:
    """Each shipped scenario's description (English, from its file)."""
    return {name: load_scenario(name).description for name in shipped_scenarios()}


@dataclass(frozen=True)
class Asked:
    a: str
    b: str  # "" for a single scenario
    days: int
    replications: int

    def query(self) -> str:
        return urlencode({"a": self.a, "b": self.b, "days": self.days,
                          "replications": self.replications})  # fmt: skip


def check(p: Page, a: str, b: str, days: str, replications: str) -> Asked | dict[str, str]:
    """The form's choices, or errors by field in the page's language."""
    known = shipped_scenarios()
    errors = {}
    if a not in known:
        errors["a"] = p.gettext("Choose one of the scenarios offered.")
    if b and b not in known:
        errors["b"] = p.gettext("Choose one of the scenarios offered.")
    bounded = {}
    for name, text, (low, high) in (("days", days, DAYS), ("replications", replications,
                                                           REPLICATIONS)):  # fmt: skip
        value = int(text.strip()) if text.strip().isdigit() else None
        if value is None or not low <= value <= high:
            message = p.gettext("Enter a whole number from %(low)s to %(high)s.")
            errors[name] = message % {"low": low, "high": high}
        else:
            bounded[name] = value
    if errors:
        return errors
    return Asked(a, b, bounded["days"], bounded["replications"])


def _simulate(asked: Asked) -> twin.RunReport | twin.CompareReport:
    # one worker: no processes forked from the web server; the warm-up as the scenario sets
    # it, or a quarter of the days when that is longer than the run (``with_run``)
    if asked.b:
        return twin.compare(
            asked.a, asked.b, days=asked.days, replications=asked.replications, workers=1
        )
    return twin.run(asked.a, days=asked.days, replications=asked.replications, workers=1)


def _value(p: Page, unit: str, e: Estimate | None) -> str:
    """An estimate with its 95% half-width, in the figure's unit, as the locale writes it."""
    if e is None or not math.isfinite(e.mean):
        return "—"
    scale, digits = (100.0, 0) if unit == "share" else (1.0, 1)
    text = p.fmt.number(round(e.mean * scale, digits) + 0.0)  # + 0.0: no "-0"
    if math.isfinite(e.half_width):
        text += " ± " + p.fmt.number(round(e.half_width * scale, digits) + 0.0)
    if unit == "share":
        return text + " %"
    if unit == "hours":
        return p.gettext("%(value)s h") % {"value": text}
    return text


@dataclass
class Direction:
    name: str
    rows: list[tuple[str, list[str]]]  # figure label, a value per column


def figures(
    p: Page, reports: list[twin.RunReport], diff: dict[str, Estimate] | None
) -> list[Direction]:
    """The key figures per direction: a column per scenario (and B − A when compared)."""
    out = []
    for d in reports[0].scenario.directions:
        rows = []
        for key, (label, unit) in words.FIGURES.items():
            k = f"{d}.{key}"
            values = [_value(p, unit, r.estimates.get(k)) for r in reports]
            if diff is not None:
                values.append(_value(p, unit, diff.get(k)))
            rows.append((p.gettext(label), values))
        name = p.gettext(words.DIRECTIONS[d]) if d in words.DIRECTIONS else d
        out.append(Direction(name, rows))
    return out


def _page(p: Page, form: dict[str, str], status: int = 200, **extra: object) -> Response:
    p.back = f"{PREFIX}/twin"
    return p.render(
        "analyst_twin.html",
        status=status,
        title=p.gettext("Digital twin"),
        section="twin",
        scenarios=descriptions(),
        form=form,
        days=DAYS,
        replications=REPLICATIONS,
        errors=extra.pop("errors", {}),
        outcome=extra.pop("outcome", None),
    )


@router.get("/twin")
def twin_form(p: Page = Depends(page)) -> Response:
    person = analyst_person(p)
    if isinstance(person, Response):
        return person
    return _page(p, dict(DEFAULTS))


@dataclass
class Outcome:
    names: list[str]
    compared: bool
    directions: list[Direction]
    bottlenecks: list[tuple[str, str]]  # direction, where the waiting happens (English)
    days: int
    warmup_days: int
    replications: int
    seconds: float
    report: str  # the full report's address


def _outcome(p: Page, asked: Asked, made: twin.RunReport | twin.CompareReport) -> Outcome:
    if isinstance(made, twin.CompareReport):
        reports, diff = [made.a, made.b], made.differences
    else:
        reports, diff = [made], None
    first = reports[0]
    sc = first.scenario
    bottlenecks = [
        (p.gettext(words.DIRECTIONS[d]) if d in words.DIRECTIONS else d,
         twin_labels.humanize(sc, b))
        for d in sc.directions if (b := first.bottleneck.get(d))
    ]  # fmt: skip
    return Outcome(
        names=[r.scenario.name for r in reports],
        compared=diff is not None,
        directions=figures(p, reports, diff),
        bottlenecks=bottlenecks,
        days=first.days,
        warmup_days=first.warmup_days,
        replications=len(first.replications),
        seconds=sum(r.wall_seconds for r in reports),
        report=f"{PREFIX}/twin/report?{asked.query()}",
    )


def _busy(p: Page) -> Response:
    return p.error(409, p.gettext("Another simulation is running. Try again in a minute."))


@router.post("/twin")
def twin_run(
    p: Page = Depends(page),
    a: str = Form("", max_length=100),
    b: str = Form("", max_length=100),
    days: str = Form("", max_length=6),
    replications: str = Form("", max_length=6),
    csrf_token: str = Form(""),
) -> Response:
    """Run the scenario (or both, paired) and show the key figures."""
    if not p.csrf_ok(csrf_token):
        return refuse_csrf(p)
    person = analyst_person(p)
    if isinstance(person, Response):
        return person
    form = {"a": a, "b": b, "days": days, "replications": replications}
    asked = check(p, a, b, days, replications)
    if not isinstance(asked, Asked):
        return _page(p, form, 422, errors=asked)
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        return _busy(p)
    try:
        made = _simulate(asked)
    finally:
        _ONE_AT_A_TIME.release()
    return _page(p, form, outcome=_outcome(p, asked, made))


@router.get("/twin/report")
def twin_report_page(
    p: Page = Depends(page), a: str = "", b: str = "", days: str = "", replications: str = ""
) -> Response:
    """The twin's full HTML report of the same run (same seeds: the same figures)."""
    person = analyst_person(p)
    if isinstance(person, Response):
        return person
    asked = check(p, a[:100], b[:100], days[:6], replications[:6])
    if not isinstance(asked, Asked):
        form = {"a": a[:100], "b": b[:100], "days": days[:6], "replications": replications[:6]}
        return _page(p, form, 422, errors=asked)
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        return _busy(p)
    try:
        made = _simulate(asked)
    finally:
        _ONE_AT_A_TIME.release()
    if isinstance(made, twin.CompareReport):
        html = twin_report.render_compare(made)
    else:
        html = twin_report.render_run(made)
    name = f"twin-{asked.a}" + (f"-vs-{asked.b}" if asked.b else "") + ".html"
    answer = p.finish(Response(html, media_type="text/html; charset=utf-8"))
    answer.headers["Content-Security-Policy"] = REPORT_CSP
    answer.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return answer

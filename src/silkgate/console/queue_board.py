"""The public live queue per crossing, for everyone and without signing in: for each
direction the trucks waiting and the estimated wait, the day's cap, the places booked and the
walk-in share, hour by hour. It shows exactly the public API's aggregates (no plates, no
names) and shares its per-client rate limit."""

from __future__ import annotations

import datetime as dt
import re

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from silkgate.codelists.crossings import Crossing, get_crossing, load_crossings
from silkgate.console import i18n, labels
from silkgate.console.labels import N_
from silkgate.console.pages import PREFIX, Page, page
from silkgate.core.errors import NotFound
from silkgate.queue import public
from silkgate.queue.api import limits_of
from silkgate.queue.limits import RateLimited
from silkgate.queue.service import local_today

router = APIRouter(prefix=PREFIX, include_in_schema=False)
CODE = re.compile(r"^[A-Z]{3}-[A-Z]{3}$")
TOO_MANY = N_("Too many requests from your network. Wait %(seconds)s seconds and reload.")


def crossing_name(c: Crossing, language: str) -> str:
    """The crossing's name in the page's language (the code list carries en/zh/ru/kk)."""
    return c.names.get(language.split("_")[0]) or c.names.get("en") or c.code


def _limited(p: Page) -> Response | None:
    """The public API's per-client rate limit, answered as a page."""
    limits = limits_of(p.request)
    client = p.request.client.host if p.request.client else "?"
    try:
        limits.check(limits.public, client, "client")
    except RateLimited as exc:
        out = p.error(429, p.gettext(TOO_MANY) % {"seconds": exc.retry_after})
        out.headers["Retry-After"] = str(exc.retry_after)
        return out
    return None


@router.get("/queue")
def crossings(p: Page = Depends(page)) -> Response:
    """Every crossing, each linking to its live queue."""
    return p.render(
        "queue_crossings.html",
        title=p.gettext("Live queue at the crossings"),
        section="queue",
        crossings=[(c.code, crossing_name(c, p.language)) for c in load_crossings()],
    )


@router.get("/queue/{code}")
def board(code: str, p: Page = Depends(page), day: str = Query("", max_length=10)) -> Response:
    """One crossing's public queue figures for today (or another day's bookings)."""
    if not CODE.match(code):
        return p.error(404, p.gettext("Not found, or not yours to see."))
    try:
        crossing = get_crossing(code)
    except KeyError:
        return p.error(404, p.gettext("Not found, or not yours to see."))
    limited = _limited(p)
    if limited is not None:
        return limited
    errors: dict[str, str] = {}
    chosen: dt.date | None = None
    if day:
        try:
            chosen = dt.date.fromisoformat(day)
        except ValueError:
            errors["day"] = p.gettext("Enter a day as YYYY-MM-DD.")
    try:
        figures = public.public_queue(p.platform, code, chosen)
    except NotFound:
        return p.error(404, p.gettext("Not found, or not yours to see."))
    name = crossing_name(crossing, p.language)
    today = figures.day == local_today(p.platform, p.platform.clock())
    return p.render(
        "queue_board.html",
        status=422 if errors else 200,
        title=p.gettext("Live queue: %(crossing)s") % {"crossing": name},
        section="queue",
        crossing=crossing,
        crossing_label=name,
        figures=figures,
        is_today=today,
        day_value=day if errors else figures.day.isoformat(),
        errors=errors,
        classes=labels.QUOTA_CLASSES,
        bases=labels.ESTIMATE_BASES,
        label=lambda table, key: p.gettext(table[key]) if key in table else key,
        updated=p.platform.clock(),
        live_seconds=p.platform.settings.console_live_seconds,
        local=i18n.Formatter(p.language, _zone(figures.utc_offset_hours)),
    )


def _zone(hours: int) -> str:
    """The crossing's fixed UTC offset as a zone name (Etc/GMT signs are inverted)."""
    return f"Etc/GMT{-hours:+d}" if hours else "UTC"

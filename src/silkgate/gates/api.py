"""Gate-event, timeline and KPI routes under /api/v1."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel
from starlette.concurrency import run_in_threadpool

from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.http import (
    AUTHENTICATED,
    JSON,
    NDJSON,
    get_platform,
    problem_responses,
    require_json,
    require_media_type,
)
from silkgate.core.platform import Platform
from silkgate.core.text import NoControls
from silkgate.core.times import as_utc
from silkgate.exchange.agreements.enforce import Asking
from silkgate.exchange.agreements.headers import POLICY_PROBLEMS, asking
from silkgate.gates import reports, service, timeline
from silkgate.gates.ingest import Rejected, parse_line
from silkgate.gates.schemas import PLATE_PATH, IngestReport, Timeline
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller

router = APIRouter(tags=["gates"], responses=AUTHENTICATED)

CrossingQ = Annotated[str, NoControls(), Query(min_length=3, max_length=16)]
TimeQ = Annotated[AwareDatetime | None, Query(description="RFC 3339 with offset")]


class EventStored(BaseModel):
    eventId: str


_EVENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "required": ["event", "signature"],
                    "properties": {
                        "event": {"$ref": "#/components/schemas/GateEventIn"},
                        "signature": {"type": "string", "description": "base64 Ed25519"},
                    },
                }
            }
        },
    }
}
_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            NDJSON: {"schema": {"type": "string", "description": "One signed event per line."}}
        },
    }
}


@router.post(
    "/gate-events",
    status_code=201,
    response_model=EventStored,
    openapi_extra=_EVENT_BODY,
    responses={
        200: {"description": "Replay: this event is already stored", "model": EventStored},
        **problem_responses(403, 409, 413, 415, 422),
    },
    dependencies=[Depends(require_json)],
    summary="Report one signed gate event (a retry answers 200 with the same id)",
)
async def post_event(
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Response:
    try:
        obj = parse_line(await request.body())
    except Rejected as r:
        raise ValidationFailed(r.errors) from None
    eid, created = await run_in_threadpool(service.report, platform, caller, obj)
    return Response(
        json.dumps({"eventId": eid}),
        status_code=201 if created else 200,
        media_type=JSON,
        headers={"Location": f"/api/v1/gate-events/{eid}"},
    )


@router.post(
    "/gate-events/batch",
    response_model=IngestReport,
    openapi_extra=_BATCH_BODY,
    responses=problem_responses(403, 413, 415, 422),
    dependencies=[Depends(require_media_type(NDJSON))],
    summary="Report signed gate events as JSON Lines; each line stored, replayed or rejected",
)
async def post_batch(
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> IngestReport:
    lines = (await request.body()).splitlines()
    if len(lines) > platform.settings.max_batch_lines:
        raise ValidationFailed(
            [
                FieldError(
                    None, "too_many_lines", f"at most {platform.settings.max_batch_lines} lines"
                )
            ]
        )
    return await run_in_threadpool(service.ingest_lines, platform, caller, lines)


@router.get(
    "/trucks/{nationality}/{plate}/timeline",
    response_model=Timeline,
    responses=POLICY_PROBLEMS,
    summary="The timeline of a truck (tractor nationality and plate); send Silkgate-Purpose "
    "for bookings and declarations of other organizations",
)
def truck_timeline(
    nationality: Annotated[str, Path(pattern=r"^[A-Z]{2}$")],
    plate: Annotated[str, Path(pattern=PLATE_PATH)],
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> Timeline:
    return timeline.truck_timeline(platform, who, nationality, plate)


@router.get(
    "/declarations/{declaration_id}/timeline",
    response_model=Timeline,
    responses=POLICY_PROBLEMS,
    summary="The consignment timeline of a declaration; send Silkgate-Purpose for bookings "
    "and declarations of other organizations",
)
def declaration_timeline(
    declaration_id: Annotated[str, Path(min_length=1, max_length=64), NoControls()],
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> Timeline:
    return timeline.declaration_timeline(platform, who, declaration_id)


#: KPIs are read for statistics unless Silkgate-Purpose says otherwise.
KPI_PURPOSE: dict[str, Any] = {
    "description": "A crossing's customs and e-port operators read its KPIs by authority; others "
    "under an agreement of either side (purpose `statistics` unless Silkgate-Purpose says "
    "otherwise); 403 otherwise."
}


def _span(start: AwareDatetime | None, end: AwareDatetime | None) -> tuple[Any, Any]:
    return (as_utc(start) if start else None, as_utc(end) if end else None)


@router.get(
    "/kpi/trs",
    responses=problem_responses(403, 422),
    openapi_extra=KPI_PURPOSE,
    summary="WCO Time Release Study figures from stored gate events",
)
def kpi_trs(
    crossing: CrossingQ,
    start: TimeQ = None,
    end: TimeQ = None,
    target_hours: Annotated[float | None, Query(gt=0, le=10_000)] = None,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> dict[str, Any]:
    a, b = _span(start, end)
    return reports.trs_answer(platform, who, crossing, a, b, target_hours)


@router.get(
    "/kpi/throughput",
    responses=problem_responses(403, 422),
    openapi_extra=KPI_PURPOSE,
    summary="Trucks per crossing day exiting and released on each side, against the cap",
)
def kpi_throughput(
    crossing: CrossingQ,
    start: TimeQ = None,
    end: TimeQ = None,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> list[dict[str, Any]]:
    return reports.throughput_report(platform, who, crossing, *_span(start, end))


@router.get(
    "/kpi/queue-length",
    responses=problem_responses(403, 422),
    openapi_extra=KPI_PURPOSE,
    summary="Trucks in the waiting area, hour by hour",
)
def kpi_queue(
    crossing: CrossingQ,
    start: TimeQ = None,
    end: TimeQ = None,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> list[dict[str, Any]]:
    return reports.queue_report(platform, who, crossing, *_span(start, end))


@router.get(
    "/kpi/no-shows",
    responses=problem_responses(403, 422),
    openapi_extra=KPI_PURPOSE,
    summary="E-queue no-show rate per slot day and direction (bookings no-show / due)",
)
def kpi_no_shows(
    crossing: CrossingQ,
    start: TimeQ = None,
    end: TimeQ = None,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> list[dict[str, Any]]:
    return reports.no_show_report(platform, who, crossing, *_span(start, end))

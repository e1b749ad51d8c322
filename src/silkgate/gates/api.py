"""Gate-event, timeline and KPI routes under /api/v1."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.http import get_platform
from silkgate.core.platform import Platform
from silkgate.gates import reports, service, timeline
from silkgate.gates.ingest import Rejected, parse_line
from silkgate.gates.schemas import IngestReport, Timeline
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller

router = APIRouter(tags=["gates"])


@router.post("/gate-events", summary="Report one signed gate event (a retry answers 200, same id)")
async def post_event(
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Response:
    raw = await request.body()
    try:
        obj = parse_line(raw)
    except Rejected as r:
        raise ValidationFailed(r.errors) from None
    eid, created = await run_in_threadpool(service.report, platform, caller, obj)
    import json

    return Response(
        json.dumps({"eventId": eid}),
        status_code=201 if created else 200,
        media_type="application/json",
        headers={"Location": f"/api/v1/gate-events/{eid}"},
    )


@router.post(
    "/gate-events/batch", response_model=IngestReport, summary="JSON Lines of signed events"
)
async def post_batch(
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> IngestReport:
    lines = (await request.body()).splitlines()
    if len(lines) > platform.settings.max_batch_lines:
        raise ValidationFailed(
            [FieldError("", "too_many_lines", f"at most {platform.settings.max_batch_lines} lines")]
        )
    return await run_in_threadpool(service.ingest_lines, platform, caller, lines)


@router.get("/trucks/{nationality}/{plate}/timeline", response_model=Timeline)
def truck_timeline(
    nationality: str,
    plate: str,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Timeline:
    return timeline.truck_timeline(platform, caller, nationality, plate)


@router.get("/declarations/{declaration_id}/timeline", response_model=Timeline)
def declaration_timeline(
    declaration_id: str,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Timeline:
    return timeline.declaration_timeline(platform, caller, declaration_id)


@router.get("/kpi/trs", summary="WCO Time Release Study figures from stored gate events")
def kpi_trs(
    crossing: str = Query(max_length=16),
    start: datetime | None = None,
    end: datetime | None = None,
    target_hours: float | None = Query(default=None, gt=0),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(reports.trs_report(platform, caller, crossing, start, end, target_hours))


@router.get("/kpi/throughput")
def kpi_throughput(
    crossing: str = Query(max_length=16),
    start: datetime | None = None,
    end: datetime | None = None,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> list[dict[str, Any]]:
    return reports.throughput_report(platform, caller, crossing, start, end)


@router.get("/kpi/queue-length")
def kpi_queue(
    crossing: str = Query(max_length=16),
    start: datetime | None = None,
    end: datetime | None = None,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> list[dict[str, Any]]:
    return reports.queue_report(platform, caller, crossing, start, end)

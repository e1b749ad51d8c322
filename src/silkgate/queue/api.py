"""E-queue routes under /api/v1/queue (authenticated) and the public queue figures."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from silkgate.core.http import (
    AUTHENTICATED,
    get_platform,
    problem,
    problem_responses,
    require_json,
)
from silkgate.core.platform import Platform
from silkgate.exchange.agreements.enforce import Asking
from silkgate.exchange.agreements.headers import POLICY_PROBLEMS, asking
from silkgate.queue import public, reading, service, waiting, walkin
from silkgate.queue.limits import QueueLimits, RateLimited
from silkgate.queue.schemas import (
    ArrivalIn,
    BookingIn,
    BookingOut,
    BookingPage,
    BookingStatus,
    BookingView,
    CancelIn,
    CapChange,
    CapIn,
    CapOut,
    DepositEntryOut,
    PublicQueue,
    QueuePosition,
    RescheduleIn,
    StageIn,
    StageOut,
    WalkInIn,
    WalkInOut,
)
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller

router = APIRouter(
    prefix="/queue", tags=["queue"], responses={**AUTHENTICATED, **problem_responses(429)}
)
public_router = APIRouter(prefix="/public", tags=["public"], responses=problem_responses(429))
_WRITE = problem_responses(403, 404, 409, 413, 415)
_JSON = [Depends(require_json)]
BookingId = Annotated[str, Path(pattern=r"^[0-9a-f]{22}$")]
CrossingCode = Annotated[str, Path(pattern=r"^[A-Z]{3}-[A-Z]{3}$")]


def limits_of(request: Request) -> QueueLimits:
    """The app's rate limiters (one set per process)."""
    found = getattr(request.app.state, "queue_limits", None)
    if found is None:
        st = request.app.state.platform.settings
        found = QueueLimits(
            st.queue_rate_org_per_second,
            st.queue_rate_org_burst,
            st.queue_rate_vehicle_per_minute,
            st.queue_rate_vehicle_burst,
            st.queue_rate_public_per_second,
        )
        request.app.state.queue_limits = found
    return found


async def org_limited(request: Request, caller: Caller = Depends(current_caller)) -> Caller:
    """The caller, once its organization's bucket lets the request through."""
    limits_of(request).check(limits_of(request).org, caller.member_id, "organization")
    return caller


def rate_limited_response(exc: RateLimited, path: str) -> JSONResponse:
    return problem(
        429,
        exc.title,
        exc.detail,
        exc.type_slug,
        exc.errors,
        path,
        {"Retry-After": str(exc.retry_after)},
    )


@router.post(
    "/caps",
    response_model=CapChange,
    status_code=201,
    responses=problem_responses(403, 413, 415),
    dependencies=_JSON,
    summary="Set this side's cap (new version)",
)
async def set_cap(
    body: CapIn, platform: Platform = Depends(get_platform), caller: Caller = Depends(org_limited)
) -> CapChange:
    return await run_in_threadpool(service.set_cap, platform, caller, body)


@router.get("/caps", response_model=list[CapOut], summary="Cap versions of both sides")
async def list_caps(
    crossing: str | None = Query(default=None, pattern=r"^[A-Z]{3}-[A-Z]{3}$"),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(org_limited),
) -> list[CapOut]:
    return await run_in_threadpool(service.list_caps, platform, crossing)


@router.post(
    "/bookings",
    response_model=BookingOut,
    status_code=201,
    responses=problem_responses(403, 409, 413, 415),
    dependencies=_JSON,
    summary="Book a slot for a truck",
)
async def book(
    request: Request,
    body: BookingIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(org_limited),
) -> BookingOut:
    limits = limits_of(request)
    t = body.truck
    limits.check(limits.vehicle, f"{t.tractor_nationality}:{t.tractor_plate}", "vehicle")
    limits.check(limits.vehicle, f"vin:{t.vin}", "vehicle")
    service.refuse_if_known_full(platform, body)  # on the event loop: no thread, no query
    return await service.book_async(platform, caller, body)


@router.get(
    "/bookings",
    response_model=BookingPage,
    response_model_exclude_unset=True,
    responses=POLICY_PROBLEMS,
    summary="Bookings the caller may see; send Silkgate-Purpose for other organizations'",
)
async def list_bookings(
    crossing: str | None = Query(default=None, pattern=r"^[A-Z]{3}-[A-Z]{3}$"),
    day: dt.date | None = None,
    status: BookingStatus | None = None,
    cursor: str | None = Query(default=None, pattern=r"^[0-9a-f]{22}$"),
    limit: int = Query(default=100, ge=1, le=500),
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
    _: Caller = Depends(org_limited),
) -> BookingPage:
    items, nxt = await run_in_threadpool(
        reading.list_bookings,
        platform,
        who,
        crossing,
        day,
        status.value if status else None,
        cursor,
        limit,
    )
    return BookingPage(items=items, next_cursor=nxt)


@router.get(
    "/bookings/{booking_id}",
    response_model=BookingView,
    response_model_exclude_unset=True,
    responses=POLICY_PROBLEMS,
    summary="One booking: whole for its organization and the exit side's officials, else the "
    "fields the caller's agreements allow for the declared purpose",
)
async def get_booking(
    booking_id: BookingId,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
    _: Caller = Depends(org_limited),
) -> BookingView:
    return await run_in_threadpool(reading.get_booking, platform, who, booking_id)


@router.get(
    "/bookings/{booking_id}/deposits",
    response_model=list[DepositEntryOut],
    responses=POLICY_PROBLEMS,
)
async def deposits(
    booking_id: BookingId,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
    _: Caller = Depends(org_limited),
) -> list[DepositEntryOut]:
    rows = await run_in_threadpool(reading.deposits, platform, who, booking_id)
    return [DepositEntryOut.model_validate(r) for r in rows]


@router.post(
    "/bookings/{booking_id}/cancel", response_model=BookingOut, responses=_WRITE, dependencies=_JSON
)
async def cancel(
    booking_id: BookingId,
    body: CancelIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(org_limited),
) -> BookingOut:
    return await run_in_threadpool(service.cancel, platform, caller, booking_id, body.reason)


@router.post(
    "/bookings/{booking_id}/reschedule",
    response_model=BookingOut,
    responses=_WRITE,
    dependencies=_JSON,
)
async def reschedule(
    booking_id: BookingId,
    body: RescheduleIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(org_limited),
) -> BookingOut:
    return await run_in_threadpool(service.reschedule, platform, caller, booking_id, body.slot)


@router.put(
    "/stages",
    response_model=StageOut,
    responses=problem_responses(403, 413, 415),
    dependencies=_JSON,
    summary="Set the border stage's concurrent capacity (exit-side officials); calls trucks",
)
async def set_stage(
    body: StageIn, platform: Platform = Depends(get_platform), caller: Caller = Depends(org_limited)
) -> StageOut:
    return await run_in_threadpool(waiting.set_stage, platform, caller, body)


def _move_route(what: str, summary: str) -> None:
    @router.post(f"/bookings/{{booking_id}}/{what.replace('_', '-')}", response_model=QueuePosition,
                 summary=summary, name=f"queue_{what}", responses=_WRITE,
                 dependencies=_JSON)  # fmt: skip
    async def _move(
        booking_id: BookingId,
        body: ArrivalIn,
        platform: Platform = Depends(get_platform),
        caller: Caller = Depends(org_limited),
    ) -> QueuePosition:
        return await run_in_threadpool(waiting.move, platform, caller, booking_id, what, body.at)


_move_route("check_in", "The truck is in the waiting area (exit-side officials)")
_move_route("gate_in", "The truck passed the gate into the border stage")
_move_route("exit", "The truck left the border stage: its place frees, next trucks are called")


@router.post(
    "/walk-ins",
    response_model=WalkInOut,
    status_code=201,
    responses=problem_responses(403, 409, 413, 415),
    dependencies=_JSON,
    summary="Check in a truck without a booking into the live share (exit-side officials)",
)
async def walk_in(
    body: WalkInIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(org_limited),
) -> WalkInOut:
    return await run_in_threadpool(walkin.register, platform, caller, body)


@router.get(
    "/bookings/{booking_id}/position",
    response_model=QueuePosition,
    responses=POLICY_PROBLEMS,
    summary="Position in the waiting area and the estimated call time",
)
async def queue_position(
    booking_id: BookingId,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
    _: Caller = Depends(org_limited),
) -> QueuePosition:
    return await run_in_threadpool(reading.position, platform, who, booking_id)


@public_router.get(
    "/crossings/{code}/queue",
    response_model=PublicQueue,
    responses=problem_responses(404),
    summary="Public: booked trucks per direction and hour (no plates, no names)",
)
async def public_queue(
    request: Request,
    code: CrossingCode,
    day: dt.date | None = None,
    platform: Platform = Depends(get_platform),
) -> PublicQueue:
    limits = limits_of(request)
    client = request.client.host if request.client else "?"
    limits.check(limits.public, client, "client")
    return await run_in_threadpool(public.public_queue, platform, code, day)

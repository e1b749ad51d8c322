"""Exchange routes under /api/v1/exchange: webhooks, deliveries, the SSE stream, the key."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from time import monotonic
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from silkgate.core.http import AUTHENTICATED, get_platform, problem_responses, require_json
from silkgate.core.platform import Platform
from silkgate.exchange import feed as feeds
from silkgate.exchange import service
from silkgate.exchange import subscriptions as subs
from silkgate.exchange.schemas import (
    DeliveryOut,
    DeliveryStatus,
    FeedPage,
    SigningKeyOut,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionStatus,
)
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller

router = APIRouter(prefix="/exchange", tags=["exchange"], responses=AUTHENTICATED)
SSE_POLL_SECONDS = 0.25
#: the largest id a route takes (a resume point, a subscription, a delivery): ids are 32-bit
#: integers on PostgreSQL, and a larger resume point, refused only once the stream had begun,
#: broke the stream mid-way
MAX_ID = 2**31 - 1


@router.post(
    "/subscriptions",
    response_model=SubscriptionOut,
    status_code=201,
    summary="Register a webhook or pull subscription: raw topics, or data categories under an "
    "agreement the caller is a consumer of (422 naming the field otherwise)",
    responses=problem_responses(413, 415),
    dependencies=[Depends(require_json)],
)
async def subscribe(
    body: SubscriptionIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> SubscriptionOut:
    return await run_in_threadpool(service.add_subscription, platform, caller, body)


@router.get("/subscriptions", response_model=list[SubscriptionOut], summary="This org's webhooks")
async def subscriptions(
    platform: Platform = Depends(get_platform), caller: Caller = Depends(current_caller)
) -> list[SubscriptionOut]:
    return await run_in_threadpool(service.list_subscriptions, platform, caller)


@router.get(
    "/subscriptions/{sub_id}",
    response_model=SubscriptionStatus,
    summary="Delivery state of a subscription: lag, delivered, failures, dead letters, last "
    "error and success",
    responses=problem_responses(404),
)
async def subscription_status(
    sub_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> SubscriptionStatus:
    return await run_in_threadpool(subs.status, platform, caller, sub_id)


@router.get(
    "/feed",
    response_model=FeedPage,
    summary="Pull feed: this organization's messages after the cursor (resume with next_cursor; "
    "asking acknowledges the cursor's position)",
)
async def feed(
    cursor: str | None = Query(
        default=None, max_length=64, description="next_cursor of the last page"
    ),
    limit: int = Query(default=100, ge=1, le=500),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> FeedPage:
    return await run_in_threadpool(feeds.read_feed, platform, caller, cursor, limit)


@router.delete(
    "/subscriptions/{sub_id}",
    response_model=SubscriptionOut,
    summary="Remove a webhook (its pending deliveries become dead letters)",
    responses=problem_responses(404, 409),
)
async def unsubscribe(
    sub_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> SubscriptionOut:
    return await run_in_threadpool(service.remove_subscription, platform, caller, sub_id)


@router.get(
    "/deliveries",
    response_model=list[DeliveryOut],
    summary="This org's webhook deliveries; status=dead lists the dead letters",
)
async def deliveries(
    status: DeliveryStatus | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=500),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> list[DeliveryOut]:
    return await run_in_threadpool(service.list_deliveries, platform, caller, status, limit)


@router.post(
    "/deliveries/{delivery_id}/retry",
    status_code=204,
    summary="Send a dead letter again",
    responses=problem_responses(404, 409),
)
async def retry(
    delivery_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> None:
    await run_in_threadpool(service.retry_delivery, platform, caller, delivery_id)


@router.get(
    "/signing-key",
    response_model=SigningKeyOut,
    summary="The platform public key webhook receivers verify signatures with",
)
async def signing_key(
    platform: Platform = Depends(get_platform), _: Caller = Depends(current_caller)
) -> SigningKeyOut:
    return service.signing_key(platform)


@router.get(
    "/events",
    summary="Server-sent events: this organization's messages, resumable by Last-Event-ID",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    last_event_id: int | None = Header(
        default=None, alias="Last-Event-ID", ge=0, le=MAX_ID, description="Resume point"
    ),
    after: int | None = Query(
        default=None, ge=0, le=MAX_ID, description="Resume point if no header"
    ),
    wait: float = Query(
        default=25.0, ge=0, le=300, description="Seconds to hold the stream open for new messages"
    ),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> StreamingResponse:
    start = last_event_id if last_event_id is not None else (after or 0)

    async def stream() -> AsyncIterator[bytes]:
        seen = start
        until = monotonic() + wait
        yield b"retry: 2000\n\n"
        while True:
            batch = await run_in_threadpool(service.messages_after, platform, caller, seen)
            for m in batch:
                seen = m.seq
                data = json.dumps(m.model_dump(mode="json"), ensure_ascii=False)
                yield f"id: {m.seq}\nevent: {m.topic}\ndata: {data}\n\n".encode()
            if batch:
                continue
            if monotonic() >= until or await request.is_disconnected():
                return
            await asyncio.sleep(SSE_POLL_SECONDS)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

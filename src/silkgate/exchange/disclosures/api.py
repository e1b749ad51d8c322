"""Routes under /api/v1/exchange: the disclosure log and personal-data transfer counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from silkgate.core.http import AUTHENTICATED, get_platform, problem_responses
from silkgate.core.platform import Platform
from silkgate.core.text import NoControls
from silkgate.core.times import as_utc
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.disclosures import service
from silkgate.exchange.disclosures.schemas import DisclosurePage, PersonalTransferCount
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller

router = APIRouter(prefix="/exchange", tags=["exchange"], responses=AUTHENTICATED)


@router.get(
    "/disclosures",
    response_model=DisclosurePage,
    responses=problem_responses(422),
    summary="Who received what about the caller's records (its declarations; for a GOV "
    "customs organization, the records lodged with its state), newest first",
)
async def disclosures(
    record: Annotated[str, NoControls()] | None = Query(
        default=None, max_length=80, description="one record id, e.g. a declaration id"
    ),
    consumer: Annotated[str, NoControls()] | None = Query(
        default=None, max_length=80, description="member id of the receiving organization"
    ),
    category: Category | None = None,
    since: AwareDatetime | None = Query(default=None, description="RFC 3339; inclusive"),
    until: AwareDatetime | None = Query(default=None, description="RFC 3339; exclusive"),
    cursor: Annotated[str, NoControls()] | None = Query(default=None, max_length=32),
    limit: int = Query(default=100, ge=1, le=500),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> DisclosurePage:
    f = service.DisclosureFilter(
        record,
        consumer,
        category,
        as_utc(since) if since else None,
        as_utc(until) if until else None,
    )
    return await run_in_threadpool(service.list_disclosures, platform, caller, f, cursor, limit)


@router.get(
    "/personal-data-transfers",
    response_model=list[PersonalTransferCount],
    responses=problem_responses(422),
    summary="Distinct persons whose personal data crossed a border, per agreement and year "
    "(agreements the caller is a party to)",
)
async def personal_data_transfers(
    year: int | None = Query(default=None, ge=2000, le=2999),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> list[PersonalTransferCount]:
    return await run_in_threadpool(service.personal_counts, platform, caller, year)

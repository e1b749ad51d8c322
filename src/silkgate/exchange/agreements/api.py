"""Agreement routes under /api/v1/exchange/agreements: propose, sign, revoke, read, ODRL.

Only the parties to an agreement see it (others get 404, as if it did not exist).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from silkgate.core.http import (
    AUTHENTICATED,
    JSON,
    get_platform,
    problem_responses,
    require_media_type,
)
from silkgate.core.platform import Platform
from silkgate.core.validation import load_json
from silkgate.exchange.agreements import odrl, service
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.schemas import (
    AgreementHistory,
    AgreementIn,
    AgreementOut,
    AgreementStatus,
    CategoryOut,
    RevokeIn,
    SignatureIn,
)
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller

router = APIRouter(
    prefix="/exchange/agreements", tags=["exchange agreements"], responses=AUTHENTICATED
)
AgreementIdP = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{2,79}$")]
VersionP = Annotated[int, Path(ge=1, le=1_000_000)]
_json_body = require_media_type(JSON, odrl.MEDIA_TYPE)


@router.get("/catalogue", response_model=list[CategoryOut], summary="Fields agreements may name")
async def catalogue(_: Caller = Depends(current_caller)) -> list[CategoryOut]:
    return service.categories()


@router.post(
    "",
    response_model=AgreementOut,
    status_code=201,
    summary="Propose an agreement, or the next version of one (every party then signs)",
    responses=problem_responses(403, 404, 409, 413, 415),
    dependencies=[Depends(_json_body)],
)
async def propose(
    body: AgreementIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> AgreementOut:
    return await run_in_threadpool(service.propose, platform, caller, body)


@router.post(
    "/odrl",
    response_model=AgreementOut,
    status_code=201,
    summary="Propose the terms of an ODRL 2.2 Agreement (JSON-LD, as exported)",
    responses=problem_responses(403, 404, 409, 413, 415, 422),
    dependencies=[Depends(_json_body)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                m: {"schema": {"type": "object", "description": "An ODRL 2.2 Agreement"}}
                for m in (JSON, odrl.MEDIA_TYPE)
            },
        }
    },
)
async def import_odrl(
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> AgreementOut:
    doc = load_json(await request.body())
    return await run_in_threadpool(service.import_odrl, platform, caller, doc)


@router.get(
    "", response_model=list[AgreementOut], summary="Agreement versions this org is party to"
)
async def list_agreements(
    status: AgreementStatus | None = Query(default=None),
    category: Category | None = Query(default=None),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> list[AgreementOut]:
    return await run_in_threadpool(service.list_agreements, platform, caller, status, category)


@router.get(
    "/{agreement_id}",
    response_model=AgreementHistory,
    summary="An agreement's versions (history)",
    responses=problem_responses(404),
)
async def show(
    agreement_id: AgreementIdP,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> AgreementHistory:
    return await run_in_threadpool(service.history, platform, caller, agreement_id)


@router.post(
    "/{agreement_id}/versions/{version}/signatures",
    response_model=AgreementOut,
    summary="Sign a proposed version (Ed25519 over its signing_input, with the org's key)",
    responses=problem_responses(404, 409, 413, 415),
    dependencies=[Depends(_json_body)],
)
async def sign(
    agreement_id: AgreementIdP,
    version: VersionP,
    body: SignatureIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> AgreementOut:
    return await run_in_threadpool(
        service.sign, platform, caller, agreement_id, version, body.signature
    )


@router.post(
    "/{agreement_id}/revoke",
    response_model=AgreementHistory,
    summary="Revoke an agreement with immediate effect (either party)",
    responses=problem_responses(404, 409, 413, 415),
    dependencies=[Depends(_json_body)],
)
async def revoke(
    agreement_id: AgreementIdP,
    body: RevokeIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> AgreementHistory:
    return await run_in_threadpool(service.revoke, platform, caller, agreement_id, body.reason)


@router.get(
    "/{agreement_id}/versions/{version}/odrl",
    summary="A version as an ODRL 2.2 Agreement (JSON-LD)",
    responses={200: {"content": {odrl.MEDIA_TYPE: {}}}, **problem_responses(404)},
)
async def export_odrl(
    agreement_id: AgreementIdP,
    version: VersionP,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Response:
    doc = await run_in_threadpool(service.export_odrl, platform, caller, agreement_id, version)
    return Response(json.dumps(doc, ensure_ascii=False), media_type=odrl.MEDIA_TYPE)

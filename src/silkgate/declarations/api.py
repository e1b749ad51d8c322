"""Declaration routes under /api/v1/declarations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from silkgate.core.http import current_caller, get_platform
from silkgate.core.platform import Platform
from silkgate.declarations import reading, service
from silkgate.declarations.schemas import (
    AuditEntryOut,
    BatchReport,
    CancelIn,
    DeclarationIn,
    DeclarationOut,
    DeclarationPage,
    DeclarationStatus,
    DeclarationType,
    TransitionIn,
    VersionOut,
)
from silkgate.registry.service import Caller

router = APIRouter(prefix="/declarations", tags=["declarations"])

_DECLARATION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeclarationIn"}}},
    }
}
_NDJSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-ndjson": {
                "schema": {
                    "type": "string",
                    "description": "One DeclarationIn JSON object per line.",
                }
            }
        },
    }
}


@router.post(
    "",
    response_model=DeclarationOut,
    status_code=201,
    openapi_extra=_DECLARATION_BODY,
    summary="Lodge a declaration (send Idempotency-Key to make retries safe)",
)
async def create_declaration(
    request: Request,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key", max_length=255),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Response:
    raw = await request.body()
    out, created = await service.lodge(platform, caller, raw, idempotency_key)
    headers = {"Location": f"{request.url.path}/{out.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    # Serialised once here; FastAPI would otherwise validate the model a second time.
    return Response(
        out.model_dump_json(),
        status_code=201 if created else 200,
        headers=headers,
        media_type="application/json",
    )


@router.post(
    "/batch",
    response_model=BatchReport,
    openapi_extra=_NDJSON_BODY,
    summary="Lodge many declarations as JSON Lines; each line is accepted or rejected alone",
)
async def create_batch(
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> BatchReport:
    raw = await request.body()
    lines = raw.splitlines()
    if len(lines) > platform.settings.max_batch_lines:
        from silkgate.core.errors import FieldError, ValidationFailed

        raise ValidationFailed(
            [
                FieldError(
                    "",
                    "too_many_lines",
                    f"at most {platform.settings.max_batch_lines} lines per batch",
                )
            ]
        )
    return await run_in_threadpool(service.create_batch, platform, caller, lines)


@router.get("", response_model=DeclarationPage)
def list_declarations(
    status: DeclarationStatus | None = None,
    type: DeclarationType | None = None,
    crossing: str | None = Query(default=None, max_length=16),
    exit_country: str | None = Query(default=None, pattern=r"^[A-Z]{2}$"),
    entry_country: str | None = Query(default=None, pattern=r"^[A-Z]{2}$"),
    lrn: str | None = Query(default=None, max_length=35),
    submitted_from: datetime | None = None,
    submitted_to: datetime | None = None,
    cursor: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=500),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> DeclarationPage:
    f = reading.ListFilter(
        status.value if status else None,
        type.value if type else None,
        crossing,
        exit_country,
        entry_country,
        lrn,
        submitted_from,
        submitted_to,
    )
    return reading.list_declarations(
        platform, caller, f, cursor, min(limit, platform.settings.page_size_max)
    )


@router.get("/{declaration_id}", response_model=DeclarationOut)
def get_declaration(
    declaration_id: str,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> DeclarationOut:
    return reading.get(platform, caller, declaration_id)


@router.put(
    "/{declaration_id}",
    response_model=DeclarationOut,
    openapi_extra=_DECLARATION_BODY,
    summary="Amend: store a new version (the LRN cannot change)",
)
async def amend_declaration(
    declaration_id: str,
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> DeclarationOut:
    raw = await request.body()
    return await run_in_threadpool(service.amend, platform, caller, declaration_id, raw)


@router.post("/{declaration_id}/cancel", response_model=DeclarationOut)
def cancel_declaration(
    declaration_id: str,
    body: CancelIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> DeclarationOut:
    return service.cancel(platform, caller, declaration_id, body.reason)


@router.post(
    "/{declaration_id}/transitions",
    response_model=DeclarationOut,
    summary="Customs moves a declaration to its next state",
)
def transition_declaration(
    declaration_id: str,
    body: TransitionIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> DeclarationOut:
    return service.transition(platform, caller, declaration_id, body.to, body.reason)


@router.get("/{declaration_id}/versions", response_model=list[VersionOut])
def declaration_versions(
    declaration_id: str,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> list[VersionOut]:
    return reading.versions(platform, caller, declaration_id)


@router.get("/{declaration_id}/audit", response_model=list[AuditEntryOut])
def declaration_audit(
    declaration_id: str,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> list[AuditEntryOut]:
    return reading.audit_trail(platform, caller, declaration_id)


__all__ = ["DeclarationIn", "router"]

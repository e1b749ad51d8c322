"""Declaration routes under /api/v1/declarations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import AwareDatetime
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
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller

router = APIRouter(prefix="/declarations", tags=["declarations"], responses=AUTHENTICATED)

DeclarationId = Annotated[
    str, Path(min_length=1, max_length=64, description="declaration id"), NoControls()
]
_DECLARATION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/DeclarationIn"}}},
    }
}
_NDJSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            NDJSON: {
                "schema": {
                    "type": "string",
                    "description": "One DeclarationIn JSON object per line.",
                }
            }
        },
    }
}
_WRITE = problem_responses(403, 404, 409, 413, 415)
_LODGED: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "Stored now; `Location` names the new declaration",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
    200: {
        "description": "Idempotent replay: this Idempotency-Key already stored this body; the "
        "declaration as stored is returned with `Idempotent-Replayed: true`",
        "model": DeclarationOut,
        "headers": {
            "Location": {"schema": {"type": "string"}},
            "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}},
        },
    },
    **problem_responses(403, 409, 413, 415),
}


@router.post(
    "",
    response_model=DeclarationOut,
    status_code=201,
    openapi_extra=_DECLARATION_BODY,
    responses=_LODGED,
    dependencies=[Depends(require_json)],
    summary="Lodge a declaration (send Idempotency-Key to make retries safe)",
)
async def create_declaration(
    request: Request,
    idempotency_key: Annotated[str, NoControls()] | None = Header(
        default=None, alias="Idempotency-Key", min_length=1, max_length=255
    ),
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
        media_type=JSON,
    )


@router.post(
    "/batch",
    response_model=BatchReport,
    openapi_extra=_NDJSON_BODY,
    responses=problem_responses(403, 413, 415, 422),
    dependencies=[Depends(require_media_type(NDJSON))],
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
        raise ValidationFailed(
            [
                FieldError(
                    None,
                    "too_many_lines",
                    f"at most {platform.settings.max_batch_lines} lines per batch",
                )
            ]
        )
    return await run_in_threadpool(service.create_batch, platform, caller, lines)


@router.get(
    "",
    response_model=DeclarationPage,
    summary="Declarations the caller may see, newest first (times with any offset)",
)
def list_declarations(
    status: DeclarationStatus | None = None,
    type: DeclarationType | None = None,
    crossing: Annotated[str, NoControls()] | None = Query(default=None, max_length=16),
    exit_country: Annotated[str, NoControls()] | None = Query(default=None, pattern=r"^[A-Z]{2}$"),
    entry_country: Annotated[str, NoControls()] | None = Query(default=None, pattern=r"^[A-Z]{2}$"),
    lrn: Annotated[str, NoControls()] | None = Query(default=None, max_length=35),
    submitted_from: AwareDatetime | None = Query(
        default=None, description="RFC 3339 with offset; inclusive"
    ),
    submitted_to: AwareDatetime | None = Query(
        default=None, description="RFC 3339 with offset; exclusive"
    ),
    cursor: Annotated[str, NoControls()] | None = Query(default=None, max_length=64),
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
        as_utc(submitted_from) if submitted_from else None,
        as_utc(submitted_to) if submitted_to else None,
    )
    return reading.list_declarations(
        platform, caller, f, cursor, min(limit, platform.settings.page_size_max)
    )


@router.get("/{declaration_id}", response_model=DeclarationOut, responses=problem_responses(404))
def get_declaration(
    declaration_id: DeclarationId,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> DeclarationOut:
    return reading.get(platform, caller, declaration_id)


@router.put(
    "/{declaration_id}",
    response_model=DeclarationOut,
    openapi_extra=_DECLARATION_BODY,
    responses=_WRITE,
    dependencies=[Depends(require_json)],
    summary="Amend: store a new version (the LRN cannot change)",
)
async def amend_declaration(
    declaration_id: DeclarationId,
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> DeclarationOut:
    raw = await request.body()
    return await run_in_threadpool(service.amend, platform, caller, declaration_id, raw)


@router.post(
    "/{declaration_id}/cancel",
    response_model=DeclarationOut,
    responses=_WRITE,
    dependencies=[Depends(require_json)],
)
def cancel_declaration(
    declaration_id: DeclarationId,
    body: CancelIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> DeclarationOut:
    return service.cancel(platform, caller, declaration_id, body.reason)


@router.post(
    "/{declaration_id}/transitions",
    response_model=DeclarationOut,
    responses=_WRITE,
    dependencies=[Depends(require_json)],
    summary="Customs moves a declaration to its next state",
)
def transition_declaration(
    declaration_id: DeclarationId,
    body: TransitionIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> DeclarationOut:
    return service.transition(platform, caller, declaration_id, body.to, body.reason)


@router.get(
    "/{declaration_id}/versions",
    response_model=list[VersionOut],
    responses=problem_responses(404),
)
def declaration_versions(
    declaration_id: DeclarationId,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> list[VersionOut]:
    return reading.versions(platform, caller, declaration_id)


@router.get(
    "/{declaration_id}/audit",
    response_model=list[AuditEntryOut],
    responses=problem_responses(404),
)
def declaration_audit(
    declaration_id: DeclarationId,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> list[AuditEntryOut]:
    return reading.audit_trail(platform, caller, declaration_id)


__all__ = ["DeclarationIn", "router"]

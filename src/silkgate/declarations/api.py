"""Declaration routes under /api/v1/declarations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
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
    DeclarationView,
    TransitionIn,
    VersionOut,
)
from silkgate.exchange.agreements.enforce import Asking
from silkgate.exchange.agreements.headers import POLICY_PROBLEMS, asking
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


_READ = {**POLICY_PROBLEMS}


def _json(model: BaseModel) -> Response:
    """Serialised once, leaving out what the caller's decision withheld (the unset fields of a
    ``SharedDeclaration``; a ``DeclarationOut`` sets every field)."""
    return Response(model.model_dump_json(exclude_unset=True), media_type=JSON)


@router.get(
    "",
    response_model=DeclarationPage,
    responses=_READ,
    summary="Declarations the caller may see, newest first (times with any offset); send "
    "Silkgate-Purpose to include those other organizations share with it",
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
    who: Asking = Depends(asking),
) -> Response:
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
    page = reading.list_declarations(
        platform, who, f, cursor, min(limit, platform.settings.page_size_max)
    )
    return _json(page)


@router.get(
    "/{declaration_id}",
    response_model=DeclarationView,
    responses=_READ,
    summary="One declaration: whole for its declarant and the lodging customs, else the fields "
    "the caller's agreements allow for the declared purpose",
)
def get_declaration(
    declaration_id: DeclarationId,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> Response:
    return _json(reading.get(platform, who, declaration_id))


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
    response_model=DeclarationView,
    responses={**_WRITE, **POLICY_PROBLEMS},
    dependencies=[Depends(require_json)],
    summary="Customs moves a declaration to its next state (read for Silkgate-Purpose, "
    "by default customs_control)",
)
def transition_declaration(
    declaration_id: DeclarationId,
    body: TransitionIn,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> Response:
    return _json(service.transition(platform, who, declaration_id, body.to, body.reason))


@router.get(
    "/{declaration_id}/versions",
    response_model=list[VersionOut],
    response_model_exclude_unset=True,
    responses=_READ,
)
def declaration_versions(
    declaration_id: DeclarationId,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> list[VersionOut]:
    return reading.versions(platform, who, declaration_id)


@router.get(
    "/{declaration_id}/audit",
    response_model=list[AuditEntryOut],
    responses=_READ,
)
def declaration_audit(
    declaration_id: DeclarationId,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> list[AuditEntryOut]:
    return reading.audit_trail(platform, who, declaration_id)


__all__ = ["DeclarationIn", "router"]

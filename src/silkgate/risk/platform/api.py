"""Risk routes: a declaration's assessment, lane override and inspection; selectivity profiles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from silkgate.core.http import (
    AUTHENTICATED,
    JSON,
    get_platform,
    media_type_of,
    problem_responses,
    require_json,
    require_media_type,
)
from silkgate.core.platform import Platform
from silkgate.core.text import NoControls
from silkgate.exchange.agreements.enforce import Asking
from silkgate.exchange.agreements.headers import POLICY_PROBLEMS, asking
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller
from silkgate.risk.platform import profiles as profile_service
from silkgate.risk.platform import service as declaration_risk
from silkgate.risk.platform.schemas import (
    AssessmentOut,
    InspectionIn,
    InspectionOut,
    LaneOverrideIn,
    ProfileOut,
    ProfileVersionOut,
    SharedAssessment,
    SharedInspection,
)
from silkgate.risk.selectivity.schemas import Direction

router = APIRouter(tags=["risk"], responses=AUTHENTICATED)

TOML_TYPES = ("application/toml", "text/toml", "text/x-toml")
DeclarationId = Annotated[
    str, Path(min_length=1, max_length=64, description="declaration id"), NoControls()
]
Office = Annotated[
    str, Path(min_length=1, max_length=64, description="customs office code"), NoControls()
]
_PROFILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": {"type": "object"}},
            "application/toml": {"schema": {"type": "string"}},
        },
        "description": "A selectivity profile (see docs/risk.md) as JSON or TOML; office and "
        "direction come from the path, the version is assigned.",
    }
}


def _json(out: BaseModel) -> Response:
    """A shared answer leaves out what the caller's decision withheld (its unset fields)."""
    shared = isinstance(out, SharedAssessment | SharedInspection)
    return Response(out.model_dump_json(exclude_unset=shared), media_type="application/json")


@router.get(
    "/declarations/{declaration_id}/risk",
    response_model=AssessmentOut | SharedAssessment,
    responses=POLICY_PROBLEMS,
    summary="The risk assessment of a declaration: whole for customs of the lodging side, "
    "else what risk_lane / risk_score agreements allow for the declared Silkgate-Purpose",
)
def get_assessment(
    declaration_id: DeclarationId,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> Response:
    return _json(declaration_risk.get_assessment(platform, who, declaration_id))


@router.post(
    "/declarations/{declaration_id}/lane",
    response_model=AssessmentOut,
    responses=problem_responses(404, 409, 413, 415),
    dependencies=[Depends(require_json)],
    summary="Override the lane, with a reason (customs of the lodging side; audited)",
)
def override_lane(
    declaration_id: DeclarationId,
    body: LaneOverrideIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> AssessmentOut:
    return declaration_risk.override_lane(platform, caller, declaration_id, body)


@router.post(
    "/declarations/{declaration_id}/inspection",
    response_model=InspectionOut,
    status_code=201,
    responses=problem_responses(404, 409, 413, 415),
    dependencies=[Depends(require_json)],
    summary="Record the outcome of an inspection (customs of the lodging side; audited)",
)
def record_inspection(
    declaration_id: DeclarationId,
    body: InspectionIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> InspectionOut:
    return declaration_risk.record_inspection(platform, caller, declaration_id, body)


@router.get(
    "/declarations/{declaration_id}/inspection",
    response_model=InspectionOut | SharedInspection,
    responses=POLICY_PROBLEMS,
    summary="The recorded inspection result: whole for customs of the lodging side, else what "
    "inspection_result agreements allow for the declared Silkgate-Purpose",
)
def get_inspection(
    declaration_id: DeclarationId,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> Response:
    return _json(declaration_risk.get_inspection(platform, who, declaration_id))


@router.get(
    "/risk/profiles/{office}",
    response_model=list[ProfileVersionOut],
    responses=problem_responses(403, 404),
    summary="Stored profile versions of an office (its customs only)",
)
def profile_versions(
    office: Office,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> list[ProfileVersionOut]:
    return profile_service.versions_for(platform, caller, office)


def _wants_toml(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "toml"
    accept = request.headers.get("accept", "")
    return any(t in accept for t in TOML_TYPES)


@router.get(
    "/risk/profiles/{office}/{direction}",
    response_model=ProfileOut,
    responses={
        200: {"content": {"application/toml": {"schema": {"type": "string"}}}},
        **problem_responses(403, 404),
    },
    summary="The profile in force (or a version) as JSON, or TOML with Accept: application/toml",
)
def get_profile(
    office: Office,
    direction: Direction,
    request: Request,
    version: int | None = Query(default=None, ge=1, le=2**31 - 1),
    format: str | None = Query(default=None, pattern="^(json|toml)$"),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Any:
    out = profile_service.get_for(platform, caller, office, direction.value, version)
    if _wants_toml(request, format):
        return Response(profile_service.as_toml(out), media_type="application/toml")
    return out


@router.put(
    "/risk/profiles/{office}/{direction}",
    response_model=ProfileOut,
    openapi_extra=_PROFILE_BODY,
    responses=problem_responses(403, 404, 413, 415),
    dependencies=[Depends(require_media_type(JSON, *TOML_TYPES))],
    summary="Store a new version of the profile (JSON or TOML; bad rules are refused with "
    "their position)",
)
async def put_profile(
    office: Office,
    direction: Direction,
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> ProfileOut:
    raw = await request.body()
    toml = media_type_of(request) in TOML_TYPES
    return await run_in_threadpool(
        profile_service.save_for, platform, caller, office, direction.value, raw, toml
    )

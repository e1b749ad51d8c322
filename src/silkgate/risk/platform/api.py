"""Risk routes: a declaration's assessment, lane override and inspection; selectivity profiles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from silkgate.core.http import current_caller, get_platform
from silkgate.core.platform import Platform
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
)
from silkgate.risk.selectivity.schemas import Direction

router = APIRouter(tags=["risk"])

TOML_TYPES = ("application/toml", "text/toml", "text/x-toml")
_PROFILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/toml": {"schema": {"type": "string"}},
        },
        "description": "A selectivity profile (see docs/risk.md) as JSON or TOML; office and "
        "direction come from the path, the version is assigned.",
    }
}


@router.get(
    "/declarations/{declaration_id}/risk",
    response_model=AssessmentOut,
    summary="The risk assessment of a declaration (customs of the lodging side)",
)
def get_assessment(
    declaration_id: str,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> AssessmentOut:
    return declaration_risk.get_assessment(platform, caller, declaration_id)


@router.post(
    "/declarations/{declaration_id}/lane",
    response_model=AssessmentOut,
    summary="Override the lane, with a reason (customs of the lodging side; audited)",
)
def override_lane(
    declaration_id: str,
    body: LaneOverrideIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> AssessmentOut:
    return declaration_risk.override_lane(platform, caller, declaration_id, body)


@router.post(
    "/declarations/{declaration_id}/inspection",
    response_model=InspectionOut,
    status_code=201,
    summary="Record the outcome of an inspection (customs of the lodging side; audited)",
)
def record_inspection(
    declaration_id: str,
    body: InspectionIn,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> InspectionOut:
    return declaration_risk.record_inspection(platform, caller, declaration_id, body)


@router.get(
    "/declarations/{declaration_id}/inspection",
    response_model=InspectionOut,
    summary="The recorded inspection result (customs of the lodging side)",
)
def get_inspection(
    declaration_id: str,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> InspectionOut:
    return declaration_risk.get_inspection(platform, caller, declaration_id)


@router.get(
    "/risk/profiles/{office}",
    response_model=list[ProfileVersionOut],
    summary="Stored profile versions of an office (its customs only)",
)
def profile_versions(
    office: str,
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
    summary="The profile in force (or a version) as JSON, or TOML with Accept: application/toml",
)
def get_profile(
    office: str,
    direction: Direction,
    request: Request,
    version: int | None = Query(default=None, ge=1),
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
    summary="Store a new version of the profile (JSON or TOML; bad rules are refused with "
    "their position)",
)
async def put_profile(
    office: str,
    direction: Direction,
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> ProfileOut:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    toml = any(t in content_type for t in TOML_TYPES)
    return await run_in_threadpool(
        profile_service.save_for, platform, caller, office, direction.value, raw, toml
    )

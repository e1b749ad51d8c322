"""Registry routes: organizations, member states, crossings."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from silkgate.core.errors import Forbidden, NotFound
from silkgate.core.http import AUTHENTICATED, get_platform, problem_responses, require_json
from silkgate.core.platform import Platform
from silkgate.registry import service
from silkgate.registry.auth import current_caller
from silkgate.registry.models import Organization
from silkgate.registry.schemas import (
    CrossingOut,
    MemberStateOut,
    OrganizationCreate,
    OrganizationOut,
    Role,
)
from silkgate.registry.service import Caller

router = APIRouter(tags=["registry"], responses=AUTHENTICATED)


@router.get("/member-states", response_model=list[MemberStateOut])
def member_states(
    platform: Platform = Depends(get_platform), _: Caller = Depends(current_caller)
) -> list[MemberStateOut]:
    return [MemberStateOut.model_validate(m) for m in service.list_member_states(platform)]


@router.get("/crossings", response_model=list[CrossingOut])
def crossings(
    platform: Platform = Depends(get_platform), _: Caller = Depends(current_caller)
) -> list[CrossingOut]:
    return [
        CrossingOut(code=c.code, name_en=c.name_en, countries=c.countries, data=c.data)
        for c in service.list_crossings(platform)
    ]


def _org_out(pairs: list[tuple[Organization, list[str]]]) -> list[OrganizationOut]:
    out = []
    for org, crossings_ in pairs:
        o = OrganizationOut.model_validate(org)
        o.crossings = crossings_
        out.append(o)
    return out


@router.get(
    "/organizations",
    response_model=list[OrganizationOut],
    summary="The member directory (public keys included)",
)
def organizations(
    platform: Platform = Depends(get_platform), _: Caller = Depends(current_caller)
) -> list[OrganizationOut]:
    return _org_out(service.list_organizations(platform))


@router.get("/organizations/me", response_model=OrganizationOut, responses=problem_responses(404))
def me(
    platform: Platform = Depends(get_platform), caller: Caller = Depends(current_caller)
) -> OrganizationOut:
    for o in _org_out(service.list_organizations(platform)):
        if o.member_id == caller.member_id:
            return o
    raise NotFound("organization")


@router.post(
    "/organizations",
    response_model=OrganizationOut,
    status_code=201,
    responses=problem_responses(403, 409, 413, 415),
    dependencies=[Depends(require_json)],
)
async def create_organization(
    body: OrganizationCreate,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> OrganizationOut:
    if not caller.has(Role.ADMIN):
        raise Forbidden("only platform administrators register organizations")
    org = await run_in_threadpool(service.create_organization, platform, body, caller.member_id)
    out = OrganizationOut.model_validate(org)
    out.crossings = list(body.crossings)
    return out

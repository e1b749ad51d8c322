"""Audit routes: the newest signed checkpoint, a signed receipt for a declaration, and the
caller's stored signed submissions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from silkgate.audit import checkpoints, receipts, submissions
from silkgate.audit.schemas import CheckpointOut, ReceiptOut, SubmissionOut
from silkgate.core.http import AUTHENTICATED, get_platform, problem_responses
from silkgate.core.platform import Platform
from silkgate.core.text import NoControls
from silkgate.exchange.agreements.enforce import Asking
from silkgate.exchange.agreements.headers import POLICY_PROBLEMS, asking
from silkgate.registry.auth import current_caller
from silkgate.registry.service import Caller

router = APIRouter(tags=["audit"], responses=AUTHENTICATED)

DeclarationId = Annotated[
    str, Path(min_length=1, max_length=64, description="declaration id"), NoControls()
]


@router.get(
    "/audit/checkpoints/latest",
    response_model=CheckpointOut,
    summary="The newest signed checkpoint of the audit chain (keep it: audit verify --checkpoint)",
)
async def latest_checkpoint(
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Any:
    cp = await run_in_threadpool(checkpoints.latest_covering, platform)
    return cp.as_dict()


@router.get(
    "/declarations/{declaration_id}/receipt",
    response_model=ReceiptOut,
    responses={**POLICY_PROBLEMS, **problem_responses(409)},
    summary="A signed receipt of what the platform recorded about a declaration, as the caller "
    "may read it (send Silkgate-Purpose for another organization's declaration)",
)
async def declaration_receipt(
    declaration_id: DeclarationId,
    platform: Platform = Depends(get_platform),
    who: Asking = Depends(asking),
) -> Any:
    return await run_in_threadpool(receipts.declaration_receipt, platform, who, declaration_id)


@router.get(
    "/audit/submissions",
    response_model=list[SubmissionOut],
    summary="The caller's signed writes that created or changed a record, oldest first",
)
async def list_submissions(
    entity_type: Annotated[str, NoControls()] = Query(
        max_length=40, description="as in the audit log: declaration, queue_booking, …"
    ),
    entity_id: Annotated[str, NoControls()] = Query(max_length=80),
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Any:
    return await run_in_threadpool(
        submissions.submissions_for, platform, caller, entity_type, entity_id
    )


@router.get(
    "/audit/submissions/{submission_id}",
    response_model=SubmissionOut,
    responses=problem_responses(404),
    summary="One of the caller's signed writes, with the exact body its signature covers",
)
async def get_submission(
    submission_id: Annotated[str, Path(min_length=1, max_length=22), NoControls()],
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Any:
    return await run_in_threadpool(submissions.get_submission, platform, caller, submission_id)

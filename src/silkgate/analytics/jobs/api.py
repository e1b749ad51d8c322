"""Analytics job routes under /api/v1/analytics: the catalogue, runs (JSON, CSV, Parquet), charts.

Any authenticated organization reads the catalogue; analysts, customs and administrators run
jobs (others: 403). A run computes where this installation does
(``SILKGATE_ANALYTICS_COMPUTE_COUNTRY``; the caller cannot choose) and reads another country's
data only when an agreement names the caller too (``residency``). The lake is only read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from silkgate.analytics.jobs import charts, output, service
from silkgate.analytics.jobs.catalogue import JOBS
from silkgate.analytics.jobs.schemas import JobInfo, JobRun, RunRequest
from silkgate.core.errors import FieldError, Forbidden, NotFound, ValidationFailed
from silkgate.core.http import AUTHENTICATED, JSON, get_platform, problem_responses, require_json
from silkgate.core.platform import Platform
from silkgate.registry.auth import current_caller
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller

router = APIRouter(prefix="/analytics", tags=["analytics"], responses=AUTHENTICATED)
RUNNERS = (Role.ANALYST, Role.CUSTOMS, Role.ADMIN)
JobName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A job's name.")]


def _may_run(caller: Caller, name: str) -> Any:
    if not caller.has(*RUNNERS):
        raise Forbidden("only analysts, customs and administrators run analytics jobs")
    if name not in JOBS:
        raise NotFound(f"analytics job {name!r}")
    return JOBS[name]


def _left_out(result: service.Result) -> dict[str, str]:
    """What a file answer does not hold, in headers (JSON answers carry it in the body)."""
    run = result.run
    return {
        "Silkgate-Excluded-Partitions": str(sum(e.partitions for e in run.exclusions)),
        "Silkgate-Suppressed-Cells": str(run.suppressed_cells),
        "Silkgate-Min-Cell-Size": str(run.min_cell_size),
    }


@router.get("/jobs", response_model=list[JobInfo], summary="The analysis jobs and their parameters")
async def catalogue(_: Caller = Depends(current_caller)) -> list[JobInfo]:
    return service.catalogue()


_FILE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The run as JSON (rows included), or its rows as CSV or Parquet",
        "content": {"text/csv": {}, output.MEDIA_TYPES["parquet"]: {}},
    }
}


@router.post(
    "/jobs/{name}/runs",
    response_model=JobRun,
    responses={**_FILE_ANSWERS, **problem_responses(403, 404, 413, 415, 422)},
    dependencies=[Depends(require_json)],
    summary="Run a job; ?format=csv or parquet answers with the rows as a file",
)
async def run_job(
    name: JobName,
    body: RunRequest,
    fmt: Annotated[
        Literal["json", "csv", "parquet"], Query(alias="format", description="json, csv, parquet")
    ] = "json",
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Response:
    _may_run(caller, name)
    request = service.check(name, body.params, body.engine)
    result = await run_in_threadpool(service.run, platform, request, caller)
    result.run.lake = None  # the server's file system is not the caller's business
    if fmt == "json":
        doc = await run_in_threadpool(lambda: output.document(result).model_dump_json())
        return Response(doc, media_type=JSON)
    return Response(
        await run_in_threadpool(output.render, result, fmt),
        media_type=output.MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            **_left_out(result),
        },
    )


def _query_params(request: Request) -> dict[str, str]:
    given: dict[str, str] = {}
    repeated = []
    for key, value in request.query_params.multi_items():
        if key in given:
            repeated.append(FieldError(f"/params/{key}", "repeated", f"{key} is given twice"))
        given[key] = value
    if repeated:
        raise ValidationFailed(repeated)
    return given


async def _chart(
    name: str, fmt: str, request: Request, platform: Platform, caller: Caller
) -> Response:
    job = _may_run(caller, name)
    if job.chart is None:
        raise NotFound(f"a chart of analytics job {name!r}")
    checked = service.check(name, _query_params(request), "duckdb")
    result = await run_in_threadpool(service.run, platform, checked, caller)
    image = await run_in_threadpool(charts.render, job, result, fmt)
    return Response(image, media_type=charts.MEDIA_TYPES[fmt], headers=_left_out(result))


def _chart_doc(fmt: str) -> dict[str, Any]:
    return {
        "responses": {
            200: {"content": {charts.MEDIA_TYPES[fmt]: {}}, "description": f"The chart ({fmt})"},
            **problem_responses(403, 404, 422),
        },
        "summary": f"The job's chart as {fmt.upper()}; the job's parameters as query parameters",
        "description": "Query parameters are the job's parameters (`GET /analytics/jobs`), "
        "checked as in a run; the run computes on DuckDB. The headers Silkgate-Excluded-"
        "Partitions and Silkgate-Suppressed-Cells tell what the chart does not show.",
        "response_class": Response,
    }


@router.get("/jobs/{name}/chart.svg", **_chart_doc("svg"))
async def chart_svg(
    name: JobName,
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Response:
    return await _chart(name, "svg", request, platform, caller)


@router.get("/jobs/{name}/chart.png", **_chart_doc("png"))
async def chart_png(
    name: JobName,
    request: Request,
    platform: Platform = Depends(get_platform),
    caller: Caller = Depends(current_caller),
) -> Response:
    return await _chart(name, "png", request, platform, caller)

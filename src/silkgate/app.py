"""The FastAPI application: every domain's router under /api/v1, plus health and readiness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from silkgate import __version__
from silkgate.analytics.jobs.api import router as analytics_router
from silkgate.audit.api import router as audit_router
from silkgate.audit.middleware import WriteReceipts
from silkgate.audit.submissions import document_signed_writes
from silkgate.core.errors import Problem
from silkgate.core.http import (
    BodySizeLimit,
    document_problems,
    install_error_handlers,
    problem,
    problem_responses,
)
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings, get_settings
from silkgate.declarations.api import router as declarations_router
from silkgate.declarations.schemas import DeclarationIn
from silkgate.exchange.agreements.api import router as agreements_router
from silkgate.exchange.api import router as exchange_router
from silkgate.exchange.disclosures.api import router as disclosures_router
from silkgate.gates.api import router as gates_router
from silkgate.gates.schemas import GateEventIn
from silkgate.queue.api import public_router as queue_public_router
from silkgate.queue.api import rate_limited_response
from silkgate.queue.api import router as queue_router
from silkgate.queue.limits import RateLimited
from silkgate.registry.api import router as registry_router
from silkgate.risk.platform.api import router as risk_router

API_PREFIX = "/api/v1"


class Ready(BaseModel):
    status: str
    revision: str | None


def create_app(settings: Settings | None = None, platform: Platform | None = None) -> FastAPI:
    """Build the app; tests pass their own settings or platform."""
    platform = platform or Platform(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _ = platform.signer  # fail at start-up, not on the first request, if the key is missing
        platform.db.refresh_planner_statistics()
        worker = None
        if platform.settings.risk_worker:
            from silkgate.risk.platform.worker import AssessorWorker

            worker = AssessorWorker(platform)
            worker.start()
        app.state.risk_worker = worker
        deliverer = None
        if platform.settings.exchange_worker:
            from silkgate.exchange.worker import DeliveryWorker

            deliverer = DeliveryWorker(platform)
            deliverer.start()
        app.state.exchange_worker = deliverer
        checkpointer = None
        if platform.settings.audit_checkpoints:
            from silkgate.audit.checkpoints import CheckpointWorker

            checkpointer = CheckpointWorker(platform)
            checkpointer.start()
        app.state.checkpoint_worker = checkpointer
        verifications = app.state.audit_verifications  # the console's (console.web.install)
        verifications.start()
        try:
            yield
        finally:
            grace = platform.settings.shutdown_grace
            verifications.stop(grace)
            if deliverer is not None:
                deliverer.stop(grace)
            if checkpointer is not None:
                checkpointer.stop(grace)
            if worker is not None:
                worker.stop(grace)
            for committer in (platform.group_committer, platform.booking_committer):
                if committer is not None:
                    committer.close(grace)

    app = FastAPI(
        title="Silkgate",
        version=__version__,
        description=(
            "Pre-arrival declarations and border data exchange for the China–Kazakhstan "
            "road crossings."
        ),
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.platform = platform
    if platform.settings.group_commit and platform.group_committer is None:
        from silkgate.declarations.committer import GroupCommitter

        platform.group_committer = GroupCommitter(platform)
    if (
        platform.settings.group_commit
        and platform.settings.queue_group_commit
        and platform.booking_committer is None
    ):
        from silkgate.queue.committer import BookingCommitter

        platform.booking_committer = BookingCommitter(platform)
    install_error_handlers(app)

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        return rate_limited_response(exc, request.url.path)

    # inside the body limit: a refused body never reaches a write
    app.add_middleware(WriteReceipts, platform=platform)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=platform.settings.max_body_bytes,
        per_path={f"{API_PREFIX}/declarations/batch": platform.settings.max_batch_bytes},
    )

    health = APIRouter(tags=["health"])

    @health.get("/health", summary="Liveness: the process answers")
    def liveness() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @health.get(
        "/health/ready",
        summary="Readiness: the database answers and is migrated; background threads run",
        responses={200: {"model": Ready}, **problem_responses(503)},
    )
    def readiness(request: Request) -> Any:
        from silkgate.core.migrations import current_revision, head_revision

        try:
            with platform.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = current_revision(platform.db.engine)
        except Exception as exc:  # any database failure means not ready
            return problem(
                503, "Not ready", f"database unavailable: {type(exc).__name__}", "not-ready"
            )
        if current != head_revision():
            return problem(
                503,
                "Not ready",
                f"database at revision {current}, code expects {head_revision()}; "
                "run 'silkgate db upgrade'",
                "not-ready",
            )
        threads = _thread_states(request)
        dead = [name for name, st in threads.items() if st["state"] == "dead"]
        if dead:
            return problem(
                503, "Not ready", f"background thread not running: {', '.join(dead)}", "not-ready"
            )
        return JSONResponse({"status": "ready", "revision": current, "threads": threads})

    def _thread_states(request: Request) -> dict[str, dict[str, Any]]:
        """Supervised threads, each revived first if it is gone."""
        out: dict[str, dict[str, Any]] = {}
        if platform.group_committer is not None:
            out["group_commit"] = platform.group_committer.status()
        if platform.booking_committer is not None:
            out["booking_commit"] = platform.booking_committer.status()
        worker = getattr(request.app.state, "risk_worker", None)
        if worker is not None:
            out["risk_worker"] = worker.status()
        deliverer = getattr(request.app.state, "exchange_worker", None)
        if deliverer is not None:
            out["exchange_worker"] = deliverer.status()
        checkpointer = getattr(request.app.state, "checkpoint_worker", None)
        if checkpointer is not None:
            out["audit_checkpoints"] = checkpointer.status()
        verifications = getattr(request.app.state, "audit_verifications", None)
        if verifications is not None and verifications.started:
            out["audit_verifications"] = verifications.status()
        return out

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(health)
    api.include_router(registry_router)
    api.include_router(declarations_router)
    api.include_router(risk_router)
    api.include_router(queue_router)
    api.include_router(queue_public_router)
    api.include_router(gates_router)
    api.include_router(exchange_router)
    api.include_router(agreements_router)
    api.include_router(disclosures_router)
    api.include_router(audit_router)
    api.include_router(analytics_router)
    app.include_router(api)

    from silkgate.console.web import install as install_console

    install_console(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (DeclarationIn, GateEventIn, Problem):
            extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(extra.pop("$defs", {}))
            components[model.__name__] = extra
        document_signed_writes(schema)
        document_problems(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app

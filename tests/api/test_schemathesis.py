"""Schemathesis over the whole API, on both databases: no server errors, and every response
(status, content type, body) as the OpenAPI document describes it.

Schemathesis' pytest loader does not run under pytest 9, so each operation's strategy is run
with Hypothesis directly: positive and negative cases, a few examples each, derandomized.
"""

from __future__ import annotations

import contextlib
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from silkgate.app import create_app
from silkgate.core.platform import Platform
from tests.factories import export_cn_to_kz, seeded, tokens

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
EXAMPLES = 8
# the batch body is documented as a string of JSON Lines: sent as text
schemathesis.serializer.alias("application/x-ndjson", "text/plain")


def _run(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        _hold_streams_briefly(case)
        case.call_and_validate(headers=headers, checks=CHECKS)

    # an operation without parameters has no negative cases: nothing to break
    with contextlib.suppress(Unsatisfiable):
        run()


def _hold_streams_briefly(case: schemathesis.Case) -> None:
    """The event stream is held open ``wait`` seconds (25 if absent, up to 300): an absent or
    accepted ``wait`` is cut to 0.05 s, or this test spends most of its time waiting (40 of its
    58 s); out-of-range values are sent as generated, to be refused."""
    if case.operation.path != "/api/v1/exchange/events":
        return
    case.query = case.query or {}
    wait = case.query.get("wait", 0.05)
    with contextlib.suppress(TypeError, ValueError):
        if 0 <= float(wait) <= 300:
            wait = min(float(wait), 0.05)
    case.query["wait"] = wait


def test_api_answers_as_documented(platform: Platform) -> None:
    ids = seeded(platform)
    keys = tokens(platform, ids)
    app = create_app(platform=platform)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    broker = {"Authorization": f"Bearer {keys['cn-broker']}"}
    customs = {"Authorization": f"Bearer {keys['cn-customs']}"}
    # something to find: a lodged declaration the broker owns
    from fastapi.testclient import TestClient

    TestClient(app).post("/api/v1/declarations", json=export_cn_to_kz("ST-1"), headers=broker)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        # risk routes belong to customs; everything else is tried as a declarant
        headers = customs if "risk" in (schema.get_tags(operation) or []) else broker
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run(operation, mode, headers)
            except (Exception, BaseExceptionGroup) as exc:  # report every operation's failures
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    # bounded by EXAMPLES per operation and mode, not by wall time (a shared machine varies)
    assert not failures, "\n\n".join(failures)

"""The OpenAPI document describes what the API answers: problems, replays, media types."""

from __future__ import annotations

from typing import Any

import pytest

from silkgate.app import create_app
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings

PROBLEM = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("openapi")
    settings = Settings(database_url=f"sqlite:///{d}/x.db", demo_mode=True, data_dir=d)  # type: ignore[call-arg]
    return create_app(platform=Platform(settings)).openapi()


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def test_every_error_answer_is_a_documented_problem(doc: dict[str, Any]) -> None:
    for method, path, op in _operations(doc):
        responses = op["responses"]
        if not path.startswith(("/api/v1/health", "/api/v1/public/")):
            assert "401" in responses, (method, path)
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in responses, (method, path)
        if op.get("requestBody"):
            assert {"413", "415"} <= set(responses), (method, path)
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["required"])
    field_error = doc["components"]["schemas"]["ProblemFieldError"]
    assert field_error["required"] == ["code", "message"]  # no field: the whole input


def test_lodging_documents_creation_and_replay(doc: dict[str, Any]) -> None:
    responses = doc["paths"]["/api/v1/declarations"]["post"]["responses"]
    assert {"200", "201", "409", "415"} <= set(responses)
    assert "Idempotent-Replayed" in responses["200"]["headers"]
    for status in ("200", "201"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/DeclarationOut"}


def test_non_json_media_types_are_documented(doc: dict[str, Any]) -> None:
    batch = doc["paths"]["/api/v1/declarations/batch"]["post"]
    assert list(batch["requestBody"]["content"]) == ["application/x-ndjson"]
    profile = doc["paths"]["/api/v1/risk/profiles/{office}/{direction}"]
    assert "application/toml" in profile["get"]["responses"]["200"]["content"]
    assert "application/toml" in profile["put"]["requestBody"]["content"]


def test_times_are_documented_as_date_times(doc: dict[str, Any]) -> None:
    out = doc["components"]["schemas"]["DeclarationOut"]["properties"]
    assert out["submitted_at"]["format"] == "date-time"

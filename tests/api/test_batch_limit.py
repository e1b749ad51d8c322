"""The batch limit is reachable: 5,000 realistic declarations fit in one JSON Lines body."""

from __future__ import annotations

import json

from silkgate.demo.traffic import TrafficGenerator
from tests.api.conftest import API, Api


def _lines(n: int) -> bytes:
    gen = TrafficGenerator(seed=5)
    return b"\n".join(json.dumps(gen.declaration()).encode() for _ in range(n))


def test_a_full_batch_of_realistic_declarations_is_accepted(api: Api) -> None:
    settings = api.platform.settings
    body = _lines(settings.max_batch_lines)
    assert settings.max_body_bytes < len(body) <= settings.max_batch_bytes
    r = api.raw("POST", "/declarations/batch", body, "application/x-ndjson")
    assert r.status_code == 200, r.text[:500]
    report = r.json()
    assert report["accepted"] == settings.max_batch_lines, report["lines"][:3]


def test_beyond_the_limits_is_refused_as_a_whole(api: Api) -> None:
    settings = api.platform.settings
    too_many = b"\n".join([b"{}"] * (settings.max_batch_lines + 1))
    r = api.raw("POST", "/declarations/batch", too_many, "application/x-ndjson")
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"code": "too_many_lines", "message": f"at most {settings.max_batch_lines} lines per batch"}
    ]
    r = api.client.post(
        f"{API}/declarations/batch",
        content=b" " * (settings.max_batch_bytes + 1),
        headers=api.auth(**{"Content-Type": "application/x-ndjson"}),
    )
    assert r.status_code == 413 and "field" not in r.json()["errors"][0]

"""Helpers for risk tests on the platform: demo organizations, keys, an API client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from silkgate.app import create_app
from silkgate.core.platform import Platform
from silkgate.registry.service import Caller
from tests.factories import caller, export_cn_to_kz, seeded, tokens

API = "/api/v1"


@dataclass
class Env:
    platform: Platform
    ids: dict[str, str]
    keys: dict[str, str]
    client: TestClient

    @classmethod
    def build(cls, platform: Platform) -> Env:
        ids = seeded(platform)
        return cls(platform, ids, tokens(platform, ids), TestClient(create_app(platform=platform)))

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def caller(self, who: str) -> Caller:
        return caller(self.platform, self.ids, who)

    def lodge(self, lrn: str = "R-1", who: str = "cn-broker", **overrides: Any) -> str:
        r = self.client.post(
            f"{API}/declarations", json=export_cn_to_kz(lrn, **overrides), headers=self.auth(who)
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def get(self, path: str, who: str, **kw: Any) -> Any:
        return self.client.get(
            f"{API}{path}", headers={**self.auth(who), **kw.pop("headers", {})}, **kw
        )

    def post(self, path: str, body: Any, who: str) -> Any:
        return self.client.post(f"{API}{path}", json=body, headers=self.auth(who))

    def put(self, path: str, who: str, **kw: Any) -> Any:
        return self.client.put(
            f"{API}{path}", headers={**self.auth(who), **kw.pop("headers", {})}, **kw
        )

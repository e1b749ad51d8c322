"""An API client on a seeded platform, with the demo organizations' keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from silkgate.app import create_app
from silkgate.core.platform import Platform
from tests.factories import export_cn_to_kz, seeded, tokens

API = "/api/v1"


@dataclass
class Api:
    platform: Platform
    keys: dict[str, str]
    client: TestClient

    def auth(self, who: str = "cn-broker", **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **headers}

    def lodge(self, lrn: str, who: str = "cn-broker", **headers: str) -> Any:
        return self.client.post(
            f"{API}/declarations", json=export_cn_to_kz(lrn), headers=self.auth(who, **headers)
        )

    def raw(self, method: str, path: str, body: bytes | str, content_type: str, **kw: Any) -> Any:
        headers = self.auth(kw.pop("who", "cn-broker"), **{"Content-Type": content_type})
        return self.client.request(method, f"{API}{path}", content=body, headers=headers, **kw)

    def count(self) -> int:
        r = self.client.get(f"{API}/declarations?limit=500", headers=self.auth())
        return len(r.json()["items"])


@pytest.fixture
def api(platform: Platform) -> Api:
    ids = seeded(platform)
    return Api(platform, tokens(platform, ids), TestClient(create_app(platform=platform)))

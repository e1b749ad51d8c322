"""Test helpers: demo organizations with keys, and valid declaration bodies."""

from __future__ import annotations

import copy
from typing import Any

from silkgate.core.platform import Platform
from silkgate.demo.service import DEMO_ORGS, seed_registry
from silkgate.demo.traffic import TrafficGenerator
from silkgate.registry import service as registry
from silkgate.registry.service import Caller


def seeded(platform: Platform) -> dict[str, str]:
    """Register the demo organizations; returns key → member id."""
    return seed_registry(platform)


def tokens(platform: Platform, ids: dict[str, str]) -> dict[str, str]:
    return {
        o.key: registry.issue_api_key(platform, ids[o.key], "test", "test")[1] for o in DEMO_ORGS
    }


def caller(platform: Platform, ids: dict[str, str], key: str) -> Caller:
    return registry.caller_for(platform, ids[key])


_GEN = TrafficGenerator(seed=11)
_BASE: list[dict[str, Any]] = []


def export_cn_to_kz(lrn: str = "T-1", **overrides: Any) -> dict[str, Any]:
    """A valid China→Kazakhstan export declaration body."""
    if not _BASE:
        while len(_BASE) < 1:
            d = _GEN.declaration()
            if d["type"] == "export" and d["crossing"]["exit_country"] == "CN":
                _BASE.append(d)
    body = copy.deepcopy(_BASE[0])
    body["lrn"] = lrn
    body.update(overrides)
    return body

"""API keys: shown once, stored as a hash, revocable, last use recorded."""

from __future__ import annotations

from sqlalchemy import select

from silkgate.core.platform import Platform
from silkgate.registry import service
from silkgate.registry.models import ApiKey
from tests.factories import seeded


def test_key_is_stored_only_as_hash_and_authenticates(platform: Platform) -> None:
    ids = seeded(platform)
    key, token = service.issue_api_key(platform, ids["cn-broker"], "erp", "test")
    with platform.db.session() as s:
        stored = s.scalar(select(ApiKey).where(ApiKey.prefix == key.prefix))
        assert stored is not None and token not in stored.key_hash and stored.last_used_at is None
    who = service.authenticate(platform, token)
    assert who is not None and who.member_id == ids["cn-broker"]
    assert service.list_api_keys(platform, ids["cn-broker"])[0].last_used_at is not None


def test_revoked_or_altered_key_is_refused(platform: Platform) -> None:
    ids = seeded(platform)
    key, token = service.issue_api_key(platform, ids["kz-service"], "erp", "test")
    assert service.authenticate(platform, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    service.revoke_api_key(platform, key.prefix, "test")
    assert service.authenticate(platform, token) is None


def test_member_id_checks_country_identifier(platform: Platform) -> None:
    import pytest

    from silkgate.core.errors import ValidationFailed

    assert service.parse_member_id("CN/COM/91350100M000100Y43")[2] == "91350100M000100Y43"
    for bad in ("CN/COM/91350100M000100Y44", "KZ/COM/123456789012", "XX/FOO/1", "CN-COM-1"):
        with pytest.raises(ValidationFailed):
            service.parse_member_id(bad)

"""Settings refuse the built-in demo secret outside demo mode."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from silkgate.core.settings import Settings


def test_default_pepper_refused_outside_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SILKGATE_DEMO_MODE", raising=False)
    monkeypatch.delenv("SILKGATE_API_KEY_PEPPER", raising=False)
    with pytest.raises(ValidationError, match="demo"):
        Settings(demo_mode=False)
    assert Settings(demo_mode=False, api_key_pepper="a-real-secret-of-our-own").demo_mode is False  # type: ignore[arg-type]
    assert Settings(demo_mode=True).demo_mode is True


def test_platform_key_required_outside_demo(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from silkgate.core.signing import MissingPlatformKey, load_platform_key

    s = Settings(demo_mode=False, api_key_pepper="x" * 20, data_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(MissingPlatformKey):
        load_platform_key(s)
    demo = Settings(demo_mode=True, data_dir=tmp_path)
    key = load_platform_key(demo)
    assert (tmp_path / "keys" / "platform-ed25519.key").stat().st_mode & 0o077 == 0
    assert (
        load_platform_key(demo).public_key().public_bytes_raw()
        == key.public_key().public_bytes_raw()
    )

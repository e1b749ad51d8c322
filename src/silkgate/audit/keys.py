"""The public keys trusted to have signed the audit log: from configuration, never the database.

Someone who can write the database can add a row to ``signing_keys`` and re-sign the whole
chain with a key of their own; only keys pinned outside the database prove the platform signed.
"""

from __future__ import annotations

import base64
import binascii

from silkgate.core.settings import Settings
from silkgate.core.signing import configured_platform_key, key_id, public_key_b64, read_pinned_keys


class BadPinnedKey(ValueError):
    """A configured verification key is not a base64 32-byte Ed25519 public key."""


def check_key(raw: str, where: str) -> str:
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != 32:
        raise BadPinnedKey(f"{where}: {raw[:20]!r} is not a base64 32-byte Ed25519 public key")
    return raw


def trusted_keys(settings: Settings) -> dict[str, str]:
    """key id → base64 public key, from SILKGATE_PLATFORM_VERIFY_KEYS, the pinned key file and
    the public half of the configured platform signing key (whoever holds that key is trusted)."""
    keys: list[str] = []
    for raw in (settings.platform_verify_keys or "").replace(",", " ").split():
        keys.append(check_key(raw, "SILKGATE_PLATFORM_VERIFY_KEYS"))
    path = settings.verify_keys_path
    for line, raw in read_pinned_keys(path):
        keys.append(check_key(raw, f"{path} line {line}"))
    own = configured_platform_key(settings)
    if own is not None:
        keys.append(public_key_b64(own))
    return {key_id(k): k for k in keys}

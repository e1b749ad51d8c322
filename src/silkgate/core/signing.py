"""Ed25519 keys and the canonical JSON form that digests and signatures are computed over."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from silkgate.core.settings import Settings


def canonical_json(payload: Any) -> bytes:
    """Deterministic UTF-8 JSON (sorted keys, no spaces) so digests are reproducible."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """Raw 32-byte public key, base64."""
    return b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def key_id(public_b64: str) -> str:
    """Short stable identifier of a public key (first 16 hex of its SHA-256)."""
    return sha256_hex(base64.b64decode(public_b64))[:16]


def private_key_b64(key: Ed25519PrivateKey) -> str:
    return b64(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def load_private_key(raw_b64: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw_b64))


def load_public_key(raw_b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(raw_b64))


def verify(public_b64: str, signature_b64: str, message: bytes) -> bool:
    try:
        load_public_key(public_b64).verify(base64.b64decode(signature_b64), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def write_private_key_file(path: Path, key: Ed25519PrivateKey) -> None:
    """Write a raw base64 private key readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(private_key_b64(key) + "\n")


def platform_key_path(settings: Settings) -> Path:
    return settings.keys_dir / "platform-ed25519.key"


class MissingPlatformKey(RuntimeError):
    """No platform signing key is configured and this is not demo mode."""


def load_platform_key(settings: Settings) -> Ed25519PrivateKey:
    """The platform's signing key: from settings, else the key file; generated only in demo mode."""
    if settings.platform_signing_key is not None:
        return load_private_key(settings.platform_signing_key.get_secret_value())
    path = platform_key_path(settings)
    if path.exists():
        return load_private_key(path.read_text().strip())
    if not settings.demo_mode:
        raise MissingPlatformKey(
            f"no platform signing key: set SILKGATE_PLATFORM_SIGNING_KEY or run "
            f"'silkgate platform-key generate' (writes {path})"
        )
    key = Ed25519PrivateKey.generate()
    write_private_key_file(path, key)
    pin_public_key(settings.verify_keys_path, public_key_b64(key))
    return key


def configured_platform_key(settings: Settings) -> Ed25519PrivateKey | None:
    """The platform key if one is configured or on disk; never generates one."""
    if settings.platform_signing_key is not None:
        return load_private_key(settings.platform_signing_key.get_secret_value())
    path = platform_key_path(settings)
    return load_private_key(path.read_text().strip()) if path.exists() else None


def pin_public_key(path: Path, public_b64: str) -> bool:
    """Add a public key to the pinned file (earlier keys stay, for rotation); False if present."""
    if public_b64 in {key for _, key in read_pinned_keys(path)}:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(public_b64 + "\n")
    return True


def read_pinned_keys(path: Path) -> list[tuple[int, str]]:
    """(line number, key) of each key in a pinned-key file; ``#`` starts a comment."""
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        token = line.split("#", 1)[0].strip()
        if token:
            out.append((n, token.split()[0]))
    return out

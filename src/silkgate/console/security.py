"""The console's secrets: Argon2 password hashes, hashed random tokens, encrypted TOTP secrets
and CSRF tokens. Nothing here touches the database."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from silkgate.core.settings import Settings

PASSWORD_MIN = 12
PASSWORD_MAX = 256
#: TOTP codes of the step before and after the current one are accepted (clock drift).
TOTP_WINDOW = 1
TOTP_ISSUER = "Silkgate"

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
# verified against when the login is unknown, so both answers take the same time
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> tuple[bool, bool]:
    """Whether the password matches, and whether its hash should be recomputed (parameters
    changed). With no stored hash a dummy is checked so the time does not tell."""
    try:
        ok = _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return ok and stored is not None, stored is not None and _hasher.check_needs_rehash(stored)


def new_token() -> str:
    """A 256-bit random token for a cookie or a link."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database stores of a token (a digest: the tokens are random, not guessable)."""
    return hashlib.sha256(token.encode()).hexdigest()


@lru_cache(maxsize=8)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


def _totp_cipher(settings: Settings) -> AESGCM:
    return _aead(settings.console_key("totp-secret"))


def seal_totp(settings: Settings, login: str, secret: str) -> bytes:
    """Encrypt a TOTP secret for one login (the login is bound as associated data)."""
    nonce = os.urandom(12)
    return nonce + _totp_cipher(settings).encrypt(nonce, secret.encode(), login.encode())


def open_totp(settings: Settings, login: str, sealed: bytes) -> str | None:
    """The TOTP secret, or None if it was sealed for another login or under another key."""
    try:
        return _totp_cipher(settings).decrypt(sealed[:12], sealed[12:], login.encode()).decode()
    except (InvalidTag, ValueError):
        return None


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, login: str, organization: str) -> str:
    """The otpauth:// URI authenticator apps read (from a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(
        name=f"{login} ({organization})", issuer_name=TOTP_ISSUER
    )


def totp_step(secret: str, code: str, now: float, last_step: int | None) -> int | None:
    """The time step a code is valid for (within the window), or None; a step at or before
    ``last_step`` is refused, so an observed code cannot be replayed."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // totp.interval)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step if last_step is None or step > last_step else None
    return None


def anonymous_csrf(settings: Settings, browser_token: str) -> str:
    """The CSRF token of a signed-out form, bound to the browser's pre-session cookie."""
    key = settings.console_key("csrf-anonymous")
    return hmac.new(key, browser_token.encode(), hashlib.sha256).hexdigest()


def same_token(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())

"""Compact JWS (RFC 7515) with Ed25519 only: detached request signatures and signed receipts.

A *detached* JWS (RFC 7515 appendix F) is ``header..signature``: the payload part is empty and
the verifier supplies the bytes (an HTTP request body). Both payload encodings are read:

- standard: the signing input is ``header_b64 "." BASE64URL(payload)``;
- RFC 7797 unencoded (``"b64": false``, which must then be listed in ``"crit"``): the signing
  input is ``header_b64 "." payload`` — the body bytes as they are.

Algorithms: ``EdDSA`` (RFC 8037, with an Ed25519 key) and its fully-specified name ``Ed25519``
(RFC 9864, which deprecates ``EdDSA``). Nothing else is accepted, so ``none``, HMAC-with-the-
public-key and other algorithm confusions cannot arise. The arithmetic is ``cryptography``'s.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHMS = ("EdDSA", "Ed25519")
# What Silkgate writes (receipts, ``sign_request``): RFC 9864's name; maintained libraries
# (joserfc 1.8) already warn that ``EdDSA`` is deprecated. Both are read.
SIGNING_ALG = "Ed25519"
MAX_LENGTH = 8192  # characters of a whole JWS header value we are willing to parse
_B64URL = re.compile(r"\A[A-Za-z0-9_-]*\Z")
# Header parameters RFC 7515 defines: ``crit`` must not list them (section 4.1.11).
_REGISTERED = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}
)


class JWSError(ValueError):
    """A JWS that cannot be read or is not acceptable; ``code`` names the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, what: str = "value") -> bytes:
    """Strict base64url: the URL-safe alphabet, no padding, and the one canonical spelling
    (non-zero leftover bits are refused, so a signature has exactly one text form)."""
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise JWSError("malformed", f"the {what} is not base64url without padding")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JWSError("malformed", f"the {what} is not base64url without padding") from None
    if b64url_encode(raw) != text:
        raise JWSError("malformed", f"the {what} is not canonical base64url")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise JWSError("malformed", f"the protected header repeats {k!r}")
        out[k] = v
    return out


def _refuse_constant(name: str) -> Any:
    raise JWSError("malformed", f"the protected header holds {name}, which is not JSON")


def decode_header(header_b64: str) -> dict[str, Any]:
    """The protected header: a JSON object (repeated names refused, RFC 7515 section 4)."""
    raw = b64url_decode(header_b64, "protected header")
    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant
        )
    except JWSError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise JWSError("malformed", "the protected header is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise JWSError("malformed", "the protected header is not a JSON object")
    return value


def _check_header(header: dict[str, Any], understood: Iterable[str]) -> bool:
    """Check ``alg``, ``b64`` and ``crit``; return whether the payload is base64url-encoded."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise JWSError("malformed", "the protected header has no alg")
    if alg not in ALGORITHMS:
        raise JWSError("unsupported_alg", f"alg {alg!r} is not accepted; use EdDSA or Ed25519")
    encoded = header.get("b64", True)
    if not isinstance(encoded, bool):
        raise JWSError("malformed", "b64 must be true or false")
    crit = header.get("crit")
    if crit is not None:
        if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
            raise JWSError("malformed", "crit must be a non-empty list of names")
        if len(set(crit)) != len(crit):
            raise JWSError("malformed", "crit repeats a name")
        known = {"b64", *understood}
        for name in crit:
            if name in _REGISTERED:
                raise JWSError("malformed", f"crit must not list {name!r} (RFC 7515 4.1.11)")
            if name not in known:
                raise JWSError("unsupported_crit", f"crit lists {name!r}, which is not understood")
            if name not in header:
                raise JWSError("malformed", f"crit lists {name!r}, which the header lacks")
    if not encoded and "b64" not in (crit or []):
        raise JWSError("malformed", "b64 false must be listed in crit (RFC 7797 section 6)")
    return encoded


@dataclass(frozen=True)
class Detached:
    """A parsed detached JWS, not yet verified."""

    header: dict[str, Any]
    header_b64: str
    signature: bytes
    encoded: bool  # False: RFC 7797 unencoded payload

    def signing_input(self, payload: bytes) -> bytes:
        body = b64url_encode(payload).encode("ascii") if self.encoded else payload
        return self.header_b64.encode("ascii") + b"." + body

    def verify(self, payload: bytes, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(self.signature, self.signing_input(payload))
        except InvalidSignature:
            return False
        return True


def parse_detached(value: str, understood: Iterable[str] = ()) -> Detached:
    """Read ``header..signature``; ``understood`` are extension names ``crit`` may list.

    Raises ``JWSError`` with code ``malformed``, ``not_detached``, ``unsupported_alg`` or
    ``unsupported_crit``.
    """
    if len(value) > MAX_LENGTH:
        raise JWSError("malformed", f"longer than {MAX_LENGTH} characters")
    parts = value.split(".")
    if len(parts) != 3:
        raise JWSError("malformed", "expected three dot-separated parts: header..signature")
    header_b64, payload_part, sig_b64 = parts
    if payload_part:
        raise JWSError("not_detached", "the payload part must be empty (a detached JWS)")
    header = decode_header(header_b64)
    encoded = _check_header(header, understood)
    signature = b64url_decode(sig_b64, "signature")
    if len(signature) != 64:
        raise JWSError("malformed", "an Ed25519 signature is 64 bytes")
    return Detached(header, header_b64, signature, encoded)


def sign_detached(
    key: Ed25519PrivateKey, header: dict[str, Any], payload: bytes, encoded: bool = True
) -> str:
    """``header..signature`` over ``payload`` (``encoded=False``: RFC 7797 ``b64: false``)."""
    full = {"alg": SIGNING_ALG, **header}
    if not encoded:
        full["b64"] = False
        full["crit"] = sorted({*full.get("crit", []), "b64"})
    header_b64 = b64url_encode(json.dumps(full, separators=(",", ":")).encode("utf-8"))
    body = b64url_encode(payload).encode("ascii") if encoded else payload
    signature = key.sign(header_b64.encode("ascii") + b"." + body)
    return f"{header_b64}..{b64url_encode(signature)}"


def sign_compact(key: Ed25519PrivateKey, header: dict[str, Any], payload: bytes) -> str:
    """An ordinary compact JWS ``header.payload.signature`` (the payload base64url-encoded)."""
    return compact_with(key.sign, header, payload)


def compact_with(sign: Callable[[bytes], bytes], header: dict[str, Any], payload: bytes) -> str:
    """``sign_compact`` with a signing function (the platform signer keeps its key to itself)."""
    full = {"alg": SIGNING_ALG, **header}
    signing_input = (
        b64url_encode(json.dumps(full, separators=(",", ":")).encode("utf-8"))
        + "."
        + b64url_encode(payload)
    )
    return f"{signing_input}.{b64url_encode(sign(signing_input.encode('ascii')))}"


@dataclass(frozen=True)
class Compact:
    """A parsed compact JWS with its payload, not yet verified."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    def verify(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(self.signature, self.signing_input)
        except InvalidSignature:
            return False
        return True


def parse_compact(value: str, max_length: int = 1_000_000) -> Compact:
    """Read ``header.payload.signature`` (payload base64url-encoded; ``b64: false`` refused:
    an unencoded payload holding a dot cannot be told apart in the compact form)."""
    if len(value) > max_length:
        raise JWSError("malformed", f"longer than {max_length} characters")
    parts = value.split(".")
    if len(parts) != 3:
        raise JWSError("malformed", "expected three dot-separated parts")
    header_b64, payload_b64, sig_b64 = parts
    header = decode_header(header_b64)
    if not _check_header(header, ()):
        raise JWSError("malformed", "b64 false is not accepted in an attached compact JWS")
    payload = b64url_decode(payload_b64, "payload")
    signature = b64url_decode(sig_b64, "signature")
    if len(signature) != 64:
        raise JWSError("malformed", "an Ed25519 signature is 64 bytes")
    return Compact(header, payload, f"{header_b64}.{payload_b64}".encode("ascii"), signature)

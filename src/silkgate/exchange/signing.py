"""Webhook signatures: Ed25519 by the platform key over ``timestamp + "." + body``.

Receivers check the signature with the platform public key (GET /api/v1/exchange/signing-key),
reject timestamps too far from their clock (replays), and deduplicate on Silkgate-Message-Id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from silkgate.core.signing import key_id, verify

if TYPE_CHECKING:
    from silkgate.audit.service import AuditSigner

H_MESSAGE = "Silkgate-Message-Id"
H_TOPIC = "Silkgate-Topic"
H_KEY = "Silkgate-Key-Id"
H_TIMESTAMP = "Silkgate-Timestamp"
H_SIGNATURE = "Silkgate-Signature"


def signed_content(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode("ascii") + b"." + body


def sign_headers(
    signer: AuditSigner, message_id: str, topic: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of one delivery attempt (the timestamp is that attempt's, in Unix seconds)."""
    ts = str(timestamp)
    return {
        "Content-Type": "application/json",
        H_MESSAGE: message_id,
        H_TOPIC: topic,
        H_KEY: signer.key_id,
        H_TIMESTAMP: ts,
        H_SIGNATURE: signer.sign(signed_content(ts, body)),
    }


def verify_webhook(
    public_b64: str, headers: Mapping[str, str], body: bytes, now: int, tolerance: int = 300
) -> bool:
    """What a receiver does: right key, fresh timestamp, valid signature over timestamp.body."""
    low = {k.lower(): v for k, v in headers.items()}
    ts = low.get(H_TIMESTAMP.lower(), "")
    if low.get(H_KEY.lower()) != key_id(public_b64) or not ts.isdigit():
        return False
    if abs(now - int(ts)) > tolerance:
        return False
    return verify(public_b64, low.get(H_SIGNATURE.lower(), ""), signed_content(ts, body))

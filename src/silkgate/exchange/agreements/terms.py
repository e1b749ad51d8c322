"""The canonical terms of an agreement version: what every party signs, and their digest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from silkgate.core.signing import canonical_json, sha256_hex
from silkgate.core.times import as_utc
from silkgate.exchange.agreements.models import Agreement

TERMS_TYPE = "silkgate.agreement.v1"


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with seconds only (the precision agreements are kept at)."""
    if value is None:
        return None
    return as_utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def whole_seconds(value: datetime) -> datetime:
    return as_utc(value).replace(microsecond=0).astimezone(UTC)


def terms(row: Agreement) -> dict[str, Any]:
    """The signed terms: everything that decides what is shared, never status or signatures."""
    return {
        "type": TERMS_TYPE,
        "agreement_id": row.agreement_id,
        "version": row.version,
        "provider": row.provider,
        "consumers": sorted(row.consumers),
        "category": row.category,
        "fields": sorted(row.fields),
        "purposes": sorted(row.purposes),
        "places": sorted(row.places),
        "crossings": sorted(row.crossings),
        "valid_from": iso(row.valid_from),
        "valid_until": iso(row.valid_until),
        "condition": row.condition,
        "personal_data": bool(row.personal_data),
    }


def signing_input(row: Agreement) -> bytes:
    return canonical_json(terms(row))


def digest(row: Agreement) -> str:
    return sha256_hex(signing_input(row))


def parties(row: Agreement) -> list[str]:
    """Provider first, then consumers: every one must sign."""
    return [row.provider, *sorted(row.consumers)]

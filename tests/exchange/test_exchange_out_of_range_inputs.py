"""Values out of range on the exchange routes are 422 naming the field, never a 500: a
disclosures cursor beyond a 64-bit row id, an agreement's validity at the calendar's edge; and
every cursor parser answers any string with a position or a 422 naming the cursor."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from silkgate.app import create_app
from silkgate.core.errors import ValidationFailed
from silkgate.core.platform import Platform
from silkgate.declarations.reading import decode_cursor, encode_cursor
from silkgate.exchange.disclosures.service import MAX_ID, parse_cursor
from silkgate.exchange.feed import make_cursor
from silkgate.exchange.feed import parse_cursor as parse_feed_cursor
from silkgate.registry.service import Caller
from tests.factories import seeded, tokens

API = "/api/v1/exchange"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
def client_and_auth(platform: Platform) -> tuple[TestClient, dict[str, str]]:
    keys = tokens(platform, seeded(platform))
    client = TestClient(create_app(platform=platform), raise_server_exceptions=False)
    return client, {"Authorization": f"Bearer {keys['cn-customs']}"}


@pytest.mark.parametrize("value", ["9" * 24, str(2**63), "-1", "1e3", " 12"])
def test_disclosures_cursor_out_of_range_is_422_naming_the_cursor(
    client_and_auth: tuple[TestClient, dict[str, str]], value: str
) -> None:
    client, auth = client_and_auth
    r = client.get(f"{API}/disclosures", params={"cursor": _b64(value)}, headers=auth)
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.json()["errors"][0]["field"] == "/query/cursor", r.json()
    assert r.json()["errors"][0]["code"] == "invalid_cursor"


def test_disclosures_cursor_at_the_largest_row_id_is_a_position(
    client_and_auth: tuple[TestClient, dict[str, str]],
) -> None:
    client, auth = client_and_auth
    r = client.get(f"{API}/disclosures", params={"cursor": _b64(str(MAX_ID))}, headers=auth)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("valid_from", "0001-01-01T00:00:00+01:00"),
        ("valid_from", "9999-12-31T23:59:59-10:00"),
        ("valid_until", "9999-12-31T23:59:59-10:00"),
        ("valid_from", "1999-12-31T23:59:59Z"),
        ("valid_until", "3000-01-01T00:00:00Z"),
    ],
)
def test_agreement_validity_at_the_edge_of_the_calendar_is_422_naming_the_field(
    client_and_auth: tuple[TestClient, dict[str, str]], field: str, value: str
) -> None:
    client, auth = client_and_auth
    body = {
        "provider": "CN",
        "consumers": ["KZ"],
        "category": "pre_arrival",
        "fields": ["/id"],
        "purposes": ["statistics"],
        "places": ["KZ"],
        "valid_from": "2026-01-01T00:00:00Z",
        field: value,
    }
    r = client.post(f"{API}/agreements", json=body, headers=auth)
    assert r.status_code == 422, (r.status_code, r.text)
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == [f"/{field}"]
    assert "2000 to 2999" in errors[0]["message"]


#: Strings a client might send: anything, and base64 of anything (to get past the decoding).
CURSORS = st.one_of(st.text(max_size=80), st.text(max_size=60).map(_b64))
FEED_CALLER = Caller(7, "CN/COM/FEED", "CN", frozenset({"broker"}), frozenset())


@settings(max_examples=400, deadline=None)
@given(CURSORS)
def test_disclosures_cursor_parser_answers_a_row_id_or_422(raw: str) -> None:
    try:
        value = parse_cursor(raw)
    except ValidationFailed as exc:
        assert [e.field for e in exc.errors] == ["/query/cursor"]
    else:
        assert 0 <= value <= MAX_ID


@given(st.integers(min_value=0, max_value=MAX_ID))
def test_disclosures_cursor_round_trips(n: int) -> None:
    assert parse_cursor(_b64(str(n))) == n


@settings(max_examples=400, deadline=None)
@given(CURSORS)
def test_declarations_cursor_parser_answers_an_id_or_422(raw: str) -> None:
    try:
        value = decode_cursor(raw)
    except ValidationFailed as exc:
        assert [e.field for e in exc.errors] == ["/query/cursor"]
    else:
        assert value.isascii() and value.isalnum() and len(value) <= 24
        assert decode_cursor(encode_cursor(value)) == value


@settings(max_examples=400, deadline=None)
@given(st.one_of(CURSORS, st.text(max_size=60).map(lambda t: "c1." + _b64(t))))
def test_feed_cursor_parser_answers_a_position_or_422(raw: str) -> None:
    try:
        value = parse_feed_cursor(raw, FEED_CALLER)
    except ValidationFailed as exc:
        assert [e.field for e in exc.errors] == ["/query/cursor"]
    else:
        assert 0 <= value < 2**63


@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_feed_cursor_round_trips(seq: int) -> None:
    assert parse_feed_cursor(make_cursor(FEED_CALLER.id, seq), FEED_CALLER) == seq

"""The API contract: media types, strict JSON, bounds, whole-body errors, times with offsets."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.api.conftest import API, Api
from tests.factories import export_cn_to_kz

JSON = "application/json"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _problem(r: Any, status: int) -> list[dict[str, str]]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors: list[dict[str, str]] = r.json()["errors"]
    return errors


def _fields(r: Any, status: int = 422) -> set[tuple[str | None, str]]:
    return {(e.get("field"), e["code"]) for e in _problem(r, status)}


def test_declaration_routes_require_their_media_type(api: Api) -> None:
    decl = api.lodge("MT-1").json()["id"]
    body = json.dumps(export_cn_to_kz("MT-2"))
    for method, path, payload in (
        ("POST", "/declarations", body),
        ("PUT", f"/declarations/{decl}", body),
        ("POST", f"/declarations/{decl}/cancel", '{"reason": "order cancelled"}'),
        ("POST", f"/declarations/{decl}/transitions", '{"to": "at_border"}'),
    ):
        for wrong in ("text/plain", "application/x-www-form-urlencoded", ""):
            r = api.raw(method, path, payload, wrong)
            assert ("/headers/content-type", "unsupported_media_type") in _fields(r, 415), path
    r = api.raw("POST", "/declarations/batch", body, JSON)
    assert ("/headers/content-type", "unsupported_media_type") in _fields(r, 415)
    assert (
        api.raw("POST", "/declarations", body, "application/json; charset=utf-8").status_code == 201
    )
    assert api.count() == 2


def test_a_repeated_key_is_refused_naming_it(api: Api) -> None:
    raw = json.dumps(export_cn_to_kz("DK-1"))
    raw = raw.replace('"currency": ', '"currency": "USD", "currency": ', 1)
    assert _fields(api.raw("POST", "/declarations", raw, JSON)) == {
        ("/invoice/currency", "duplicate_key")
    }
    report = api.raw("POST", "/declarations/batch", raw, "application/x-ndjson").json()
    assert report["lines"][0]["errors"][0]["field"] == "/invoice/currency"
    assert api.count() == 0


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        (("goods_items", 0, "gross_mass_kg"), "1200", "float_type"),
        (("goods_items", 0, "packages", "count"), "3", "int_type"),
        (("totals", "packages"), "3", "int_type"),
        (("invoice", "total_amount"), "100.5", "float_type"),
        (("goods_items", 0, "packages", "count"), True, "int_type"),
    ],
)
def test_strings_where_numbers_are_expected_are_refused(
    api: Api, path: tuple[Any, ...], value: Any, code: str
) -> None:
    body = export_cn_to_kz("SN-1")
    target: Any = body
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    r = api.client.post(f"{API}/declarations", json=body, headers=api.auth())
    pointer = "/" + "/".join(map(str, path))
    assert (pointer, code) in _fields(r)


@pytest.mark.parametrize(
    ("replace", "field"),
    [
        (('"total_amount": ', '"total_amount": 1e308, "x_": '), "/invoice/total_amount"),
        (('"gross_mass_kg": ', '"gross_mass_kg": 5e6, "x_": '), "/goods_items/0/gross_mass_kg"),
        (('"total_amount": ', '"total_amount": 1e400, "x_": '), "/invoice/total_amount"),
    ],
)
def test_absurd_values_are_refused_with_a_reason(
    api: Api, replace: tuple[str, str], field: str
) -> None:
    raw = json.dumps(export_cn_to_kz("AV-1")).replace(*replace, 1)
    errors = _problem(api.raw("POST", "/declarations", raw, JSON), 422)
    named = [e for e in errors if e.get("field") == field]
    assert named and named[0]["code"] in ("less_than_equal", "finite_number")
    assert "less than or equal" in named[0]["message"] or "finite" in named[0]["message"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(api: Api, constant: str) -> None:
    raw = json.dumps(export_cn_to_kz("NI-1"))
    raw = re.sub(r'"total_amount": [0-9.e+]+', f'"total_amount": {constant}', raw)
    assert _fields(api.raw("POST", "/declarations", raw, JSON)) == {(None, "malformed_json")}


def test_whole_body_errors_name_no_field(api: Api) -> None:
    for body in (b"{not json", b"\xff\xfe", b"[" * 50_000):
        errors = _problem(api.raw("POST", "/declarations", body, JSON), 422)
        assert errors and all("field" not in e for e in errors), errors
    errors = _problem(api.raw("POST", f"/declarations/{'0' * 22}/cancel", b'{"reason":', JSON), 422)
    assert errors == [{"code": "malformed_json", "message": errors[0]["message"]}]
    limit = api.platform.settings.max_body_bytes
    errors = _problem(api.raw("POST", "/declarations", b" " * (limit + 1), JSON), 413)
    assert all("field" not in e for e in errors)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/declarations/ab%00cd", "/path/declaration_id"),
        ("/declarations/ab%1Bcd/versions", "/path/declaration_id"),
        ("/declarations?lrn=A%00B", "/query/lrn"),
        ("/declarations?crossing=KHG%7FNZH", "/query/crossing"),
        ("/declarations?cursor=%C2%85", "/query/cursor"),
        ("/risk/profiles/KHG%00", "/path/office"),
    ],
)
def test_control_characters_in_paths_and_queries_are_422(api: Api, url: str, field: str) -> None:
    r = api.client.get(f"{API}{url}", headers=api.auth("cn-customs"))
    assert (field, "control_character") in _fields(r)
    assert api.lodge("CC-OK").status_code == 201  # and lodging goes on


def test_control_characters_in_a_header_are_422(api: Api) -> None:
    r = api.lodge("CH-1", **{"Idempotency-Key": "key\x01one"})
    assert ("/headers/idempotency-key", "control_character") in _fields(r)
    assert api.count() == 0


def test_integer_query_parameters_are_bounded_like_their_columns(api: Api) -> None:
    r = api.client.get(f"{API}/declarations?limit={2**31}", headers=api.auth())
    assert ("/query/limit", "less_than_equal") in _fields(r)
    for version, status in ((2**31, 422), (2**63, 422), (10**30, 422), (2**31 - 1, 404)):
        r = api.client.get(
            f"{API}/risk/profiles/KHG/export?version={version}", headers=api.auth("cn-customs")
        )
        assert r.status_code == status, (version, r.text)


def _times(node: Any) -> list[str]:
    keys = {"submitted_at", "updated_at", "created_at", "at", "assessed_at", "recorded_at"}
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k in keys and isinstance(v, str)]
        return found + [t for v in node.values() for t in _times(v)]
    if isinstance(node, list):
        return [t for v in node for t in _times(v)]
    return []


def test_every_time_in_a_response_is_rfc3339_with_offset(api: Api) -> None:
    decl = api.lodge("TZ-1").json()["id"]
    answers = [
        api.client.get(f"{API}{path}", headers=api.auth(who)).json()
        for who, path in (
            ("cn-broker", f"/declarations/{decl}"),
            ("cn-broker", "/declarations"),
            ("cn-broker", f"/declarations/{decl}/versions"),
            ("cn-broker", f"/declarations/{decl}/audit"),
            ("kz-customs", f"/declarations/{decl}"),
            ("cn-broker", "/organizations/me"),
            ("cn-broker", "/organizations"),
        )
    ]
    times = _times(answers)
    assert len(times) >= 9
    assert all(RFC3339.match(t) for t in times), times


@pytest.mark.parametrize("offset_hours", [8, -5, 0])
def test_time_filters_with_any_offset_give_the_same_answer(api: Api, offset_hours: int) -> None:
    decl = api.lodge("TF-1").json()
    at = datetime.fromisoformat(decl["submitted_at"])
    zone = timezone(timedelta(hours=offset_hours))

    def ids(**bounds: datetime) -> set[str]:
        params = {k: v.astimezone(zone).isoformat() for k, v in bounds.items()}
        r = api.client.get(f"{API}/declarations", params=params, headers=api.auth())
        assert r.status_code == 200, r.text
        return {d["id"] for d in r.json()["items"]}

    second = timedelta(seconds=1)
    assert ids(submitted_from=at - second) == {decl["id"]}
    assert ids(submitted_from=at) == {decl["id"]}
    assert ids(submitted_from=at + second) == set()
    assert ids(submitted_to=at + second) == {decl["id"]}
    assert ids(submitted_to=at) == set()
    assert ids(submitted_from=at - second, submitted_to=at + second) == {decl["id"]}


def test_a_time_filter_without_offset_is_refused(api: Api) -> None:
    r = api.client.get(f"{API}/declarations?submitted_from=2026-01-01T00:00:00", headers=api.auth())
    assert ("/query/submitted_from", "timezone_aware") in _fields(r)

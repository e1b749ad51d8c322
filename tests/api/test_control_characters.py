"""Hypothesis over every string field of the declaration model, on both databases: a control
character anywhere is a 422 naming that field, nothing is stored, and lodging goes on."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import API, Api
from tests.factories import export_cn_to_kz

REFUSED = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x85, 0x9F]]
BREAKS = ["\t", "\n", "\r"]
#: Free-text fields, where tab and line breaks are allowed.
MULTILINE = {"description", "reason", "note", "text"}


def _full_body() -> dict[str, Any]:
    """A valid body with every optional string field filled in."""
    body = export_cn_to_kz("CTL-1")
    body["exporter"]["address"]["postcode"] = "835221"
    body["importer"]["address"]["postcode"] = "050000"
    body["transport"]["trailer_plate"] = body["transport"]["tractor_plate"]
    body["transport"]["trailer_nationality"] = body["transport"]["tractor_nationality"]
    body["containers"] = [{"number": "CSQU3054383", "seals": ["CN1234567"]}]
    body["seals"] = ["CN7654321"]
    body["tir_carnet"] = "XZ12345678"
    body["invoice"]["incoterm_place"] = "Khorgos"
    item = body["goods_items"][0]
    item["supplementary_quantity"] = {"value": 10.0, "unit": "PCE"}
    return body


def _string_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, str):
        return [path]
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _string_paths(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _string_paths(v, (*path, i))]
    return []


BODY = _full_body()
PATHS = _string_paths(BODY)
# letters that are neither whitespace nor controls: the control stays inside after stripping
WORD = st.text(st.sampled_from("AZaz09Бж中-"), min_size=1, max_size=4)


def _pointer(path: tuple[Any, ...]) -> str:
    return "/" + "/".join(map(str, path))


def test_the_model_has_many_string_fields() -> None:
    assert len(PATHS) >= 30  # every string field of DeclarationIn is covered


def test_a_control_character_in_any_string_field_is_422_naming_it(api: Api) -> None:
    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(PATHS), WORD, st.sampled_from(REFUSED), WORD)
    def run(path: tuple[Any, ...], head: str, bad: str, tail: str) -> None:
        body = copy.deepcopy(BODY)
        target: Any = body
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = head + bad + tail
        r = api.client.post(
            f"{API}/declarations",
            content=json.dumps(body),
            headers=api.auth(**{"Content-Type": "application/json"}),
        )
        assert r.status_code == 422, (path, r.text)
        fields = {e.get("field") for e in r.json()["errors"]}
        assert _pointer(path) in fields, (path, r.json()["errors"])

    run()
    assert api.count() == 0
    assert api.lodge("AFTER").status_code == 201


def test_line_breaks_only_in_free_text(api: Api) -> None:
    for n, path in enumerate(PATHS):
        br = BREAKS[n % len(BREAKS)]
        body = copy.deepcopy(BODY)
        body["lrn"] = f"BR-{n}"
        target: Any = body
        for p in path[:-1]:
            target = target[p]
        if path[-1] == "lrn":
            continue
        target[path[-1]] = f"{target[path[-1]]}{br}x"
        r = api.client.post(f"{API}/declarations", json=body, headers=api.auth())
        if path[-1] in MULTILINE:
            assert r.status_code == 201, (path, r.text)
        else:
            assert r.status_code == 422, (path, r.text)
            assert _pointer(path) in {e.get("field") for e in r.json()["errors"]}

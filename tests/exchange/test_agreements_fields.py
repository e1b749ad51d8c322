"""Field filtering keeps exactly the allowed pointers (Hypothesis), and agreements may only
name pointers of their category's catalogue."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from silkgate.exchange.agreements.catalogue import Category, catalogue
from silkgate.exchange.agreements.fields import check_fields, filter_document, personal_in

KEYS = st.sampled_from(["a", "b", "c", "x/y", "t~1", "*"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3))
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=25,
)


def esc(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, value) of every scalar and empty container; list positions as '#i'."""
    if isinstance(value, dict) and value:
        return [x for k, v in value.items() for x in leaves(v, (*path, k))]
    if isinstance(value, list) and value:
        return [x for i, v in enumerate(value) for x in leaves(v, (*path, f"#{i}"))]
    return [(path, value)]


def covered(path: tuple[str, ...], allowed: set[tuple[str, ...]]) -> bool:
    """Some allowed pattern is a prefix of ``path`` (``*`` matching any list position)."""
    for pat in allowed:
        if len(pat) <= len(path) and all(
            p == s or (p == "*" and s.startswith("#")) for p, s in zip(pat, path, strict=False)
        ):
            return True
    return False


@st.composite
def doc_and_allowed(draw: st.DrawFn) -> tuple[dict[str, Any], set[tuple[str, ...]]]:
    doc = draw(st.dictionaries(KEYS, DOCS, max_size=5))
    paths = [p for p, _ in leaves(doc)]
    prefixes = {p[:i] for p in paths for i in range(1, len(p) + 1)}
    generalised = {tuple("*" if s.startswith("#") else s for s in p) for p in prefixes}
    pool = [*sorted(generalised), ("nope",), ("a", "zz")]
    return doc, set(draw(st.lists(st.sampled_from(pool), max_size=6)))


@settings(max_examples=400)
@given(doc_and_allowed())
def test_nothing_outside_the_allow_list_and_allowed_values_kept(
    case: tuple[dict[str, Any], set[tuple[str, ...]]],
) -> None:
    doc, allowed = case
    pointers = frozenset("/" + "/".join(esc(t) for t in p) for p in allowed)
    out = filter_document(doc, pointers)
    kept = leaves(out)
    for path, value in kept:
        if not path:
            continue  # nothing kept at all
        if value == {} and path and path[-1].startswith("#"):
            continue  # a list element with nothing allowed keeps its place
        assert covered(path, allowed), (path, pointers)
    before = dict(leaves(doc))
    after = dict(kept)
    for path, value in before.items():
        if path and covered(path, allowed):
            assert after.get(path, "<missing>") == value, (path, pointers)


def test_filter_examples() -> None:
    doc = {"id": 1, "data": {"driver": {"name": "A"}, "items": [{"hs": "01", "v": 2}, {"v": 3}]}}
    assert filter_document(doc, frozenset({"/id", "/data/items/*/hs"})) == {
        "id": 1,
        "data": {"items": [{"hs": "01"}, {}]},
    }
    assert filter_document(doc, frozenset({"/data/driver/zz"})) == {}
    assert filter_document(doc, frozenset({""})) is doc


def test_unknown_fields_are_named_by_their_pointer() -> None:
    errors = check_fields(
        Category.DECLARATION,
        ["/id", "/data/nope", "/data/goods_items/0/hs_code", "data", "/id"],
    )
    got = {e.field: (e.code, e.message) for e in errors}
    assert got["/fields/1"][0] == "unknown_field" and "/data/nope" in got["/fields/1"][1]
    assert "write *" in got["/fields/2"][1]
    assert got["/fields/3"][0] == "format"
    assert got["/fields/4"][0] == "duplicate"
    assert check_fields(Category.DECLARATION, ["/data/goods_items/*/hs_code"]) == []


def test_personal_data_is_marked_in_the_catalogue() -> None:
    assert personal_in(Category.DECLARATION, ["/data", "/data/driver/name", "/id"]) == [
        "/data",
        "/data/driver/name",
    ]
    assert catalogue()[Category.BOOKING].personal >= {"/driver", "/driver/name"}
    for spec in catalogue().values():
        assert spec.personal <= spec.pointers

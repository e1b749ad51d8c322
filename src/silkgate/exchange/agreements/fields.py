"""JSON pointers of agreements: checking them against a category and filtering documents.

A pointer allows the whole subtree below it; ``*`` stands for every element of an array.
``filter_document`` keeps exactly the allowed parts of a document: nothing outside the allowed
pointers appears, and every allowed value is kept as it was. Objects that only led to allowed
fields the document does not have are left out; array elements keep their positions (an element
with nothing allowed becomes ``{}``), so item numbers still match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from silkgate.core.errors import FieldError
from silkgate.exchange.agreements.catalogue import ARRAY, Category, spec

_POINTER = re.compile(r"^(/([^~/]|~[01])*)+$")


def tokens(p: str) -> list[str]:
    """The reference tokens of a JSON pointer (RFC 6901 unescaping)."""
    return [t.replace("~1", "/").replace("~0", "~") for t in p.split("/")[1:]]


def check_fields(
    category: Category | str, fields: Iterable[str], base: str = "/fields"
) -> list[FieldError]:
    """Errors for pointers that are malformed or not in the category's catalogue."""
    known = spec(category).pointers
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, p in enumerate(fields):
        where = f"{base}/{i}"
        if not _POINTER.match(p):
            errors.append(FieldError(where, "format", f"{p!r} is not a JSON pointer (RFC 6901)"))
        elif p in seen:
            errors.append(FieldError(where, "duplicate", f"{p} is listed twice"))
        elif p not in known:
            hint = ""
            if any(t.isdigit() for t in tokens(p)):
                hint = "; write * for the elements of an array, e.g. /data/goods_items/*/hs_code"
            errors.append(
                FieldError(
                    where, "unknown_field", f"no field {p} in the {category} catalogue{hint}"
                )
            )
        seen.add(p)
    return errors


def personal_in(category: Category | str, fields: Iterable[str]) -> list[str]:
    """The pointers among ``fields`` that name personal data, or contain some (an ancestor)."""
    personal = spec(category).personal
    out = []
    for p in fields:
        if p in personal or any(q.startswith(p + "/") for q in personal) or p == "":
            out.append(p)
    return out


class _Node:
    """A trie of allowed pointers; ``full``: everything below is allowed."""

    __slots__ = ("children", "full")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.full = False


@lru_cache(maxsize=1024)
def _trie(allowed: frozenset[str]) -> _Node:
    root = _Node()
    for p in sorted(allowed, key=len):
        node = root
        for t in tokens(p):
            if node.full:
                break
            node = node.children.setdefault(t, _Node())
        else:
            node.children.clear()
            node.full = True
    return root


_DROP = object()


def _apply(value: Any, node: _Node) -> Any:
    if node.full:
        return value
    if isinstance(value, dict):
        out = {}
        children = node.children
        for k, v in value.items():
            child = children.get(k)
            if child is None:
                continue
            if child.full:  # the common case, without a call per allowed field
                out[k] = v
                continue
            kept = _apply(v, child)
            if kept is not _DROP:
                out[k] = kept
        return out if out else _DROP
    if isinstance(value, list):
        child = node.children.get(ARRAY)
        if child is None or not value:
            return _DROP
        return [{} if v is _DROP else v for v in (_apply(v, child) for v in value)]
    return _DROP


def filter_document(document: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The document with only the allowed pointers' subtrees (``""`` allows everything)."""
    if "" in allowed:
        return document
    kept = _apply(document, _trie(allowed))
    return kept if isinstance(kept, dict) else {}

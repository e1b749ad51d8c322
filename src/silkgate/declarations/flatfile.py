"""CSV form of declarations: one row per goods item, columns named by dotted path.

Declaration-level columns (``lrn``, ``exporter.name``, ``crossing.code`` …) are read from the
first row of each LRN; item columns start with ``item.`` (``item.hs_code`` …). Rows of one
declaration are consecutive. List fields (``seals``, ``containers``) hold ``;``-separated values;
``container_seals`` holds each container's seals, ``|``-separated, in the same ``;`` order.
A file the csv module cannot read is refused naming the line. Cells of number fields (found
from the declaration schema) become numbers; a cell that is not one stays text, so validation
refuses it naming the field, as it would in JSON.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from functools import cache
from typing import IO, Any

from silkgate.core.errors import FieldError, ValidationFailed

LIST_FIELDS = {"seals"}
ITEM_PREFIX = "item."


@cache
def number_fields() -> dict[str, str]:
    """Dotted path (items as ``item.…``) → "integer" or "number", from DeclarationIn's schema."""
    from silkgate.declarations.schemas import DeclarationIn

    schema = DeclarationIn.model_json_schema()
    defs = schema.get("$defs", {})
    out: dict[str, str] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        for option in node.get("anyOf", []):
            walk(option, prefix)
        kind = node.get("type")
        if kind in ("integer", "number"):
            out[prefix] = kind
        elif kind == "object":
            for name, sub in node.get("properties", {}).items():
                walk(sub, f"{prefix}.{name}" if prefix else name)
        elif kind == "array" and prefix == "goods_items":
            walk(node["items"], "item")

    walk(schema, "")
    return out


def _number(value: str, kind: str) -> int | float | str:
    try:
        return int(value) if kind == "integer" else float(value)
    except ValueError:
        return value


def _set(target: dict[str, Any], path: str, value: str, full_path: str) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        target = target.setdefault(p, {})
    kind = number_fields().get(full_path)
    if parts[-1] in LIST_FIELDS:
        target[parts[-1]] = value.split(";")
    else:
        target[parts[-1]] = _number(value, kind) if kind else value


def declaration_from_rows(rows: list[dict[str, str]]) -> dict[str, Any]:
    """One declaration from its rows (declaration columns from the first, one item per row)."""
    head: dict[str, Any] = {}
    for key, value in rows[0].items():
        if key and value not in (None, "") and not key.startswith(ITEM_PREFIX):
            if key == "containers":
                numbers = value.split(";")
                seals = (rows[0].get("container_seals") or "").split(";")
                head["containers"] = [
                    {"number": n, "seals": [x for x in s.split("|") if x]}
                    for n, s in zip(numbers, seals + [""] * len(numbers), strict=False)
                    if n
                ]
            elif key == "container_seals":
                continue
            else:
                _set(head, key, value, key)
    items = []
    for row in rows:
        item: dict[str, Any] = {}
        for key, value in row.items():
            if key and key.startswith(ITEM_PREFIX) and value not in (None, ""):
                _set(item, key[len(ITEM_PREFIX) :], value, key)
        items.append(item)
    head["goods_items"] = items
    return head


def read_csv(fh: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (first row number, declaration dict) for each run of rows sharing an LRN."""
    reader = csv.DictReader(fh, strict=True)
    group: list[dict[str, str]] = []
    start = 2
    try:
        for row in reader:
            if group and row.get("lrn") != group[0].get("lrn"):
                yield start, declaration_from_rows(group)
                group = []
            if not group:
                start = reader.line_num
            group.append(row)
    except csv.Error as exc:
        # line_num counts the lines consumed before the record that failed to parse
        raise ValidationFailed(
            [FieldError(f"/lines/{reader.line_num + 1}", "malformed_csv", str(exc))],
            detail="The file is not valid CSV.",
        ) from None
    if group:
        yield start, declaration_from_rows(group)


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, list):
        if prefix.endswith("containers"):
            out[prefix] = ";".join(c["number"] for c in value)
            out["container_seals"] = ";".join("|".join(c.get("seals", [])) for c in value)
        else:
            out[prefix] = ";".join(str(v) for v in value)
    elif value is not None:
        out[prefix] = str(value)


def to_rows(declarations: Iterable[dict[str, Any]]) -> Iterator[dict[str, str]]:
    """Flatten declaration dicts to CSV rows (the inverse of read_csv)."""
    for d in declarations:
        head: dict[str, str] = {}
        _flatten("", {k: v for k, v in d.items() if k != "goods_items"}, head)
        for item in d.get("goods_items", []):
            row = dict(head)
            flat: dict[str, str] = {}
            _flatten("", item, flat)
            row.update({ITEM_PREFIX + k: v for k, v in flat.items()})
            yield row

"""The one rule for control characters in text input, as reusable annotated string types.

Refused everywhere: C0 controls (U+0000–U+001F), DEL (U+007F), C1 controls (U+0080–U+009F) and
lone surrogates (U+D800–U+DFFF). None of them is text an officer can read; NUL breaks
PostgreSQL, C1 and surrogates are what mis-decoded bytes look like. Free-text fields
(``MultiLine``: descriptions, reasons, notes) also allow tab, line feed and carriage return.
A refused character is a ``control_character`` field error naming its code point and position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MULTI = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: The same rule as JSON Schema patterns, so the OpenAPI document states it.
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
MULTI_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def find_control(value: str, multiline: bool = False) -> tuple[int, str] | None:
    """The first refused character and its index, or None."""
    m = (_MULTI if multiline else _LINE).search(value)
    return (m.start(), m.group()) if m else None


def control_message(index: int, char: str) -> str:
    return f"control character U+{ord(char):04X} at position {index + 1} is not allowed"


@dataclass(frozen=True)
class NoControls:
    """Annotation refusing control characters (tab/newline/CR too unless ``multiline``)."""

    multiline: bool = False

    def _check(self, value: str) -> str:
        found = find_control(value, self.multiline)
        if found is not None:
            raise PydanticCustomError(
                "control_character", control_message(*found), {"position": found[0] + 1}
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        target = handler.resolve_ref_schema(out)
        if target.get("type") == "string":
            target.setdefault("pattern", MULTI_PATTERN if self.multiline else LINE_PATTERN)
        return out


#: One line of text: names, codes, identifiers, references, query and path parameters.
Line = Annotated[str, NoControls()]
#: Free text where tab and line breaks are allowed.
MultiLine = Annotated[str, NoControls(multiline=True)]

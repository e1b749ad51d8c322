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
from typing import Annotated, Any, cast

from pydantic import GetCoreSchemaHandler
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


def control_error(value: Any, pattern: str) -> tuple[str, str] | None:
    """(code, message) for a value refused by one of the patterns above, else None."""
    if pattern not in (LINE_PATTERN, MULTI_PATTERN) or not isinstance(value, str):
        return None
    found = find_control(value, pattern == MULTI_PATTERN)
    return ("control_character", control_message(*found)) if found else None


@dataclass(frozen=True)
class NoControls:
    """Annotation refusing control characters (tab/newline/CR too unless ``multiline``).

    On a plain string the rule becomes the string's pattern, checked by pydantic-core without
    a Python call (``core.validation`` turns its mismatch into ``control_character``); a string
    that already has a pattern is left alone, since every such pattern excludes controls.
    """

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
        schema = handler(source)
        if schema.get("type") == "str":
            if "pattern" not in schema:
                plain = cast(dict[str, Any], schema)
                plain["pattern"] = MULTI_PATTERN if self.multiline else LINE_PATTERN
            return schema
        return core_schema.no_info_after_validator_function(self._check, schema)


#: One line of text: names, codes, identifiers, references, query and path parameters.
Line = Annotated[str, NoControls()]
#: Free text where tab and line breaks are allowed.
MultiLine = Annotated[str, NoControls(multiline=True)]

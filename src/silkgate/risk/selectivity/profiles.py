"""Selectivity profiles as TOML: read with validation, write back in a stable canonical form."""

from __future__ import annotations

import math
import re
import tomllib
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from silkgate.core.validation import describe
from silkgate.risk.selectivity.schemas import SelectivityProfile


class ProfileError(ValueError):
    """A profile file was refused; ``problems`` lists each reason with its location."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _validation_problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "profile"
        msg = describe(err)[1].removeprefix("Value error, ")
        problems.append(f"{where}: {msg}")
    return problems


def profile_from_toml(text: str) -> SelectivityProfile:
    """Parse and validate a profile; raise :class:`ProfileError` with every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError([f"TOML syntax: {exc}"]) from exc
    try:
        return SelectivityProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_validation_problems(exc)) from exc


def load_profile(path: str | Path) -> SelectivityProfile:
    """Read a profile from a TOML file (UTF-8; another encoding is a ProfileError)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError([f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})"]) from None
    return profile_from_toml(text)


def profile_to_toml(profile: SelectivityProfile) -> str:
    """Canonical TOML for a profile; ``profile_from_toml`` of the result gives an equal profile."""
    data = profile.model_dump(mode="python", exclude_none=True)
    header = "# Silkgate selectivity profile (risk engine). Lanes: green, blue, yellow, red.\n"
    return header + dumps_toml(data)


# --------------------------------------------------------------------------- minimal TOML writer

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: Any) -> str:
    text = key.value if isinstance(key, Enum) else str(key)
    return text if _BARE_KEY.match(text) else _string(text)


def _string(text: str) -> str:
    if '"' in text and "'" not in text and all(ord(ch) >= 0x20 and ord(ch) != 0x7F for ch in text):
        return f"'{text}'"  # literal string: rules with "quotes" stay readable
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def dumps_toml(data: dict[str, Any]) -> str:
    """Write a dict of scalars, lists, tables and arrays of tables as TOML."""
    lines: list[str] = []
    _emit_table(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _emit_table(data: dict[str, Any], path: list[str], lines: list[str]) -> None:
    for key, value in data.items():
        if value is None or isinstance(value, dict) or _is_table_array(value):
            continue
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            sub = [*path, _key(key)]
            lines.append("")
            lines.append(f"[{'.'.join(sub)}]")
            _emit_table(value, sub, lines)
        elif _is_table_array(value):
            sub = [*path, _key(key)]
            for item in value:
                lines.append("")
                lines.append(f"[[{'.'.join(sub)}]]")
                _emit_table(item, sub, lines)

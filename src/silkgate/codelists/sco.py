"""The ten SCO member states, with names in English, Chinese, Russian and Kazakh."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pycountry

from silkgate.codelists.countries import country_name

SCO_ALPHA2 = ("CN", "RU", "KZ", "KG", "TJ", "UZ", "IN", "PK", "IR", "BY")


@dataclass(frozen=True)
class MemberState:
    alpha2: str
    alpha3: str
    numeric: str
    names: dict[str, str]


@cache
def member_states() -> tuple[MemberState, ...]:
    out = []
    for code in SCO_ALPHA2:
        c = pycountry.countries.get(alpha_2=code)
        assert c is not None
        names = {lang: country_name(code, lang) for lang in ("en", "zh", "ru", "kk")}
        out.append(MemberState(code, c.alpha_3, c.numeric, names))
    return tuple(out)


def __getattr__(name: str) -> object:
    if name == "SCO_MEMBER_STATES":
        return member_states()
    raise AttributeError(name)

"""The ten SCO member states, with names in English, Chinese, Russian and Kazakh."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pycountry

from silkgate.codelists.countries import translated_name

SCO_ALPHA2 = ("CN", "RU", "KZ", "KG", "TJ", "UZ", "IN", "PK", "IR", "BY")
NAME_LANGUAGES = ("en", "zh", "ru", "kk")

# Literal names used only where pycountry's catalogue lacks a translation. With pycountry 26.2
# every zh/ru/kk name of the ten states is present (tests/codelists check this), so none of these
# is used today; they are the same strings, kept so that a catalogue change cannot blank a name.
_FALLBACK_NAMES: dict[str, dict[str, str]] = {
    "CN": {"zh": "中国", "ru": "Китай", "kk": "Қытай"},
    "RU": {"zh": "俄罗斯", "ru": "Российская Федерация", "kk": "Ресей"},
    "KZ": {"zh": "哈萨克斯坦", "ru": "Казахстан", "kk": "Қазақстан"},
    # pycountry's zh name is 吉尔吉斯坦; PRC official usage is 吉尔吉斯斯坦.
    "KG": {"zh": "吉尔吉斯坦", "ru": "Киргизия", "kk": "Қырғызстан"},
    "TJ": {"zh": "塔吉克斯坦", "ru": "Таджикистан", "kk": "Тәжікстан"},
    "UZ": {"zh": "乌兹别克斯坦", "ru": "Узбекистан", "kk": "Өзбекстан"},
    "IN": {"zh": "印度", "ru": "Индия", "kk": "Үндістан"},
    "PK": {"zh": "巴基斯坦", "ru": "Пакистан", "kk": "Пәкістан"},
    "IR": {"zh": "伊朗伊斯兰共和国", "ru": "Иран", "kk": "Иран"},
    "BY": {"zh": "白俄罗斯", "ru": "Беларусь", "kk": "Беларусь"},
}


@dataclass(frozen=True)
class MemberState:
    """One SCO member state: ISO 3166-1 codes and its ISO short name in four languages."""

    alpha2: str
    alpha3: str
    numeric: str
    names: dict[str, str]


def _name(code: str, lang: str) -> str:
    return translated_name(code, lang) or _FALLBACK_NAMES[code][lang]


@cache
def member_states() -> tuple[MemberState, ...]:
    """The ten member states in SCO_ALPHA2 order (built once from pycountry)."""
    out = []
    for code in SCO_ALPHA2:
        country = pycountry.countries.get(alpha_2=code)
        if country is None:  # pragma: no cover - pycountry always has these
            raise LookupError(code)
        names = {lang: _name(code, lang) for lang in NAME_LANGUAGES}
        out.append(MemberState(code, country.alpha_3, country.numeric, names))
    return tuple(out)


def is_sco_member(alpha2: str) -> bool:
    """True for the alpha-2 code of an SCO member state."""
    return alpha2 in SCO_ALPHA2


def get_member_state(alpha2: str) -> MemberState:
    """The member state with this alpha-2 code; KeyError if it is not a member."""
    for state in member_states():
        if state.alpha2 == alpha2:
            return state
    raise KeyError(alpha2)


def __getattr__(name: str) -> object:
    # SCO_MEMBER_STATES is computed on first access so that importing the module stays cheap.
    if name == "SCO_MEMBER_STATES":
        return member_states()
    raise AttributeError(name)

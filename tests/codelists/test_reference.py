"""Countries, currencies, Incoterms and the SCO member states."""

from __future__ import annotations

import pytest

from silkgate.codelists.countries import LANGUAGES, country_name, is_country, translated_name
from silkgate.codelists.currencies import is_currency
from silkgate.codelists.incoterms import INCOTERMS, SEA_ONLY, incoterm_name, is_incoterm
from silkgate.codelists.sco import (
    _FALLBACK_NAMES,
    SCO_ALPHA2,
    MemberState,
    get_member_state,
    is_sco_member,
    member_states,
)


def test_countries() -> None:
    assert is_country("KZ") and is_country("CN")
    for bad in ("kz", "XX", "KAZ", "", None, 398):
        assert not is_country(bad)  # type: ignore[arg-type]
    assert country_name("KZ") == "Kazakhstan"
    assert country_name("KZ", "zh") == "哈萨克斯坦"
    assert country_name("KZ", "ru") == "Казахстан"
    assert country_name("KZ", "kk") == "Қазақстан"
    with pytest.raises(KeyError):
        country_name("XX")
    with pytest.raises(KeyError):
        country_name("KZ", "de")


def test_currencies() -> None:
    for code in ("CNY", "KZT", "RUB", "USD", "EUR", "INR", "BYN", "UZS", "KGS", "TJS", "PKR"):
        assert is_currency(code)
    for bad in ("cny", "XXXX", "", None):
        assert not is_currency(bad)  # type: ignore[arg-type]


def test_incoterms() -> None:
    assert set(INCOTERMS) == {
        "EXW", "FCA", "CPT", "CIP", "DAP", "DPU", "DDP", "FAS", "FOB", "CFR", "CIF",
    }  # fmt: skip
    assert incoterm_name("DPU") == "Delivered at Place Unloaded"
    assert is_incoterm("FCA") and not is_incoterm("DAT") and not is_incoterm(None)  # type: ignore[arg-type]
    assert set(INCOTERMS) > SEA_ONLY


def test_sco_member_states() -> None:
    states = member_states()
    assert len(states) == 10 and tuple(s.alpha2 for s in states) == SCO_ALPHA2
    assert all(isinstance(s, MemberState) for s in states)
    kz = get_member_state("KZ")
    assert (kz.alpha3, kz.numeric) == ("KAZ", "398")
    assert kz.names == {
        "en": "Kazakhstan",
        "zh": "哈萨克斯坦",
        "ru": "Казахстан",
        "kk": "Қазақстан",
    }
    assert get_member_state("CN").names["zh"] == "中国"
    assert is_sco_member("BY") and not is_sco_member("MN")  # Mongolia is an observer
    with pytest.raises(KeyError):
        get_member_state("MN")
    from silkgate.codelists import sco

    assert states == sco.SCO_MEMBER_STATES


@pytest.mark.parametrize("alpha2", SCO_ALPHA2)
def test_sco_names_come_from_pycountry(alpha2: str) -> None:
    # Every translation exists in pycountry's catalogue, so no literal fallback is in use.
    for lang in LANGUAGES:
        name = translated_name(alpha2, lang)
        assert name, f"pycountry has no {lang} name for {alpha2}"
        assert get_member_state(alpha2).names[lang] == name
        if lang != "en":
            assert _FALLBACK_NAMES[alpha2][lang] == name  # the fallbacks mirror pycountry

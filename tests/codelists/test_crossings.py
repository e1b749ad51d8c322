"""Crossings reference data: loads, both sides resolve, sources and assumptions are marked."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from silkgate.codelists.countries import is_country
from silkgate.codelists.crossings import get_crossing, load_crossings


def test_all_crossings_load() -> None:
    crossings = load_crossings()
    assert [c.code for c in crossings] == ["KHG-NZH", "ALA-DOS", "BAK-TAC", "JEM-MAI", "DUL-KOL"]
    for c in crossings:
        assert set(c.names) == {"en", "zh", "ru", "kk"} and all(c.names.values())
        assert set(c.countries) == {"CN", "KZ"} and all(is_country(x) for x in c.countries)
        assert c.sources
        for country in c.countries:
            side = c.side(country)
            assert c.office_for(country) is side.office
            assert side.office.code.startswith(f"{country}-") and side.office.scheme == "silkgate"
            assert side.checkpoint and side.hours
            other = c.other_side(country)
            assert other != country and c.other_side(other) == country
        json.dumps(c.as_dict())  # stored as JSON by the registry


def test_khorgos_nur_zholy() -> None:
    c = get_crossing("KHG-NZH")
    assert c.names["zh"].startswith("霍尔果斯")
    assert c.agreed_daily_trucks == 1000
    for country in ("CN", "KZ"):
        side = c.side(country)
        assert side.hours == "24/7" and not side.hours_assumed
        assert side.hours_until == dt.date(2026, 6, 30)
    assert "Khorgos Customs" in c.office_for("CN").name
    assert "Nur Zholy" in c.office_for("KZ").name
    assert c.as_dict()["sides"][0]["hours_until"] == "2026-06-30"


def test_other_crossings_hours_are_marked_as_assumptions() -> None:
    for c in load_crossings()[1:]:
        assert all(s.hours_assumed for s in c.sides)


def test_unknown_lookups() -> None:
    with pytest.raises(KeyError):
        get_crossing("XXX-YYY")
    c = get_crossing("DUL-KOL")
    with pytest.raises(KeyError):
        c.office_for("RU")
    with pytest.raises(KeyError):
        c.other_side("RU")

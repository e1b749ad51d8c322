"""China–Kazakhstan road crossings with both sides' offices (data/crossings.toml cites sources)."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

NAME_LANGUAGES = ("en", "zh", "ru", "kk")


@dataclass(frozen=True)
class CustomsOffice:
    """A customs office; scheme "silkgate" marks a code Silkgate assigned, not an official one."""

    code: str
    scheme: str
    name: str


@dataclass(frozen=True)
class CrossingSide:
    """One country's checkpoint at a crossing, its customs office and its opening hours."""

    country: str
    checkpoint: str
    office: CustomsOffice
    hours: str
    hours_assumed: bool = False  # True: a working assumption, not a published schedule
    hours_until: dt.date | None = None  # last day the stated hours are announced for


@dataclass(frozen=True)
class Crossing:
    """A road crossing joining two countries, with names in en/zh/ru/kk and its sources."""

    code: str
    names: dict[str, str]
    countries: tuple[str, str]
    sides: tuple[CrossingSide, ...]
    sources: tuple[str, ...]
    agreed_daily_trucks: int | None = None

    def side(self, country: str) -> CrossingSide:
        """This crossing's checkpoint in the given country; KeyError if none."""
        for s in self.sides:
            if s.country == country:
                return s
        raise KeyError(f"{self.code} has no {country} side")

    def office_for(self, country: str) -> CustomsOffice:
        """The customs office on the given country's side."""
        return self.side(country).office

    def other_side(self, country: str) -> str:
        """The country across the border from the given one."""
        if country not in self.countries:
            raise KeyError(f"{self.code} has no {country} side")
        return self.countries[1] if self.countries[0] == country else self.countries[0]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings), e.g. for the crossings table."""
        return asdict(
            self,
            dict_factory=lambda items: {
                k: v.isoformat() if isinstance(v, dt.date) else v for k, v in items
            },
        )


def _side(raw: dict[str, Any]) -> CrossingSide:
    return CrossingSide(
        country=raw["country"],
        checkpoint=raw["checkpoint"],
        office=CustomsOffice(**raw["office"]),
        hours=raw["hours"],
        hours_assumed=bool(raw.get("hours_assumed", False)),
        hours_until=raw.get("hours_until"),
    )


def _crossing(raw: dict[str, Any]) -> Crossing:
    countries = (raw["countries"][0], raw["countries"][1])
    sides = tuple(_side(s) for s in raw["side"])
    crossing = Crossing(
        code=raw["code"],
        names=dict(raw["names"]),
        countries=countries,
        sides=sides,
        sources=tuple(raw.get("sources", ())),
        agreed_daily_trucks=raw.get("agreed_daily_trucks"),
    )
    if sorted(s.country for s in sides) != sorted(countries):
        raise ValueError(f"{crossing.code}: sides do not match countries {countries}")
    if set(crossing.names) != set(NAME_LANGUAGES):
        raise ValueError(f"{crossing.code}: names must be given in {NAME_LANGUAGES}")
    return crossing


@cache
def load_crossings() -> tuple[Crossing, ...]:
    """Parse the shipped crossings file once (checked: both sides present, four names)."""
    text = resources.files("silkgate.codelists").joinpath("data/crossings.toml").read_text("utf-8")
    return tuple(_crossing(c) for c in tomllib.loads(text)["crossing"])


def get_crossing(code: str) -> Crossing:
    """The crossing with this code, e.g. KHG-NZH; KeyError if unknown."""
    for c in load_crossings():
        if c.code == code:
            return c
    raise KeyError(code)

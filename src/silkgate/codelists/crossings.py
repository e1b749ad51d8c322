"""China–Kazakhstan road crossings with both sides' offices (data/crossings.toml cites sources)."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class CustomsOffice:
    code: str
    scheme: str
    name: str


@dataclass(frozen=True)
class CrossingSide:
    country: str
    checkpoint: str
    office: CustomsOffice
    hours: str


@dataclass(frozen=True)
class Crossing:
    code: str
    names: dict[str, str]
    countries: tuple[str, str]
    sides: tuple[CrossingSide, ...]
    sources: tuple[str, ...]
    agreed_daily_trucks: int | None = None

    def side(self, country: str) -> CrossingSide:
        for s in self.sides:
            if s.country == country:
                return s
        raise KeyError(f"{self.code} has no {country} side")

    def office_for(self, country: str) -> CustomsOffice:
        return self.side(country).office

    def other_side(self, country: str) -> str:
        if country not in self.countries:
            raise KeyError(f"{self.code} has no {country} side")
        return self.countries[1] if self.countries[0] == country else self.countries[0]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def load_crossings() -> tuple[Crossing, ...]:
    """Parse the shipped crossings file once."""
    raw = tomllib.loads(
        resources.files("silkgate.codelists").joinpath("data/crossings.toml").read_text("utf-8")
    )
    out = []
    for c in raw["crossing"]:
        sides = tuple(
            CrossingSide(s["country"], s["checkpoint"], CustomsOffice(**s["office"]), s["hours"])
            for s in c["side"]
        )
        out.append(
            Crossing(
                code=c["code"],
                names=dict(c["names"]),
                countries=(c["countries"][0], c["countries"][1]),
                sides=sides,
                sources=tuple(c.get("sources", ())),
                agreed_daily_trucks=c.get("agreed_daily_trucks"),
            )
        )
    return tuple(out)


def get_crossing(code: str) -> Crossing:
    for c in load_crossings():
        if c.code == code:
            return c
    raise KeyError(code)

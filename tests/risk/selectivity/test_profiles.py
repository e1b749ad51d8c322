"""Selectivity profiles: TOML in and out, and refusals that say where and why."""

from __future__ import annotations

from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silkgate.risk.selectivity.profiles import ProfileError, profile_from_toml, profile_to_toml
from silkgate.risk.selectivity.schemas import Criterion, Lane, SelectivityProfile, ValueBand

EXAMPLE = resources.files("silkgate.risk").joinpath("examples").joinpath("kcs-import.toml")

MINIMAL = """
office = "NURZHOLY"
[[criteria]]
name = "apples"
description = "US apples"
when = 'hs6 = "080810" and origin = "US"'
lane = "red"
"""


def test_example_profile_round_trips():
    profile = profile_from_toml(EXAMPLE.read_text(encoding="utf-8"))
    assert profile.office == "KCS-DEMO"
    assert [c.name for c in profile.criteria][:2] == ["apples-us", "watched-importers"]
    assert profile.random.rates == {Lane.RED: 0.5, Lane.YELLOW: 1.0}
    text = profile_to_toml(profile)
    assert profile_from_toml(text) == profile
    assert profile_to_toml(profile_from_toml(text)) == text  # canonical form is stable


def test_bands_and_lists_round_trip():
    profile = profile_from_toml(MINIMAL).model_copy(
        update={"lists": {"watch": ["A", 'B"quoted', "C\\d"]}}
    )
    vc = profile.value_controls.model_copy(
        update={
            "bands": [
                ValueBand(
                    hs6="080810",
                    origin="US",
                    min_per_kg=0.5,
                    max_per_kg=4.25,
                    count=30,
                    source="history",
                ),
                ValueBand(hs6="870323", min_per_unit=5000.0),
            ]
        }
    )
    profile = profile.model_copy(update={"value_controls": vc})
    assert profile_from_toml(profile_to_toml(profile)) == profile


# text the control-character rule allows: free text keeps tab and line breaks, list items none
_CONTROLS = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)])
_FREE = st.characters(
    blacklist_categories=("Cs",), blacklist_characters=_CONTROLS
) | st.sampled_from("\t\n\r")
_LINE = st.characters(blacklist_categories=("Cs",), blacklist_characters=_CONTROLS)


@given(
    description=st.text(_FREE, min_size=1, max_size=80).filter(lambda s: s.strip() != ""),
    items=st.lists(st.text(_LINE, max_size=20), max_size=5),
)
@settings(max_examples=100, deadline=None)
def test_any_allowed_text_survives_the_round_trip(description, items):
    base = profile_from_toml(MINIMAL)
    crit = base.criteria[0].model_copy(update={"description": description})
    profile = base.model_copy(
        update={"criteria": [crit], "description": description, "lists": {"items": items}}
    )
    assert profile_from_toml(profile_to_toml(profile)) == profile


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        (
            MINIMAL.replace('origin = "US"', "origin = 5"),
            "criterion 'apples': cannot compare text with a number at position 27",
        ),
        (MINIMAL.replace("hs6 =", "hs7 ="), "unknown field 'hs7' at position 1"),
        (
            MINIMAL
            + '\n[[criteria]]\nname = "apples"\ndescription = "x"\nwhen = "true"\nlane = "red"\n',
            "defined twice",
        ),
        (MINIMAL.replace('lane = "red"', 'lane = "purple"'), "criteria.0.lane"),
        (MINIMAL.replace('lane = "red"', 'lane = "green"'), "green is the default"),
        (MINIMAL + "\n[random.rates]\nred = 60.0\nyellow = 50.0\n", "more than 100%"),
        (MINIMAL + "\n[model.rates]\ngreen = 1.0\n", "not green"),
        (MINIMAL.replace("when = ", 'when = "importer in @nope" #'), "unknown list @nope"),
        (MINIMAL + "\nunknown_key = 1\n", "unknown_key"),
        ("office = ", "TOML syntax"),
    ],
)
def test_bad_profiles_are_refused_with_reasons(toml, fragment):
    with pytest.raises(ProfileError) as info:
        profile_from_toml(toml)
    assert any(fragment in p for p in info.value.problems), info.value.problems


def test_rules_may_read_mapping_extras_only_when_declared():
    text = MINIMAL.replace('hs6 = "080810" and origin = "US"', 'tax_type = "A"')
    with pytest.raises(ProfileError, match="unknown field 'tax_type'"):
        profile_from_toml(text)
    profile = profile_from_toml('extra_fields = ["tax_type"]\n' + text)
    assert profile.criteria[0].when == 'tax_type = "A"'


def test_criterion_defaults():
    crit = Criterion(name="x", description="d", when="true", lane=Lane.YELLOW)
    assert crit.percent == 100 and crit.enabled
    assert SelectivityProfile(office="X").model.exploration == 0.1

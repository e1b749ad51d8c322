"""The demo generator produces valid declarations with the trade mix the issue describes."""

from __future__ import annotations

from collections import Counter

from silkgate.codelists.hs import is_valid_hs
from silkgate.declarations.service import prepare
from silkgate.demo.catalog import CHINA_TO_KAZAKHSTAN, KAZAKHSTAN_TO_CHINA
from silkgate.demo.traffic import TrafficGenerator


def test_catalog_codes_are_in_the_nomenclature() -> None:
    for c in CHINA_TO_KAZAKHSTAN + KAZAKHSTAN_TO_CHINA:
        assert is_valid_hs(c.hs6), c


def test_generated_declarations_pass_validation_and_follow_the_mix() -> None:
    gen = TrafficGenerator(seed=3)
    chapters: dict[str, Counter[str]] = {"CN": Counter(), "KZ": Counter()}
    for _ in range(400):
        body = gen.declaration()
        prepare(body)  # raises if anything is invalid
        for item in body["goods_items"]:
            chapters[body["crossing"]["exit_country"]][item["hs_code"][:2]] += 1
    assert set(chapters["KZ"]) <= {"26", "72", "74", "10", "12"}
    assert chapters["CN"]["84"] + chapters["CN"]["85"] == max(
        chapters["CN"]["84"] + chapters["CN"]["85"], *chapters["CN"].values()
    )
    assert sum(chapters["CN"].values()) > sum(chapters["KZ"].values())


def test_same_seed_same_traffic() -> None:
    assert TrafficGenerator(5).declaration() == TrafficGenerator(5).declaration()

"""Residency: which partitions a job may read where it computes, and why others are left out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from silkgate.analytics.jobs.residency import decide, refusal
from silkgate.analytics.jobs.service import home_country
from silkgate.exchange.agreements.catalogue import Category
from silkgate.registry.service import Caller
from tests.analytics.jobs.conftest import NOW, statistics_rule
from tests.analytics.jobs.lakes import write_lake

D = Category.DECLARATION


def _refusal(rules: list, **kw: object) -> str | None:
    args = {"category": D, "owner": "KZ", "crossing": "KHG-NZH", "compute_country": "CN"}
    args.update(kw)
    return refusal(rules, now=NOW, **args)  # type: ignore[arg-type]


def test_own_data_needs_no_agreement() -> None:
    assert _refusal([], owner="CN") is None


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (None, "KZ customs has no active agreement sharing 'declaration' data"),
        (
            statistics_rule("KZ", Category.BOOKING),
            "KZ customs has no active agreement sharing 'declaration' data",
        ),
        (
            statistics_rule("KZ", D, purposes=("customs_control",)),
            "KZ's 'declaration' agreements do not include the purpose statistics",
        ),
        (
            statistics_rule("KZ", D, places=("KZ",)),
            "KZ's 'declaration' agreements for statistics do not allow processing in CN",
        ),
        (
            statistics_rule("KZ", D, crossings=("ALA-DOS",)),
            "no KZ 'declaration' agreement for statistics in CN covers crossing KHG-NZH",
        ),
        (
            statistics_rule("KZ", D, valid_until=datetime(2026, 1, 1, tzinfo=UTC)),
            "the KZ 'declaration' agreements that would allow it are not valid on 2026-06-01",
        ),
        (
            statistics_rule("KZ", D, condition="record.crossing == 'KHG-NZH'"),
            "the KZ 'declaration' agreements that would allow it carry a record condition "
            "(decided per record, not for a whole partition)",
        ),
    ],
)
def test_each_refusal_names_the_test_that_failed(rule: object, reason: str) -> None:
    assert _refusal([rule] if rule else []) == reason


def test_an_agreement_from_a_trader_does_not_release_a_country() -> None:
    """Only the member state's customs authority (provider = alpha-2) licenses its data."""
    assert _refusal([statistics_rule("KZ-BROKER-1", D)]) is not None


def test_allowed_with_the_right_agreement_and_reader() -> None:
    rule = statistics_rule("KZ", D, consumers=("CN-ANALYST",), crossings=("KHG-NZH",))
    assert _refusal([rule]) is None
    named = Caller(1, "CN-ANALYST", "CN", frozenset({"analyst"}), frozenset())
    other = Caller(2, "CN-OTHER", "CN", frozenset({"analyst"}), frozenset())
    kz = Caller(3, "KZ-ANALYST", "KZ", frozenset({"analyst"}), frozenset())
    assert _refusal([rule], reader=named) is None
    assert _refusal([rule], reader=other) == (
        "the KZ 'declaration' agreements that would allow it do not name CN-OTHER"
    )
    # a Kazakh reader of Kazakh data computed in China: the place still needs the agreement
    assert _refusal([rule], reader=kz) is None
    assert _refusal([], reader=kz) is not None
    # a Kazakh reader of Chinese data computed in China needs China's agreement naming it
    assert _refusal([rule], owner="CN", reader=kz) is not None


def test_decide_lists_files_and_tallies_exclusions(tmp_path: Path) -> None:
    rows = [
        {"declaration_id": f"D{i}", "owner_country": owner, "crossing": crossing, "date": day}
        for i, (owner, crossing, day) in enumerate(
            [
                ("CN", "KHG-NZH", "2025-01-01"),
                ("KZ", "KHG-NZH", "2025-01-01"),
                ("KZ", "KHG-NZH", "2025-01-02"),
                ("KZ", "KHG-NZH", "2025-01-02"),
                ("KZ", "ALA-DOS", "2025-01-01"),
            ]
        )
    ]
    lake = write_lake(tmp_path / "lake", {"declarations": rows})
    only_khorgos = statistics_rule("KZ", D, crossings=("KHG-NZH",))
    place = decide(lake, ["declarations", "goods_items"], "CN", [only_khorgos], NOW)
    assert sorted(p.parent.name for p in place.files["declarations"]) == [
        "date=2025-01-01", "date=2025-01-01", "date=2025-01-02",
    ]  # fmt: skip
    assert place.files["goods_items"] == [] and place.foreign_owners == {"KZ"}
    [excluded] = place.exclusions
    assert excluded.model_dump() == {
        "dataset": "declarations", "owner_country": "KZ", "crossing": "ALA-DOS",
        "partitions": 1, "rows": 1,
        "reason": "no KZ 'declaration' agreement for statistics in CN covers crossing ALA-DOS",
    }  # fmt: skip


def test_a_job_reading_scores_needs_the_score_category_too(tmp_path: Path) -> None:
    """``lanes`` is shared as risk_lane; model_drift reads scores, so risk_score must allow it."""
    rows = [
        {"assessment_id": 1, "owner_country": "KZ", "crossing": "KHG-NZH", "date": "2025-01-01"}
    ]
    lake = write_lake(tmp_path / "lake", {"lanes": rows})
    lane_only = [statistics_rule("KZ", Category.RISK_LANE)]
    assert decide(lake, ["lanes"], "CN", lane_only, NOW).files["lanes"]
    place = decide(lake, ["lanes"], "CN", lane_only, NOW, also=[("lanes", "risk_score")])
    assert place.files["lanes"] == []
    assert place.exclusions[0].reason == (
        "KZ customs has no active agreement sharing 'risk_score' data"
    )
    both = [*lane_only, statistics_rule("KZ", Category.RISK_SCORE)]
    assert decide(lake, ["lanes"], "CN", both, NOW, also=[("lanes", "risk_score")]).files["lanes"]


def test_whose_data_a_reader_sees_in_small_cells() -> None:
    """The platform itself sees the compute country's small cells and a customs authority its
    own country's; nobody else's, and analysts and administrators none."""

    def org(country: str, *roles: str) -> Caller:
        return Caller(1, f"{country}/GOV/1", country, frozenset(roles), frozenset())

    assert home_country("CN", None) == "CN"
    assert home_country("CN", org("CN", "customs")) == "CN"
    assert home_country("CN", org("KZ", "customs")) == "KZ"  # not China's: they leave it
    assert home_country("CN", org("CN", "analyst", "admin")) == ""

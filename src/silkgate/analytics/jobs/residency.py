"""Where a job may compute: partitions it may read in ``compute_country``, and why not others.

A partition owned by the country the job computes in is read. Another country's partition is
read only when an active agreement of that country's customs authority (provider = its alpha-2
code) shares the dataset's category for the purpose ``statistics``, lists the compute country
among its places, covers the partition's crossing, holds on the day, and carries no record
condition (a condition is decided record by record; a whole partition cannot be released by
it). When a reader is named (API calls), the agreement must also name it as a consumer.
Everything left out is named with its partitions, rows and the first test that failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from silkgate.analytics.jobs.schemas import Exclusion
from silkgate.analytics.lake import load_manifest
from silkgate.exchange.agreements.catalogue import Category, Purpose
from silkgate.exchange.agreements.policy import Rule, is_consumer
from silkgate.registry.service import Caller

#: The agreement category that governs each lake dataset.
CATEGORY_OF = {
    "declarations": Category.DECLARATION,
    "goods_items": Category.DECLARATION,
    "lanes": Category.RISK_LANE,
    "inspections": Category.INSPECTION_RESULT,
    "bookings": Category.BOOKING,
    "gate_events": Category.GATE_EVENTS,
    "gate_event_refs": Category.GATE_EVENTS,
    "queue_day_plans": Category.BOOKING,
}
PURPOSE = Purpose.STATISTICS.value


@dataclass
class Residency:
    """What a run reads: files per dataset; what it leaves out, with the reason."""

    compute_country: str
    files: dict[str, list[Path]] = field(default_factory=dict)
    exclusions: list[Exclusion] = field(default_factory=list)
    foreign_owners: set[str] = field(default_factory=set)


def _partition(key: str) -> tuple[str, str]:
    parts = dict(p.split("=", 1) for p in key.split("/"))
    return parts["owner_country"], parts["crossing"]


def refusal(
    rules: Iterable[Rule],
    category: Category,
    owner: str,
    crossing: str,
    compute_country: str,
    now: datetime,
    reader: Caller | None = None,
) -> str | None:
    """None when an agreement lets ``owner``'s data of ``category`` at ``crossing`` be
    processed in ``compute_country`` (and read by ``reader``, when named); otherwise the
    first test that failed, in words."""
    own_reader = reader is None or reader.country == owner
    if owner == compute_country and own_reader:
        return None
    steps = (
        (
            lambda r: r.provider == owner and r.category == category,
            f"{owner} customs has no active agreement sharing '{category}' data",
        ),
        (
            lambda r: PURPOSE in r.purposes,
            f"{owner}'s '{category}' agreements do not include the purpose {PURPOSE}",
        ),
        (
            lambda r: compute_country in r.places,
            f"{owner}'s '{category}' agreements for {PURPOSE} do not allow processing in "
            f"{compute_country}",
        ),
        (
            lambda r: not r.crossings or crossing in r.crossings,
            f"no {owner} '{category}' agreement for {PURPOSE} in {compute_country} covers "
            f"crossing {crossing}",
        ),
        (
            lambda r: r.valid_from <= now and (r.valid_until is None or now < r.valid_until),
            f"the {owner} '{category}' agreements that would allow it are not valid on "
            f"{now:%Y-%m-%d}",
        ),
        (
            lambda r: r.condition is None,
            f"the {owner} '{category}' agreements that would allow it carry a record condition "
            "(decided per record, not for a whole partition)",
        ),
    )
    left = list(rules)
    for test, reason in steps:
        left = [r for r in left if test(r)]
        if not left:
            return reason
    if (
        reader is not None
        and not own_reader
        and not any(is_consumer(reader, r, crossing) for r in left)
    ):
        who = reader.member_id
        return f"the {owner} '{category}' agreements that would allow it do not name {who}"
    return None


def decide(
    lake: Path,
    datasets: Sequence[str],
    compute_country: str,
    rules: Sequence[Rule],
    now: datetime,
    reader: Caller | None = None,
    also: Sequence[tuple[str, str]] = (),
) -> Residency:
    """The files of ``datasets`` this run may read where it computes, and the exclusions;
    ``also``: (dataset, category) pairs that must allow a partition too."""
    out = Residency(compute_country)
    for name in datasets:
        categories = [CATEGORY_OF[name], *(Category(c) for d, c in also if d == name)]
        manifest = load_manifest(lake, name)
        kept: list[Path] = []
        refused: dict[tuple[str, str, str], list[int]] = {}
        for key, part in sorted(manifest.partitions.items()):
            owner, crossing = _partition(key)
            reasons = (
                refusal(rules, c, owner, crossing, compute_country, now, reader) for c in categories
            )
            reason = next((r for r in reasons if r is not None), None)
            if reason is None:
                kept.extend(lake / name / key / f["name"] for f in part["files"])
                if owner != compute_country:
                    out.foreign_owners.add(owner)
            else:
                tally = refused.setdefault((owner, crossing, reason), [0, 0])
                tally[0] += 1
                tally[1] += int(part["rows"])
        out.files[name] = kept
        out.exclusions.extend(
            Exclusion(
                dataset=name,
                owner_country=owner,
                crossing=crossing,
                partitions=n,
                # a reader not entitled to the data is not told how much of it there is
                rows=rows if reader is None or reader.country == owner else None,
                reason=reason,
            )
            for (owner, crossing, reason), (n, rows) in sorted(refused.items())
        )
    return out

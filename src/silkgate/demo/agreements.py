"""The demo's data-sharing agreements of the Khorgos–Nur Zholy case, and reads under them.

Each agreement is proposed by one party and signed by every party with its own registered
Ed25519 key (kept with the checkpoints' keys in ``<data_dir>/keys/demo/``), through the service
layer as a party's API call would be:

- CN customs ↔ KZ customs, pre-arrival information, both directions, for customs control: the
  parties sign a new version of the shipped default (same fields, a fixed term), which then
  supersedes the platform-signed one;
- CN customs → KZ customs, the lane of CN→KZ declarations, for risk analysis;
- the Khorgos e-port operator → the Nur Zholy customs-service company, gate events, and that
  company → the Nur Zholy checkpoint operator, its bookings, both for queue management;
- CN and KZ customs → the analytics center (the SCO big-data center), KPI aggregates, for
  statistics; and KZ customs → the analytics center, its declarations, lanes, inspection
  results, bookings and gate events for statistics processed in CN — what lets the analytics
  jobs computing in Karamay read Kazakhstan's lake partitions.

They are set up before the traffic is played, valid from the day before it ends (so that
day's facts happen under them), and KZ customs holds
a **pull subscription** to CN→KZ pre-arrival information under its agreement with CN customs,
so the traffic's facts are delivered under it as they happen (the summary counts the messages
waiting in that feed). Afterwards a few reads are made under the agreements (each with its
purpose), so the disclosure log has content; the analytics center's attempt to read a
declaration is answered 404.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from silkgate.core.errors import NotFound, SilkgateError
from silkgate.core.platform import Platform
from silkgate.core.signing import b64
from silkgate.declarations import reading
from silkgate.demo.crossing import signing_keys
from silkgate.demo.traffic import CROSSING
from silkgate.exchange import service as exchange
from silkgate.exchange import subscriptions
from silkgate.exchange.agreements import service as agreements
from silkgate.exchange.agreements.catalogue import Category, spec
from silkgate.exchange.agreements.defaults import (
    booking_fields,
    condition,
    default_id,
    kpi_default_id,
    pre_arrival_fields,
)
from silkgate.exchange.agreements.enforce import Asking
from silkgate.exchange.agreements.schemas import AgreementIn, AgreementOut
from silkgate.exchange.disclosures import service as disclosures
from silkgate.exchange.schemas import SubscriptionIn
from silkgate.gates import reports, timeline
from silkgate.queue import reading as queue
from silkgate.registry import service as registry
from silkgate.risk.platform.service import get_assessment

#: Demo organizations that sign agreements (their keys are made and registered if missing).
PARTIES = ("cn-customs", "kz-customs", "cn-eport", "kz-eport", "kz-service", "karamay")
TERM = timedelta(days=3 * 365)  # the agreements' fixed term
#: Categories of the analytics lake's datasets (see analytics/jobs/residency.py).
LAKE_CATEGORIES = (
    Category.DECLARATION,
    Category.RISK_LANE,
    Category.RISK_SCORE,
    Category.INSPECTION_RESULT,
    Category.BOOKING,
    Category.GATE_EVENTS,
)
LANE_FIELDS = ["/assessed_at", "/declaration_id", "/direction", "/lane", "/office", "/version"]


@dataclass(frozen=True)
class Plan:
    """One agreement: its proposer and signers (demo keys), and its terms."""

    proposer: str
    signers: tuple[str, ...]
    terms: dict[str, Any]


@dataclass
class AgreementsReport:
    agreements: list[AgreementOut] = field(default_factory=list)
    reads: Counter[str] = field(default_factory=Counter)  # what was read, under what
    refused: list[str] = field(default_factory=list)  # reads answered 404, as they should be
    disclosures: Counter[str] = field(default_factory=Counter)  # per agreement (or basis)
    disclosed: int = 0  # rows of the disclosure log
    feed_subscription: int | None = None  # KZ customs' pull subscription (pre-arrival, CN→KZ)
    feed_agreement: str = ""
    feed_waiting: int = 0  # messages waiting in that feed (not yet acknowledged)


def _top(category: Category) -> list[str]:
    return sorted(p for p in spec(category).pointers if p.count("/") == 1)


def _non_personal(category: Category) -> list[str]:
    """The category's fields that are not personal data and hold none below them."""
    s = spec(category)
    return sorted(
        p
        for p in s.pointers
        if not any(q == p or q.startswith(p + "/") for q in s.personal)
        and not any(p.startswith(q + "/") for q in s.personal)
    )


def plans(ids: dict[str, str], share_driver: bool, start: datetime) -> list[Plan]:
    """The Khorgos–Nur Zholy agreements (valid from ``start`` for ``TERM``)."""
    base = {
        "crossings": [CROSSING],
        "valid_from": start,
        "valid_until": start + TERM,
    }
    out = []
    for x, y in (("CN", "KZ"), ("KZ", "CN")):
        out.append(
            Plan(
                f"{x.lower()}-customs",
                (f"{x.lower()}-customs", f"{y.lower()}-customs"),
                {
                    **base,
                    "agreement_id": default_id(CROSSING, x, y),
                    "provider": x,
                    "consumers": [y],
                    "category": "pre_arrival",
                    "fields": pre_arrival_fields(share_driver),
                    "purposes": ["customs_control"],
                    "places": [y],
                    "condition": condition(y),
                    "personal_data": share_driver,
                },
            )
        )
    out += [
        Plan(
            "kz-customs",
            ("cn-customs", "kz-customs"),
            {
                **base,
                "agreement_id": "khg-nzh-risk-lane-cn-kz",
                "provider": "CN",
                "consumers": ["KZ"],
                "category": "risk_lane",
                "fields": LANE_FIELDS,
                "purposes": ["risk_analysis"],
                "places": ["KZ"],
                "condition": 'direction == "CN-KZ"',
            },
        ),
        Plan(
            "kz-service",
            ("cn-eport", "kz-service"),
            {
                **base,
                "agreement_id": "khg-nzh-gate-events-for-kz-service",
                "provider": ids["cn-eport"],
                "consumers": [ids["kz-service"]],
                "category": "gate_events",
                "fields": _top(Category.GATE_EVENTS),
                "purposes": ["queue_management"],
                "places": ["KZ"],
            },
        ),
        Plan(
            "kz-eport",
            ("kz-service", "kz-eport"),
            {
                **base,
                "agreement_id": "khg-nzh-bookings-for-kz-eport",
                "provider": ids["kz-service"],
                "consumers": [ids["kz-eport"]],
                "category": "booking",
                "fields": booking_fields(),
                "purposes": ["queue_management"],
                "places": ["KZ"],
            },
        ),
    ]
    for x in ("CN", "KZ"):
        out.append(
            Plan(
                "karamay",
                (f"{x.lower()}-customs", "karamay"),
                {
                    **base,
                    # a signed version of the shipped default: the parties narrow it to the
                    # analytics center (a second agreement would overlap it)
                    "agreement_id": kpi_default_id(CROSSING, x),
                    "provider": x,
                    "consumers": [ids["karamay"]],
                    "category": "kpi_aggregates",
                    "fields": _top(Category.KPI_AGGREGATES),
                    "purposes": ["statistics"],
                    "places": ["CN"],
                },
            )
        )
    # KZ customs lets the analytics center (Karamay, CN) compute statistics over Kazakhstan's
    # lake partitions (analytics residency: provider = the state's customs, place CN)
    for category in LAKE_CATEGORIES:
        out.append(
            Plan(
                "karamay",
                ("kz-customs", "karamay"),
                {
                    **base,
                    "agreement_id": f"khg-nzh-{category.value.replace('_', '-')}-stats-kz",
                    "provider": "KZ",
                    "consumers": [ids["karamay"]],
                    "category": category.value,
                    "fields": _non_personal(category),
                    "purposes": ["statistics"],
                    "places": ["CN"],
                },
            )
        )
    return out


def set_up(
    platform: Platform, ids: dict[str, str], start: datetime | None = None
) -> list[AgreementOut]:
    """Propose and sign each agreement not already in force between the parties, valid from
    ``start`` (default: today, 00:00 UTC) for ``TERM`` (a second demo run finds them and leaves
    them; a revoked one stays revoked: the parties' word stands)."""
    keys = signing_keys(platform, ids, PARTIES)
    if start is None:
        start = datetime.now(UTC)
    start = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for plan in plans(ids, platform.settings.share_driver_data_across_border, start):
        proposer = registry.caller_for(platform, ids[plan.proposer])
        aid = plan.terms["agreement_id"]
        try:
            latest: AgreementOut | None = agreements.get_version(platform, proposer, aid)
        except NotFound:
            latest = None
        if latest is None or (latest.builtin and latest.status == "active"):
            latest = agreements.propose(platform, proposer, AgreementIn.model_validate(plan.terms))
        if latest.status == "proposed":
            for key in plan.signers:
                signer = registry.caller_for(platform, ids[key])
                if any(g.signer == signer.member_id for g in latest.signatures):
                    continue
                signature = b64(keys[key].sign(latest.signing_input.encode("utf-8")))
                latest = agreements.sign(platform, signer, aid, latest.version, signature)
        out.append(latest)
    return out


def read_under_agreements(
    platform: Platform, ids: dict[str, str], report: AgreementsReport
) -> None:
    """A few reads each party makes under its agreements, with the purpose it declares."""

    def who(key: str, purpose: str) -> Asking:
        return Asking(registry.caller_for(platform, ids[key]), purpose)

    # each side's customs reads the other side's pre-arrival information
    cn_exports: list[str] = []
    for reader, provider in (("kz-customs", "CN"), ("cn-customs", "KZ")):
        f = reading.ListFilter(crossing=CROSSING, exit_country=provider)
        page = reading.list_declarations(platform, who(reader, "customs_control"), f, None, 20)
        what = f"{reader}: declarations leaving {provider} (customs_control)"
        report.reads[what] += len(page.items)
        if provider == "CN":
            cn_exports = [d.id for d in page.items if d.id]
    # KZ customs reads the lane CN customs gave, for its own risk analysis
    for decl_id in cn_exports[:5]:
        try:
            get_assessment(platform, who("kz-customs", "risk_analysis"), decl_id)
            report.reads["kz-customs: CN lanes (risk_analysis)"] += 1
        except NotFound:
            pass  # not assessed yet
    # the Nur Zholy checkpoint operator follows a truck the customs-service company booked
    service = registry.caller_for(platform, ids["kz-service"])
    booked, _ = queue.list_bookings(platform, service, crossing=CROSSING, limit=50)
    for b in [b for b in booked if b.exit_country == "CN" and b.truck][:3]:
        assert b.truck is not None  # the booking organization reads its own bookings whole
        t = timeline.truck_timeline(
            platform,
            who("kz-eport", "queue_management"),
            str(b.truck["tractor_nationality"]),
            str(b.truck["tractor_plate"]),
        )
        shown = sum(1 for e in t.entries if e.kind == "booking")
        report.reads["kz-eport: truck timelines with kz-service's bookings (queue_management)"] += (
            1 if shown else 0
        )
    # the analytics center: aggregates only — a declaration is not found, the KPIs are read
    analytics = who("karamay", "statistics")
    if cn_exports:
        try:
            reading.get(platform, analytics, cn_exports[0])
            report.refused.append("analytics center read a declaration: NOT refused")
        except NotFound:
            report.refused.append("karamay: a declaration (statistics) → 404, aggregates only")
    try:
        reports.trs_report(platform, analytics.caller, CROSSING)
        report.reads["karamay: TRS KPI report of the crossing"] += 1
    except SilkgateError as exc:
        report.refused.append(f"karamay: KPI report refused: {exc}")


def count_disclosures(platform: Platform, report: AgreementsReport) -> None:
    """Disclosure-log rows per agreement version (or basis), read as the operator does."""
    cursor = None
    while True:
        page = disclosures.list_disclosures(
            platform, None, disclosures.DisclosureFilter(), cursor, 500
        )
        for d in page.items:
            report.disclosed += 1
            names = [f"{a.agreement_id} v{a.version}" for a in d.agreements] or [d.basis]
            for name in names:
                report.disclosures[name] += 1
        cursor = page.next_cursor
        if cursor is None:
            return


FEED_AGREEMENT = default_id(CROSSING, "CN", "KZ")  # KZ customs' pre-arrival agreement


def subscribe_feed(platform: Platform, ids: dict[str, str]) -> int | None:
    """KZ customs' pull subscription to pre-arrival information under ``FEED_AGREEMENT``, for
    customs control (the one a second run made before, else a new one); None when that
    agreement is not in force (revoked by its parties)."""
    kz = registry.caller_for(platform, ids["kz-customs"])
    for sub in exchange.list_subscriptions(platform, kz):
        if sub.active and sub.kind == "pull" and sub.agreement_id == FEED_AGREEMENT:
            return sub.id
    body = SubscriptionIn(
        agreement_id=FEED_AGREEMENT,
        categories=[Category.PRE_ARRIVAL],
        purpose="customs_control",
    )
    try:
        return exchange.add_subscription(platform, kz, body).id
    except SilkgateError:
        return None


def prepare(platform: Platform, ids: dict[str, str], start: datetime) -> AgreementsReport:
    """Before the traffic: the agreements (valid from ``start``) and KZ customs' pull feed."""
    report = AgreementsReport(agreements=set_up(platform, ids, start))
    report.feed_agreement = FEED_AGREEMENT
    report.feed_subscription = subscribe_feed(platform, ids)
    return report


def finish(platform: Platform, ids: dict[str, str], report: AgreementsReport) -> AgreementsReport:
    """After the traffic: reads under the agreements, the disclosure counts, and how many
    messages wait in KZ customs' feed."""
    read_under_agreements(platform, ids, report)
    count_disclosures(platform, report)
    if report.feed_subscription is not None:
        kz = registry.caller_for(platform, ids["kz-customs"])
        state = subscriptions.status(platform, kz, report.feed_subscription)
        report.feed_waiting = state.undelivered
    return report


def run(platform: Platform, ids: dict[str, str]) -> AgreementsReport:
    """Agreements (valid from today), the feed, reads under them, and the disclosure counts."""
    return finish(platform, ids, prepare(platform, ids, datetime.now(UTC)))

"""`silkgate demo`: a registry of Khorgos–Nur Zholy organizations, keys, days of traffic and
the crossing played through them (see ``crossing.py``)."""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from silkgate.bootstrap import prepare_database
from silkgate.codelists.identifiers import generate_kz_bin, generate_uscc
from silkgate.core.cli_support import console
from silkgate.core.errors import Conflict
from silkgate.core.platform import Platform
from silkgate.demo import agreements as demo_agreements
from silkgate.demo import crossing
from silkgate.demo import selectivity as demo_selectivity
from silkgate.demo.crossing import DEMO_ACTOR, PlayReport
from silkgate.demo.traffic import CROSSING
from silkgate.registry import service as registry
from silkgate.registry.schemas import OrganizationCreate, Role


@dataclass(frozen=True)
class DemoOrg:
    key: str
    country: str
    member_class: str
    name: str
    roles: tuple[Role, ...]
    crossings: tuple[str, ...] = ()


DEMO_ORGS = (
    DemoOrg(
        "karamay",
        "CN",
        "GOV",
        "China–SCO Big Data Cooperation Center, Xinjiang sub-center (Karamay)",
        (Role.ADMIN, Role.ANALYST),
    ),
    DemoOrg(
        "cn-customs",
        "CN",
        "GOV",
        "Khorgos Customs (Urumqi Customs District)",
        (Role.CUSTOMS,),
        (CROSSING,),
    ),
    DemoOrg(
        "kz-customs",
        "KZ",
        "GOV",
        "State Revenue Committee — Nur Zholy customs post",
        (Role.CUSTOMS,),
        (CROSSING,),
    ),
    DemoOrg(
        "cn-eport", "CN", "COM", "Khorgos E-Port Operation Co., Ltd.", (Role.E_PORT,), (CROSSING,)
    ),
    DemoOrg(
        "cn-broker", "CN", "COM", "Xinjiang Silk Road Customs Brokerage Co., Ltd.", (Role.BROKER,)
    ),
    DemoOrg(
        "kz-service",
        "KZ",
        "COM",
        "Nur Zholy Customs Service LLP",
        (Role.CUSTOMS_SERVICE, Role.BROKER),
    ),
    DemoOrg(
        "cn-carrier", "CN", "COM", "Ili Tianshan International Logistics Co., Ltd.", (Role.CARRIER,)
    ),
    DemoOrg("kz-carrier", "KZ", "COM", "Zhetysu Trans Cargo LLP", (Role.CARRIER,)),
    # added last so the member ids of the organizations above stay as they were
    DemoOrg(
        "kz-eport",
        "KZ",
        "COM",
        "Nur Zholy Border Checkpoint Operator LLP",
        (Role.E_PORT,),
        (CROSSING,),
    ),
)


def demo_member_ids(seed: int = 2026) -> dict[str, str]:
    """Stable member ids for the demo organizations (valid USCC / BIN codes)."""
    rng = random.Random(seed)
    out = {}
    for org in DEMO_ORGS:
        if org.country == "CN":
            code = generate_uscc(rng, kind="11" if org.member_class == "GOV" else "91")
        else:
            code = generate_kz_bin(rng)
        out[org.key] = f"{org.country}/{org.member_class}/{code}"
    return out


def seed_registry(platform: Platform) -> dict[str, str]:
    """Register the demo organizations that are not there yet; returns key → member id."""
    ids = demo_member_ids()
    for org in DEMO_ORGS:
        body = OrganizationCreate(
            member_id=ids[org.key],
            name=org.name,
            roles=list(org.roles),
            crossings=list(org.crossings),
        )
        with contextlib.suppress(Conflict):  # registered by an earlier demo run
            registry.create_organization(platform, body, DEMO_ACTOR)
    return ids


def seed_traffic(
    platform: Platform,
    ids: dict[str, str],
    days: int,
    per_day: int,
    seed: int,
    end: datetime | None = None,
    play_crossing: bool = True,
) -> PlayReport:
    """Lodge ``days`` of traffic ending now (or ``end``) and play the crossing: caps, bookings,
    both checkpoints' signed gate events, no-shows, declaration states and inspections."""
    run = f"{int(time.time()) % 1_000_000:06d}"  # LRNs stay unique when the demo is run again
    return crossing.play(
        platform, ids, days, per_day, seed, end, lrn_prefix=f"D{seed}-{run}", crossing=play_crossing
    )


def say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def say_agreements(shared: demo_agreements.AgreementsReport) -> None:
    """The agreements in force between the demo's parties, and what was disclosed under them."""
    say("Data-sharing agreements (each signed by its parties' registered keys):")
    for a in shared.agreements:
        signed = ", ".join(g.party for g in a.signatures)
        say(
            f"  {a.agreement_id} v{a.version} [{a.status}] {a.category.value}: {a.provider} → "
            f"{', '.join(a.consumers)} for {', '.join(a.purposes)}; signed by {signed}"
        )
    for what, n in shared.reads.items():
        say(f"  read: {what}: {n}")
    for what in shared.refused:
        say(f"  refused: {what}")
    counts = ", ".join(f"{n} under {name}" for name, n in sorted(shared.disclosures.items()))
    say(f"Disclosure log: {shared.disclosed} rows ({counts or 'none'}).")
    if shared.feed_subscription is not None:
        say(
            f"Delivery under agreements: KZ customs' pull feed (subscription "
            f"{shared.feed_subscription}, pre_arrival under {shared.feed_agreement}, "
            f"customs_control): {shared.feed_waiting} messages waiting."
        )


@dataclass
class DemoResult:
    """What the demo did: the demo API keys (key name → token), the crossing played and the
    agreements with what was shared and delivered under them."""

    tokens: dict[str, str]
    play: PlayReport
    agreements: demo_agreements.AgreementsReport


def analytics_round(platform: Platform) -> str:
    """Export the demo's history to the lake and write the analytics report; a sentence."""
    from silkgate.analytics import service as lake
    from silkgate.analytics.jobs import report as reporting

    exported = lake.export(platform, settle=0)
    out = platform.settings.data_dir / "reports" / "analytics.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    built = reporting.publish(platform, reporting.check(None, None, "duckdb", None), out)
    failed = f", {len(built.failed)} FAILED" if built.failed else ""
    return (
        f"Analytics: {exported.rows:,} rows exported to the lake "
        f"({platform.settings.lake_dir}); report of {len(built.sections)} jobs "
        f"computed in {built.compute_country}{failed}: {out}"
    )


def run_demo_setup(
    platform: Platform,
    days: int,
    per_day: int,
    seed: int,
    end: datetime | None = None,
    play_crossing: bool = True,
) -> DemoResult:
    """Migrate, seed, set up the agreements and KZ customs' pull feed, play the crossing,
    issue fresh demo API keys and print them with a summary."""
    prepare_database(platform)
    ids = seed_registry(platform)
    officers = {"CN-KHORGOS": ids["cn-customs"], "KZ-NURZHOLY": ids["kz-customs"]}
    profiles_saved = demo_selectivity.install(platform, officers)
    # the agreements hold from the day before the traffic ends (UTC midnight), so that day's
    # facts are delivered under them; from the first day, delivery would double the demo's time
    shared = demo_agreements.prepare(platform, ids, (end or datetime.now(UTC)) - timedelta(days=1))
    report = seed_traffic(platform, ids, days, per_day, seed, end, play_crossing)
    demo_agreements.finish(platform, ids, shared)
    analytics_summary = analytics_round(platform)
    tokens = {}
    console.print("[bold]Demo API keys[/bold] (new on every run; demo mode only):")
    for org in DEMO_ORGS:
        _, token = registry.issue_api_key(platform, ids[org.key], "demo", DEMO_ACTOR)
        tokens[org.key] = token
        roles = ", ".join(r.value for r in org.roles)
        console.print(f"  {org.name} [{roles}] {ids[org.key]}", markup=False, highlight=False)
        console.print(f"    {token}", markup=False, highlight=False, soft_wrap=True)
    say(
        f"{report.lodged} demo declarations lodged through {CROSSING} over {days} days "
        f"(seed {seed})."
    )
    say(
        "Selectivity profiles (criteria, then random quotas): "
        + (f"saved for {', '.join(profiles_saved)}" if profiles_saved else "those already saved")
        + "; `silkgate risk profile list` and `silkgate risk profile export` show them."
    )
    if report.skipped:
        say(f"No bookings or gate events played: {report.skipped}.")
        say_agreements(shared)
        say(analytics_summary)
        return DemoResult(tokens, report, shared)
    statuses = ", ".join(f"{n} {status}" for status, n in report.bookings.items())
    say(f"{report.booked} slots booked ({statuses}); {report.not_booked} trucks got no slot.")
    say(
        f"{report.gate_events} signed gate events from both checkpoints "
        f"({report.corrections} corrected), {report.inspections} inspection results."
    )
    say_agreements(shared)
    say(analytics_summary)
    say(f"Demo signing keys (gate events, agreements): {crossing.keys_folder(platform)}/")
    if report.sample_truck:
        who = ids["cn-customs"]
        say(
            f"Try: silkgate gates timeline --as {who} --truck {report.sample_truck} "
            "--purpose customs_control; "
            f"silkgate kpi trs --as {who}"
        )
    if shared.feed_subscription is not None:
        say(f"Read the feed: silkgate exchange feed --as {ids['kz-customs']} --limit 5")
    return DemoResult(tokens, report, shared)

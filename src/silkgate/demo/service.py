"""`silkgate demo`: a registry of Khorgos–Nur Zholy organizations, keys and days of traffic."""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rich.progress import Progress

from silkgate.bootstrap import prepare_database
from silkgate.codelists.identifiers import generate_kz_bin, generate_uscc
from silkgate.core.cli_support import console, err_console
from silkgate.core.errors import Conflict
from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.declarations.schemas import DeclarationOut, DeclarationStatus
from silkgate.demo.traffic import CROSSING, TrafficGenerator
from silkgate.registry import service as registry
from silkgate.registry.schemas import OrganizationCreate, Role
from silkgate.risk.platform.schemas import Duties, Finding, FindingKind, InspectionIn
from silkgate.risk.platform.service import record_inspection
from silkgate.risk.platform.worker import assess_pending

DEMO_ACTOR = "demo"


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
    platform: Platform, ids: dict[str, str], days: int, per_day: int, seed: int
) -> int:
    """Lodge ``days`` of traffic ending today and move older declarations through the border."""
    gen = TrafficGenerator(seed)
    declarant = {
        "CN": registry.caller_for(platform, ids["cn-broker"]),
        "KZ": registry.caller_for(platform, ids["kz-service"]),
    }
    customs = {
        "CN": registry.caller_for(platform, ids["cn-customs"]),
        "KZ": registry.caller_for(platform, ids["kz-customs"]),
    }
    today = datetime.now(UTC).date()
    run = f"{int(time.time()) % 1_000_000:06d}"  # LRNs stay unique when the demo is run again
    rng = random.Random(seed)
    lodged = 0
    with Progress(console=err_console) as progress:
        task = progress.add_task("demo traffic", total=days * per_day)
        for d in range(days):
            day = today - timedelta(days=days - 1 - d)
            bodies = gen.day(day, per_day, lrn_prefix=f"D{seed}-{run}")
            by_side: dict[str, list[dict[str, object]]] = {"CN": [], "KZ": []}
            for b in bodies:
                lodging = (
                    b["crossing"]["entry_country"]
                    if b["type"] == "import"
                    else b["crossing"]["exit_country"]
                )
                by_side[lodging].append(b)
            reports = {
                side: declarations.create_batch(platform, declarant[side], batch)
                for side, batch in by_side.items()
            }
            assess_pending(platform)  # lanes first, as the API's worker would give them
            for side, report in reports.items():
                lodged += report.accepted
                if day < today:
                    _advance(
                        platform,
                        rng,
                        customs[side],
                        [line.id for line in report.lines if line.id],
                        age_days=(today - day).days,
                    )
            progress.advance(task, per_day)
    return lodged


def _advance(
    platform: Platform, rng: random.Random, officer: registry.Caller, ids: list[str], age_days: int
) -> None:
    """Older declarations have reached the border; red and yellow ones were inspected.

    Inspections find a discrepancy in about a quarter of the selected declarations (an
    assumption for the demo); those are held, the rest released. Results become training labels.
    """
    for decl_id in ids:
        if rng.random() > min(0.95, 0.5 + 0.25 * age_days):
            continue
        decl = declarations.transition(
            platform, officer, decl_id, DeclarationStatus.AT_BORDER, "gate-in"
        )
        if decl.lane in ("red", "yellow"):
            found = rng.random() < 0.25
            record_inspection(platform, officer, decl_id, _demo_inspection(decl, found))
            if found:
                declarations.transition(
                    platform, officer, decl_id, DeclarationStatus.HELD, "discrepancy found"
                )
                continue
        declarations.transition(platform, officer, decl_id, DeclarationStatus.RELEASED, None)


def _demo_inspection(decl: DeclarationOut, found: bool) -> InspectionIn:
    if not found:
        return InspectionIn(outcome="no_discrepancy", note="goods as declared")
    item = decl.data["goods_items"][0]
    duties = round(item["customs_value"] * 0.1, 2)
    return InspectionIn(
        outcome="discrepancy",
        findings=[Finding(kind=FindingKind.UNDERVALUATION, text="invoice below market", item=1)],
        additional_duties=Duties(amount=duties, currency=decl.data["invoice"]["currency"]),
    )


def run_demo_setup(platform: Platform, days: int, per_day: int, seed: int) -> dict[str, str]:
    """Migrate, seed, issue fresh demo API keys and print them; returns key name → token."""
    prepare_database(platform)
    ids = seed_registry(platform)
    lodged = seed_traffic(platform, ids, days, per_day, seed)
    tokens = {}
    console.print("[bold]Demo API keys[/bold] (new on every run; demo mode only):")
    for org in DEMO_ORGS:
        _, token = registry.issue_api_key(platform, ids[org.key], "demo", DEMO_ACTOR)
        tokens[org.key] = token
        roles = ", ".join(r.value for r in org.roles)
        console.print(f"  {org.name} [{roles}] {ids[org.key]}", markup=False, highlight=False)
        console.print(f"    {token}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"{lodged} demo declarations lodged through {CROSSING} over {days} days (seed {seed})."
    )
    return tokens

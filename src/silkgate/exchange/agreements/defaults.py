"""The shipped default agreements: today's pre-arrival and booking exchange, stored as agreements.

Per crossing and direction (exit state X, entry state Y) one agreement, id
``default-pre-arrival-<crossing>-<X>-<Y>``: X's customs authority provides Y's customs
authority with export and transit declarations lodged with X once accepted, as pre-arrival
information — every field except the lodging side's lane and the driver (the driver too when
``SILKGATE_SHARE_DRIVER_DATA_ACROSS_BORDER`` is on) — for customs control, processed in Y.
Legal basis: the EAEU–China agreement of 6 June 2019 on exchanging information on goods and
vehicles, hence ``valid_from`` that day.

Per crossing and direction also ``default-booking-<crossing>-<X>-<Y>``: X's authority (the
exit side, whose queue it is) provides Y's customs with the bookings of trucks leaving X at
that crossing — every field but the driver (the driver too when
``SILKGATE_SHARE_DRIVER_DATA_ACROSS_BORDER`` is on) — for customs control or queue
management, processed in Y. That is today's booking visibility: customs of both sides see a
crossing's bookings, the exit side's e-port operator reads them as authority (booking is one of
its categories), and the driver stays on the exit side unless the setting shares it.

Per crossing and direction also ``default-gate-events-<crossing>-<X>-<Y>``: X's authority (the
side whose checkpoint reported) provides Y's customs with the gate events of X's side of that
crossing — every field — for customs control or queue management, processed in Y: today's
"customs of a crossing see both sides' events" (the reporting side reads its own as authority).

Per crossing and side X, when analysts or administrators are registered,
``default-kpi-<crossing>-<X>``: X's authority provides them (named one by one: an agreement's
consumers are organizations or a state's customs) with the crossing's KPIs and aggregates,
for statistics, processed in their countries: today's "analysts and administrators see every
crossing's KPIs". Registering another analyst brings a new builtin version naming it too.

They are signed by the platform key (party ``platform``), since the platform, not the parties,
ships them. They are seeded when a customs organization serving the crossing is registered, and
by ``silkgate agreements defaults`` (``silkgate db upgrade`` too) for crossings already served.
A default the parties replaced (a signed new version) or revoked is never re-seeded; a default
that differs from what the settings now say (the driver setting) gets a new builtin version.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent, AuditSigner, append
from silkgate.declarations.schemas import DeclarationIn
from silkgate.exchange.agreements.catalogue import Category, Purpose
from silkgate.exchange.agreements.models import Agreement, AgreementSignature
from silkgate.exchange.agreements.schemas import AgreementStatus as S
from silkgate.exchange.agreements.terms import digest, signing_input, terms
from silkgate.registry.models import Crossing, CrossingAssignment, Organization
from silkgate.registry.schemas import Role

PLATFORM = "platform"
LEGAL_BASIS_FROM = datetime(2019, 6, 6, tzinfo=UTC)
ENVELOPE = (
    "/id",
    "/lrn",
    "/version",
    "/status",
    "/type",
    "/declarant",
    "/crossing",
    "/exit_country",
    "/entry_country",
    "/submitted_at",
    "/updated_at",
    "/pre_arrival",
)


def pre_arrival_fields(share_driver: bool) -> list[str]:
    """Today's pre-arrival view: the envelope without the lane, the data without the driver."""
    data = [f"/data/{f}" for f in DeclarationIn.model_fields if share_driver or f != "driver"]
    return sorted([*ENVELOPE, *data])


def condition(entry_country: str) -> str:
    return (
        f'entry_country == "{entry_country}" && declaration_type in ["export", "transit"] '
        '&& status != "submitted"'
    )


def default_id(crossing: str, exit_country: str, entry_country: str) -> str:
    return f"default-pre-arrival-{crossing}-{exit_country}-{entry_country}"


def booking_default_id(crossing: str, exit_country: str, entry_country: str) -> str:
    return f"default-booking-{crossing}-{exit_country}-{entry_country}"


def gate_events_default_id(crossing: str, exit_country: str, entry_country: str) -> str:
    return f"default-gate-events-{crossing}-{exit_country}-{entry_country}"


def kpi_default_id(crossing: str, side: str) -> str:
    return f"default-kpi-{crossing}-{side}"


def top_level(category: Category) -> list[str]:
    """Every top-level pointer of a category but personal data."""
    from silkgate.exchange.agreements.catalogue import spec

    cat = spec(category)
    return sorted(p for p in cat.pointers if p.count("/") == 1 and p not in cat.personal)


def booking_fields(share_driver: bool = False) -> list[str]:
    """Today's view of a booking from the other side: every top-level field but the driver
    (the driver too when the driver setting is on)."""
    return sorted([*top_level(Category.BOOKING), *(["/driver"] if share_driver else [])])


def _builtin(
    aid: str,
    version: int,
    provider: str,
    consumers: list[str],
    category: Category,
    fields: list[str],
    purposes: list[Purpose],
    places: list[str],
    crossing: str,
    condition: str | None = None,
    personal_data: bool = False,
) -> Agreement:
    """A shipped agreement's row (active, platform-proposed, from the legal basis, no end;
    not yet stored or signed)."""
    row = Agreement(
        agreement_id=aid,
        version=version,
        status=S.ACTIVE.value,
        provider=provider,
        consumers=consumers,
        category=category.value,
        fields=fields,
        purposes=sorted(p.value for p in purposes),
        places=places,
        crossings=[crossing],
        condition=condition,
        personal_data=personal_data,
        valid_from=LEGAL_BASIS_FROM,
        valid_until=None,
        builtin=True,
        terms_digest="",
        proposed_by=PLATFORM,
    )
    row.terms_digest = digest(row)
    return row


def default_row(crossing: str, x: str, y: str, share_driver: bool, version: int) -> Agreement:
    """The default agreement of one crossing and direction (not yet stored or signed)."""
    return _builtin(
        default_id(crossing, x, y),
        version,
        x,
        [y],
        Category.PRE_ARRIVAL,
        pre_arrival_fields(share_driver),
        [Purpose.CUSTOMS_CONTROL],
        [y],
        crossing,
        condition(y),
        share_driver,
    )


def booking_row(crossing: str, x: str, y: str, version: int, share_driver: bool) -> Agreement:
    """The default booking agreement of one crossing and direction (not yet stored or signed)."""
    return _builtin(
        booking_default_id(crossing, x, y),
        version,
        x,
        [y],
        Category.BOOKING,
        booking_fields(share_driver),
        [Purpose.CUSTOMS_CONTROL, Purpose.QUEUE_MANAGEMENT],
        [y],
        crossing,
        None,
        share_driver,
    )


def _shipped(
    aid: str,
    provider: str,
    consumers: list[str],
    category: Category,
    purposes: list[Purpose],
    places: list[str],
    crossing: str,
) -> Agreement:
    """A builtin agreement sharing every non-personal top-level field (version 1, unsigned)."""
    return _builtin(
        aid, 1, provider, consumers, category, top_level(category), purposes, places, crossing
    )


def gate_events_row(crossing: str, x: str, y: str) -> Agreement:
    """X's gate events of a crossing for Y's customs (today's "customs see both sides")."""
    purposes = [Purpose.CUSTOMS_CONTROL, Purpose.QUEUE_MANAGEMENT]
    aid = gate_events_default_id(crossing, x, y)
    return _shipped(aid, x, [y], Category.GATE_EVENTS, purposes, [y], crossing)


def kpi_row(crossing: str, x: str, analysts: list[tuple[str, str]]) -> Agreement:
    """X's side of a crossing's KPIs for the analysts and administrators (member id, country)."""
    consumers = sorted({m for m, _ in analysts})
    places = sorted({c for _, c in analysts})
    aid = kpi_default_id(crossing, x)
    return _shipped(
        aid, x, consumers, Category.KPI_AGGREGATES, [Purpose.STATISTICS], places, crossing
    )


def analysts(s: Session) -> list[tuple[str, str]]:
    """Active organizations with the analyst or administrator role: (member id, country)."""
    rows = s.execute(
        select(Organization.member_id, Organization.country, Organization.roles).where(
            Organization.active.is_(True)
        )
    )
    wanted = {Role.ANALYST.value, Role.ADMIN.value}
    return sorted((m, c) for m, c, roles in rows if wanted & set(roles))


def _rows(
    crossing: str, x: str, y: str, share_driver: bool, readers: list[tuple[str, str]]
) -> list[tuple[str, Agreement]]:
    """Every default of one crossing and direction, as (id, version-1 row)."""
    out = [
        (default_id(crossing, x, y), default_row(crossing, x, y, share_driver, 1)),
        (booking_default_id(crossing, x, y), booking_row(crossing, x, y, 1, share_driver)),
        (gate_events_default_id(crossing, x, y), gate_events_row(crossing, x, y)),
    ]
    if readers:
        out.append((kpi_default_id(crossing, x), kpi_row(crossing, x, readers)))
    return out


def served_crossings(s: Session) -> list[str]:
    """Crossings with at least one customs organization assigned."""
    rows = s.execute(
        select(CrossingAssignment.crossing_code, Organization.roles).join(
            Organization, Organization.id == CrossingAssignment.organization_id
        )
    )
    return sorted({code for code, roles in rows if Role.CUSTOMS.value in roles})


def ensure_defaults(
    s: Session,
    signer: AuditSigner,
    crossings: Iterable[str],
    share_driver: bool,
    actor: str,
    now: datetime | None = None,
) -> list[str]:
    """Store (or bring up to date) the defaults of ``crossings``; returns the ids written."""
    now = now or datetime.now(UTC)
    events: list[AuditEvent] = []
    written = []
    readers = analysts(s)
    for code in sorted(set(crossings)):
        crossing = s.get(Crossing, code)
        if crossing is None or len(crossing.countries) != 2:
            continue
        a, b = crossing.countries
        for x, y in ((a, b), (b, a)):
            for aid, fresh in _rows(code, x, y, share_driver, readers):
                rows = list(s.scalars(select(Agreement).where(Agreement.agreement_id == aid)))
                current = max(rows, key=lambda r: r.version) if rows else None
                if current is not None and not (current.builtin and current.status == "active"):
                    continue  # the parties replaced or revoked it: their word stands
                fresh.version = (current.version + 1) if current else 1
                fresh.terms_digest = digest(fresh)
                if _write(s, signer, actor, now, current, fresh, events):
                    written.append(aid)
    append(s, signer, events)
    return written


def _write(
    s: Session,
    signer: AuditSigner,
    actor: str,
    now: datetime,
    current: Agreement | None,
    row: Agreement,
    events: list[AuditEvent],
) -> bool:
    """Store ``row`` as the next builtin version unless ``current`` already has its terms."""
    aid = row.agreement_id
    if current is not None and terms(current) == {**terms(row), "version": current.version}:
        return False
    row.proposed_at = row.activated_at = now
    s.add(row)
    s.flush()
    if current is not None:
        current.status, current.ended_at, current.ended_by = S.SUPERSEDED.value, now, actor
        current.end_reason = f"superseded by builtin version {row.version}"
    s.add(
        AgreementSignature(
            row_id=row.id,
            party=PLATFORM,
            signer=PLATFORM,
            public_key=signer.public_key,
            signature=signer.sign(signing_input(row)),
            signed_at=now,
        )
    )
    s.flush()
    state = {
        "agreement_id": aid,
        "version": row.version,
        "status": row.status,
        "terms_digest": row.terms_digest,
        "signed_by": [PLATFORM],
    }
    events.append(
        AuditEvent(actor, "agreement.seeded", "agreement", aid, {"terms": terms(row)}, state=state)
    )
    return True

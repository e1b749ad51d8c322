"""Records as the policy decision reads them, built from each domain's rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from silkgate.declarations.access import lodged_with
from silkgate.declarations.models import Declaration
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.policy import Record

if TYPE_CHECKING:
    from silkgate.gates.models import GateEvent
    from silkgate.queue.models import Booking


def declaration_record(d: Declaration, category: Category = Category.DECLARATION) -> Record:
    """A declaration: made by its declarant, lodged with the customs of ``lodged_with``."""
    return Record(
        category,
        owner=d.declarant,
        authority=lodged_with(d),
        crossing=d.crossing_code,
        exit_country=d.exit_country,
        entry_country=d.entry_country,
        declaration_type=d.type,
        status=d.status,
    )


def risk_record(d: Declaration, category: Category) -> Record:
    """A declaration's lane, score and reasons, or inspection result: the lodging customs'
    own findings, so no owner (the declarant does not read them), authority the lodging state."""
    return Record(
        category,
        authority=lodged_with(d),
        crossing=d.crossing_code,
        exit_country=d.exit_country,
        entry_country=d.entry_country,
        declaration_type=d.type,
        status=d.status,
    )


def booking_record(b: Booking, parties: Iterable[str] = ()) -> Record:
    """A booking: made by the booking organization, held by the exit side (whose queue it is);
    ``parties``: declarants of the declarations it moves."""
    return Record(
        Category.BOOKING,
        owner=b.organization,
        authority=b.exit_country,
        crossing=b.crossing_code,
        exit_country=b.exit_country,
        entry_country=b.entry_country,
        status=b.status,
        parties=frozenset(parties),
    )


def gate_event_record(e: GateEvent, parties: Iterable[str] = ()) -> Record:
    """A gate event: made by the reporting checkpoint's organization, held by the reporting
    side's state; ``parties``: organizations with a stake in the truck's passage (the declarant
    of a declaration it names, the organization that booked the truck)."""
    return Record(
        Category.GATE_EVENTS,
        owner=e.reporter,
        authority=e.side,
        crossing=e.crossing_code,
        parties=frozenset(parties),
    )


def kpi_record(crossing: str, side: str) -> Record:
    """One side's share of a crossing's KPIs and aggregates: held by that side's state (the
    figures are computed from both sides' events, so each side's state holds them)."""
    return Record(Category.KPI_AGGREGATES, authority=side, crossing=crossing)

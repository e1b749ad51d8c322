"""What the lake holds: one dataset per operational table, its columns, key and change marker.

Each dataset is a Core ``SELECT`` whose first columns are the change cursor (marker, then the
key parts that break ties), then the exported columns, among them the sources of the partition
columns. The lake holds trade data, not personal data: drivers, party names and identifiers,
plates, VINs and free-text notes stay in the operational database; a truck and a trader are
keyed pseudonyms (``truck_ref``, ``trader_ref``) so their records can still be joined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import ColumnElement, Select, and_, case, func, select

from silkgate.declarations.models import Declaration, DeclarationVersion, GoodsItem
from silkgate.gates.models import GateEvent, GateEventRef
from silkgate.queue.models import Booking, CapacityCap, DayPlan
from silkgate.risk.platform.models import InspectionResult, RiskAssessment

TS = pa.timestamp("us", tz="UTC")
STR, INT, F64, BOOL, DATE = pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.date32()

#: Columns a lake file's partition is derived from, outermost first: residency decisions take or
#: leave whole country subtrees; the day gives the partition's month (``lake.partition_key``).
PARTITION = ("owner_country", "crossing", "date")


#: Registry roles that lodge declarations, in the order ``declarant_role`` picks one when an
#: organization holds several (see docs/analytics.md).
DECLARANT_ROLE_ORDER = ("broker", "customs-service", "carrier", "e-port")

Where = list[ColumnElement[bool]]
#: The SQL dialect a query is read with, or None when it is only counted.
Reading = str | None


@dataclass(frozen=True)
class Dataset:
    """One exported table.

    ``cursor``: output names of the change marker then the key parts, compared as a tuple so
    rows sharing a marker are neither skipped nor exported twice. ``query(where, dialect)``: the
    rows, with the change window ``where`` (built on ``cursor_sql``) applied; ``dialect`` None
    when the rows are only counted (derived columns left out). ``day_of``: the column
    whose crossing-local day is the ``date`` partition. ``owner``/``crossing``: the columns
    holding those partition values, or ``office`` when they come from a customs office code.
    ``pseudonymise``: columns read in clear and written as keyed pseudonyms;
    ``declarant_role``: a column read as an organization id and written as its declarant
    role; ``required``: columns whose null rejects the row, with the reason. ``latest``: how a
    reader keeps each record's latest version: ``key`` (the last exported row of each key),
    ``max_version`` (the rows of each declaration's highest version) or ``once`` (rows never
    change once written and are exported once: read as they are). ``moves``: what the export's
    supersession markers (``moves.py``) follow: ``record`` (a record's later version; the
    latest view drops what they supersede) or ``declaration_version`` (a later version of the
    row's declaration; the view keeps every row — each is a record of its own — and
    ``<dataset>_current`` drops them, for jobs that pick a declaration's latest row).
    """

    name: str
    description: str
    key: tuple[str, ...]
    cursor: tuple[str, ...]
    columns: tuple[tuple[str, pa.DataType], ...]
    query: Callable[[Where, Reading], Select[*tuple[Any, ...]]]
    cursor_sql: Callable[[], tuple[Any, ...]]
    day_of: str
    owner: str
    crossing: str
    latest: str = "key"
    pseudonymise: tuple[str, ...] = ()
    declarant_role: str | None = None
    required: tuple[tuple[str, str], ...] = ()
    moves: str = "record"

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([*self.columns, ("owner_country", STR), ("crossing", STR), ("date", DATE)])


def _lodging_state(of: Callable[[str], ColumnElement[Any]] | None = None) -> ColumnElement[str]:
    """The country whose customs the declaration (``of``: a version, by its own columns) is
    lodged with (``access.lodged_with``)."""
    col = of or (lambda name: getattr(Declaration, name))
    return case((col("type") == "import", col("entry_country")), else_=col("exit_country"))


NO_TRADER = (
    "no lodging-side trader: the version lacks /exporter (import: /importer) country or identifier"
)
NO_ROLE = (
    "the declarant organization holds none of the roles broker, customs-service, carrier, e-port"
)


def _declarations(where: Where, _dialect: Reading) -> Select[*tuple[Any, ...]]:
    """Declarations with the lodging-side trader of their current version (a stored column:
    parsing every payload was most of this export's time on PostgreSQL)."""
    d, v = Declaration, DeclarationVersion
    return (
        select(
            d.updated_at.label("updated_at"),
            d.id.label("declaration_id"),
            d.lrn,
            d.type,
            d.status,
            d.version,
            d.declarant,
            d.crossing_code,
            d.exit_country,
            d.entry_country,
            d.item_count,
            d.total_gross_kg,
            d.total_invoice_value,
            d.currency,
            d.lane,
            d.submitted_at,
            _lodging_state().label("lodging_state"),
            v.trader.label("trader_ref"),
            d.declarant_org_id.label("declarant_role"),
        )
        .outerjoin(v, (v.declaration_id == d.id) & (v.version == d.version))
        .where(and_(True, *where))
    )


#: The goods-item columns a version gives of its own, in the dataset's order.
VERSION_OWN = ("currency", "type", "exit_country", "entry_country", "crossing_code")


def _own(column: str) -> ColumnElement[Any]:
    """A version's own value of a declaration column (``VERSION_ROUTING``): an amendment may
    have changed it since; the declaration's only where the version's payload lacked it."""
    return func.coalesce(getattr(DeclarationVersion, column), getattr(Declaration, column))


def _goods_items(where: Where, _dialect: Reading) -> Select[*tuple[Any, ...]]:
    """Items of the versions in the change window, with their version's lodging-side trader,
    type, crossing, direction and currency (an older version's own, not the current ones)."""
    d, v, g = Declaration, DeclarationVersion, GoodsItem
    return (
        select(
            v.created_at.label("version_created_at"),
            g.declaration_id,
            g.version,
            g.item_no,
            g.hs_code,
            g.hs6,
            g.description,
            g.origin_country,
            g.packages,
            g.gross_mass_kg,
            g.net_mass_kg,
            g.invoice_value,
            g.customs_value,
            *(_own(c).label(c) for c in VERSION_OWN),
            d.submitted_at,
            _lodging_state(_own).label("lodging_state"),
            v.trader.label("trader_ref"),
        )
        .select_from(v)
        .join(d, d.id == v.declaration_id)
        .join(g, (g.declaration_id == v.declaration_id) & (g.version == v.version))
        .where(and_(True, *where))
    )


def _lane_changed() -> ColumnElement[Any]:
    return func.coalesce(RiskAssessment.overridden_at, RiskAssessment.assessed_at)


def _lanes(where: Where, _dialect: Reading) -> Select[*tuple[Any, ...]]:
    a = RiskAssessment
    return select(
        _lane_changed().label("changed_at"),
        a.id.label("assessment_id"),
        a.declaration_id,
        a.version,
        a.office,
        a.direction,
        a.lane.label("assessed_lane"),
        a.override_lane,
        func.coalesce(a.override_lane, a.lane).label("final_lane"),
        a.source,
        a.score,
        a.model_id,
        a.profile_version,
        a.assessed_at,
        a.overridden_at,
    ).where(and_(True, *where))


def _inspections(where: Where, _dialect: Reading) -> Select[*tuple[Any, ...]]:
    r = InspectionResult
    return select(
        r.recorded_at,
        r.id.label("inspection_id"),
        r.declaration_id,
        r.version,
        r.office,
        r.outcome,
        func.json_array_length(r.findings).label("findings"),
        r.duties_amount,
        r.duties_currency,
    ).where(and_(True, *where))


def _bookings(where: Where, _dialect: Reading) -> Select[*tuple[Any, ...]]:
    b = Booking
    return select(
        b.updated_at,
        b.id.label("booking_id"),
        b.organization,
        b.crossing_code,
        b.exit_country,
        b.entry_country,
        b.day,
        b.hour,
        b.starts_at,
        b.quota_class,
        (b.tractor_nationality + ":" + b.tractor_plate).label("truck_ref"),
        b.tractor_nationality,
        func.json_array_length(b.declaration_ids).label("declarations"),
        b.status,
        b.reschedules,
        b.displaced,
        b.no_show_at,
        b.created_at,
    ).where(and_(True, *where))


def _gate_events(where: Where, _dialect: Reading) -> Select[*tuple[Any, ...]]:
    e = GateEvent
    return select(
        e.record_time,
        e.event_id,
        e.crossing_code,
        e.side,
        e.read_point,
        e.biz_step,
        e.disposition,
        e.truck.label("truck_ref"),
        e.event_time,
        e.event_offset,
        e.corrects,
        e.reporter,
    ).where(and_(True, *where))


def _gate_event_refs(where: Where, _dialect: Reading) -> Select[*tuple[Any, ...]]:
    e, r = GateEvent, GateEventRef
    return (
        select(
            e.record_time,
            r.event_id,
            r.ref_type,
            r.ref,
            e.event_time,
            e.crossing_code,
            e.side,
        )
        .join(e, e.event_id == r.event_id)
        .where(and_(True, *where))
        .distinct()  # an event naming one reference twice: written once, read as written
    )


DECLARATION_COLUMNS = (
    ("updated_at", TS), ("declaration_id", STR), ("lrn", STR), ("type", STR),
    ("status", STR), ("version", INT), ("declarant", STR), ("crossing_code", STR),
    ("exit_country", STR), ("entry_country", STR), ("item_count", INT),
    ("total_gross_kg", F64), ("total_invoice_value", F64), ("currency", STR),
    ("lane", STR), ("submitted_at", TS), ("lodging_state", STR), ("trader_ref", STR),
    ("declarant_role", STR),
)  # fmt: skip

GOODS_ITEM_COLUMNS = (
    ("version_created_at", TS), ("declaration_id", STR), ("version", INT),
    ("item_no", INT), ("hs_code", STR), ("hs6", STR), ("description", STR),
    ("origin_country", STR), ("packages", INT), ("gross_mass_kg", F64),
    ("net_mass_kg", F64), ("invoice_value", F64), ("customs_value", F64),
    ("currency", STR), ("type", STR), ("exit_country", STR), ("entry_country", STR),
    ("crossing_code", STR), ("submitted_at", TS), ("lodging_state", STR),
    ("trader_ref", STR),
)  # fmt: skip

LANE_COLUMNS = (
    ("changed_at", TS), ("assessment_id", INT), ("declaration_id", STR),
    ("version", INT), ("office", STR), ("direction", STR), ("assessed_lane", STR),
    ("override_lane", STR), ("final_lane", STR), ("source", STR), ("score", F64),
    ("model_id", STR), ("profile_version", INT), ("assessed_at", TS),
    ("overridden_at", TS),
)  # fmt: skip

INSPECTION_COLUMNS = (
    ("recorded_at", TS), ("inspection_id", INT), ("declaration_id", STR),
    ("version", INT), ("office", STR), ("outcome", STR), ("findings", INT),
    ("duties_amount", F64), ("duties_currency", STR),
)  # fmt: skip

BOOKING_COLUMNS = (
    ("updated_at", TS), ("booking_id", STR), ("organization", STR),
    ("crossing_code", STR), ("exit_country", STR), ("entry_country", STR),
    ("day", DATE), ("hour", INT), ("starts_at", TS), ("quota_class", STR),
    ("truck_ref", STR), ("tractor_nationality", STR), ("declarations", INT),
    ("status", STR), ("reschedules", INT), ("displaced", BOOL),
    ("no_show_at", TS), ("created_at", TS),
)  # fmt: skip

GATE_EVENT_COLUMNS = (
    ("record_time", TS), ("event_id", STR), ("crossing_code", STR), ("side", STR),
    ("read_point", STR), ("biz_step", STR), ("disposition", STR),
    ("truck_ref", STR), ("event_time", TS), ("event_offset", STR),
    ("corrects", STR), ("reporter", STR),
)  # fmt: skip

GATE_EVENT_REF_COLUMNS = (
    ("record_time", TS), ("event_id", STR), ("ref_type", STR), ("ref", STR),
    ("event_time", TS), ("crossing_code", STR), ("side", STR),
)  # fmt: skip


def _plan_changed() -> ColumnElement[Any]:
    """When the day's cap last changed: its planning, or a later cap of the route in force on
    the day (a cap change re-plans the day's cap without touching ``planned_at``, which
    the audit reads as the first planning)."""
    p, c = DayPlan, CapacityCap
    latest_cap = (
        select(func.max(c.set_at))
        .where(
            c.crossing_code == p.crossing_code,
            c.exit_country == p.exit_country,
            c.entry_country == p.entry_country,
            c.valid_from <= p.day,
        )
        .scalar_subquery()
    )
    return case((latest_cap > p.planned_at, latest_cap), else_=p.planned_at)


def _queue_day_plans(where: Where, _dialect: Reading) -> Select[*tuple[Any, ...]]:
    p = DayPlan
    return select(
        _plan_changed().label("changed_at"),
        p.id.label("plan_id"),
        p.crossing_code,
        p.exit_country,
        p.entry_country,
        p.day,
        p.daily_cap,
        p.planned_at,
    ).where(and_(True, *where))


#: The cursor's tie-break is the plan's row id: the key's ``day`` (a date) cannot be carried
#: in a watermark, whose key parts are strings and integers.
QUEUE_DAY_PLAN_COLUMNS = (
    ("changed_at", TS), ("plan_id", INT), ("crossing_code", STR), ("exit_country", STR),
    ("entry_country", STR), ("day", DATE), ("daily_cap", INT), ("planned_at", TS),
)  # fmt: skip


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="declarations",
            description="Current state of each declaration (one row per change exported).",
            key=("declaration_id",),
            cursor=("updated_at", "declaration_id"),
            columns=DECLARATION_COLUMNS,
            query=_declarations,
            cursor_sql=lambda: (Declaration.updated_at, Declaration.id),
            day_of="submitted_at",
            owner="lodging_state",
            crossing="crossing_code",
            pseudonymise=("trader_ref",),
            declarant_role="declarant_role",
            required=(("trader_ref", NO_TRADER), ("declarant_role", NO_ROLE)),
        ),
        Dataset(
            name="goods_items",
            description="Goods items of every version (a version's items never change).",
            key=("declaration_id", "version", "item_no"),
            cursor=("version_created_at", "declaration_id", "version"),
            columns=GOODS_ITEM_COLUMNS,
            query=_goods_items,
            cursor_sql=lambda: (
                DeclarationVersion.created_at,
                DeclarationVersion.declaration_id,
                DeclarationVersion.version,
            ),
            day_of="submitted_at",
            owner="lodging_state",
            crossing="crossing_code",
            latest="max_version",
            pseudonymise=("trader_ref",),
            required=(("trader_ref", NO_TRADER),),
        ),
        Dataset(
            name="lanes",
            description="Risk assessments: the lane given to each declaration version, overrides.",
            key=("assessment_id",),
            cursor=("changed_at", "assessment_id"),
            columns=LANE_COLUMNS,
            query=_lanes,
            cursor_sql=lambda: (_lane_changed(), RiskAssessment.id),
            day_of="assessed_at",
            owner="office",
            crossing="office",
            moves="declaration_version",
        ),
        Dataset(
            name="inspections",
            description="Inspection results (findings counted, officers' notes left out).",
            key=("inspection_id",),
            cursor=("recorded_at", "inspection_id"),
            columns=INSPECTION_COLUMNS,
            query=_inspections,
            cursor_sql=lambda: (InspectionResult.recorded_at, InspectionResult.id),
            latest="once",
            day_of="recorded_at",
            owner="office",
            crossing="office",
        ),
        Dataset(
            name="bookings",
            description="E-queue bookings and walk-ins (no plates, VINs or drivers).",
            key=("booking_id",),
            cursor=("updated_at", "booking_id"),
            columns=BOOKING_COLUMNS,
            query=_bookings,
            cursor_sql=lambda: (Booking.updated_at, Booking.id),
            day_of="day",
            owner="exit_country",
            crossing="crossing_code",
            pseudonymise=("truck_ref",),
        ),
        Dataset(
            name="gate_events",
            description="Signed gate events as recorded (corrections are rows of their own).",
            key=("event_id",),
            cursor=("record_time", "event_id"),
            columns=GATE_EVENT_COLUMNS,
            query=_gate_events,
            cursor_sql=lambda: (GateEvent.record_time, GateEvent.event_id),
            latest="once",
            day_of="event_time",
            owner="side",
            crossing="crossing_code",
            pseudonymise=("truck_ref",),
        ),
        Dataset(
            name="gate_event_refs",
            description="Declarations and bookings each gate event names (EPCIS bizTransaction).",
            key=("event_id", "ref_type", "ref"),
            cursor=("record_time", "event_id", "ref_type", "ref"),
            columns=GATE_EVENT_REF_COLUMNS,
            query=_gate_event_refs,
            cursor_sql=lambda: (
                GateEvent.record_time,
                GateEventRef.event_id,
                GateEventRef.ref_type,
                GateEventRef.ref,
            ),
            latest="once",
            day_of="event_time",
            owner="side",
            crossing="crossing_code",
        ),
        Dataset(
            name="queue_day_plans",
            description="E-queue days planned: the binding daily cap of a direction and day.",
            key=("crossing_code", "exit_country", "entry_country", "day"),
            cursor=("changed_at", "plan_id"),
            columns=QUEUE_DAY_PLAN_COLUMNS,
            query=_queue_day_plans,
            cursor_sql=lambda: (_plan_changed(), DayPlan.id),
            day_of="day",
            owner="exit_country",
            crossing="crossing_code",
        ),
    )
}

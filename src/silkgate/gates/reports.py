"""Loading stored events for the TRS figures and the twin's calibration file."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from silkgate.core.errors import FieldError, Forbidden, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.declarations.models import Declaration
from silkgate.gates import kpi
from silkgate.gates.models import GateEvent
from silkgate.gates.service import crossing_sides
from silkgate.gates.timeline import effective_events, refs_of
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller

KPI_ROLES = (Role.CUSTOMS, Role.E_PORT, Role.ANALYST, Role.ADMIN)


def local_time(e: GateEvent) -> datetime:
    """The event time at the reporter's offset (SQLite hands back naive UTC)."""
    at = e.event_time if e.event_time.tzinfo else e.event_time.replace(tzinfo=UTC)
    sign = -1 if e.event_offset.startswith("-") else 1
    hh, mm = e.event_offset[1:].split(":")
    return at.astimezone(timezone(sign * timedelta(hours=int(hh), minutes=int(mm))))


def load_passages(
    platform: Platform, crossing: str, start: datetime | None = None, end: datetime | None = None
) -> list[kpi.Passage]:
    """Passages at a crossing whose events lie in [start, end), with lane and pre-arrival."""
    if crossing not in crossing_sides():
        raise ValidationFailed([FieldError("/crossing", "unknown", f"no crossing {crossing}")])
    with platform.db.session() as s:
        where = GateEvent.crossing_code == crossing
        if start is not None:
            where = where & (GateEvent.event_time >= start)
        if end is not None:
            where = where & (GateEvent.event_time < end)
        events = effective_events(s, where)
        refs = refs_of(s, (e.event_id for e in events))
        decl_ids = {r for rs in refs.values() for r in rs}
        decls = (
            {
                d.id: (d.lane, d.submitted_at)
                for d in s.execute(
                    select(Declaration.id, Declaration.lane, Declaration.submitted_at).where(
                        Declaration.id.in_(decl_ids)
                    )
                )
            }
            if decl_ids
            else {}
        )
    evs = [
        kpi.Ev(
            e.truck,
            e.crossing_code,
            e.side,
            e.read_point,
            local_time(e),
            tuple(refs.get(e.event_id, [])),
        )
        for e in events
    ]
    ps = kpi.passages(evs, crossing_sides())
    for p in ps:
        ids = [r for e in p.events for r in e.refs]
        known = [decls[i] for i in ids if i in decls]
        if known:
            p.lane = known[0][0] or "none"
            sub = known[0][1] if known[0][1].tzinfo else known[0][1].replace(tzinfo=UTC)
            p.pre_arrival = "yes" if sub < p.arrival else "no"
    return ps


def _entitled(caller: Caller, crossing: str) -> None:
    if not (
        caller.has(Role.ANALYST, Role.ADMIN)
        or (caller.has(*KPI_ROLES) and crossing in caller.crossings)
    ):
        raise Forbidden(f"{caller.member_id} may not read KPIs of {crossing}")


def trs_report(
    platform: Platform,
    caller: Caller,
    crossing: str,
    start: datetime | None = None,
    end: datetime | None = None,
    target_h: float | None = None,
    as_of: datetime | None = None,
) -> kpi.TrsReport:
    _entitled(caller, crossing)
    ps = load_passages(platform, crossing, start, end)
    return kpi.trs(
        ps, target_h or platform.settings.kpi_release_target_hours, as_of or datetime.now(UTC)
    )


def throughput_report(
    platform: Platform,
    caller: Caller,
    crossing: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, object]]:
    _entitled(caller, crossing)
    return kpi.throughput(load_passages(platform, crossing, start, end))


def queue_report(
    platform: Platform,
    caller: Caller,
    crossing: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, object]]:
    _entitled(caller, crossing)
    return kpi.queue_length(load_passages(platform, crossing, start, end))


# readPoint pairs → the twin's stage kinds (stage names side.role.kind, as `twin calibrate` reads)
CALIBRATION_PAIRS = {
    "documents": ("document_control_start", "document_control_end"),
    "inspection": ("physical_inspection_start", "physical_inspection_end"),
}


@dataclass
class CalibrationExport:
    path: Path
    records: int
    passages: int


def export_for_calibration(
    platform: Platform,
    crossing: str,
    out: Path,
    start: datetime | None = None,
    end: datetime | None = None,
) -> CalibrationExport:
    """Write stage,truck,start,end (ISO 8601 with offsets) for each timed stage of each passage."""
    ps = load_passages(platform, crossing, start, end)
    n = 0
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["stage", "truck", "start", "end"])
        for i, p in enumerate(ps):
            for side, role in ((p.exit_side, "exit"), (p.entry_side, "entry")):
                for kind, (a, b) in CALIBRATION_PAIRS.items():
                    t0 = kpi.first_at(p.events, a, side)
                    t1 = kpi.first_at(p.events, b, side)
                    if t0 is None or t1 is None or t1 < t0:
                        continue
                    w.writerow(
                        [
                            f"{side.lower()}.{role}.{kind}",
                            f"{p.truck}#{i}",
                            t0.isoformat(),
                            t1.isoformat(),
                        ]
                    )
                    n += 1
    return CalibrationExport(out, n, len(ps))

"""The demo's crossing: caps, bookings and both checkpoints' signed gate events, in time order.

``play`` lodges the demo traffic as it was submitted, books a slot for each truck, and plays
Khorgos–Nur Zholy through the demo days: arrival at the waiting area, call-forward, the exit
side's controls (document control, in full for yellow and red lanes with the documentary check's
result for yellow, weighing, scanning, physical inspection for red with its result), exit gate,
neutral zone, the entry side's controls, release or refusal. Some trucks never come (the no-show
sweep marks them), some come late, a few bookings are cancelled or rescheduled, a few gate
events are corrected.

Everything goes through the service layer, the functions behind the API and the CLI: caps,
bookings, gate events (signed with the checkpoint's Ed25519 key and ingested through the real
path, so verified, stored and audited), declaration states, inspection results, the sweep.
``platform.clock`` — the time the services read — is set to the simulated time of each step,
so a booking is made before its slot and a sweep runs when it would have. Gate events carry
their own ``eventTime``; the audit log records when the demo ran.

Stage times follow ``twin/scenarios/khorgos-digital.toml`` (pre-arrival fast-track document
control, full document control for yellow and red lanes, X-ray shares per lane, physical
inspection for red) so that a scenario calibrated from the demo's events is comparable with the
shipped one.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.progress import Progress

from silkgate.core.cli_support import err_console
from silkgate.core.errors import Conflict, SilkgateError
from silkgate.core.platform import Platform
from silkgate.core.signing import load_private_key, public_key_b64, write_private_key_file
from silkgate.declarations import reading
from silkgate.declarations import service as declarations
from silkgate.declarations.schemas import DeclarationStatus
from silkgate.demo.traffic import CROSSING, TrafficGenerator
from silkgate.exchange.agreements.catalogue import Purpose
from silkgate.exchange.agreements.enforce import Asking
from silkgate.gates import service as gates
from silkgate.gates.ingest import event_id, sign_event
from silkgate.queue import noshow, waiting
from silkgate.queue import reading as bookings
from silkgate.queue import service as queue
from silkgate.queue.callforward import CF_CLASSES, call_order, round_of
from silkgate.queue.schemas import (
    PRIORITY_CLASSES,
    BookingIn,
    BookingOut,
    CapIn,
    Evidence,
    QuotaClass,
    SlotRef,
    StageIn,
)
from silkgate.registry import service as registry
from silkgate.risk.platform.schemas import Duties, Finding, FindingKind, InspectionIn
from silkgate.risk.platform.service import record_inspection
from silkgate.risk.platform.worker import assess_pending

DEMO_ACTOR = "demo"
#: The organizations that report gate events (each signs with its own key).
REPORTERS = ("cn-customs", "kz-customs", "cn-eport", "kz-eport")
#: Read points an e-port operator reports (infrastructure); customs report the controls.
EPORT_POINTS = frozenset(
    ("waiting_area", "called_forward", "gate_in", "weighing", "exit_gate", "neutral_zone",
     "entry_gate_in")
)  # fmt: skip
BIZ_STEP = {
    "waiting_area": "arriving",
    "called_forward": "arriving",
    "gate_in": "arriving",
    "entry_gate_in": "arriving",
    "exit_gate": "departing",
    "neutral_zone": "departing",
    "release": "accepting",
    "refusal": "holding",
}
#: Each checkpoint writes its local time: Beijing time, and Kazakhstan's single zone since 2024.
SIDE_TZ = {"CN": timezone(timedelta(hours=8)), "KZ": timezone(timedelta(hours=5))}
WINDOW = timedelta(minutes=30)  # the play advances in steps of this much simulated time

# Shares (ASSUMPTIONS, in line with khorgos-digital.toml and the e-queue notes: no-shows of
# 10-20 % are common at ports; lateness beyond the grace window is rarer).
NO_SHOW = 0.08
LATE = 0.06
CANCEL = 0.03
RESCHEDULE = 0.04
SCAN_SHARE = {"green": 0.10, "blue": 0.10, "yellow": 0.50, "red": 1.0}
OTHER_SIDE_INSPECTION = 0.03  # the side without the declaration's lane inspects at random
DISCREPANCY = 0.25  # of inspections (as the demo's inspections so far)
ENTRY_REFUSAL = 0.01  # refused at entry for reasons of other agencies (permits, phytosanitary)
CORRECT_EVERY = 40  # every 40th truck called has one customs event corrected
#: Daily caps per side and direction, as the notes give them: 1,000/day agreed from Sep 2025;
#: China accepted 700-750/day and Kazakhstan cut its e-queue to 650/day in Nov 2025.
CAPS = {("CN", "KZ"): {"CN": 1000, "KZ": 1000}, ("KZ", "CN"): {"CN": 750, "KZ": 650}}
QUOTAS = {QuotaClass.AEO_TIR: 0.2, QuotaClass.DANGEROUS_GOODS: 0.08, QuotaClass.PERISHABLES: 0.05}
LIVE_SHARE = 0.1
#: Trucks the border stage holds between call-forward and exit gate (ASSUMPTION).
STAGE_CAPACITY = {("CN", "KZ"): 10, ("KZ", "CN"): 6}
#: UN numbers a truck of these goods carries under ADR (lithium batteries in equipment,
#: vehicles with fuel); booking as dangerous goods is a choice the carrier may make.
DANGEROUS = {"847130": "UN3481", "870323": "UN3166", "870421": "UN3166"}


def minutes(m: float) -> timedelta:
    """Whole seconds: events are reported to the second."""
    return timedelta(seconds=round(m * 60))


def tri(rng: random.Random, low: float, mode: float, high: float) -> float:
    return rng.triangular(low, high, mode)


def lognormal(rng: random.Random, mean: float, sd: float) -> float:
    """A lognormal draw with this mean and standard deviation (the twin's parametrization)."""
    s2 = math.log(1 + (sd / mean) ** 2)
    return rng.lognormvariate(math.log(mean) - s2 / 2, math.sqrt(s2))


# ---------------------------------------------------------------- keys


def keys_folder(platform: Platform) -> Path:
    return platform.settings.keys_dir / "demo"


def signing_keys(
    platform: Platform, ids: dict[str, str], which: Iterable[str] = REPORTERS
) -> dict[str, Ed25519PrivateKey]:
    """Demo organizations' Ed25519 keys (by default the checkpoints'): kept in
    ``<data_dir>/keys/demo/`` (mode 0600) so later runs sign with the same key; the public
    halves are registered (audited) when they differ."""
    folder = keys_folder(platform)
    registered = {
        o.member_id: o.signing_public_key for o, _ in registry.list_organizations(platform)
    }
    keys = {}
    for key in which:
        path: Path = folder / f"{key}-ed25519.key"
        if path.exists():
            private = load_private_key(path.read_text().strip())
        else:
            private = Ed25519PrivateKey.generate()
            write_private_key_file(path, private)
        public = public_key_b64(private)
        if registered.get(ids[key]) != public:
            registry.register_signing_key(platform, ids[key], public, DEMO_ACTOR)
        keys[key] = private
    return keys


# ---------------------------------------------------------------- the trucks


@dataclass
class Trip:
    """One declaration's truck: from lodging to release (or wherever the demo's end finds it)."""

    n: int
    body: dict[str, Any]
    submitted: datetime  # when the declarant sends it (UTC)
    side: str  # the lodging side: exit country for exports and transit, entry for imports
    rng: random.Random  # the truck's own draws, so its story does not depend on the others'
    decl_id: str | None = None
    booking: BookingOut | None = None
    cf: str = "regular"
    arrival: datetime | None = None
    late: bool = False
    scanned: bool = False  # X-rayed on the exit side (the entry side recognises the image)
    data_found: bool = False  # the lodging side's inspection found a discrepancy

    @property
    def exit_c(self) -> str:
        return str(self.body["crossing"]["exit_country"])

    @property
    def entry_c(self) -> str:
        return str(self.body["crossing"]["entry_country"])

    @property
    def starts_at(self) -> datetime:
        assert self.booking is not None
        return self.booking.starts_at

    def queue_key(self) -> tuple[bool, datetime, str]:
        """The platform's order within a call-forward class: on-time trucks in slot order,
        then late ones in arrival order (``queue.callforward._queues``)."""
        assert self.booking is not None and self.arrival is not None
        return (self.late, self.arrival if self.late else self.starts_at, self.booking.id)


def cf_class(quota: QuotaClass, evidence: Evidence | None) -> str:
    """As ``queue.callforward.cf_class`` decides it for a stored booking."""
    if quota is QuotaClass.AEO_TIR:
        return "aeo"
    if quota in PRIORITY_CLASSES:
        return "priority_aeo_tir" if evidence and evidence.aeo_certificate else "priority"
    return "regular"


def vin_for(nationality: str, plate: str) -> str:
    """A stable 17-character VIN for a demo tractor (Sinotruk or MAN manufacturer prefix)."""
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    digest = hashlib.sha256(f"{nationality}:{plate}".encode()).digest()
    return ("LZZ" if nationality == "CN" else "WMA") + "".join(
        alphabet[b % len(alphabet)] for b in digest[:14]
    )


class _Recorder(TrafficGenerator):
    """The demo generator as is; it only remembers when each declaration was submitted."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.submitted: list[datetime] = []

    def declaration(self, when: datetime | None = None, lrn_prefix: str = "DEMO") -> dict[str, Any]:
        self.submitted.append(when or datetime(2026, 11, 1))
        return super().declaration(when, lrn_prefix)


# ---------------------------------------------------------------- the border stage


class Stage:
    """One direction's waiting area and border stage, calling trucks forward as the platform
    does (same interleave, same order within a class, a place held from call to exit gate)."""

    def __init__(self, play: Play, route: tuple[str, str], capacity: int) -> None:
        self.play = play
        self.route = route
        self.capacity = capacity
        self.pattern = round_of(play.platform.settings.queue_callforward_ratios)
        self.cursor = 0
        self.occupied = 0
        self.waiting: list[Trip] = []
        self.heap: list[tuple[datetime, int, str, Trip]] = []

    def arrive(self, trip: Trip) -> None:
        assert trip.arrival is not None
        heapq.heappush(self.heap, (trip.arrival, trip.n, "arrive", trip))

    def advance(self, until: datetime) -> None:
        while self.heap and self.heap[0][0] < until:
            at, _, kind, trip = heapq.heappop(self.heap)
            if kind == "arrive":
                self.play.gate(trip, trip.exit_c, "waiting_area", at)
                self.waiting.append(trip)
            else:
                self.occupied -= 1
            self._call(at)

    def _call(self, at: datetime) -> None:
        room = self.capacity - self.occupied
        if room <= 0 or not self.waiting:
            return
        queues = {c: sorted((t for t in self.waiting if t.cf == c), key=Trip.queue_key)
                  for c in CF_CLASSES}  # fmt: skip
        picks, self.cursor = call_order(cast(Any, queues), self.pattern, self.cursor, room)
        for trip in cast(list[Trip], picks):
            self.waiting.remove(trip)
            self.occupied += 1
            leaves = self.play.controls(trip, at)
            heapq.heappush(self.heap, (leaves, trip.n, "exit", trip))


# ---------------------------------------------------------------- the play


@dataclass
class PlayReport:
    """What the demo's crossing produced."""

    lodged: int = 0
    booked: int = 0
    not_booked: int = 0
    gate_events: int = 0
    corrections: int = 0
    inspections: int = 0
    bookings: dict[str, int] = field(default_factory=dict)  # by status at the end
    sample_truck: str | None = None  # NATIONALITY:PLATE of a truck released on the entry side
    skipped: str | None = None


@dataclass(order=True)
class _Act:
    at: datetime
    seq: int
    kind: str = field(compare=False)
    trip: Trip = field(compare=False)
    data: dict[str, Any] = field(compare=False, default_factory=dict)


class Play:
    """Lodging, booking and both checkpoints, stepped through the demo days."""

    def __init__(self, platform: Platform, ids: dict[str, str], seed: int, end: datetime) -> None:
        self.platform = platform
        self.ids = ids
        self.seed = seed
        self.end = end
        self.local = timezone(timedelta(hours=platform.settings.queue_utc_offset_hours))
        self.callers = {k: registry.caller_for(platform, ids[k]) for k in ids}
        self.declarant = {"CN": self.callers["cn-broker"], "KZ": self.callers["kz-service"]}
        self.customs = {"CN": self.callers["cn-customs"], "KZ": self.callers["kz-customs"]}
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.report = PlayReport()
        self.stages = {route: Stage(self, route, cap) for route, cap in STAGE_CAPACITY.items()}
        self._seq = itertools.count()
        self.books: list[_Act] = []  # bookings, cancellations, reschedules
        self.events: list[tuple[datetime, int, str, dict[str, Any]]] = []  # (sent, seq, org, ev)
        self.acts: list[_Act] = []  # declaration states and inspection results
        self.called = 0
        self.lanes: dict[str, str] = {}

    # -- time

    @contextmanager
    def at(self, when: datetime) -> Iterator[None]:
        """Run service calls with the platform clock at ``when``."""
        self.platform.clock = lambda: when
        yield

    # -- set-up

    def prepare(self, first_day: date, per_day: int) -> None:
        """Keys, caps for both directions from both sides, the border stages' capacities."""
        self.keys = signing_keys(self.platform, self.ids)
        start = datetime.combine(first_day, datetime.min.time(), self.local) - timedelta(hours=1)
        operator = {"CN": self.callers["cn-eport"], "KZ": self.callers["kz-customs"]}
        share = {("CN", "KZ"): 0.7, ("KZ", "CN"): 0.3}  # the generator's split
        with self.at(start.astimezone(UTC)):
            for (exit_c, entry_c), sides in CAPS.items():
                need = math.ceil(per_day * share[(exit_c, entry_c)] * 1.6)
                for side, cap in sides.items():
                    queue.set_cap(
                        self.platform,
                        operator[side],
                        CapIn(
                            crossing=CROSSING,
                            exit_country=exit_c,
                            entry_country=entry_c,
                            valid_from=first_day,
                            daily_cap=max(cap, need),
                            quotas=QUOTAS,
                            live_share=LIVE_SHARE,
                        ),
                    )
            for (exit_c, entry_c), capacity in STAGE_CAPACITY.items():
                eport = self.callers["cn-eport" if exit_c == "CN" else "kz-eport"]
                waiting.set_stage(
                    self.platform,
                    eport,
                    StageIn(
                        crossing=CROSSING,
                        exit_country=exit_c,
                        entry_country=entry_c,
                        capacity=capacity,
                    ),
                )

    # -- lodging

    def lodge(self, trips: list[Trip]) -> None:
        """Lodge trips submitted within one step, each side's in one batch, then assess them."""
        for side in ("CN", "KZ"):
            mine = [t for t in trips if t.side == side]
            if not mine:
                continue
            lodged = max(t.submitted for t in mine)
            with self.at(lodged):
                rep = declarations.create_batch(
                    self.platform, self.declarant[side], [t.body for t in mine]
                )
            for line in rep.lines:
                trip = mine[line.line - 1]
                trip.decl_id, trip.submitted = line.id, lodged
                if line.id:
                    self.report.lodged += 1
                    self._plan_booking(trip)
        with self.at(max(t.submitted for t in trips)):
            assess_pending(self.platform)  # lanes, as the API's assessor thread gives them

    # -- booking

    def _plan_booking(self, trip: Trip) -> None:
        """The declarant books soon after lodging, for when the truck will be ready."""
        at = min(
            trip.submitted + minutes(tri(trip.rng, 2, 10, 40)), self.end - timedelta(seconds=1)
        )
        self._push(self.books, at, "book", trip)

    def _push(self, heap: list[_Act], at: datetime, kind: str, trip: Trip, **data: Any) -> None:
        heapq.heappush(heap, _Act(at, next(self._seq), kind, trip, data))

    def _quota(self, trip: Trip) -> tuple[QuotaClass, Evidence | None]:
        body, rng = trip.body, trip.rng
        exporter = str(body["exporter"]["identifier"])
        aeo = hashlib.sha256(exporter.encode()).digest()[0] % 5 == 0  # a fifth of exporters
        aeo_ref = f"AEO{trip.exit_c}{exporter[:12]}" if aeo else None
        un = sorted({DANGEROUS[i["hs_code"][:6]] for i in body["goods_items"]
                     if i["hs_code"][:6] in DANGEROUS})  # fmt: skip
        if un and rng.random() < 0.6:
            return QuotaClass.DANGEROUS_GOODS, Evidence(
                un_numbers=un, adr_certificate=f"ADR{trip.n:07d}", aeo_certificate=aeo_ref
            )
        if (aeo or "tir_carnet" in body) and rng.random() < 0.85:
            return QuotaClass.AEO_TIR, (
                None if "tir_carnet" in body else Evidence(aeo_certificate=aeo_ref)
            )
        return QuotaClass.REGULAR, None

    def _book(self, trip: Trip, at: datetime) -> None:
        rng = trip.rng
        ready = trip.submitted + minutes(tri(rng, 60, 240, 720))  # the twin's lead time
        slot = max(ready, at).astimezone(self.local).replace(minute=0, second=0, microsecond=0)
        if slot <= at:
            slot += timedelta(hours=1)
        quota, evidence = self._quota(trip)
        transport, driver = trip.body["transport"], trip.body["driver"]
        party = self.declarant[trip.side]
        for _ in range(8):
            body = BookingIn(
                crossing=CROSSING,
                exit_country=trip.exit_c,
                entry_country=trip.entry_c,
                slot=SlotRef(day=slot.date(), hour=slot.hour),
                quota_class=quota,
                evidence=evidence,
                truck={
                    "tractor_nationality": transport["tractor_nationality"],
                    "tractor_plate": transport["tractor_plate"],
                    "vin": vin_for(transport["tractor_nationality"], transport["tractor_plate"]),
                },
                driver={
                    "name": driver["name"],
                    "document_number": driver["document_number"],
                    "document_country": driver["document_country"],
                },
                declaration_ids=[trip.decl_id],
            )
            try:
                with self.at(at):
                    trip.booking = queue.book(self.platform, party, body)
                break
            except Conflict as exc:
                codes = {e.code for e in exc.errors}
                if "slot_full" not in codes:
                    break  # the tractor already has an active booking: it does not come
                if quota is not QuotaClass.REGULAR:
                    quota, evidence = QuotaClass.REGULAR, None  # priority quota full: regular
                else:
                    slot += timedelta(hours=1)
            except SilkgateError:
                break
        if trip.booking is None:
            self.report.not_booked += 1
            return
        self.report.booked += 1
        trip.cf = cf_class(quota, evidence)
        self._fate(trip, at)

    def _fate(self, trip: Trip, booked_at: datetime) -> None:
        """No-show, cancellation, reschedule, late or on time."""
        rng = trip.rng
        r = rng.random()
        lead = trip.starts_at - booked_at
        if r < NO_SHOW:
            return
        r -= NO_SHOW
        if r < CANCEL:
            self._push(self.books, booked_at + lead * rng.uniform(0.2, 0.8), "cancel", trip)
            return
        r -= CANCEL
        cutoff = timedelta(hours=self.platform.settings.queue_reschedule_cutoff_hours)
        if r < RESCHEDULE and lead > cutoff + timedelta(minutes=30):
            self._push(self.books, booked_at + minutes(rng.uniform(5, 25)), "reschedule", trip)
            return
        r -= RESCHEDULE
        self._set_arrival(trip, booked_at, late=r < LATE)

    def _set_arrival(self, trip: Trip, not_before: datetime, late: bool) -> None:
        rng = trip.rng
        grace = 60 + self.platform.settings.queue_grace_minutes  # slot hour + grace window
        # late: beyond slot hour + grace; else the twin's lateness, kept within the grace
        offset = grace + tri(rng, 10, 60, 300) if late else min(tri(rng, -60, 0, 120), grace - 1)
        trip.arrival = max(trip.starts_at + minutes(offset), not_before + minutes(10))
        trip.late = late
        self.stages[(trip.exit_c, trip.entry_c)].arrive(trip)

    def _booking_act(self, act: _Act) -> None:
        trip = act.trip
        if act.kind == "book":
            self._book(trip, act.at)
            return
        assert trip.booking is not None
        party = self.declarant[trip.side]
        with self.at(act.at):
            if act.kind == "cancel":
                queue.cancel(self.platform, party, trip.booking.id, "load not ready")
                return
            later = trip.starts_at.astimezone(self.local) + timedelta(
                hours=trip.rng.choice((1, 2, 3, 4))
            )
            with contextlib.suppress(SilkgateError):  # that hour is full: the slot stays
                trip.booking = queue.reschedule(
                    self.platform,
                    party,
                    trip.booking.id,
                    SlotRef(day=later.date(), hour=later.hour),
                )
        self._set_arrival(trip, act.at, late=False)

    # -- the checkpoints

    def gate(
        self,
        trip: Trip,
        side: str,
        point: str,
        at: datetime,
        disposition: str | None = None,
        correct: bool = False,
    ) -> None:
        """Queue one gate event for sending at ``at`` (``correct``: first sent with a mistyped
        hour, then corrected by a new event naming it)."""
        assert trip.booking is not None and trip.decl_id is not None
        org = ("cn" if side == "CN" else "kz") + ("-eport" if point in EPORT_POINTS else "-customs")
        truck = trip.booking.truck
        event: dict[str, Any] = {
            "eventTime": at.astimezone(SIDE_TZ[side]).isoformat(),
            "bizStep": BIZ_STEP.get(point, "inspecting"),
            "readPoint": point,
            "crossing": CROSSING,
            "side": side,
            "truck": {"nationality": truck["tractor_nationality"], "plate": truck["tractor_plate"]},
            "bizTransactionList": [
                {"type": "declaration", "bizTransaction": trip.decl_id},
                {"type": "booking", "bizTransaction": trip.booking.id},
            ],
        }
        if disposition:
            event["disposition"] = disposition
        sent = at + minutes(tri(trip.rng, 10, 30, 90)) if correct else at
        if sent > at and sent < self.end:  # the fix must go out before the demo ends
            wrong = {**event, "eventTime": (at - timedelta(hours=10)).astimezone(SIDE_TZ[side])
                     .isoformat()}  # fmt: skip
            heapq.heappush(self.events, (at, next(self._seq), org, wrong))
            fix = {**event, "corrects": event_id(self.ids[org], wrong)}
            heapq.heappush(self.events, (sent, next(self._seq), org, fix))
            self.report.corrections += 1
            return
        heapq.heappush(self.events, (at, next(self._seq), org, event))

    def _lane(self, trip: Trip) -> str:
        assert trip.decl_id is not None
        decl = reading.get(self.platform, self.customs[trip.side], trip.decl_id)
        return decl.lane or "green"

    def controls(self, trip: Trip, called: datetime) -> datetime:
        """Both sides' events for a truck called forward at ``called``; returns when it passes
        the exit gate (its place in the stage frees then)."""
        rng, x, n = trip.rng, trip.exit_c, trip.entry_c
        lane = self._lane(trip)
        at_exit = trip.side == x  # the declaration's lane is the exit side's decision
        self.called += 1
        fix = "document_control_end" if self.called % CORRECT_EVERY == 0 else None

        def gate(side: str, point: str, at: datetime, disposition: str | None = None) -> None:
            self.gate(trip, side, point, at, disposition, correct=point == fix and side == x)

        def act(at: datetime, kind: str, **data: Any) -> None:
            self._push(self.acts, at, kind, trip, **data)

        t = called + minutes(rng.uniform(0.5, 2))  # the board shows the call
        gate(x, "called_forward", t)
        t += minutes(tri(rng, 5, 10, 20))  # the drive from the waiting area (twin: 15 min)
        gate(x, "gate_in", t)
        if at_exit:
            act(t, "at_border")
        full = lane in ("yellow", "red")
        t = self._side_controls(trip, x, t, lane if at_exit else None, gate, act)
        found_exit = trip.data_found if at_exit and full else False
        if found_exit:  # held until additional duties are paid; then released
            act(t, "held")
            t += minutes(tri(rng, 30, 90, 240))
        if at_exit:
            act(t, "released")
        t += minutes(tri(rng, 2, 5, 15))
        gate(x, "exit_gate", t, "conformant")
        leaves = t
        gate(x, "neutral_zone", t + minutes(tri(rng, 2, 4, 8)))
        t += minutes(tri(rng, 10, 20, 45))  # through the neutral zone (twin)
        gate(n, "entry_gate_in", t)
        if not at_exit:
            act(t, "at_border")
        t = self._side_controls(trip, n, t, None if at_exit else lane, gate, act, entry=True)
        found = (not at_exit) and full and trip.data_found
        if found:
            act(t, "held")
        t += minutes(tri(rng, 2, 5, 12))
        gate(n, "entry_controls", t)
        if (found and rng.random() < 0.5) or rng.random() < ENTRY_REFUSAL:
            t += minutes(tri(rng, 5, 20, 60))
            gate(n, "refusal", t, "non_conformant")
            if not at_exit:
                act(t, "rejected")
            return leaves
        if found:
            t += minutes(tri(rng, 30, 90, 240))
        t += minutes(tri(rng, 0.5, 1, 3))
        gate(n, "release", t, "conformant")
        if not at_exit:
            act(t, "released")
        return leaves

    def _side_controls(
        self,
        trip: Trip,
        side: str,
        t: datetime,
        lane: str | None,
        gate: Callable[..., None],
        act: Callable[..., None],
        entry: bool = False,
    ) -> datetime:
        """Document control, weighing (exit), scanning, physical inspection on one side.

        ``lane``: the declaration's lane when this side lodged it, else None (the other side
        checks documents on the fast track and scans or inspects at random). Yellow and red
        have their documents checked in full; yellow ends there (ASYCUDA's documentary check,
        its result recorded at the end of document control), red goes on to the physical
        inspection, whose result is recorded, as the twin sends only red to inspection."""
        rng = trip.rng
        full = lane in ("yellow", "red")
        t += minutes(tri(rng, 0.5, 2, 6))
        gate(side, "document_control_start", t)
        t += minutes(lognormal(rng, 36, 24) if full else tri(rng, 2, 4, 10))
        found = full and rng.random() < DISCREPANCY
        if full:
            trip.data_found = found
        documentary = lane == "yellow"
        gate(side, "document_control_end", t, "non_conformant" if documentary and found
             else "conformant")  # fmt: skip
        if documentary:
            act(t, "inspection", found=found, documentary=True)
        if not entry:
            t += minutes(tri(rng, 1, 3, 8))
            gate(side, "weighing", t)
        physical = lane == "red"
        inspect = physical or (lane is None and rng.random() < OTHER_SIDE_INSPECTION)
        share = SCAN_SHARE.get(lane or "green", 0.1)
        if entry and trip.scanned and not full:
            share = 0.0  # the sides recognise each other's X-ray images (2025)
        if rng.random() < share:
            trip.scanned = True
            t += minutes(tri(rng, 3, 5, 10))
            gate(side, "scanning", t, "non_conformant" if physical and found else "conformant")
        if inspect:
            t += minutes(tri(rng, 5, 15, 40))
            gate(side, "physical_inspection_start", t)
            t += minutes(lognormal(rng, 60, 30))
            gate(side, "physical_inspection_end", t, "non_conformant" if found else "conformant")
            if physical:
                act(t, "inspection", found=found, documentary=False)
        return t

    def _declaration_act(self, act: _Act) -> None:
        trip = act.trip
        assert trip.decl_id is not None
        officer = self.customs[trip.side]
        with self.at(act.at):
            if act.kind == "inspection":
                result = _inspection(trip.body, act.data["found"], act.data["documentary"])
                record_inspection(self.platform, officer, trip.decl_id, result)
                self.report.inspections += 1
                return
            to, reason = {
                "at_border": (DeclarationStatus.AT_BORDER, "gate-in"),
                "held": (DeclarationStatus.HELD, "discrepancy found"),
                "released": (DeclarationStatus.RELEASED, None),
                "rejected": (DeclarationStatus.REJECTED, "entry refused"),
            }[act.kind]
            declarations.transition(self.platform, officer, trip.decl_id, to, reason)

    # -- sending

    def _send(self, until: datetime) -> None:
        """Sign and ingest the events due before ``until``, one batch per reporting org."""
        due: dict[str, list[tuple[datetime, dict[str, Any]]]] = {}
        while self.events and self.events[0][0] < until:
            sent, _, org, event = heapq.heappop(self.events)
            due.setdefault(org, []).append((sent, event))
        for org, items in due.items():
            key = self.keys[org]
            signed = [{"event": e, "signature": sign_event(key, e)} for _, e in items]
            with self.at(items[-1][0]):
                rep = gates.ingest(self.platform, self.callers[org], signed)
            if rep.rejected:
                bad = next(line for line in rep.lines if line.status == "rejected")
                raise RuntimeError(f"demo gate event refused: {bad.errors}")
            self.report.gate_events += rep.stored
            if self.report.sample_truck is None:
                self.report.sample_truck = next(
                    (f"{e['truck']['nationality']}:{e['truck']['plate']}"
                     for _, e in items if e["readPoint"] == "release"),
                    None,
                )  # fmt: skip

    # -- the loop

    def run(self, trips: list[Trip], progress: Progress | None = None) -> None:
        start = min(t.submitted for t in trips).astimezone(self.local)
        t0 = start.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        steps = math.ceil((self.end - t0) / WINDOW)
        task = progress.add_task("demo crossing", total=steps) if progress else None
        pending = sorted(trips, key=lambda t: (t.submitted, t.n))
        i = 0
        while t0 < self.end:
            t1 = min(t0 + WINDOW, self.end)
            j = i
            while j < len(pending) and pending[j].submitted < t1:
                j += 1
            if j > i:
                self.lodge(pending[i:j])
                i = j
            while self.books and self.books[0].at < t1:
                self._booking_act(heapq.heappop(self.books))
            for stage in self.stages.values():
                stage.advance(t1)
            self._send(t1)
            while self.acts and self.acts[0].at < t1:
                self._declaration_act(heapq.heappop(self.acts))
            with self.at(t1):
                noshow.sweep(self.platform, DEMO_ACTOR)
            t0 = t1
            if progress is not None and task is not None:
                local_day = t0.astimezone(self.local).date()
                progress.update(task, advance=1, description=f"demo crossing {local_day}")

    def count_bookings(self) -> None:
        # both directions' bookings: the KZ side's reach CN customs under default-booking
        official = Asking(self.callers["cn-customs"], Purpose.QUEUE_MANAGEMENT.value)
        statuses: Counter[str] = Counter()
        cursor = None
        while True:
            page, cursor = bookings.list_bookings(
                self.platform, official, crossing=CROSSING, cursor=cursor, limit=500
            )
            statuses.update(b.status or "?" for b in page)
            if cursor is None:
                break
        self.report.bookings = dict(sorted(statuses.items()))


def _inspection(body: dict[str, Any], found: bool, documentary: bool) -> InspectionIn:
    """Checks find a discrepancy in about a quarter of the selected declarations (an assumption
    for the demo); duties of 10 % of the first item's value are then due."""
    if not found:
        note = "documents in order" if documentary else "goods as declared"
        return InspectionIn(outcome="no_discrepancy", note=note)
    item = body["goods_items"][0]
    duties = round(item["customs_value"] * 0.1, 2)
    return InspectionIn(
        outcome="discrepancy",
        findings=[Finding(kind=FindingKind.UNDERVALUATION, text="invoice below market", item=1)],
        additional_duties=Duties(amount=duties, currency=body["invoice"]["currency"]),
    )


def already_played(platform: Platform, ids: dict[str, str]) -> bool:
    """Whether the crossing already has bookings (a demo run before on this database)."""
    who = Asking(registry.caller_for(platform, ids["cn-customs"]), Purpose.QUEUE_MANAGEMENT.value)
    page, _ = bookings.list_bookings(platform, who, crossing=CROSSING, limit=1)
    return bool(page)


def play(
    platform: Platform,
    ids: dict[str, str],
    days: int,
    per_day: int,
    seed: int,
    end: datetime | None = None,
    lrn_prefix: str = "DEMO",
    crossing: bool = True,
) -> PlayReport:
    """Lodge ``days`` of traffic ending at ``end`` (default now) and play the crossing.

    Without ``crossing``, or on a database where the crossing already has bookings, the
    traffic is only lodged (the same seed would bring the same trucks back)."""
    end = (end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    p = Play(platform, ids, seed, end)
    local_end = end.astimezone(p.local)
    first = local_end.date() - timedelta(days=days - 1)
    gen = _Recorder(seed)
    trips: list[Trip] = []
    for d in range(days):
        day = first + timedelta(days=d)
        gen.submitted.clear()
        for body, when in zip(gen.day(day, per_day, lrn_prefix), gen.submitted, strict=True):
            at = min(when.replace(tzinfo=p.local).astimezone(UTC), end - timedelta(minutes=1))
            lodging = body["crossing"][
                "entry_country" if body["type"] == "import" else "exit_country"
            ]
            n = len(trips)
            trips.append(Trip(n, body, at, lodging, random.Random(f"{seed}:{n}")))
    original = platform.clock
    try:
        if not crossing:
            p.report.skipped = "--no-crossing"
            _lodge_only(p, trips)
        elif already_played(platform, ids):
            p.report.skipped = (
                "the crossing was played on this database before (start from a fresh database)"
            )
            _lodge_only(p, trips)
        else:
            p.prepare(first, per_day)
            with Progress(console=err_console, transient=False) as progress:
                p.run(trips, progress)
            p.count_bookings()
    finally:
        platform.clock = original
    return p.report


def _lodge_only(p: Play, trips: list[Trip]) -> None:
    """Lodge the traffic as submitted (no bookings, no gate events)."""
    by_hour: dict[datetime, list[Trip]] = {}
    for t in trips:
        by_hour.setdefault(t.submitted.replace(minute=0, second=0), []).append(t)
    with Progress(console=err_console) as progress:
        task = progress.add_task("demo traffic", total=len(trips))
        for hour in sorted(by_hour):
            group = by_hour[hour]
            for side in ("CN", "KZ"):
                mine = [t for t in group if t.side == side]
                if mine:
                    with p.at(max(t.submitted for t in mine)):
                        rep = declarations.create_batch(
                            p.platform, p.declarant[side], [t.body for t in mine]
                        )
                    p.report.lodged += rep.accepted
            progress.advance(task, len(group))
    assess_pending(p.platform)

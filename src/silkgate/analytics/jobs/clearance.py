"""Clearance jobs: WCO Time Release Study intervals from gate events, per side and across.

The intervals are those of ``gates/kpi.py`` (the platform's TRS figures), computed per side of
a crossing so that each side's figures stand on that side's events alone: a side whose data
may not be read where the job runs takes nothing away from the other side's figures.
"""

from __future__ import annotations

from silkgate.analytics.jobs.common import (
    CROSSING,
    SINCE,
    TRADERS,
    UNTIL,
    foreign,
    period_index,
    period_label,
    traders_of,
)
from silkgate.analytics.jobs.params import literal
from silkgate.analytics.jobs.spec import Chart, Job, Kind, Param
from silkgate.codelists.crossings import load_crossings

#: Read points that end a truck's passage at one side: leaving the exit side, released or
#: refused. ``neutral_zone`` (reported by the exit side after its exit gate) is between sides.
DEPARTURES = ("exit_gate", "release", "refusal")
#: Read points only the entry side reports (kpi.py tells the exit side by the same list).
ENTRY_POINTS = ("entry_gate_in", "entry_controls", "release")
#: Final lanes, least to most strict.
LANES = ("green", "blue", "yellow", "red")


def _sides() -> str:
    """Each crossing's sides as rows (crossing, side, other) from the crossings code list."""
    return " UNION ALL ".join(
        f"SELECT {literal(c.code)} AS crossing, {literal(a)} AS side, {literal(b)} AS other"
        for c in load_crossings()
        for a, b in (c.countries, c.countries[::-1])
    )


def _at_first_side(crossing: str, side: str) -> str:
    """1 for an event at the first of its crossing's two sides (code list order), else 0."""
    whens = " ".join(
        f"WHEN {literal(c.code)} THEN {literal(c.countries[0])}" for c in load_crossings()
    )
    return f"CASE WHEN {side} = CASE {crossing} {whens} END THEN 1 ELSE 0 END"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(literal(v) for v in values) + ")"


def _first(point: str) -> str:
    return f"min(CASE WHEN read_point = '{point}' THEN event_time END)"


def _hours(a: str, b: str) -> str:
    """Hours from ``a`` to ``b``; null unless both are known and ``b`` is not before ``a``."""
    return (
        f"CASE WHEN {b} >= {a} "
        f"THEN cast(unix_seconds({b}) - unix_seconds({a}) AS double) / 3600 END"
    )


def _of_interval(interval: str, column: str) -> str:
    """A row's figure for its ``interval``, from columns named per interval: ``column`` with
    ``{}`` standing for queue, dc (document control), pi (inspection) or total."""
    return (
        f"CASE {interval} WHEN 'queue' THEN {column.format('queue')} "
        f"WHEN 'document_control' THEN {column.format('dc')} "
        f"WHEN 'inspection' THEN {column.format('pi')} ELSE {column.format('total')} END"
    )


_RANK = " ".join(f"WHEN '{lane}' THEN {i}" for i, lane in enumerate(LANES, start=1))
_LANE = " ".join(f"WHEN {i} THEN '{lane}'" for i, lane in enumerate(LANES, start=1))
#: A running count up to the row itself, less the row: the same as a frame ending one row
#: before it, which DuckDB computes twice as slowly (a segment tree instead of a running sum).
#: Visits (departures at the event's side) and trips (releases and refusals) are counted over
#: one window per truck and crossing, one sort instead of two: the departures of each of the
#: crossing's two sides are counted apart (the gates service takes no event at another side).
_PASSAGE = (
    "(PARTITION BY crossing, truck_ref "
    "ORDER BY event_time, record_time, event_id ROWS UNBOUNDED PRECEDING)"
)
#: The three running counts (trips, departures at the crossing's first side, at its second)
#: are one sum of a number holding each in its own 21 bits: DuckDB computes every windowed sum
#: over the sorted rows apart, and each costs about as much again as the first. A count would
#: spill into the next field at 2**21 (two million events of one truck at one crossing); below
#: that every field is exact in each engine, read back with ``%`` and the division of a multiple
#: of the field's unit (exact in a double too). Spark's sum of bigints wraps past 2**63, which
#: three such fields never reach. The sum is cast back to a bigint: DuckDB sums bigints into a
#: 128-bit integer and PostgreSQL into a numeric, on which the ``%`` and division of every event
#: cost DuckDB about a tenth of this job (measured, docs/benchmarks.md).
_FIELD = 2**21


def _running(total: str) -> str:
    """The packed running ``total`` as the fields are read back from: a bigint."""
    return f"cast({total} AS bigint)"


_PACKED = _running(
    f"sum(ends_trip + {_FIELD} * departs * at_first_side "
    f"+ {_FIELD**2} * departs * (1 - at_first_side)) OVER {_PASSAGE}"
)
_TRIPS = f"running % {_FIELD}"
_AT_FIRST = f"cast((running % {_FIELD**2} - running % {_FIELD}) / {_FIELD} AS bigint)"
_AT_SECOND = f"cast((running - running % {_FIELD**2}) / {_FIELD**2} AS bigint)"
_TOTALS = "('arrival_to_departure', 'arrival_to_release')"
#: A trip counts when all its exit visits are at one side and all its entry visits at the
#: other: min = max per role and the two differ (count(DISTINCT …) costs a sort or a hash each).
_EXIT_SIDE = "CASE WHEN role = 'exit' THEN side END"
_ENTRY_SIDE = "CASE WHEN role = 'entry' THEN side END"
# A visit's lane is taken in the visit's own grouping: its events joined to the lanes of the
# declarations they name (an event naming two appears twice, which no min or max minds), so
# the numbered events are read once. A cell's trucks are counted per passage (``trucks_seen``),
# not per interval: each passage has a row in every interval of its role, and a cell's
# direction and side fix the role, so every interval of a cell has the same trucks. The trucks
# an interval was measured on are counted in the same pass: each truck of a cell once
# (``truck_rows``) with whether any of its passages was measured in each interval. A row with
# a lane is also held to the declarations of that lane its visits carried (``carried``,
# ``declarations_seen``) and to their traders: three trucks of a red row may carry one red
# declaration between them, or three of one trader; and an interval's figures to the
# declarations and traders of the visits it was measured on. A declaration's trader comes from
# the declarations the run may read (unknown, so small, when its partition is not).

_SQL = f"""
WITH sides AS (
  {_sides()}
), corrected AS (
  SELECT DISTINCT corrects FROM gate_events WHERE corrects IS NOT NULL
), events AS (
  SELECT e.event_id, e.crossing_code AS crossing, e.side, e.read_point, e.truck_ref,
         e.event_time, e.record_time, e.date, e.owner_country,
         CASE WHEN e.read_point IN {_in(DEPARTURES)} THEN 1 ELSE 0 END AS departs,
         CASE WHEN e.read_point IN ('release', 'refusal') THEN 1 ELSE 0 END AS ends_trip,
         {_at_first_side("e.crossing_code", "e.side")} AS at_first_side
  FROM gate_events e
  LEFT JOIN corrected c ON c.corrects = e.event_id
  WHERE c.corrects IS NULL AND e.read_point <> 'neutral_zone'
    AND ({{crossing}} = '' OR e.crossing_code = {{crossing}})
), numbered AS (
  SELECT event_id, crossing, side, read_point, truck_ref, event_time, date, owner_country,
         CASE WHEN at_first_side = 1 THEN {_AT_FIRST} ELSE {_AT_SECOND} END - departs AS visit,
         {_TRIPS} - ends_trip AS trip
  FROM (SELECT events.*, {_PACKED} AS running FROM events) p
), assessed AS (
  SELECT declaration_id, version, final_lane, owner_country,
         max(version) OVER (PARTITION BY declaration_id) AS top
  FROM lanes_current
), top_lanes AS (
  SELECT declaration_id, max(CASE final_lane {_RANK} ELSE 0 END) AS lane_rank,
         max({foreign()}) AS lane_foreign
  FROM assessed WHERE version = top
  GROUP BY declaration_id
), declaration_lanes AS (
  SELECT l.declaration_id, l.lane_rank, dc.trader_ref,
         greatest(l.lane_foreign, {foreign("dc.owner_country")}) AS lane_foreign
  FROM top_lanes l
  LEFT JOIN declarations dc ON dc.declaration_id = l.declaration_id
), event_lanes AS (
  SELECT r.event_id, d.declaration_id, d.lane_rank, d.lane_foreign, d.trader_ref
  FROM gate_event_refs r
  JOIN declaration_lanes d ON d.declaration_id = r.ref
  WHERE r.ref_type = 'declaration'
), named AS (
  SELECT n.*, l.declaration_id, l.lane_rank, l.lane_foreign, l.trader_ref
  FROM numbered n
  LEFT JOIN event_lanes l ON l.event_id = n.event_id
), carried AS (
  SELECT DISTINCT crossing, side, truck_ref, visit, declaration_id, lane_rank, trader_ref
  FROM named WHERE declaration_id IS NOT NULL
), visits AS (
  SELECT crossing, side, truck_ref, visit,
         min(trip) AS trip, min(date) AS arrival_day, min(event_time) AS arrival,
         max(CASE WHEN read_point IN {_in(ENTRY_POINTS)} THEN 1 ELSE 0 END) AS entering,
         {_first("exit_gate")} AS exit_gate, {_first("release")} AS released,
         max(CASE WHEN read_point = 'refusal' THEN 1 ELSE 0 END) AS refused,
         {_first("waiting_area")} AS waiting_area, {_first("gate_in")} AS gate_in,
         {_first("document_control_start")} AS dc_start,
         {_first("document_control_end")} AS dc_end,
         {_first("physical_inspection_start")} AS pi_start,
         {_first("physical_inspection_end")} AS pi_end,
         max({foreign()}) AS foreign_data,
         max(lane_rank) AS lane_rank, max(lane_foreign) AS lane_foreign
  FROM named
  GROUP BY crossing, side, truck_ref, visit
), timed AS (
  SELECT v.crossing, v.side, v.truck_ref, v.visit, v.trip, v.arrival_day, v.arrival, v.released,
         v.refused,
         CASE WHEN v.entering = 1 THEN 'entry' ELSE 'exit' END AS role,
         CASE WHEN v.entering = 1 THEN coalesce(s.other, '?') || '->' || v.side
              ELSE v.side || '->' || coalesce(s.other, '?') END AS direction,
         CASE WHEN v.entering = 1 THEN v.released ELSE v.exit_gate END AS departed_at,
         {_hours("v.waiting_area", "v.gate_in")} AS queue_h,
         {_hours("v.dc_start", "v.dc_end")} AS dc_h,
         {_hours("v.pi_start", "v.pi_end")} AS pi_h,
         {_hours("v.arrival", "CASE WHEN v.entering = 1 THEN v.released ELSE v.exit_gate END")}
           AS total_h,
         coalesce(v.lane_rank, 0) AS lane_rank,
         greatest(v.foreign_data, coalesce(v.lane_foreign, 0)) AS foreign_data
  FROM visits v
  LEFT JOIN sides s ON s.crossing = v.crossing AND s.side = v.side
), trips AS (
  SELECT crossing, truck_ref, trip,
         min(CASE WHEN role = 'exit' THEN side END) || '->'
           || min(CASE WHEN role = 'entry' THEN side END) AS direction,
         min(arrival_day) AS arrival_day, min(arrival) AS arrival,
         min(CASE WHEN role = 'entry' THEN released END) AS released,
         max(refused) AS refused, max(lane_rank) AS lane_rank, max(foreign_data) AS foreign_data
  FROM timed
  GROUP BY crossing, truck_ref, trip
  HAVING min({_EXIT_SIDE}) = max({_EXIT_SIDE}) AND min({_ENTRY_SIDE}) = max({_ENTRY_SIDE})
     AND min({_EXIT_SIDE}) <> min({_ENTRY_SIDE})
), names AS (
  SELECT 'queue' AS trs_interval UNION ALL SELECT 'document_control'
  UNION ALL SELECT 'inspection' UNION ALL SELECT 'arrival_to_departure'
), spans AS (
  SELECT t.crossing, t.direction, t.side, t.arrival_day, t.lane_rank, t.truck_ref,
         t.foreign_data, n.trs_interval, t.refused,
         CASE WHEN t.departed_at IS NULL AND t.refused = 0 THEN 1 ELSE 0 END AS open_passage,
         {_of_interval("n.trs_interval", "t.{}_h")} AS hours
  FROM timed t CROSS JOIN names n
  WHERE n.trs_interval <> 'queue' OR t.role = 'exit'
  UNION ALL
  SELECT crossing, direction, 'both', arrival_day, lane_rank, truck_ref, foreign_data,
         'arrival_to_release', refused,
         CASE WHEN released IS NULL AND refused = 0 THEN 1 ELSE 0 END,
         {_hours("arrival", "released")}
  FROM trips
), truck_rows AS (
  SELECT crossing, direction, side, {period_label("arrival_day")} AS period, lane_rank,
         truck_ref, max(queue_m) AS queue_m, max(dc_m) AS dc_m, max(pi_m) AS pi_m,
         max(total_m) AS total_m
  FROM (SELECT crossing, direction, side, arrival_day, lane_rank, truck_ref,
               CASE WHEN queue_h IS NOT NULL THEN 1 ELSE 0 END AS queue_m,
               CASE WHEN dc_h IS NOT NULL THEN 1 ELSE 0 END AS dc_m,
               CASE WHEN pi_h IS NOT NULL THEN 1 ELSE 0 END AS pi_m,
               CASE WHEN total_h IS NOT NULL THEN 1 ELSE 0 END AS total_m
        FROM timed
        UNION ALL
        SELECT crossing, direction, 'both', arrival_day, lane_rank, truck_ref, 0, 0, 0,
               CASE WHEN released >= arrival THEN 1 ELSE 0 END
        FROM trips) p
  WHERE arrival_day BETWEEN {{since}} AND {{until}}
  GROUP BY crossing, direction, side, {period_label("arrival_day")}, lane_rank, truck_ref
), trucks_seen AS (
  SELECT crossing, direction, side, period, lane_rank, count(truck_ref) AS trucks,
         count(CASE WHEN queue_m = 1 THEN truck_ref END) AS queue_trucks,
         count(CASE WHEN dc_m = 1 THEN truck_ref END) AS dc_trucks,
         count(CASE WHEN pi_m = 1 THEN truck_ref END) AS pi_trucks,
         count(CASE WHEN total_m = 1 THEN truck_ref END) AS total_trucks
  FROM truck_rows
  GROUP BY crossing, direction, side, period, lane_rank
), declarations_seen AS (
  SELECT crossing, direction, side, period, lane_rank, count(*) AS declarations,
         {TRADERS} AS traders,
         sum(queue_m) AS queue_d, sum(dc_m) AS dc_d, sum(pi_m) AS pi_d, sum(total_m) AS total_d,
         {traders_of("queue_m")} AS queue_t, {traders_of("dc_m")} AS dc_t,
         {traders_of("pi_m")} AS pi_t, {traders_of("total_m")} AS total_t
  FROM (
    SELECT r.crossing, r.direction, r.side, {period_label("r.arrival_day")} AS period,
           r.lane_rank, c.declaration_id, max(c.trader_ref) AS trader_ref,
           max(CASE WHEN r.queue_h IS NOT NULL THEN 1 ELSE 0 END) AS queue_m,
           max(CASE WHEN r.dc_h IS NOT NULL THEN 1 ELSE 0 END) AS dc_m,
           max(CASE WHEN r.pi_h IS NOT NULL THEN 1 ELSE 0 END) AS pi_m,
           max(CASE WHEN r.total_h IS NOT NULL THEN 1 ELSE 0 END) AS total_m
    FROM (SELECT crossing, direction, side, arrival_day, lane_rank, truck_ref, side AS at_side,
                 visit, queue_h, dc_h, pi_h, total_h
          FROM timed
          UNION ALL
          SELECT p.crossing, p.direction, 'both', p.arrival_day, p.lane_rank, t.truck_ref,
                 t.side, t.visit, NULL, NULL, NULL, {_hours("p.arrival", "p.released")}
          FROM trips p
          JOIN timed t ON t.crossing = p.crossing AND t.truck_ref = p.truck_ref
               AND t.trip = p.trip) r
    JOIN carried c ON c.crossing = r.crossing AND c.side = r.at_side
         AND c.truck_ref = r.truck_ref AND c.visit = r.visit AND c.lane_rank = r.lane_rank
    WHERE r.lane_rank > 0 AND r.arrival_day BETWEEN {{since}} AND {{until}}
    GROUP BY r.crossing, r.direction, r.side, {period_label("r.arrival_day")}, r.lane_rank,
             c.declaration_id
  ) g
  GROUP BY crossing, direction, side, period, lane_rank
), cells AS (
  SELECT crossing, direction, side, {period_label("arrival_day")} AS period,
         {period_index("arrival_day")} AS period_index, lane_rank,
         CASE lane_rank {_LANE} ELSE 'none' END AS lane, trs_interval,
         count(*) AS passages,
         sum(open_passage) AS open_passages,
         sum(refused) AS refused,
         count(hours) AS measured,
         avg(hours) AS mean_h,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_h,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_h,
         avg(CASE WHEN trs_interval NOT IN {_TOTALS} OR hours IS NULL THEN NULL
                  WHEN hours <= {{target_hours}} THEN 1 ELSE 0 END) AS within_target_share,
         max(foreign_data) AS foreign_data
  FROM spans
  WHERE arrival_day BETWEEN {{since}} AND {{until}}
  GROUP BY crossing, direction, side, {period_label("arrival_day")},
           {period_index("arrival_day")}, lane_rank, trs_interval
), shown AS (
  SELECT c.*, t.trucks, coalesce(d.declarations, 0) AS declarations,
         CASE WHEN d.declarations IS NULL THEN 0 ELSE d.traders END AS traders,
         c.foreign_data = 0
           OR (c.passages >= {{min_cell_size}} AND t.trucks >= {{min_cell_size}}
               AND (d.declarations IS NULL OR (d.declarations >= {{min_cell_size}}
                                               AND d.traders >= {{min_cell_size}})))
           AS publishable,
         c.foreign_data = 0
           OR (c.measured >= {{min_cell_size}}
               AND {_of_interval("c.trs_interval", "t.{}_trucks")} >= {{min_cell_size}}
               AND (d.declarations IS NULL
                    OR ({_of_interval("c.trs_interval", "d.{}_d")} >= {{min_cell_size}}
                        AND {_of_interval("c.trs_interval", "d.{}_t")} >= {{min_cell_size}})))
           AS figures_shown
  FROM cells c
  JOIN trucks_seen t ON t.crossing = c.crossing AND t.direction = c.direction
       AND t.side = c.side AND t.period = c.period AND t.lane_rank = c.lane_rank
  LEFT JOIN declarations_seen d ON d.crossing = c.crossing AND d.direction = c.direction
       AND d.side = c.side AND d.period = c.period AND d.lane_rank = c.lane_rank
)
SELECT c.crossing, c.direction, c.side, c.period, c.lane, c.trs_interval,
       c.passages, c.trucks, c.declarations, c.traders, c.open_passages, c.refused, c.measured,
       CASE WHEN c.figures_shown THEN c.mean_h END AS mean_h,
       CASE WHEN c.figures_shown THEN c.median_h END AS median_h,
       CASE WHEN c.figures_shown THEN c.p90_h END AS p90_h,
       CASE WHEN c.figures_shown THEN c.within_target_share END AS within_target_share,
       CASE WHEN c.figures_shown AND p.publishable AND p.figures_shown
            THEN c.median_h - p.median_h END AS median_change_h,
       c.foreign_data
FROM shown c
LEFT JOIN shown p ON p.crossing = c.crossing AND p.direction = c.direction
     AND p.side = c.side AND p.lane = c.lane AND p.trs_interval = c.trs_interval
     AND p.period_index = c.period_index - 1
"""

PERIOD = Param(
    "period",
    Kind.CHOICE,
    "Rows per calendar month (YYYY-MM) or ISO week (YYYY-Www, Monday to Sunday) of arrival.",
    "month",
    choices=("month", "week"),
)

CLEARANCE_TIMES = Job(
    name="clearance_times",
    title="Clearance times (Time Release Study) by crossing, side, period and lane",
    description=(
        "Hours a truck spends at each side of a crossing, from the checkpoints' gate events, "
        "as the platform's TRS figures define them: queue (waiting area to gate-in, exit "
        "side), document control, physical inspection (passages inspected only), arrival to "
        "departure at the side (first event to the exit gate on the exit side, to release on "
        "the entry side), and for trucks seen on both sides arrival to release across the "
        "crossing (side 'both'). Per crossing, direction, side, period of arrival, lane (the "
        "strictest final lane of the declarations the events name; 'none' without one) and "
        "interval: passages, trucks, the declarations of the row's lane they carried and those "
        "declarations' traders, passages "
        "still open (arrived, not yet departed) and refused, how many were measured, mean, "
        "median and 90th percentile in hours, the share departed within target_hours, and the "
        "median's change in hours against the previous period. A corrected gate event is "
        "replaced by its correction."
    ),
    sql=_SQL,
    datasets=("gate_events", "gate_event_refs", "lanes", "declarations"),
    keys=("crossing", "direction", "side", "period", "lane", "trs_interval"),
    cells=("passages", "trucks", "declarations", "traders"),
    params=(
        SINCE,
        UNTIL,
        CROSSING,
        PERIOD,
        Param(
            "target_hours",
            Kind.FLOAT,
            "Target for the share departed (released) within it, in hours (India's TRS: 48).",
            48.0,
            minimum=0.5,
            maximum=720,
        ),
    ),
    chart=Chart(
        x="period",
        y="median_h",
        series=("crossing", "direction", "side", "lane", "trs_interval"),
        kind="line",
        title="Median hours per interval",
    ),
    notes=(
        "since/until bound the day of arrival (crossing time, UTC+8) at the side; a passage "
        "that departs after until is still measured.",
        "passages, trucks, declarations, traders, open_passages and refused describe the row's "
        "group and "
        "repeat on each of its intervals; measured, mean_h, median_h and p90_h describe the "
        "interval.",
        "declarations counts only those of the row's lane: a red row's trucks may also carry "
        "green declarations, which make no row red; traders counts their traders (unknown when "
        "a declaration of them may not be read where the job runs).",
        "In rows holding data not the reader's own, figures measured on fewer passages or "
        "trucks (or, in a row with a lane, declarations of that lane or their traders) than "
        "the minimum cell "
        "size are withheld (null), and so is a change against such a period.",
    ),
)

JOBS = (CLEARANCE_TIMES,)

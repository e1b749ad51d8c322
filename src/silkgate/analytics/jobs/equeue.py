"""E-queue jobs: how bookings were used, and how much of the planned daily cap they filled."""

from __future__ import annotations

from silkgate.analytics.jobs.common import CROSSING, SINCE, UNTIL, foreign, period_label
from silkgate.analytics.jobs.spec import Chart, Job, Kind, Param

#: Statuses of a booked truck that reached the waiting area (the queue moves it on from
#: ``arrived`` to ``called``, ``in_checkpoint`` and ``exited``).
SHOWED = "('arrived', 'called', 'in_checkpoint', 'exited')"

_WHERE = "day BETWEEN {since} AND {until} AND ({crossing} = '' OR crossing_code = {crossing})"

_SQL = f"""
WITH booking_rows AS (
  SELECT crossing_code AS crossing, exit_country || '->' || entry_country AS direction, day,
         {period_label("day")} AS period, organization, truck_ref, status, reschedules,
         CASE WHEN quota_class = 'live' THEN 'walk_in'
              WHEN status = 'cancelled' THEN 'cancelled'
              WHEN status = 'expired' THEN 'expired'
              WHEN no_show_at IS NOT NULL OR status IN ('no_show', 'late') THEN 'no_show'
              WHEN status IN {SHOWED} THEN 'used'
              ELSE 'pending' END AS outcome,
         {foreign()} AS foreign_data
  FROM bookings
  WHERE {_WHERE}
), booked AS (
  SELECT crossing, direction, period,
         sum(CASE WHEN outcome <> 'walk_in' THEN 1 ELSE 0 END) AS bookings,
         count(DISTINCT CASE WHEN outcome <> 'walk_in' THEN organization END) AS organizations,
         sum(CASE WHEN outcome = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
         sum(CASE WHEN outcome = 'expired' THEN 1 ELSE 0 END) AS expired,
         sum(CASE WHEN outcome = 'no_show' THEN 1 ELSE 0 END) AS no_shows,
         sum(CASE WHEN outcome = 'no_show' AND status <> 'no_show' THEN 1 ELSE 0 END) AS late,
         sum(CASE WHEN outcome = 'used' THEN 1 ELSE 0 END) AS used,
         sum(CASE WHEN outcome = 'pending' THEN 1 ELSE 0 END) AS pending,
         sum(CASE WHEN outcome <> 'walk_in' THEN reschedules ELSE 0 END) AS reschedules,
         sum(CASE WHEN outcome = 'walk_in' THEN 1 ELSE 0 END) AS walk_ins,
         count(DISTINCT truck_ref) AS trucks,
         max(foreign_data) AS foreign_data
  FROM booking_rows
  GROUP BY crossing, direction, period
), used_days AS (
  SELECT crossing, direction, day, sum(CASE WHEN outcome = 'used' THEN 1 ELSE 0 END) AS used
  FROM booking_rows
  GROUP BY crossing, direction, day
), plans AS (
  SELECT crossing_code AS crossing, exit_country || '->' || entry_country AS direction, day,
         daily_cap, {foreign()} AS foreign_data
  FROM queue_day_plans
  WHERE {_WHERE}
), days AS (
  SELECT coalesce(p.crossing, u.crossing) AS crossing,
         coalesce(p.direction, u.direction) AS direction,
         coalesce(p.day, u.day) AS day, p.daily_cap,
         CASE WHEN p.day IS NULL THEN 0 ELSE coalesce(u.used, 0) END AS used_on_plan,
         CASE WHEN p.day IS NULL THEN 1 ELSE 0 END AS unplanned,
         coalesce(p.foreign_data, 0) AS foreign_data
  FROM plans p
  FULL OUTER JOIN used_days u
    ON u.crossing = p.crossing AND u.direction = p.direction AND u.day = p.day
), capped AS (
  SELECT crossing, direction, {period_label("day")} AS period,
         sum(daily_cap) AS planned_cap, sum(used_on_plan) AS used_on_plan,
         sum(unplanned) AS days_without_plan, max(foreign_data) AS foreign_data
  FROM days
  GROUP BY crossing, direction, {period_label("day")}
)
SELECT coalesce(b.crossing, c.crossing) AS crossing,
       coalesce(b.direction, c.direction) AS direction,
       coalesce(b.period, c.period) AS period,
       coalesce(b.bookings, 0) AS bookings, coalesce(b.organizations, 0) AS organizations,
       coalesce(b.cancelled, 0) AS cancelled, coalesce(b.expired, 0) AS expired,
       coalesce(b.no_shows, 0) AS no_shows, coalesce(b.late, 0) AS late,
       coalesce(b.used, 0) AS used, coalesce(b.pending, 0) AS pending,
       coalesce(b.reschedules, 0) AS reschedules, coalesce(b.walk_ins, 0) AS walk_ins,
       coalesce(b.trucks, 0) AS trucks,
       cast(b.no_shows AS double) / nullif(b.used + b.no_shows, 0) AS no_show_rate,
       c.planned_cap,
       cast(c.used_on_plan AS double) / nullif(c.planned_cap, 0) AS cap_utilization,
       coalesce(c.days_without_plan, 0) AS days_without_plan,
       greatest(coalesce(b.foreign_data, 0), coalesce(c.foreign_data, 0)) AS foreign_data
FROM booked b
FULL OUTER JOIN capped c
  ON c.crossing = b.crossing AND c.direction = b.direction AND c.period = b.period
"""

EQUEUE_USE = Job(
    name="equeue_use",
    title="E-queue use by crossing, direction and day or month",
    description=(
        "Bookings of the e-queue by crossing, direction (exit->entry country) and slot day "
        "or month, each in one outcome: cancelled, expired, no-show (the sweep marked it, or "
        "the truck came after its slot hour and grace: 'late', also counted apart), used "
        "(the truck arrived in time and went on through the checkpoint), pending (still "
        "confirmed); walk-ins (trucks registered without a booking, in the live share) apart. "
        "With the booking organizations, reschedules, the no-show rate (no-shows / (used + "
        "no-shows)), the planned daily caps of the days and cap utilization: used bookings "
        "on planned days / the sum of those days' caps; trucks: the distinct trucks booked or "
        "walked in."
    ),
    sql=_SQL,
    datasets=("bookings", "queue_day_plans"),
    keys=("crossing", "direction", "period"),
    # trucks (of bookings and walk-ins) hold a row of walk-ins alone to the minimum too: it has
    # no bookings and no booking organizations to be judged by (a walk-in's organization is the
    # official's who registered it)
    cells=("bookings", "organizations", "trucks"),
    params=(
        Param("since", Kind.DATE, "First slot day included (YYYY-MM-DD).", SINCE.default),
        Param("until", Kind.DATE, "Last slot day included (YYYY-MM-DD).", UNTIL.default),
        CROSSING,
        Param(
            "period",
            Kind.CHOICE,
            "Rows per slot day (YYYY-MM-DD) or month (YYYY-MM).",
            "day",
            choices=("day", "month"),
        ),
    ),
    chart=Chart(
        x="period",
        y="cap_utilization",
        series=("crossing", "direction"),
        kind="line",
        title="Share of the planned cap used by booked trucks",
    ),
    notes=(
        "Each booking counts once, on its slot day as it stands now (after any reschedule), "
        "in its current status.",
        "bookings = cancelled + expired + no_shows + used + pending; late is part of no_shows.",
        "A day with bookings but no plan in the lake is counted in days_without_plan and left "
        "out of cap_utilization, never filled in.",
    ),
)

JOBS = (EQUEUE_USE,)

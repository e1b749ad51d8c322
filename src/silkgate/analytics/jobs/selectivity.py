"""Selectivity jobs: how lanes are shared out and what inspections find; how model scores drift.

Inspection outcomes are the platform's two (``risk.platform.schemas.InspectionIn``):
``discrepancy`` is a hit, ``no_discrepancy`` is not; any other value is counted apart as
``unrecognised_outcomes`` (never as a hit, never silently as a clean inspection).
"""

from __future__ import annotations

from silkgate.analytics.jobs.common import (
    TRADERS,
    enough,
    enough_or_none,
    foreign,
    month,
    traders_of,
)
from silkgate.analytics.jobs.params import EARLIEST, LATEST
from silkgate.analytics.jobs.spec import Chart, Job, Kind, Param
from silkgate.registry.schemas import Role
from silkgate.risk.platform.offices import offices

SINCE = Param(
    "since", Kind.DATE, "First day assessed included (crossing day, YYYY-MM-DD).", EARLIEST
)
UNTIL = Param("until", Kind.DATE, "Last day assessed included (crossing day, YYYY-MM-DD).", LATEST)

#: Declarant roles that lodge declarations; a declaration without one is 'unknown'.
TRADER_CATEGORIES = (
    Role.BROKER.value,
    Role.CUSTOMS_SERVICE.value,
    Role.CARRIER.value,
    Role.E_PORT.value,
    "unknown",
)
#: Score bins of the drift job: [0, 0.1), [0.1, 0.2) … [0.9, 1.0].
SCORE_BINS = 10
#: The share an empty bin counts as in the PSI (ln 0 is undefined).
PSI_EPSILON = 0.0001

#: Per inspected declaration version: recognised outcome, hit, unrecognised outcome, foreign.
_OUTCOMES = f"""outcomes AS (
  SELECT declaration_id, version,
         max(CASE WHEN outcome IN ('discrepancy', 'no_discrepancy') THEN 1 ELSE 0 END)
           AS inspected,
         max(CASE WHEN outcome = 'discrepancy' THEN 1 ELSE 0 END) AS hit,
         max(CASE WHEN outcome IN ('discrepancy', 'no_discrepancy') THEN 0 ELSE 1 END)
           AS unrecognised,
         max({foreign()}) AS foreign_data
  FROM inspections
  GROUP BY declaration_id, version
)"""

_CELL = "office, chapter, trader_category, month"


def _rate_shown(inspected: str, traders: str, foreign_data: str = "foreign_data") -> str:
    """True where figures over inspections may be published: the reader's own data, none
    inspected (no hits to tell), or inspections of at least the minimum cell size of
    declarations and of traders (a hit rate over one trader's inspections tells what customs
    found on that trader's goods)."""
    return (
        f"({foreign_data} = 0 OR {inspected} = 0 OR ({inspected} >= {{min_cell_size}} "
        f"AND {traders} >= {{min_cell_size}}))"
    )


#: A row mixing the reader's own declarations with others (rows by chapter or trader category
#: pool offices of both countries) is held to the minimum on its foreign part as well: the
#: reader knows its own part and could take it away.
_FOREIGN_PART_PUBLISHABLE = enough_or_none("foreign_declarations", "foreign_traders")
_HITS_SHOWN = (
    f"{_rate_shown('inspected', 'inspected_traders')} "
    f"AND {_rate_shown('foreign_inspected', 'foreign_inspected_traders')}"
)

_LANE_SHARES_SQL = f"""
WITH ranked AS (
  SELECT declaration_id, version, office, final_lane, override_lane, date, owner_country,
         row_number() OVER (PARTITION BY declaration_id
                            ORDER BY assessed_at DESC, assessment_id DESC) AS _rank
  FROM lanes_current
), counted AS (
  SELECT * FROM ranked
  WHERE _rank = 1 AND date BETWEEN {{since}} AND {{until}}
    AND ({{office}} = '' OR office = {{office}})
), chapter_values AS (
  SELECT g.declaration_id, coalesce(substr(g.hs6, 1, 2), 'unknown') AS chapter,
         sum(coalesce(g.invoice_value, 0)) AS value,
         max(CASE WHEN g.hs6 LIKE {{hs}} || '%' THEN 1 ELSE 0 END) AS matches,
         max({foreign("g.owner_country")}) AS foreign_data
  FROM goods_items_all g
  JOIN counted c ON g.declaration_id = c.declaration_id AND g.version = c.version
  GROUP BY g.declaration_id, coalesce(substr(g.hs6, 1, 2), 'unknown')
), chapters AS (
  SELECT declaration_id, chapter, has_hs, foreign_data FROM (
    SELECT declaration_id, chapter,
           max(matches) OVER (PARTITION BY declaration_id) AS has_hs,
           max(foreign_data) OVER (PARTITION BY declaration_id) AS foreign_data,
           row_number() OVER (PARTITION BY declaration_id ORDER BY value DESC, chapter)
             AS _rank
    FROM chapter_values
  ) t
  WHERE _rank = 1
), {_OUTCOMES}, assessed AS (
  SELECT CASE WHEN {{by}} IN ('office', 'all') OR {{office}} <> '' THEN c.office ELSE '*' END
           AS office,
         CASE WHEN {{by}} IN ('chapter', 'all') THEN coalesce(ch.chapter, 'unknown') ELSE '*' END
           AS chapter,
         CASE WHEN {{by}} IN ('trader_category', 'all') OR {{trader_category}} <> ''
              THEN coalesce(d.declarant_role, 'unknown') ELSE '*' END AS trader_category,
         {month("c.date")} AS month,
         c.final_lane AS lane, c.declaration_id, d.trader_ref,
         CASE WHEN c.override_lane IS NULL THEN 0 ELSE 1 END AS overridden,
         coalesce(o.inspected, 0) AS inspected,
         coalesce(o.hit, 0) AS hit,
         coalesce(o.unrecognised, 0) AS unrecognised,
         greatest({foreign("c.owner_country")}, {foreign("d.owner_country")},
                  coalesce(ch.foreign_data, 0), coalesce(o.foreign_data, 0)) AS foreign_data
  FROM counted c
  LEFT JOIN declarations d ON d.declaration_id = c.declaration_id
  LEFT JOIN chapters ch ON ch.declaration_id = c.declaration_id
  LEFT JOIN outcomes o ON o.declaration_id = c.declaration_id AND o.version = c.version
  WHERE ({{hs}} = '' OR ch.has_hs = 1)
    AND ({{trader_category}} = '' OR coalesce(d.declarant_role, 'unknown') = {{trader_category}})
), lane_rows AS (
  SELECT {_CELL}, lane,
         count(DISTINCT declaration_id) AS declarations,
         {TRADERS} AS traders,
         sum(overridden) AS overrides,
         sum(inspected) AS inspected,
         {traders_of("inspected")} AS inspected_traders,
         sum(hit) AS hits,
         sum(unrecognised) AS unrecognised_outcomes,
         count(DISTINCT CASE WHEN foreign_data = 1 THEN declaration_id END)
           AS foreign_declarations,
         {traders_of("foreign_data")} AS foreign_traders,
         sum(inspected * foreign_data) AS foreign_inspected,
         {traders_of("inspected * foreign_data")} AS foreign_inspected_traders,
         max(foreign_data) AS foreign_data
  FROM assessed
  GROUP BY {_CELL}, lane
), shown AS (
  SELECT *,
         sum(declarations) OVER (PARTITION BY {_CELL}) AS cell_declarations,
         min(CASE WHEN foreign_data = 0 OR (declarations >= {{min_cell_size}}
                                            AND traders >= {{min_cell_size}}
                                            AND {_FOREIGN_PART_PUBLISHABLE}) THEN 1 ELSE 0 END)
           OVER (PARTITION BY {_CELL}) AS cell_publishable
  FROM lane_rows
)
SELECT {_CELL}, lane, declarations, traders,
       CASE WHEN cell_publishable = 1 THEN cast(declarations AS double) / cell_declarations END
         AS share,
       overrides, inspected,
       CASE WHEN {_HITS_SHOWN} THEN hits END AS hits,
       CASE WHEN {_HITS_SHOWN} THEN cast(hits AS double) / nullif(inspected, 0) END AS hit_rate,
       unrecognised_outcomes, foreign_declarations, foreign_traders, foreign_data
FROM shown
"""

LANE_SHARES = Job(
    name="lane_shares",
    title="Lane shares, overrides and inspection hit rates",
    description=(
        "Declarations assessed, by assessing office, HS chapter, trader category (the "
        "declarant's role: broker, customs-service, carrier, e-port; 'unknown' when not "
        "recorded), month assessed and final lane (green, yellow, red, blue: the officer's "
        "override where there is one, else the assessed lane). Per lane: declarations and "
        "their share of the row's office, chapter, category and month; how many reached the "
        "lane by an override; how many were inspected; how many inspections found a "
        "discrepancy (hits) and the hit rate (hits / inspected)."
    ),
    sql=_LANE_SHARES_SQL,
    datasets=("lanes", "declarations", "goods_items", "inspections"),
    keys=("office", "chapter", "trader_category", "month", "lane"),
    cells=("declarations", "traders"),
    foreign_cells=("foreign_declarations", "foreign_traders"),
    params=(
        SINCE,
        UNTIL,
        Param(
            "office",
            Kind.CHOICE,
            "Only this assessing customs office (e.g. CN-KHORGOS).",
            choices=tuple(sorted(offices())),
        ),
        Param(
            "hs",
            Kind.HS,
            "Only declarations with at least one goods item under this HS chapter, heading or "
            "subheading (each is still shown under its main chapter).",
        ),
        Param(
            "trader_category",
            Kind.CHOICE,
            "Only declarations lodged by this kind of declarant ('unknown': not recorded).",
            choices=TRADER_CATEGORIES,
        ),
        Param(
            "by",
            Kind.CHOICE,
            "Breakdown besides month and lane: office, chapter, trader_category, or all three. "
            "A column not broken down shows '*' (unless filtered to one value).",
            "all",
            choices=("office", "chapter", "trader_category", "all"),
        ),
    ),
    chart=Chart(
        x="month",
        y="share",
        series=("office", "chapter", "trader_category", "lane"),
        kind="line",
        title="Share of declarations per final lane",
    ),
    notes=(
        "Each declaration counts once: by its latest assessment (latest assessed_at; normally "
        "its latest assessed version), in the month of that assessment, with the lane in force "
        "(override else assessed). Earlier versions' assessments are not counted.",
        "Chapter: the chapter of the assessed version's goods items with the largest summed "
        "invoice value (ties: the lower chapter); 'unknown' when the version's items are not "
        "in the lake (or not readable where the job runs).",
        "Inspected: the counted version has an inspection result. A hit: its outcome is "
        "'discrepancy'. An outcome other than 'discrepancy'/'no_discrepancy' is counted in "
        "unrecognised_outcomes only. Inspections of earlier versions are not counted.",
        "share is withheld (empty) for every lane of an office/chapter/category/month when one "
        "of its lanes is suppressed as a small cell (it would give that lane's count).",
        "traders is empty (unknown) when a declaration of the row was not read (its partition "
        "excluded): an unknown count is small.",
        "In rows holding data not the reader's own, hits and hit_rate are withheld (empty) when "
        "the inspected declarations, or their traders, are fewer than the minimum cell size.",
        "By chapter or trader category a row pools both countries' offices: the part that is "
        "not the reader's own is held to the minimum too (the row, on its declarations and "
        "traders; hits and hit_rate, on its inspected ones), since the reader knows its own.",
    ),
)

_BINS = " UNION ALL ".join(f"SELECT {i} AS score_bin" for i in range(SCORE_BINS))
_EPS = f"cast({PSI_EPSILON} AS double)"


def _shown(part: str) -> str:
    """``_rate_shown`` on a part of a model's month (``m.<part>_declarations`` and
    ``m.<part>_traders``) and on that part's foreign assessments: a row may pool both
    countries' offices ('rules only'), and the reader knows its own."""
    whole = _rate_shown(f"m.{part}_declarations", f"m.{part}_traders", "m.foreign_data")
    foreign = _rate_shown(
        f"m.foreign_{part}_declarations", f"m.foreign_{part}_traders", "m.foreign_data"
    )
    return f"{whole} AND {foreign}"


def _parts(name: str, flag: str) -> str:
    """Distinct declarations and traders of the assessments where ``flag`` is 1, in all and
    among the foreign ones (``_shown``)."""
    foreign_flag = f"{flag} * foreign_data"
    return (
        f"count(DISTINCT CASE WHEN {flag} = 1 THEN declaration_id END) AS {name}_declarations, "
        f"{traders_of(flag)} AS {name}_traders, "
        f"count(DISTINCT CASE WHEN {foreign_flag} = 1 THEN declaration_id END) "
        f"AS foreign_{name}_declarations, "
        f"{traders_of(foreign_flag)} AS foreign_{name}_traders"
    )


_PRECISION_SHOWN = _shown("red_yellow_inspected")
#: Score figures and PSI stand on the scored assessments only: held to the minimum on their
#: declarations and traders (one scored declaration among many would publish its own score).
_SCORES_SHOWN = _shown("scored")


#: A baseline shown (and compared with) when its declarations, and its scored ones, are
#: enough, in all and in their foreign part.
_BASELINE_PUBLISHABLE = (
    "CASE WHEN max(foreign_data) = 0 OR ("
    + " AND ".join(
        (
            enough("count(DISTINCT declaration_id)", TRADERS),
            enough(
                "count(DISTINCT CASE WHEN has_score = 1 THEN declaration_id END)",
                traders_of("has_score"),
            ),
            enough_or_none(
                "count(DISTINCT CASE WHEN foreign_data = 1 THEN declaration_id END)",
                traders_of("foreign_data"),
            ),
            enough_or_none(
                "count(DISTINCT CASE WHEN has_score * foreign_data = 1 THEN declaration_id END)",
                traders_of("has_score * foreign_data"),
            ),
        )
    )
    + ") THEN 1 ELSE 0 END"
)

_MODEL_DRIFT_SQL = f"""
WITH assessed AS (
  SELECT declaration_id, version, coalesce(model_id, 'rules only') AS model_id, score,
         assessed_lane, date, {month("date")} AS month, owner_country,
         CASE WHEN assessed_lane IN ('red', 'yellow') THEN 1 ELSE 0 END AS red_yellow,
         CASE WHEN score IS NOT NULL THEN 1 ELSE 0 END AS has_score,
         least(greatest(cast(floor(score * {SCORE_BINS}) AS int), 0), {SCORE_BINS - 1})
           AS score_bin
  FROM lanes
  WHERE {{model_id}} = '' OR coalesce(model_id, 'rules only') = {{model_id}}
), {_OUTCOMES}, joined AS (
  SELECT a.*, d.trader_ref,
         coalesce(o.inspected, 0) AS inspected,
         coalesce(o.hit, 0) AS hit,
         coalesce(o.unrecognised, 0) AS unrecognised,
         greatest({foreign("a.owner_country")}, {foreign("d.owner_country")},
                  coalesce(o.foreign_data, 0)) AS foreign_data
  FROM assessed a
  LEFT JOIN declarations d ON d.declaration_id = a.declaration_id
  LEFT JOIN outcomes o ON o.declaration_id = a.declaration_id AND o.version = a.version
), baseline AS (
  SELECT model_id, min(month) AS baseline_month
  FROM assessed WHERE score IS NOT NULL GROUP BY model_id
), base_rows AS (
  SELECT j.* FROM joined j
  JOIN baseline b ON b.model_id = j.model_id AND b.baseline_month = j.month
), base_cell AS (
  SELECT model_id, count(score) AS scored, {_BASELINE_PUBLISHABLE} AS publishable
  FROM base_rows GROUP BY model_id
), base_bins AS (
  SELECT model_id, score_bin, count(*) AS n
  FROM base_rows WHERE score IS NOT NULL GROUP BY model_id, score_bin
), in_range AS (
  SELECT * FROM joined WHERE date BETWEEN {{since}} AND {{until}}
), month_bins AS (
  SELECT model_id, month, score_bin, count(*) AS n
  FROM in_range WHERE score IS NOT NULL GROUP BY model_id, month, score_bin
), months AS (
  SELECT model_id, month,
         count(*) AS assessments,
         count(DISTINCT declaration_id) AS declarations,
         {TRADERS} AS traders,
         count(score) AS scored,
         {_parts("scored", "has_score")},
         count(DISTINCT CASE WHEN foreign_data = 1 THEN declaration_id END)
           AS foreign_declarations,
         {traders_of("foreign_data")} AS foreign_traders,
         avg(score) AS score_mean,
         percentile_cont(0.1) WITHIN GROUP (ORDER BY score) AS score_p10,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY score) AS score_median,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY score) AS score_p90,
         sum(red_yellow) AS red_yellow,
         sum(red_yellow * inspected) AS red_yellow_inspected,
         {_parts("red_yellow_inspected", "red_yellow * inspected")},
         sum(red_yellow * hit) AS red_yellow_hits,
         sum(unrecognised) AS unrecognised_outcomes,
         max(foreign_data) AS foreign_data
  FROM in_range GROUP BY model_id, month
), bins AS (
  {_BINS}
), shares AS (
  SELECT m.model_id, m.month,
         CASE WHEN mb.n IS NULL THEN {_EPS} ELSE cast(mb.n AS double) / m.scored END AS p,
         CASE WHEN bb.n IS NULL THEN {_EPS} ELSE cast(bb.n AS double) / bc.scored END AS q
  FROM months m
  CROSS JOIN bins b
  JOIN base_cell bc ON bc.model_id = m.model_id
  LEFT JOIN month_bins mb
    ON mb.model_id = m.model_id AND mb.month = m.month AND mb.score_bin = b.score_bin
  LEFT JOIN base_bins bb ON bb.model_id = m.model_id AND bb.score_bin = b.score_bin
  WHERE m.scored > 0 AND bc.publishable = 1
), psi AS (
  SELECT model_id, month, sum((p - q) * ln(p / q)) AS psi FROM shares GROUP BY model_id, month
)
SELECT m.model_id, m.month, m.assessments, m.declarations, m.traders, m.scored,
       CASE WHEN {_SCORES_SHOWN} THEN m.score_mean END AS score_mean,
       CASE WHEN {_SCORES_SHOWN} THEN m.score_p10 END AS score_p10,
       CASE WHEN {_SCORES_SHOWN} THEN m.score_median END AS score_median,
       CASE WHEN {_SCORES_SHOWN} THEN m.score_p90 END AS score_p90,
       cast(m.red_yellow AS double) / m.assessments AS red_yellow_share,
       m.red_yellow_inspected,
       CASE WHEN {_PRECISION_SHOWN} THEN m.red_yellow_hits END AS red_yellow_hits,
       CASE WHEN {_PRECISION_SHOWN}
            THEN cast(m.red_yellow_hits AS double) / nullif(m.red_yellow_inspected, 0)
       END AS red_yellow_precision,
       m.unrecognised_outcomes,
       CASE WHEN bc.publishable = 1 THEN b.baseline_month END AS baseline_month,
       CASE WHEN {_SCORES_SHOWN} THEN p.psi END AS psi,
       m.foreign_declarations, m.foreign_traders, m.foreign_data
FROM months m
LEFT JOIN baseline b ON b.model_id = m.model_id
LEFT JOIN base_cell bc ON bc.model_id = m.model_id
LEFT JOIN psi p ON p.model_id = m.model_id AND p.month = m.month
"""

MODEL_DRIFT = Job(
    name="model_drift",
    title="Risk model drift: scores, selection and precision by month",
    description=(
        "Per risk model ('rules only': assessments made without one) and month assessed: "
        "assessments, the score distribution (mean, 10th percentile, median, 90th percentile), "
        "the population stability index (PSI) of the month's scores against the model's "
        "first month with scores, the share of assessments the engine sent to red or yellow, "
        "and the precision of those lanes (inspections finding a discrepancy / inspections). "
        "A PSI below 0.1 is usually read as stable, 0.1-0.25 as a shift worth a look, above "
        "0.25 as a changed population."
    ),
    sql=_MODEL_DRIFT_SQL,
    datasets=("lanes", "declarations", "inspections"),
    also_governed_by=(("lanes", "risk_score"),),
    keys=("model_id", "month"),
    cells=("declarations", "traders"),
    foreign_cells=("foreign_declarations", "foreign_traders"),
    params=(
        SINCE,
        UNTIL,
        Param(
            "model_id",
            Kind.TEXT,
            "Only this model (its id, e.g. risk-20260101T120000-ab12cd; 'rules only' for "
            "assessments without a model).",
        ),
    ),
    chart=Chart(
        x="month",
        y="psi",
        series=("model_id",),
        kind="line",
        title="Score drift: PSI against the model's first month",
    ),
    notes=(
        "Every assessment counts (one per declaration version assessed), in its month; the "
        "lane is the assessed one (the engine's decision, before any officer's override).",
        f"PSI: {SCORE_BINS} fixed score bins 0-0.1, 0.1-0.2 ... 0.9-1.0 (a score of 1.0 in the "
        "last); p and q the month's and the baseline's share of scored assessments per bin, "
        f"an empty bin counted as {PSI_EPSILON}; PSI = sum over bins of (p - q) * ln(p / q).",
        "Baseline: the model's first month with scores among all the lanes the run may read, "
        "whatever since/until say (baseline_month). PSI is empty for a month without scores; "
        "PSI and baseline_month are empty when the baseline month is a cell too small to "
        "publish to the reader, or its scored declarations or their traders are fewer than "
        "the minimum cell size.",
        "Assessments without a score (no model, or a model whose artifact failed its digest) "
        "count in assessments and lane shares, not in scored or the score figures. In rows "
        "holding data not the reader's own, the score figures and PSI are withheld (empty) "
        "when the scored declarations, or their traders, are fewer than the minimum cell size.",
        "'rules only' pools every office's assessments: the part that is not the reader's own "
        "is held to the minimum too (the row, its score figures and its precision, each on its "
        "own declarations and traders), since the reader knows its own.",
        "Precision: among assessments in red or yellow, those whose version has an inspection "
        "result 'discrepancy' / those with a result 'discrepancy' or 'no_discrepancy'. In rows "
        "holding data not the reader's own, red_yellow_hits and red_yellow_precision are "
        "withheld (empty) when those inspected declarations, or their traders, are fewer than "
        "the minimum cell size.",
    ),
)

JOBS = (LANE_SHARES, MODEL_DRIFT)

"""Trade jobs: flows by HS, direction, partner and month; mirror statistics; unit values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from silkgate.analytics.jobs.common import (
    HS,
    HS_AT_LEVEL,
    LEVEL,
    SINCE,
    UNTIL,
    enough,
    enough_or_none,
    foreign,
    month,
    month_index,
)
from silkgate.analytics.jobs.spec import Chart, Job, Kind, Param
from silkgate.core.errors import FieldError

_FLOWS_SQL = f"""
WITH items AS (
  SELECT {HS_AT_LEVEL} AS hs,
         CASE WHEN type = 'import' THEN 'import' WHEN type = 'transit' THEN 'transit'
              ELSE 'export' END AS flow,
         owner_country AS reporter,
         CASE WHEN type = 'import' THEN exit_country ELSE entry_country END AS partner,
         {month("date")} AS month,
         {month_index("date")} AS month_index,
         currency, invoice_value, net_mass_kg, declaration_id, trader_ref, owner_country
  FROM goods_items
  WHERE date BETWEEN {{since}} AND {{until}}
    AND hs6 LIKE {{hs}} || '%'
    AND ({{reporter}} = '' OR owner_country = {{reporter}})
), cells AS (
  SELECT hs, flow, reporter, partner, month, month_index, currency,
         sum(invoice_value) AS value,
         sum(net_mass_kg) AS net_mass_kg,
         count(*) AS items,
         count(DISTINCT declaration_id) AS declarations,
         count(DISTINCT trader_ref) AS traders,
         max({foreign()}) AS foreign_data
  FROM items
  WHERE {{partner}} = '' OR partner = {{partner}}
  GROUP BY hs, flow, reporter, partner, month, month_index, currency
), shown AS (
  SELECT *, (foreign_data = 0 OR (declarations >= {{min_cell_size}}
                                  AND traders >= {{min_cell_size}}))
              AND month_index BETWEEN {{first_whole_month}} AND {{last_whole_month}}
              AS comparable
  FROM cells
)
SELECT c.hs, c.flow, c.reporter, c.partner, c.month, c.currency, c.value, c.net_mass_kg,
       c.items, c.declarations, c.traders, c.foreign_data,
       CASE WHEN c.comparable AND m.comparable THEN c.value / nullif(m.value, 0) - 1 END
         AS value_growth_mom,
       CASE WHEN c.comparable AND y.comparable THEN c.value / nullif(y.value, 0) - 1 END
         AS value_growth_yoy,
       CASE WHEN c.comparable AND y.comparable
            THEN c.net_mass_kg / nullif(y.net_mass_kg, 0) - 1 END AS mass_growth_yoy
FROM shown c
LEFT JOIN shown m ON m.hs = c.hs AND m.flow = c.flow AND m.reporter = c.reporter
     AND m.partner = c.partner AND m.currency = c.currency AND m.month_index = c.month_index - 1
LEFT JOIN shown y ON y.hs = c.hs AND y.flow = c.flow AND y.reporter = c.reporter
     AND y.partner = c.partner AND y.currency = c.currency AND y.month_index = c.month_index - 12
"""

TRADE_FLOWS = Job(
    name="trade_flows",
    title="Trade flows by HS, direction, partner and month",
    description=(
        "Value (invoice currency, never converted: the platform holds no exchange rates) and "
        "net mass of goods items, by HS chapter/heading/subheading, flow (export, import, "
        "transit as declared), reporting country (whose customs the declaration is lodged "
        "with), partner (the next country for exports and transit, the previous for imports), "
        "month (of lodging, crossing time) and currency; with growth against the previous "
        "month and the same month a year before (empty when there is no such month, when "
        "it was too small to publish, or when either month is only partly within since..until: "
        "a part of a month against a whole one is no growth)."
    ),
    sql=_FLOWS_SQL,
    datasets=("goods_items",),
    keys=("hs", "flow", "reporter", "partner", "month", "currency"),
    cells=("declarations", "traders"),
    params=(
        SINCE,
        UNTIL,
        LEVEL,
        HS,
        Param("reporter", Kind.COUNTRY, "Only declarations lodged with this country's customs."),
        Param("partner", Kind.COUNTRY, "Only flows with this partner country."),
    ),
    chart=Chart(x="month", y="value", series=("flow", "hs", "currency"), kind="line"),
)


# ---------------------------------------------------------------------- mirror statistics


def _side(side: str, expr: str) -> str:
    return f"CASE WHEN side = '{side}' THEN {expr} END"


def _side_sums() -> str:
    """Per side: value, mass, the unit-value basis (items with mass > 0 and a value), counts."""
    parts = []
    for s in ("export", "import"):
        parts += [
            f"sum({_side(s, 'invoice_value')}) AS {s}_value",
            f"sum({_side(s, 'net_mass_kg')}) AS {s}_mass_kg",
            f"sum({_side(s, 'uv_value')}) AS {s}_uv_value",
            f"sum({_side(s, 'uv_mass')}) AS {s}_uv_mass",
            f"count(DISTINCT {_side(s, 'declaration_id')}) AS {s}_declarations",
            f"count(DISTINCT {_side(s, 'trader_ref')}) AS {s}_traders",
            f"coalesce(sum({_side(s, 'no_mass')}), 0) AS {s}_items_no_mass",
            f"count(DISTINCT {_side(s, 'uv_declaration')}) AS {s}_uv_declarations",
            f"count(DISTINCT {_side(s, 'uv_trader')}) AS {s}_uv_traders",
            f"max({_side(s, foreign())}) AS {s}_foreign",
        ]
    return ",\n         ".join(parts)


def _uv_shown(s: str) -> str:
    """A side's unit value is shown unless it is data not the reader's own whose items with a
    unit value come from fewer declarations or traders than the minimum cell size."""
    return (
        f"(coalesce({s}_foreign, 0) = 0 OR ({s}_uv_declarations >= {{min_cell_size}} "
        f"AND {s}_uv_traders >= {{min_cell_size}}))"
    )


_MIRROR_SQL = f"""
WITH items AS (
  SELECT {HS_AT_LEVEL} AS hs, {month("date")} AS month, coalesce(currency, '') AS currency,
         CASE WHEN type = 'export' THEN 'export' ELSE 'import' END AS side,
         invoice_value, net_mass_kg,
         CASE WHEN net_mass_kg > 0 AND invoice_value IS NOT NULL THEN invoice_value END
           AS uv_value,
         CASE WHEN net_mass_kg > 0 AND invoice_value IS NOT NULL THEN net_mass_kg END AS uv_mass,
         CASE WHEN coalesce(net_mass_kg, 0) <= 0 THEN 1 ELSE 0 END AS no_mass,
         CASE WHEN net_mass_kg > 0 AND invoice_value IS NOT NULL THEN declaration_id END
           AS uv_declaration,
         CASE WHEN net_mass_kg > 0 AND invoice_value IS NOT NULL THEN trader_ref END AS uv_trader,
         declaration_id, trader_ref, owner_country
  FROM goods_items
  WHERE date BETWEEN {{since}} AND {{until}}
    AND hs6 LIKE {{hs}} || '%'
    AND ((type = 'export' AND owner_country = {{exporter}} AND entry_country = {{importer}})
      OR (type = 'import' AND owner_country = {{importer}} AND exit_country = {{exporter}}))
), cells AS (
  SELECT hs, month, currency,
         {_side_sums()},
         max({foreign()}) AS foreign_data
  FROM items
  GROUP BY hs, month, currency
), unit AS (
  SELECT *,
         CASE WHEN {_uv_shown("export")} THEN export_uv_value / nullif(export_uv_mass, 0) END
           AS export_unit_value,
         CASE WHEN {_uv_shown("import")} THEN import_uv_value / nullif(import_uv_mass, 0) END
           AS import_unit_value
  FROM cells
)
SELECT hs, month, currency, export_value, import_value,
       export_value - import_value AS value_gap,
       (export_value - import_value) / nullif(export_value, 0) AS gap_share,
       export_mass_kg, import_mass_kg, export_mass_kg - import_mass_kg AS mass_gap,
       export_unit_value, import_unit_value,
       import_unit_value / nullif(export_unit_value, 0) AS unit_value_ratio,
       CASE WHEN export_declarations >= {{min_declarations}}
             AND import_declarations >= {{min_declarations}}
             AND import_unit_value < {{ratio_threshold}} * export_unit_value
            THEN TRUE ELSE FALSE END AS flag,
       export_declarations, import_declarations, export_traders, import_traders,
       export_items_no_mass, import_items_no_mass, foreign_data
FROM unit
"""


def _two_countries(values: Mapping[str, Any]) -> list[FieldError]:
    if values["exporter"] == values["importer"]:
        msg = f"the importer must differ from the exporter ({values['exporter']})"
        return [FieldError("/params/importer", "same_country", msg)]
    return []


MIRROR_STATISTICS = Job(
    name="mirror_statistics",
    title="Mirror statistics: one country's exports against its partner's imports",
    description=(
        "What the exporter's customs recorded as exports to the importer (export declarations "
        "lodged with the exporter, next country the importer) against what the importer's "
        "customs recorded as imports from the exporter (import declarations lodged with the "
        "importer, previous country the exporter), by HS chapter/heading/subheading, month of "
        "lodging and invoice currency (never converted: the platform holds no exchange rates). "
        "Value gap = export value - import value, gap share = gap / export value; mass gap "
        "likewise; unit value = value per kg of net mass (items with a mass and a value), "
        "unit-value ratio = import / export. A side without declarations in a row shows no "
        "value, mass or gap (nothing recorded there, or not readable where the job ran: see "
        "the run's exclusions). flag: the import side's unit value is below ratio_threshold "
        "times the export side's and both sides have at least min_declarations declarations, "
        "the undervaluation signal behind the CN-KZ gap (USD 5.2-5.7 bn a year reported for "
        "2021-2022). A risk indicator, never a customs value: WCO guidance is that price "
        "databases select declarations for control, they do not set the value."
    ),
    sql=_MIRROR_SQL,
    datasets=("goods_items",),
    keys=("hs", "month", "currency"),
    cells=("export_declarations", "import_declarations", "export_traders", "import_traders"),
    params=(
        Param("exporter", Kind.COUNTRY, "Country whose recorded exports are compared.", "CN"),
        Param("importer", Kind.COUNTRY, "Country whose recorded imports are compared.", "KZ"),
        SINCE,
        UNTIL,
        LEVEL,
        HS,
        Param(
            "ratio_threshold",
            Kind.FLOAT,
            "Flag rows whose import unit value is below this share of the export unit value.",
            0.8,
            minimum=0.01,
            maximum=1.0,
        ),
        Param(
            "min_declarations",
            Kind.INT,
            "Flag only rows with at least this many declarations on each side.",
            5,
            minimum=1,
            maximum=1_000_000,  # a literal past Spark's 38 digits was an engine error
        ),
    ),
    chart=Chart(
        x="month",
        y="value_gap",
        series=("hs", "currency"),
        kind="line",
        title="Exports recorded minus imports recorded",
    ),
    notes=(
        "The two sides are matched by HS, month of lodging and currency: goods lodged for "
        "export at the end of a month and for import at the start of the next fall in "
        "different months, and goods invoiced in different currencies in different rows.",
        "Computing in one country reads the other's partitions only under an agreement "
        "sharing declaration data for statistics there; rows holding data not the reader's own "
        "are suppressed when either side counts fewer than the minimum cell size of "
        "declarations or traders; a side that recorded nothing (0) does not suppress a row.",
        "A side's unit value (and with it the ratio and the flag) is withheld in such rows "
        "when its items with a mass and a value come from fewer declarations or traders than "
        "the minimum cell size.",
    ),
    checks=(_two_countries,),
)

# ---------------------------------------------------------------------------- unit values


def _shown(expr: str, name: str) -> str:
    """A unit-value figure, withheld where the unit values come from too few declarations or
    traders (a row can be large enough while one trader's items alone have a unit value)."""
    return f"CASE WHEN f.figures_shown THEN {expr} END AS {name}"


def _counted(unit: str) -> str:
    """Each ``unit`` (declaration or trader) of a group once, with whether any of its items has
    a unit value, is not the reader's own, and both: the group's counts of distinct units are
    then counts of rows (a distinct count per figure costs one pass over the items each)."""
    return f"""
  SELECT hs6, origin_country, currency, {unit} AS unit,
         max(CASE WHEN uv IS NOT NULL THEN 1 ELSE 0 END) AS with_uv,
         max(foreign_item) AS foreign_unit,
         max(CASE WHEN uv IS NOT NULL THEN foreign_item ELSE 0 END) AS foreign_with_uv
  FROM items
  GROUP BY hs6, origin_country, currency, {unit}"""


def _units(alias: str) -> str:
    """A group's distinct units (null units are none), those with a unit value, and the same
    among items not the reader's own: a row pooling both countries' items is held to the
    minimum on its foreign part too (the reader knows its own items and could take them away)."""
    return f"""
  SELECT hs6, origin_country, currency, count(unit) AS {alias}s,
         count(CASE WHEN with_uv = 1 THEN unit END) AS uv_{alias}s,
         count(CASE WHEN foreign_unit = 1 THEN unit END) AS foreign_{alias}s,
         count(CASE WHEN foreign_with_uv = 1 THEN unit END) AS foreign_uv_{alias}s
  FROM by_{alias}
  GROUP BY hs6, origin_country, currency"""


_UNIT_VALUES_SQL = f"""
WITH items AS (
  SELECT hs6, coalesce(origin_country, '') AS origin_country, coalesce(currency, '') AS currency,
         CASE WHEN net_mass_kg > 0 AND invoice_value > 0 THEN invoice_value / net_mass_kg END
           AS uv,
         CASE WHEN net_mass_kg > 0 AND invoice_value > 0 THEN ln(invoice_value / net_mass_kg)
           END AS log_uv,
         CASE WHEN coalesce(net_mass_kg, 0) <= 0 THEN 1 ELSE 0 END AS no_mass,
         CASE WHEN net_mass_kg > 0 AND coalesce(invoice_value, 0) <= 0 THEN 1 ELSE 0 END
           AS no_value,
         declaration_id, trader_ref, {foreign()} AS foreign_item
  FROM goods_items
  WHERE date BETWEEN {{since}} AND {{until}}
    AND hs6 LIKE {{hs}} || '%'
    AND ({{origin}} = '' OR origin_country = {{origin}})
    AND ({{flow}} = '' OR type = {{flow}})
    AND ({{reporter}} = '' OR owner_country = {{reporter}})
), by_declaration AS ({_counted("declaration_id")}
), by_trader AS ({_counted("trader_ref")}
), declaration_counts AS ({_units("declaration")}
), trader_counts AS ({_units("trader")}
), stats AS (
  SELECT i.*, d.declarations, d.uv_declarations, d.foreign_declarations,
         d.foreign_uv_declarations, t.traders, t.uv_traders, t.foreign_traders,
         t.foreign_uv_traders
  FROM (
    SELECT hs6, origin_country, currency,
           count(uv) AS items, sum(no_mass) AS items_no_mass, sum(no_value) AS items_no_value,
           percentile_cont(0.05) WITHIN GROUP (ORDER BY uv) AS p05,
           percentile_cont(0.25) WITHIN GROUP (ORDER BY uv) AS p25,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY uv) AS median,
           percentile_cont(0.75) WITHIN GROUP (ORDER BY uv) AS p75,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY uv) AS p95,
           percentile_cont(0.25) WITHIN GROUP (ORDER BY log_uv) AS q1,
           percentile_cont(0.75) WITHIN GROUP (ORDER BY log_uv) AS q3,
           max(foreign_item) AS foreign_data
    FROM items
    GROUP BY hs6, origin_country, currency
  ) i
  JOIN declaration_counts d ON d.hs6 = i.hs6 AND d.origin_country = i.origin_country
       AND d.currency = i.currency
  JOIN trader_counts t ON t.hs6 = i.hs6 AND t.origin_country = i.origin_country
       AND t.currency = i.currency
), fenced AS (
  SELECT *,
         foreign_data = 0 OR ({enough("uv_declarations", "uv_traders")}
                              AND {enough_or_none("foreign_uv_declarations", "foreign_uv_traders")})
           AS figures_shown,
         CASE WHEN items >= {{min_items}}
              THEN q1 - {{iqr_factor}} * greatest(q3 - q1, {{min_log_width}}) END AS low_log,
         CASE WHEN items >= {{min_items}}
              THEN q3 + {{iqr_factor}} * greatest(q3 - q1, {{min_log_width}}) END AS high_log
  FROM stats
), outliers AS (
  SELECT f.hs6, f.origin_country, f.currency,
         sum(CASE WHEN i.log_uv < f.low_log THEN 1 ELSE 0 END) AS low_outliers,
         sum(CASE WHEN i.log_uv > f.high_log THEN 1 ELSE 0 END) AS high_outliers
  FROM fenced f
  JOIN items i ON i.hs6 = f.hs6 AND i.origin_country = f.origin_country
       AND i.currency = f.currency
  WHERE f.low_log IS NOT NULL
  GROUP BY f.hs6, f.origin_country, f.currency
)
SELECT f.hs6, f.origin_country, f.currency, f.items, f.items_no_mass, f.items_no_value,
       f.declarations, f.traders,
       {_shown("f.p05", "p05")}, {_shown("f.p25", "p25")}, {_shown("f.median", "median")},
       {_shown("f.p75", "p75")}, {_shown("f.p95", "p95")},
       {_shown("exp(f.low_log)", "low_fence")}, {_shown("exp(f.high_log)", "high_fence")},
       {_shown("o.low_outliers", "low_outliers")}, {_shown("o.high_outliers", "high_outliers")},
       f.foreign_declarations, f.foreign_traders, f.foreign_data
FROM fenced f
LEFT JOIN outliers o ON o.hs6 = f.hs6 AND o.origin_country = f.origin_country
     AND o.currency = f.currency
"""

UNIT_VALUES = Job(
    name="unit_values",
    title="Unit values by HS subheading, origin and currency",
    description=(
        "Distribution of the unit value (invoice value per kg of net mass, in the invoice "
        "currency, never converted) of goods items, by HS subheading, country of origin "
        "('' when not declared) and currency: items with a unit value, items without one "
        "(no net mass: mass 0 or missing; no value: value 0 or missing), declarations, "
        "traders, percentiles 5/25/50/75/95 (interpolated), and Tukey's fences on the log of "
        "the unit value as the risk engine's value controls compute them: quartiles q1, q3 of "
        "log unit value, fences exp(q1 - iqr_factor * w) and exp(q3 + iqr_factor * w) with "
        "w = max(q3 - q1, min_log_width), and the items below and above them. Groups with "
        "fewer than min_items unit values show their percentiles but no fences or outlier "
        "counts. A risk indicator, never a customs value (WCO: price databases select "
        "declarations for control, they do not set the value)."
    ),
    sql=_UNIT_VALUES_SQL,
    datasets=("goods_items",),
    keys=("hs6", "origin_country", "currency"),
    cells=("declarations", "traders"),
    foreign_cells=("foreign_declarations", "foreign_traders"),
    params=(
        SINCE,
        UNTIL,
        HS,
        Param("origin", Kind.COUNTRY, "Only goods of this country of origin."),
        Param(
            "flow",
            Kind.CHOICE,
            "Only declarations of this type (all by default; one consignment then counts on "
            "both sides of a border).",
            choices=("export", "import", "transit"),
        ),
        Param("reporter", Kind.COUNTRY, "Only declarations lodged with this country's customs."),
        Param(
            "min_items",
            Kind.INT,
            "Fences and outliers only for groups with at least this many unit values "
            "(the risk engine's min_count).",
            20,
            minimum=3,
            maximum=1_000_000,
        ),
        Param(
            "iqr_factor",
            Kind.FLOAT,
            "Tukey's factor: fences lie this many inter-quartile ranges (of log unit value) "
            "beyond the quartiles (the risk engine's default).",
            3.0,
            minimum=0.1,
            maximum=20.0,
        ),
        Param(
            "min_log_width",
            Kind.FLOAT,
            "Smallest inter-quartile range of log unit value used for the fences, so identical "
            "prices do not make every other price an outlier (the risk engine's default).",
            0.1,
            minimum=0.0,
            maximum=5.0,
        ),
    ),
    chart=Chart(
        x="hs6",
        y="median",
        series=("origin_country", "currency"),
        kind="bar",
        title="Median unit value per kg",
    ),
    notes=(
        "In rows holding data not the reader's own, the percentiles, fences and outlier counts "
        "are withheld (null) when the items with a unit value come from fewer declarations or "
        "traders than the minimum cell size: they would be that trader's prices.",
        "A group pools every country's items: where it holds the reader's own and another "
        "country's, the other country's part is held to the minimum too (the row is suppressed "
        "when that part's declarations or traders are too few; the figures are withheld when "
        "its items with a unit value are), since the reader knows its own items.",
    ),
)

JOBS = (TRADE_FLOWS, MIRROR_STATISTICS, UNIT_VALUES)

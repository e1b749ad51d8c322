"""Trade jobs: flows by HS, direction, partner and month."""

from __future__ import annotations

from silkgate.analytics.jobs.common import (
    HS,
    HS_AT_LEVEL,
    LEVEL,
    SINCE,
    UNTIL,
    foreign,
    month,
    month_index,
)
from silkgate.analytics.jobs.spec import Chart, Job, Kind, Param

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
  SELECT *, foreign_data = 0 OR (declarations >= {{min_cell_size}}
                                 AND traders >= {{min_cell_size}}) AS publishable
  FROM cells
)
SELECT c.hs, c.flow, c.reporter, c.partner, c.month, c.currency, c.value, c.net_mass_kg,
       c.items, c.declarations, c.traders, c.foreign_data,
       CASE WHEN m.publishable THEN c.value / nullif(m.value, 0) - 1 END AS value_growth_mom,
       CASE WHEN y.publishable THEN c.value / nullif(y.value, 0) - 1 END AS value_growth_yoy,
       CASE WHEN y.publishable THEN c.net_mass_kg / nullif(y.net_mass_kg, 0) - 1 END
         AS mass_growth_yoy
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
        "month and the same month a year before (empty when there is no such month, or when "
        "it was too small to publish)."
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

JOBS = (TRADE_FLOWS,)

"""Risk-engine value bands from mirror statistics: a flagged HS6 becomes a minimum unit value.

A row of ``mirror_statistics`` is flagged when the importer's recorded unit value is below
``ratio_threshold`` times the exporter's. Each flagged HS6 (in one currency) becomes a
``ValueBand`` whose ``min_per_kg`` is that threshold times the export side's unit value, so an
import declared below it is selected for control by the risk engine's value controls. A band
selects declarations for control; it never sets a customs value (WCO guidance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from silkgate.analytics.jobs import service
from silkgate.analytics.jobs.schemas import JobRun
from silkgate.codelists.currencies import is_currency
from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.registry.service import Caller
from silkgate.risk.selectivity.schemas import ValueBand

JOB = "mirror_statistics"
_NEEDED = ("hs", "currency", "flag", "export_unit_value", "export_mass_kg", "export_declarations")


@dataclass
class MirrorBands:
    """The bands, the run they come from (exclusions, suppressed cells) and what was not used."""

    bands: list[ValueBand]
    run: JobRun
    currency: str
    flagged_rows: int  # flagged rows of the result, every currency
    other_currency_rows: int  # of those, rows in another currency: no band from them


def value_bands(
    table: pa.Table, *, ratio_threshold: float, origin: str, currency: str
) -> list[ValueBand]:
    """One band per flagged HS6 of ``currency`` in a ``mirror_statistics`` result at level hs6.

    ``min_per_kg`` = ``ratio_threshold`` x the export side's unit value over the flagged months
    (weighted by export net mass); ``count`` = export declarations behind it; ``origin``: the
    band applies to goods of this origin (the exporter, for imports it sent). The risk engine
    compares invoice values without converting currencies, so bands of one currency suit only
    declarations invoiced in it.
    """
    missing = [c for c in _NEEDED if c not in table.column_names]
    if missing:
        raise ValueError(f"not a {JOB} result: no column {', '.join(missing)}")
    rows = table.select(list(_NEEDED)).to_pylist()
    coarse = sorted({r["hs"] for r in rows if len(r["hs"]) != 6})
    if coarse:
        raise ValueError(f"value bands are per HS6; the result has HS {', '.join(coarse)}")
    weighted: dict[str, list[float]] = {}
    for r in rows:
        if not r["flag"] or r["currency"] != currency or not r["export_mass_kg"]:
            continue
        acc = weighted.setdefault(r["hs"], [0.0, 0.0, 0])
        acc[0] += r["export_unit_value"] * r["export_mass_kg"]
        acc[1] += r["export_mass_kg"]
        acc[2] += r["export_declarations"]
    return [
        ValueBand(
            hs6=hs,
            origin=origin,
            min_per_kg=ratio_threshold * total / mass,
            source="history",
            count=int(declarations),
        )
        for hs, (total, mass, declarations) in sorted(weighted.items())
    ]


def bands_of(result: service.Result, currency: str) -> MirrorBands:
    """The bands of a ``mirror_statistics`` run, with the run's own threshold and exporter."""
    if result.run.job != JOB:
        raise ValueError(f"value bands come from {JOB}, not {result.run.job}")
    params = result.run.params
    flags = result.table.column("flag").to_pylist()
    currencies = result.table.column("currency").to_pylist()
    flagged = sum(1 for f in flags if f)
    other = sum(1 for f, c in zip(flags, currencies, strict=True) if f and c != currency)
    bands = value_bands(
        result.table,
        ratio_threshold=params["ratio_threshold"],
        origin=params["exporter"],
        currency=currency,
    )
    return MirrorBands(bands, result.run, currency, flagged, other)


def mirror_value_bands(
    platform: Platform,
    params: Mapping[str, Any] | None,
    currency: str = "USD",
    engine: str = "duckdb",
    compute_country: str | None = None,
    reader: Caller | None = None,
) -> MirrorBands:
    """Run ``mirror_statistics`` at level hs6 on the platform's lake (its agreements, compute
    country and minimum cell size) and turn the flagged rows of ``currency`` into bands."""
    given = dict(params or {})
    errors = []
    if given.get("level", "hs6") != "hs6":
        errors.append(FieldError("/params/level", "not_hs6", "value bands are per HS6 (hs6)"))
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if not is_currency(code):
        errors.append(FieldError("/currency", "unknown_currency", f"{currency!r} is not ISO 4217"))
    try:
        request = service.check(JOB, {**given, "level": "hs6"}, engine, compute_country)
    except ValidationFailed as exc:
        errors = [*exc.errors, *errors]
    if errors:
        raise ValidationFailed(errors)
    return bands_of(service.run(platform, request, reader), code)

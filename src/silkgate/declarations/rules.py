"""Checks a declaration against code lists, identifiers and its own arithmetic."""

from __future__ import annotations

from collections.abc import Mapping

from silkgate.codelists.countries import is_country
from silkgate.codelists.currencies import is_currency
from silkgate.codelists.hs import is_valid_hs
from silkgate.codelists.identifiers import (
    IdentifierError,
    validate_business_id,
    validate_container_number,
    validate_plate,
    validate_tir_carnet,
)
from silkgate.codelists.incoterms import INCOTERMS
from silkgate.core.errors import FieldError
from silkgate.declarations.schemas import DeclarationIn, DeclarationType

MAX_ROAD_CONSIGNMENT_KG = 50_000.0  # heaviest plausible load of one road train
MASS_TOLERANCE_KG = 0.01
VALUE_TOLERANCE = 0.01


def check_declaration(
    d: DeclarationIn, crossings: Mapping[str, tuple[str, ...]]
) -> list[FieldError]:
    """All rule violations of a shape-valid declaration; empty when it can be accepted.

    ``crossings`` maps crossing code to the two countries it joins.
    """
    errors: list[FieldError] = []
    _countries(d, errors)
    _crossing(d, crossings, errors)
    _parties(d, errors)
    _transport(d, errors)
    _invoice(d, errors)
    _items(d, errors)
    return errors


def _country(code: str | None, field: str, errors: list[FieldError]) -> None:
    if code is not None and not is_country(code):
        errors.append(FieldError(field, "unknown_country", f"{code} is not an ISO 3166-1 country"))


def _countries(d: DeclarationIn, errors: list[FieldError]) -> None:
    for role, party in (("exporter", d.exporter), ("importer", d.importer)):
        _country(party.country, f"/{role}/country", errors)
        _country(party.address.country, f"/{role}/address/country", errors)
    _country(d.country_of_export, "/country_of_export", errors)
    _country(d.country_of_destination, "/country_of_destination", errors)
    _country(d.transport.tractor_nationality, "/transport/tractor_nationality", errors)
    _country(d.transport.trailer_nationality, "/transport/trailer_nationality", errors)
    if d.driver is not None:
        _country(d.driver.document_country, "/driver/document_country", errors)
    for i, item in enumerate(d.goods_items):
        _country(item.origin_country, f"/goods_items/{i}/origin_country", errors)


def _crossing(
    d: DeclarationIn, crossings: Mapping[str, tuple[str, ...]], errors: list[FieldError]
) -> None:
    sides = crossings.get(d.crossing.code)
    if sides is None:
        errors.append(
            FieldError("/crossing/code", "unknown_crossing", f"no crossing {d.crossing.code}")
        )
        return
    exit_c, entry_c = d.crossing.exit_country, d.crossing.entry_country
    if exit_c == entry_c or {exit_c, entry_c} != set(sides):
        errors.append(
            FieldError(
                "/crossing",
                "wrong_direction",
                f"crossing {d.crossing.code} joins {' and '.join(sides)}; "
                f"exit and entry must be those two countries",
            )
        )
        return
    if d.type == DeclarationType.EXPORT and d.country_of_export != exit_c:
        errors.append(
            FieldError("/country_of_export", "mismatch", f"an export leaves through {exit_c}")
        )
    if d.type == DeclarationType.IMPORT and d.country_of_destination != entry_c:
        errors.append(
            FieldError("/country_of_destination", "mismatch", f"an import enters {entry_c}")
        )


def _parties(d: DeclarationIn, errors: list[FieldError]) -> None:
    for role, party in (("exporter", d.exporter), ("importer", d.importer)):
        try:
            validate_business_id(party.country, party.identifier)
        except IdentifierError as exc:
            errors.append(FieldError(f"/{role}/identifier", "invalid_identifier", str(exc)))


def _transport(d: DeclarationIn, errors: list[FieldError]) -> None:
    t = d.transport
    for field, plate, country in (
        ("tractor_plate", t.tractor_plate, t.tractor_nationality),
        ("trailer_plate", t.trailer_plate, t.trailer_nationality or t.tractor_nationality),
    ):
        if plate is None:
            continue
        try:
            validate_plate(country, plate)
        except IdentifierError as exc:
            errors.append(FieldError(f"/transport/{field}", "invalid_plate", str(exc)))
    for i, container in enumerate(d.containers):
        try:
            validate_container_number(container.number)
        except IdentifierError as exc:
            errors.append(FieldError(f"/containers/{i}/number", "invalid_container", str(exc)))
    if d.tir_carnet is not None:
        try:
            validate_tir_carnet(d.tir_carnet)
        except IdentifierError as exc:
            errors.append(FieldError("/tir_carnet", "invalid_tir_carnet", str(exc)))


def _invoice(d: DeclarationIn, errors: list[FieldError]) -> None:
    if not is_currency(d.invoice.currency):
        errors.append(
            FieldError(
                "/invoice/currency", "unknown_currency", f"{d.invoice.currency} is not ISO 4217"
            )
        )
    if d.invoice.incoterm not in INCOTERMS:
        errors.append(
            FieldError(
                "/invoice/incoterm",
                "unknown_incoterm",
                f"{d.invoice.incoterm} is not an Incoterm 2020",
            )
        )
    total = sum(i.invoice_value for i in d.goods_items)
    if abs(total - d.invoice.total_amount) > VALUE_TOLERANCE * max(1, len(d.goods_items)):
        errors.append(
            FieldError(
                "/invoice/total_amount",
                "totals_mismatch",
                f"{d.invoice.total_amount:.2f} differs from the items' sum {total:.2f}",
            )
        )


def _items(d: DeclarationIn, errors: list[FieldError]) -> None:
    for i, item in enumerate(d.goods_items):
        if not is_valid_hs(item.hs_code):
            errors.append(
                FieldError(
                    f"/goods_items/{i}/hs_code",
                    "unknown_hs_code",
                    f"{item.hs_code[:6]} is not an HS subheading",
                )
            )
        if item.net_mass_kg > item.gross_mass_kg:
            errors.append(
                FieldError(
                    f"/goods_items/{i}/net_mass_kg",
                    "impossible_mass",
                    "net mass exceeds gross mass",
                )
            )
    gross = sum(i.gross_mass_kg for i in d.goods_items)
    if abs(gross - d.totals.gross_mass_kg) > MASS_TOLERANCE_KG * len(d.goods_items):
        errors.append(
            FieldError(
                "/totals/gross_mass_kg",
                "totals_mismatch",
                f"{d.totals.gross_mass_kg} kg differs from the items' sum {gross:.3f} kg",
            )
        )
    if d.totals.gross_mass_kg > MAX_ROAD_CONSIGNMENT_KG:
        errors.append(
            FieldError(
                "/totals/gross_mass_kg",
                "impossible_mass",
                f"more than {MAX_ROAD_CONSIGNMENT_KG:.0f} kg cannot travel on one road vehicle",
            )
        )
    packages = sum(i.packages.count for i in d.goods_items)
    if packages != d.totals.packages:
        errors.append(
            FieldError(
                "/totals/packages",
                "totals_mismatch",
                f"{d.totals.packages} differs from the items' sum {packages}",
            )
        )

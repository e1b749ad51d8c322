"""Booking checks on the declarations a truck moves: state, route, party, vehicle, evidence."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkgate.core.errors import FieldError
from silkgate.declarations.models import Declaration
from silkgate.declarations.schemas import DeclarationStatus
from silkgate.queue.schemas import BookingIn, QuotaClass
from silkgate.registry.models import Organization
from silkgate.registry.service import Caller

#: Declaration statuses that count as accepted for booking (before the truck reaches the border).
BOOKABLE_STATUSES = (DeclarationStatus.ACCEPTED.value, DeclarationStatus.RISK_ASSESSED.value)
#: HS prefixes that count as perishable: meat, fish, dairy/eggs, vegetables, fruit, cut flowers.
PERISHABLE_HS = ("02", "03", "04", "07", "08", "0603")
LIVE_ANIMAL_HS = ("01", "0301")


def _norm(value: object) -> str:
    return str(value or "").replace(" ", "").replace("-", "").upper()


def may_act_for(caller: Caller, caller_code: str, decl: Declaration) -> bool:
    """The declarant itself, or the exporter/importer named in it (same country, same
    business identifier as the caller's registered code). The declaration names no carrier
    or representative, so a carrier that did not lodge it cannot book it."""
    if decl.declarant_org_id == caller.id:
        return True
    for role in ("exporter", "importer"):
        party = decl.payload.get(role) or {}
        if party.get("country") == caller.country and _norm(party.get("identifier")) == _norm(
            caller_code
        ):
            return True
    return False


def check_declarations(
    s: Session, caller: Caller, body: BookingIn
) -> tuple[list[Declaration], list[FieldError]]:
    """Load the declarations and refuse each one that cannot travel on this booking."""
    code = s.scalar(select(Organization.code).where(Organization.id == caller.id)) or ""
    rows = {
        d.id: d
        for d in s.scalars(select(Declaration).where(Declaration.id.in_(body.declaration_ids)))
    }
    return check_loaded(caller, code, rows, body)


def check_loaded(
    caller: Caller, code: str, rows: dict[str, Declaration], body: BookingIn
) -> tuple[list[Declaration], list[FieldError]]:
    """``check_declarations`` on declarations loaded already (``rows`` may hold others too):
    ``code`` is the caller's registered business identifier."""
    errors: list[FieldError] = []
    if len(set(body.declaration_ids)) != len(body.declaration_ids):
        errors.append(FieldError("/declaration_ids", "duplicate", "a declaration is listed twice"))
    found: list[Declaration] = []
    for i, decl_id in enumerate(body.declaration_ids):
        where = f"/declaration_ids/{i}"
        d = rows.get(decl_id)
        if d is None or not may_act_for(caller, code, d):
            errors.append(
                FieldError(
                    where,
                    "not_entitled",
                    "no such declaration, or your organization may not act for its declarant",
                )
            )
            continue
        found.append(d)
        if d.status not in BOOKABLE_STATUSES:
            errors.append(
                FieldError(
                    where,
                    "not_accepted",
                    f"declaration is {d.status}; booking needs {' or '.join(BOOKABLE_STATUSES)}",
                )
            )
        if d.crossing_code != body.crossing:
            errors.append(
                FieldError(where, "crossing_mismatch", f"declared for crossing {d.crossing_code}")
            )
        if (d.exit_country, d.entry_country) != (body.exit_country, body.entry_country):
            errors.append(
                FieldError(
                    where,
                    "direction_mismatch",
                    f"declared {d.exit_country}→{d.entry_country}, booking is "
                    f"{body.exit_country}→{body.entry_country}",
                )
            )
        transport = d.payload.get("transport") or {}
        if (_norm(transport.get("tractor_plate")), transport.get("tractor_nationality")) != (
            _norm(body.truck.tractor_plate),
            body.truck.tractor_nationality,
        ):
            errors.append(
                FieldError(
                    "/truck/tractor_plate",
                    "vehicle_mismatch",
                    f"declaration {decl_id} names another tractor",
                )
            )
    return found, errors


def check_evidence_class(body: BookingIn) -> list[FieldError]:
    """The class rules that need no declaration: live is not bookable, regular has no evidence."""
    if body.quota_class is QuotaClass.LIVE:
        return [FieldError("/quota_class", "not_bookable", "the live share is for walk-in trucks")]
    if body.quota_class is QuotaClass.REGULAR and body.evidence is not None:
        return [FieldError("/evidence", "not_expected", "regular bookings carry no evidence")]
    return []


def check_evidence(body: BookingIn, decls: list[Declaration]) -> list[FieldError]:
    """Whether the evidence (and the goods declared) back the quota class asked for."""
    cls = body.quota_class
    ev = body.evidence
    hs = [str(it.get("hs_code", "")) for d in decls for it in d.payload.get("goods_items", [])]

    def err(code: str, message: str, field: str = "/quota_class") -> list[FieldError]:
        return [FieldError(field, code, message)]

    first = check_evidence_class(body)
    if first or cls is QuotaClass.REGULAR:
        return first
    if cls is QuotaClass.PERISHABLES and not all(h.startswith(PERISHABLE_HS) for h in hs):
        return err(
            "wrong_evidence", "every goods item must be perishable (HS 02, 03, 04, 07, 08, 0603)"
        )
    if cls is QuotaClass.LIVE_ANIMALS and not all(h.startswith(LIVE_ANIMAL_HS) for h in hs):
        return err("wrong_evidence", "every goods item must be live animals (HS 01, 0301)")
    if cls is QuotaClass.DANGEROUS_GOODS and (
        ev is None or not ev.un_numbers or not ev.adr_certificate
    ):
        return err(
            "wrong_evidence", "dangerous goods need un_numbers and adr_certificate", "/evidence"
        )
    if cls is QuotaClass.HUMANITARIAN and (ev is None or not ev.humanitarian_reference):
        return err("wrong_evidence", "humanitarian cargo needs humanitarian_reference", "/evidence")
    if cls is QuotaClass.AEO_TIR:
        tir = all(d.payload.get("tir_carnet") for d in decls)
        if not tir and (ev is None or not ev.aeo_certificate):
            return err(
                "wrong_evidence",
                "aeo_tir needs a TIR carnet on every declaration or an aeo_certificate",
                "/evidence",
            )
    return []

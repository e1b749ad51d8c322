"""Records as the policy decision reads them, built from each domain's rows."""

from __future__ import annotations

from silkgate.declarations.access import lodged_with
from silkgate.declarations.models import Declaration
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.policy import Record


def declaration_record(d: Declaration, category: Category = Category.DECLARATION) -> Record:
    """A declaration: made by its declarant, lodged with the customs of ``lodged_with``."""
    return Record(
        category,
        owner=d.declarant,
        authority=lodged_with(d),
        crossing=d.crossing_code,
        exit_country=d.exit_country,
        entry_country=d.entry_country,
        declaration_type=d.type,
        status=d.status,
    )

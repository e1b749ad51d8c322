"""Imports every domain's tables so metadata and Alembic see them all."""

from silkgate.audit.models import AuditEntry, SigningKey
from silkgate.declarations.models import Declaration, DeclarationVersion, GoodsItem, IdempotencyKey
from silkgate.registry.models import ApiKey, Crossing, CrossingAssignment, MemberState, Organization

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Crossing",
    "CrossingAssignment",
    "Declaration",
    "DeclarationVersion",
    "GoodsItem",
    "IdempotencyKey",
    "MemberState",
    "Organization",
    "SigningKey",
]

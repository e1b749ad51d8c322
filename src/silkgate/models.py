"""Imports every domain's tables so metadata and Alembic see them all."""

from silkgate.audit.models import AuditEntry, SignedSubmission, SignedSubmissionRecord, SigningKey
from silkgate.console.models import ConsoleInvite, ConsoleSession, ConsoleUser
from silkgate.declarations.models import Declaration, DeclarationVersion, GoodsItem, IdempotencyKey
from silkgate.exchange.agreements.models import Agreement, AgreementSignature
from silkgate.exchange.disclosures.models import Disclosure, DisclosureGrant, PersonalTransfer
from silkgate.exchange.models import Delivery, OutboxMessage, Subscription
from silkgate.gates.models import GateEvent, GateEventRef
from silkgate.queue.models import (
    BookedDeclaration,
    Booking,
    CapacityCap,
    DayPlan,
    DepositEntry,
    Notification,
    Slot,
    Stage,
    WaitingTruck,
)
from silkgate.registry.models import ApiKey, Crossing, CrossingAssignment, MemberState, Organization
from silkgate.risk.platform.models import (
    ActiveRiskModel,
    InspectionResult,
    RiskAssessment,
    RiskModelRecord,
    RiskProfile,
)

__all__ = [
    "ActiveRiskModel",
    "Agreement",
    "AgreementSignature",
    "ApiKey",
    "AuditEntry",
    "BookedDeclaration",
    "Booking",
    "CapacityCap",
    "ConsoleInvite",
    "ConsoleSession",
    "ConsoleUser",
    "Crossing",
    "CrossingAssignment",
    "DayPlan",
    "Declaration",
    "DeclarationVersion",
    "Delivery",
    "DepositEntry",
    "Disclosure",
    "DisclosureGrant",
    "GateEvent",
    "GateEventRef",
    "GoodsItem",
    "IdempotencyKey",
    "InspectionResult",
    "MemberState",
    "Notification",
    "Organization",
    "OutboxMessage",
    "PersonalTransfer",
    "RiskAssessment",
    "RiskModelRecord",
    "RiskProfile",
    "SignedSubmission",
    "SignedSubmissionRecord",
    "SigningKey",
    "Slot",
    "Stage",
    "Subscription",
    "WaitingTruck",
]

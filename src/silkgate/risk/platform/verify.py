"""Check stored risk records against the audit log (``silkgate risk verify``).

``silkgate audit verify`` proves the chain is intact; this proves the assessments, inspection
results and profile versions in the risk tables still say what was logged when they were made.
(Lane overrides change the assessment row; the assessment's own digest excludes them, and the
override itself is in the log as ``declaration.lane_overridden``.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from silkgate.audit.models import AuditEntry
from silkgate.audit.service import payload_digest
from silkgate.core.platform import Platform
from silkgate.risk.platform.assessor import assessment_payload
from silkgate.risk.platform.models import InspectionResult, RiskAssessment, RiskProfile
from silkgate.risk.platform.service import inspection_payload


@dataclass
class RiskCheck:
    """How many records of each kind matched their audit entries; the first that did not."""

    checked: dict[str, int] = field(default_factory=dict)
    broken: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken is None


def _logged(platform: Platform, action: str) -> set[tuple[str, str]]:
    stmt = select(AuditEntry.entity_id, AuditEntry.payload_digest).where(
        AuditEntry.action == action
    )
    with platform.db.session() as s:
        return {(r[0], r[1]) for r in s.execute(stmt)}


def verify(platform: Platform) -> RiskCheck:
    """Recompute each stored record's digest and look for it in the log."""
    out = RiskCheck()
    logged = _logged(platform, "declaration.risk_assessed")
    with platform.db.session() as s:
        n = 0
        stmt = select(RiskAssessment).order_by(RiskAssessment.id).execution_options(yield_per=1000)
        for a in s.scalars(stmt):
            if (a.declaration_id, payload_digest(assessment_payload(a))) not in logged:
                out.broken = f"assessment of declaration {a.declaration_id} version {a.version}"
                out.reason = "no audit entry records this assessment"
                return out
            n += 1
        out.checked["assessments"] = n
    logged = _logged(platform, "inspection.recorded")
    with platform.db.session() as s:
        n = 0
        for r in s.scalars(select(InspectionResult).order_by(InspectionResult.id)):
            if (r.declaration_id, payload_digest(inspection_payload(r))) not in logged:
                out.broken = f"inspection of declaration {r.declaration_id} version {r.version}"
                out.reason = "no audit entry records this inspection result"
                return out
            n += 1
        out.checked["inspections"] = n
    logged = _logged(platform, "risk.profile_saved")
    with platform.db.session() as s:
        n = 0
        for p in s.scalars(select(RiskProfile).order_by(RiskProfile.id)):
            where = f"profile {p.office}/{p.direction} version {p.version}"
            if payload_digest(p.data) != p.digest:
                out.broken, out.reason = where, "stored profile no longer matches its digest"
                return out
            if (f"{p.office}/{p.direction}", p.digest) not in logged:
                out.broken, out.reason = where, "no audit entry records this profile"
                return out
            n += 1
        out.checked["profiles"] = n
    return out

"""The small records against the log: organizations with their keys, risk profiles, registered
risk models and each office's active model.

Entries written since the log carries ``state`` are compared field by field with the current
rows; older entries (digest only) are matched by recomputing their payload from the rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkgate.audit.consistency import Report, compare_state
from silkgate.audit.models import AuditEntry
from silkgate.audit.service import payload_digest
from silkgate.registry.models import ApiKey, Organization
from silkgate.registry.service import organization_state
from silkgate.risk.platform.models import ActiveRiskModel, RiskModelRecord, RiskProfile


def entries_by_entity(s: Session, entity_type: str) -> dict[str, list[Any]]:
    """Every entry about entities of one type, by entity id, oldest first."""
    stmt = (
        select(
            AuditEntry.seq,
            AuditEntry.action,
            AuditEntry.entity_id,
            AuditEntry.payload_digest,
            AuditEntry.state,
        )
        .where(AuditEntry.entity_type == entity_type)
        .order_by(AuditEntry.seq)
    )
    out: dict[str, list[Any]] = defaultdict(list)
    for e in s.execute(stmt):
        out[e.entity_id].append(e)
    return out


def check_records(s: Session, report: Report, progress: Any = None) -> None:
    _organizations(s, report)
    _profiles(s, report)
    _models(s, report)
    _offices(s, report)


def _compare_state(report: Report, entity: str, stored: Any, e: Any) -> None:
    compare_state(report, entity, stored, e.state, e.seq)


def _organizations(s: Session, report: Report) -> None:
    logged = entries_by_entity(s, "organization")
    orgs = {o.member_id: o for o in s.scalars(select(Organization))}
    for member_id in sorted(orgs.keys() - logged.keys()):
        report.add(f"organization {member_id}", "in the table, but no audit entry records it")
    for member_id in sorted(logged.keys() - orgs.keys()):
        last = logged[member_id][-1]
        report.add(
            f"organization {member_id}",
            f"the log records it (last {last.action} at entry {last.seq}) but it is missing "
            "from the organizations table",
        )
    for member_id in sorted(orgs.keys() & logged.keys()):
        entity, entries, org = f"organization {member_id}", logged[member_id], orgs[member_id]
        report.checked["organizations"] += 1
        if entries[-1].state is not None:
            _compare_state(report, entity, organization_state(s, org), entries[-1])
        else:
            _legacy_organization(s, report, entity, org, entries)


def _legacy_organization(
    s: Session, report: Report, entity: str, org: Organization, entries: list[Any]
) -> None:
    """Entries from before ``state``: match API keys and the signing key by payload digest."""
    created = [e for e in entries if e.action == "api_key.created"]
    revoked = {e.payload_digest for e in entries if e.action == "api_key.revoked"}
    for key in s.scalars(select(ApiKey).where(ApiKey.organization_id == org.id)):
        digest = payload_digest({"prefix": key.prefix, "label": key.label})
        hit = next((e for e in created if e.payload_digest == digest), None)
        if hit is None:
            report.add(entity, f"API key {key.prefix} ({key.label!r}) has no api_key.created entry")
        else:
            created.remove(hit)
        if (payload_digest({"prefix": key.prefix}) in revoked) != (key.revoked_at is not None):
            state = "revoked" if key.revoked_at is not None else "not revoked"
            report.add(entity, f"API key {key.prefix} is {state}, unlike the log")
    for e in created:
        report.add(entity, f"the API key created at entry {e.seq} is missing from api_keys")
    registered = [e for e in entries if e.action == "organization.signing_key_registered"]
    if registered and payload_digest({"public_key": org.signing_public_key}) != (
        registered[-1].payload_digest
    ):
        report.add(entity, f"signing public key differs from entry {registered[-1].seq}")


def _profiles(s: Session, report: Report) -> None:
    logged = entries_by_entity(s, "risk_profile")
    stored: dict[str, dict[int, RiskProfile]] = defaultdict(dict)
    for p in s.scalars(select(RiskProfile)):
        stored[f"{p.office}/{p.direction}"][p.version] = p
    for key in sorted(logged.keys() | stored.keys()):
        entity, entries, rows = f"risk profile {key}", logged.get(key, []), stored.get(key, {})
        for n, e in enumerate(entries, start=1):
            found = rows.pop(n, None)
            if found is None:
                report.add(entity, f"version {n} (entry {e.seq}) is missing from risk_profiles")
            elif {payload_digest(found.data), found.digest} != {e.payload_digest}:
                report.add(entity, f"version {n} differs from what entry {e.seq} recorded")
            report.checked["profile versions"] += 1
        for n in sorted(rows):
            report.add(entity, f"version {n} is in risk_profiles, but no audit entry records it")


def model_payload(m: RiskModelRecord) -> dict[str, Any]:
    """What the ``risk.model_registered`` entry's digest covers."""
    return {"path": m.path, "model_sha256": m.model_sha256, "summary": m.summary}


def _models(s: Session, report: Report) -> None:
    logged = entries_by_entity(s, "risk_model")
    rows = {m.model_id: m for m in s.scalars(select(RiskModelRecord))}
    for model_id in sorted(logged.keys() | rows.keys()):
        entity, entries, m = f"risk model {model_id}", logged.get(model_id, []), rows.get(model_id)
        if m is None:
            report.add(entity, f"registered at entry {entries[0].seq}, missing from risk_models")
        elif not entries:
            report.add(entity, "in risk_models, but no audit entry records it")
        elif payload_digest(model_payload(m)) != entries[0].payload_digest:
            report.add(entity, f"path, model digest or summary differ from entry {entries[0].seq}")
        report.checked["risk models"] += 1


def _offices(s: Session, report: Report) -> None:
    logged = entries_by_entity(s, "risk_office")
    active = {a.office: a.model_id for a in s.scalars(select(ActiveRiskModel))}
    models = [None, *sorted(m for m in s.scalars(select(RiskModelRecord.model_id)))]
    for office in sorted(logged.keys() | active.keys()):
        entity, entries = f"office {office}", logged.get(office, [])
        model = active.get(office)
        report.checked["offices"] += 1
        if not entries:
            report.add(entity, f"active model {model} has no audit entry")
            continue
        last = entries[-1]
        if last.state is not None:
            want = last.state.get("model_id")
        elif last.action == "risk.model_deactivated":
            want = None
        else:  # an older entry: find the model id its digest covers
            want = next(
                (
                    m
                    for m in models[1:]
                    for p in models
                    if payload_digest({"model_id": m, "previous": p}) == last.payload_digest
                ),
                "(unknown)",
            )
        if model != want:
            report.add(
                entity, f"active model is {model!r}; the log (entry {last.seq}) says {want!r}"
            )


#: Counted instead of compared: entries written before their kind of record carried a state.
UNCOMPARED = "records logged before states were kept (not compared)"


def compare_records(
    report: Report,
    noun: str,
    table: str,
    logged: dict[str, list[Any]],
    rows: dict[str, Any],
    state_of: Callable[[Any], dict[str, Any]],
    counted: str,
    extra: Callable[[str, Any, Any], None] | None = None,
) -> None:
    """Small records keyed by their entity id: each row against the ``state`` of its latest
    entry, field by field; rows without entries and logged records without rows are named.
    ``counted`` names them in the summary; ``extra(entity, row, last_entry)`` adds checks."""
    for key in sorted(rows.keys() - logged.keys(), key=_natural):
        report.add(f"{noun} {key}", f"in {table}, but no audit entry records it")
    for key in sorted(logged.keys() - rows.keys(), key=_natural):
        last = logged[key][-1]
        report.add(
            f"{noun} {key}",
            f"the log records it (last {last.action} at entry {last.seq}) but it is missing "
            f"from {table}",
        )
    for key in sorted(rows.keys() & logged.keys(), key=_natural):
        entity, row, last = f"{noun} {key}", rows[key], logged[key][-1]
        report.checked[counted] += 1
        if last.state is None:
            report.checked[UNCOMPARED] += 1
            continue
        compare_state(report, entity, state_of(row), last.state, last.seq)
        if extra is not None:
            extra(entity, row, last)


def _natural(key: str) -> tuple[int, str]:
    """Numeric ids in numeric order."""
    return (len(key), key) if key.isdigit() else (0, key)

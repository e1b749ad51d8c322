"""Every declaration the log or the tables know of, its replayed log against its rows.

``declaration_state`` streams the log by declaration and loads the rows of each id range;
this module compares them (what is compared: see docs/audit.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from silkgate.audit.consistency import Report, differences
from silkgate.audit.declaration_state import (
    BATCH,
    ITEM_COLUMNS,
    LANES,
    Batch,
    Replay,
    groups,
    header_of,
    item_rows,
    load,
    replay,
)
from silkgate.audit.service import payload_digest
from silkgate.declarations.lodging import lodging_trader
from silkgate.declarations.models import VERSION_ROUTING
from silkgate.registry.models import Organization
from silkgate.risk.platform.assessor import assessment_payload
from silkgate.risk.platform.service import inspection_payload


def check_declarations(s: Session, report: Report, progress: Any = None) -> None:
    """Compare every declaration the log or the tables know of (see the module docstring)."""
    orgs = dict(s.execute(select(Organization.id, Organization.member_id)).all())
    lo: str | None = None
    pending: list[tuple[str, list[Any]]] = []
    for group in groups(s):
        pending.append(group)
        if len(pending) >= BATCH:
            lo = _compare(s, report, lo, pending, orgs)
            pending = []
            if progress is not None:
                progress(BATCH)
    if pending:
        lo = _compare(s, report, lo, pending, orgs)
    batch = load(s, lo, None)  # rows after the last logged id: none should exist
    for decl_id in batch.decls:
        _unlogged(report, decl_id)


def _compare(
    s: Session, report: Report, lo: str | None, groups: list[tuple[str, list[Any]]], orgs: Any
) -> str:
    hi = groups[-1][0]
    batch = load(s, lo, hi)
    logged = {decl_id for decl_id, _ in groups}
    for decl_id in batch.decls.keys() - logged:
        _unlogged(report, decl_id)
    for decl_id, entries in groups:
        check_one(report, decl_id, entries, batch, orgs)
        report.checked["declarations"] += 1
    return hi


def _unlogged(report: Report, decl_id: str) -> None:
    report.add(f"declaration {decl_id}", "in the declarations table, but no audit entry records it")


def check_one(report: Report, decl_id: str, entries: list[Any], batch: Batch, orgs: Any) -> None:
    entity = f"declaration {decl_id}"
    r = replay(entries, report, entity)
    row = batch.decls.get(decl_id)
    last = entries[-1]
    if row is None:
        report.add(
            entity,
            f"the log records it ({len(entries)} entries, the last {last.action} at entry "
            f"{last.seq}) but it is missing from the declarations table",
        )
        return
    if not r.lodgings:
        report.add(entity, "the log has no declaration.submitted entry for it")
        return
    versions = batch.versions.get(decl_id, {})
    _check_versions(report, entity, r, versions, batch, decl_id)
    _check_current(report, entity, r, row, versions, batch, orgs)
    lanes = _check_assessments(report, entity, r, batch.assessments.get(decl_id, []))
    _check_lane(report, entity, r, row, lanes)
    _check_inspections(report, entity, r, batch.inspections.get(decl_id, []))


def _check_versions(
    report: Report, entity: str, r: Replay, versions: Any, batch: Batch, decl_id: str
) -> None:
    for n, e in enumerate(r.lodgings, start=1):
        v = versions.get(n)
        if v is None:
            report.add(entity, f"version {n} (entry {e.seq}) is missing from declaration_versions")
            continue
        payload, digest = batch.parsed(v.payload_text)
        if digest != e.payload_digest:
            report.add(entity, f"version {n} payload differs from what entry {e.seq} recorded")
            continue
        if v.payload_digest != digest:
            report.add(entity, f"version {n}: stored payload_digest no longer matches its payload")
        header = header_of(payload)
        expected = {c: header[c] for c in VERSION_ROUTING}
        expected["trader"] = lodging_trader(str(payload.get("type")), payload)
        for col, want in expected.items():
            if getattr(v, col) != want:
                report.add(
                    entity,
                    f"version {n}: {col} is {getattr(v, col)!r}; the logged payload says {want!r}",
                )
        _check_items(report, entity, n, payload, batch.items.get((decl_id, n), {}))
    for n in sorted(set(versions) - set(range(1, len(r.lodgings) + 1))):
        report.add(
            entity, f"version {n} is in declaration_versions, but the log records no such version"
        )


def _check_items(
    report: Report, entity: str, version: int, payload: Any, stored: dict[int, Row[Any]]
) -> None:
    expected = item_rows(payload)
    for n in sorted(expected.keys() - stored.keys()):
        report.add(entity, f"goods item {n} of version {version} is missing from goods_items")
    for n in sorted(stored.keys() - expected.keys()):
        report.add(entity, f"goods item {n} of version {version} is not in the logged payload")
    for n in sorted(expected.keys() & stored.keys()):
        row, want = stored[n], expected[n]
        for col in ITEM_COLUMNS:
            if getattr(row, col) != want[col]:
                report.add(
                    entity,
                    f"goods item {n} of version {version}: {col} is {getattr(row, col)!r}; "
                    f"the logged payload says {want[col]!r}",
                )


def _check_current(
    report: Report, entity: str, r: Replay, row: Any, versions: Any, batch: Batch, orgs: Any
) -> None:
    n, latest = len(r.lodgings), r.lodgings[-1]
    if row.version != n:
        report.add(entity, f"version is {row.version}; the log records {n} version(s)")
    logged_payload = None
    stored_version = versions.get(n)
    if stored_version is not None:
        payload, digest = batch.parsed(stored_version.payload_text)
        if digest == latest.payload_digest:
            logged_payload = payload
    current, digest = batch.parsed(row.payload_text)
    if digest != latest.payload_digest:
        where = ""
        if logged_payload is not None:
            where = " at " + ", ".join(differences(current, logged_payload))
        report.add(
            entity,
            f"current payload differs from version {n} recorded at entry {latest.seq}{where}",
        )
    else:
        logged_payload = current
    if logged_payload is not None:
        for col, want in header_of(logged_payload).items():
            if getattr(row, col) != want:
                report.add(
                    entity, f"{col} is {getattr(row, col)!r}; the logged payload says {want!r}"
                )
    declarant = r.lodgings[0].actor
    for e in r.lodgings:
        if e.actor != declarant:
            report.add(entity, f"entry {e.seq} was lodged by {e.actor}, not the declarant")
    if row.declarant != declarant:
        report.add(entity, f"declarant is {row.declarant!r}; the log records {declarant!r}")
    if orgs.get(row.declarant_org_id) != declarant:
        report.add(
            entity,
            f"declarant_org_id {row.declarant_org_id} is not the declarant {declarant}",
        )
    if row.status != r.status:
        report.add(
            entity,
            f"status is {row.status!r}; the log's last state change (entry {r.status_seq}) "
            f"says {r.status!r}",
        )


def _check_assessments(report: Report, entity: str, r: Replay, rows: list[Any]) -> dict[int, Any]:
    """Match assessment rows with their entries; returns version → the matched row."""
    matched: dict[int, Any] = {}
    for a, entries in _pair(rows, r.assessed, assessment_payload, entity, report):
        if entries:
            what = f"differs from what entry {entries[0].seq} recorded"
        else:
            what = "has no log entry"
        report.add(
            entity, f"assessment of version {a.version} (lane {a.lane}, source {a.source}) {what}"
        )
    for a in rows:
        if payload_digest(assessment_payload(a)) in {
            e.payload_digest for e in r.assessed.get(a.version, [])
        }:
            matched[a.version] = a
    return matched


def _pair(
    rows: list[Any], logged: dict[int, list[Any]], payload: Any, entity: str, report: Report
) -> list[tuple[Any, list[Any]]]:
    """Match rows with entries of their version by digest. Returns each unmatched row with the
    entries of its version left unmatched; reports entries with no row at all as missing."""
    left = {v: list(es) for v, es in logged.items()}
    unmatched = []
    for row in rows:
        digest = payload_digest(payload(row))
        entries = left.get(row.version, [])
        hit = next((e for e in entries if e.payload_digest == digest), None)
        if hit is None:
            unmatched.append(row)
        else:
            entries.remove(hit)
    out = []
    for row in unmatched:
        entries = left.get(row.version, [])
        out.append((row, list(entries)))
        if entries:
            entries.pop(0)  # that entry is accounted for by this altered row
    for version, entries in left.items():
        for e in entries:
            table = "risk_assessments" if e.action.endswith("assessed") else "risk_inspections"
            report.add(
                entity,
                f"the log records {e.action} for version {version} (entry {e.seq}), "
                f"missing from {table}",
            )
    return out


def _override_matches(a: Any, digest: str) -> bool:
    for before in LANES:
        payload = {
            "version": a.version,
            "from": before,
            "to": a.override_lane,
            "assessed_lane": a.lane,
            "reason": a.override_reason,
        }
        if payload_digest(payload) == digest:
            return True
    return False


def _check_lane(report: Report, entity: str, r: Replay, row: Any, matched: dict[int, Any]) -> None:
    for version, a in matched.items():
        logged = r.overrides.get(version)
        if a.override_lane is not None and not logged:
            report.add(
                entity,
                f"lane override of version {version} (to {a.override_lane}) has no log entry",
            )
        elif logged and a.override_lane is None:
            report.add(
                entity,
                f"the log records a lane override of version {version} (entry {logged[-1].seq}) "
                "that risk_assessments no longer holds",
            )
        elif logged and not _override_matches(a, logged[-1].payload_digest):
            report.add(
                entity,
                f"lane override of version {version} (to {a.override_lane}) differs from entry "
                f"{logged[-1].seq} (lane, reason or assessed lane changed)",
            )
    if r.lane is None:
        expected = None
    else:
        kind, version = r.lane
        a = matched.get(version)
        if a is None or (kind == "override" and a.override_lane is None):
            return  # the missing or altered assessment or override is already reported
        expected = a.override_lane if kind == "override" else a.lane
    if row.lane != expected:
        report.add(entity, f"lane is {row.lane!r}; the log says {expected!r}")


def _check_inspections(report: Report, entity: str, r: Replay, rows: list[Any]) -> None:
    for i, entries in _pair(rows, r.inspected, inspection_payload, entity, report):
        if entries:
            what = f"differs from what entry {entries[0].seq} recorded"
        else:
            what = "has no log entry"
        report.add(entity, f"inspection result of version {i.version} (outcome {i.outcome}) {what}")

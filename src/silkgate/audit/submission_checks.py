"""Signed submissions against the log: the stored JWS, body and key are the ones recorded in
the write's transaction, the JWS still verifies over the body, and the records linked to each
submission are the ones its entries listed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkgate.audit.consistency import Report
from silkgate.audit.models import SignedSubmission, SignedSubmissionRecord
from silkgate.audit.record_state import compare_records, entries_by_entity
from silkgate.audit.service import payload_digest
from silkgate.audit.submissions import ENTITY, UNDERSTOOD
from silkgate.core import jws
from silkgate.core.signing import key_id, load_public_key, sha256_hex


def stored_state(row: Any) -> dict[str, Any]:
    """A row as its entry's state says it, the digests computed from what is stored."""
    return {
        "organization": row.member_id,
        "key_id": row.key_id,
        "public_key": row.public_key,
        "alg": row.alg,
        "method": row.method,
        "target": row.target,
        "iat": row.iat,
        "jws_sha256": sha256_hex(row.jws.encode("ascii", "replace")),
        "body_sha256": sha256_hex(bytes(row.body)),
    }


def check_submissions(s: Session, report: Report, progress: Any = None) -> None:
    """Each submission against the state of its entries; its signature; its linked records."""
    links: dict[str, list[list[str]]] = defaultdict(list)
    stmt = select(
        SignedSubmissionRecord.submission_id,
        SignedSubmissionRecord.entity_type,
        SignedSubmissionRecord.entity_id,
    ).order_by(SignedSubmissionRecord.id)
    for sub_id, etype, eid in s.execute(stmt):
        links[sub_id].append([etype, eid])
    logged = entries_by_entity(s, ENTITY)

    def extra(entity: str, row: Any, last: Any) -> None:
        try:
            parsed = jws.parse_detached(row.jws, UNDERSTOOD)
            good = parsed.header.get("kid") == key_id(row.public_key) and parsed.verify(
                bytes(row.body), load_public_key(row.public_key)
            )
        except (jws.JWSError, ValueError):
            good = False
        if not good:
            report.add(entity, "its JWS does not verify over the stored body with its key")
        _check_links(report, entity, logged[row.id], stored_state(row), links.pop(row.id, []))

    compare_records(
        report,
        "signed submission",
        "signed_submissions",
        logged,
        {r.id: r for r in s.execute(select(SignedSubmission.__table__))},
        stored_state,
        "signed submissions",
        extra,
    )
    for sub_id in sorted(links):
        if sub_id not in logged:
            report.add(f"signed submission {sub_id}", "records are linked to it, but it is unknown")


def _check_links(
    report: Report, entity: str, entries: list[Any], state: dict[str, Any], links: list[Any]
) -> None:
    """Each entry (one per transaction of the write) listed the next records in link order."""
    rest = links
    for n, entry in enumerate(entries):
        sizes = [len(rest)] if n == len(entries) - 1 else range(1, len(rest) + 1)
        for size in sizes:
            if payload_digest({**state, "records": rest[:size]}) == entry.payload_digest:
                rest = rest[size:]
                break
        else:
            report.add(
                entity,
                f"the records linked to it differ from what entry {entry.seq} listed",
            )
            return

"""Data-sharing agreements against the log: each version's terms, status and signatures.

The log keeps, per version, the status, the terms digest and the parties that had signed after
every change (entity ``agreement``, id the agreement id). Replaying the entries in order gives
what each row of ``exchange_agreements`` and ``exchange_agreement_sigs`` should say; each
stored signature is also verified again over the canonical terms with its stored key, and that
key must be the one the log says the signer had registered when it signed (the platform's key
for a shipped default) — so a key and signature swapped together are found too.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkgate.audit.consistency import Report
from silkgate.audit.models import AuditEntry
from silkgate.audit.record_state import UNCOMPARED
from silkgate.audit.service import payload_digest
from silkgate.core.signing import key_id, verify
from silkgate.exchange.agreements.models import Agreement, AgreementSignature
from silkgate.exchange.agreements.terms import digest, signing_input, terms

SEEDED = "agreement.seeded"
PLATFORM = "platform"  # the party and signer of a shipped default (defaults.PLATFORM)


@dataclass
class Signed:
    """Who the log says added a party's signature, and when."""

    signer: str
    seq: int
    entry_key_id: str  # the platform key that signed the entry (a default's signing key)


@dataclass
class Logged:
    """One version as its entries, replayed in order, say it is."""

    status: str
    terms_digest: str
    last_seq: int
    last_action: str
    builtin: bool = False
    proposed_by: str | None = None
    ended_by: str | None = None
    revoked_digest: str | None = None  # payload digest of the revocation (covers the reason)
    signed: dict[str, Signed] = field(default_factory=dict)


def replay(entries: list[Any]) -> tuple[dict[tuple[str, int], Logged], set[str]]:
    """(agreement id, version) → what the log says; and the agreement ids with entries that
    carry no state (written before states were kept: compared for existence only)."""
    out: dict[tuple[str, int], Logged] = {}
    stateless: set[str] = set()
    for e in entries:
        st = e.state
        if not isinstance(st, dict) or not isinstance(st.get("version"), int):
            stateless.add(e.entity_id)
            continue
        key = (e.entity_id, st["version"])
        if e.action == SEEDED:
            # a new builtin version supersedes the builtin active one without an entry of its
            # own (defaults._write): the seeded entry is what says so
            for (aid, _), other in out.items():
                if aid == e.entity_id and other.status == "active":
                    other.status, other.ended_by = "superseded", e.actor
                    other.last_seq, other.last_action = e.seq, SEEDED
        v = out.get(key)
        if v is None:
            v = out[key] = Logged(st.get("status", ""), st.get("terms_digest", ""), e.seq, "")
        if e.action == SEEDED:
            v.builtin, v.proposed_by = True, PLATFORM
        elif e.action == "agreement.proposed":
            v.builtin, v.proposed_by = False, e.actor
        elif e.action in ("agreement.superseded", "agreement.revoked"):
            v.ended_by = e.actor
            if e.action == "agreement.revoked":
                v.revoked_digest = e.payload_digest
        for party in st.get("signed_by") or []:
            if party not in v.signed:
                signer = PLATFORM if e.action == SEEDED else e.actor
                v.signed[party] = Signed(signer, e.seq, e.key_id)
        v.status, v.terms_digest = st.get("status", ""), st.get("terms_digest", "")
        v.last_seq, v.last_action = e.seq, e.action
    return out, stateless


def check_agreements(s: Session, report: Report, progress: Any = None) -> None:
    """Every agreement version and signature against the replayed log (one read per table)."""
    e = AuditEntry
    entries = list(
        s.execute(
            select(e.seq, e.action, e.actor, e.entity_id, e.payload_digest, e.state, e.key_id)
            .where(e.entity_type == "agreement")
            .order_by(e.seq)
        )
    )
    logged, stateless = replay(entries)
    rows = {(r.agreement_id, r.version): r for r in s.execute(select(Agreement.__table__))}
    sigs: dict[int, list[Any]] = defaultdict(list)
    for g in s.execute(select(AgreementSignature.__table__).order_by(AgreementSignature.id)):
        sigs[g.row_id].append(g)
    keys = _registered_keys(s, {g.signer for gs in sigs.values() for g in gs})

    for aid, version in sorted(rows.keys() - logged.keys()):
        if aid in stateless:
            report.checked[UNCOMPARED] += 1
            continue
        report.add(_entity(aid, version), "in exchange_agreements, but no audit entry records it")
    for aid, version in sorted(logged.keys() - rows.keys()):
        last = logged[(aid, version)]
        report.add(
            _entity(aid, version),
            f"the log records it (last {last.last_action} at entry {last.last_seq}) but it is "
            "missing from exchange_agreements",
        )
    for key in sorted(rows.keys() & logged.keys()):
        row = rows[key]
        report.checked["exchange agreement versions"] += 1
        _version(report, _entity(*key), row, logged[key], sigs.pop(row.id, []), keys)
    row_ids = {r.id for r in rows.values()}
    for row_id, orphans in sorted(sigs.items()):
        if row_id not in row_ids:
            for g in orphans:
                report.add(
                    f"agreement signature {g.id}",
                    f"signature of {g.party} names agreement row {row_id}, which does not exist",
                )


def _entity(agreement_id: str, version: int) -> str:
    return f"agreement {agreement_id} version {version}"


def _version(
    report: Report,
    entity: str,
    row: Any,
    log: Logged,
    sigs: list[Any],
    keys: dict[str, list[tuple[int, str | None]]],
) -> None:
    at = f"entry {log.last_seq} ({log.last_action})"
    terms_ok = digest(cast(Agreement, row)) == log.terms_digest
    if not terms_ok:
        report.add(
            entity,
            f"its terms no longer hash to the logged digest: they hash to "
            f"{digest(cast(Agreement, row))[:16]}…; {at} recorded {log.terms_digest[:16]}…",
        )
    if row.terms_digest != log.terms_digest:
        report.add(
            entity,
            f"terms_digest is {row.terms_digest[:16]}…; {at} recorded {log.terms_digest[:16]}…",
        )
    if row.status != log.status:
        report.add(entity, f"status is {row.status!r}; {at} says {log.status!r}")
    if bool(row.builtin) != log.builtin:
        report.add(entity, f"builtin is {bool(row.builtin)}; the log says {log.builtin}")
    if log.proposed_by is not None and row.proposed_by != log.proposed_by:
        report.add(entity, f"proposed_by is {row.proposed_by!r}; the log says {log.proposed_by!r}")
    if row.ended_by != log.ended_by:
        report.add(entity, f"ended_by is {row.ended_by!r}; the log says {log.ended_by!r}")
    if terms_ok and log.revoked_digest is not None:
        revoked = {"terms": terms(cast(Agreement, row)), "reason": row.end_reason}
        if payload_digest(revoked) != log.revoked_digest:
            report.add(entity, "end_reason differs from the reason its revocation entry recorded")
    _signatures(report, entity, row, log, sigs, keys)


def _signatures(
    report: Report,
    entity: str,
    row: Any,
    log: Logged,
    sigs: list[Any],
    keys: dict[str, list[tuple[int, str | None]]],
) -> None:
    """The signature rows are the logged parties, by the logged signers, with the key each
    signer had registered then, and each verifies over the version's canonical terms."""
    stored = {g.party: g for g in sigs}
    for party in sorted(log.signed.keys() - stored.keys()):
        report.add(
            entity,
            f"the signature of {party} (entry {log.signed[party].seq}) is missing from "
            "exchange_agreement_sigs",
        )
    for party in sorted(stored.keys() - log.signed.keys()):
        report.add(
            entity,
            f"a signature of {party} is in exchange_agreement_sigs, but no audit entry records it",
        )
    message = signing_input(cast(Agreement, row))
    for party in sorted(stored.keys() & log.signed.keys()):
        g, want = stored[party], log.signed[party]
        report.checked["exchange agreement signatures"] += 1
        what = f"the signature of {party}"
        if g.signer != want.signer:
            report.add(
                entity, f"{what} names signer {g.signer!r}; entry {want.seq} says {want.signer!r}"
            )
        if not verify(g.public_key, g.signature, message):
            report.add(entity, f"{what} does not verify over its terms with its stored key")
        kid = _key_id(g.public_key)
        if want.signer == PLATFORM:
            if kid != want.entry_key_id:
                report.add(
                    entity,
                    f"{what} is by key {kid}, not the platform key {want.entry_key_id} that "
                    f"signed entry {want.seq}",
                )
            continue
        registered = _key_at(keys.get(want.signer, []), want.seq)
        if registered is not None and registered != g.public_key:
            report.add(
                entity,
                f"{what} is by key {kid}; the log says {want.signer}'s registered key was "
                f"{_key_id(registered)} when it signed (entry {want.seq})",
            )


def _key_id(public: str | None) -> str:
    try:
        return key_id(public or "")
    except ValueError:
        return repr(public)


def _registered_keys(s: Session, signers: set[str]) -> dict[str, list[tuple[int, str | None]]]:
    """Each signer's signing key after each of its logged changes: member id → [(seq, key)]."""
    out: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    signers.discard(PLATFORM)
    if not signers:
        return out
    e = AuditEntry
    stmt = (
        select(e.seq, e.entity_id, e.state)
        .where(e.entity_type == "organization", e.entity_id.in_(sorted(signers)))
        .order_by(e.seq)
    )
    for seq, member_id, st in s.execute(stmt):
        if isinstance(st, dict) and "signing_public_key" in st:
            out[member_id].append((seq, st["signing_public_key"]))
    return out


def _key_at(changes: list[tuple[int, str | None]], seq: int) -> str | None:
    """The key the latest change before entry ``seq`` left (None: the log does not say)."""
    i = bisect_left(changes, seq, key=lambda c: c[0])
    return changes[i - 1][1] if i else None

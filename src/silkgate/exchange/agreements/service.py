"""Agreement operations: propose, sign, revoke, read; and the decision service reads use.

Every change is one transaction ending with its audit entries (entity ``agreement``, id the
agreement id, state the version's status, terms digest and signing parties).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, ScalarSelect, Select, select
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent, append
from silkgate.codelists.countries import is_country
from silkgate.core.db import table_of
from silkgate.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.core.signing import key_id, verify
from silkgate.exchange.agreements import active, conditions
from silkgate.exchange.agreements.catalogue import Category, catalogue
from silkgate.exchange.agreements.fields import check_fields, personal_in
from silkgate.exchange.agreements.models import Agreement, AgreementSignature
from silkgate.exchange.agreements.policy import (
    Decision,
    Record,
    Rule,
    decide,
    for_caller,
    is_authority,
)
from silkgate.exchange.agreements.schemas import (
    AgreementHistory,
    AgreementIn,
    AgreementOut,
    AgreementStatus,
    CategoryOut,
    SignatureOut,
)
from silkgate.exchange.agreements.terms import (
    digest,
    parties,
    signing_input,
    terms,
    whole_seconds,
)
from silkgate.registry.models import Crossing, MemberState, Organization
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller

S = AgreementStatus
LIVE = (S.PROPOSED.value, S.ACTIVE.value)


# ---------------------------------------------------------------- parties and visibility


def represents(caller: Caller, party: str) -> bool:
    """The caller is the party, or speaks for it: a GOV customs organization of that state."""
    if party == caller.member_id:
        return True
    return (
        is_authority(party)
        and caller.country == party
        and caller.has(Role.CUSTOMS)
        and caller.member_id.split("/")[1:2] == ["GOV"]
    )


def _party_of(caller: Caller, row: Agreement) -> str | None:
    return next((p for p in parties(row) if represents(caller, p)), None)


def _load_versions(s: Session, caller: Caller, agreement_id: str) -> list[Agreement]:
    rows = list(
        s.scalars(
            select(Agreement)
            .where(Agreement.agreement_id == agreement_id)
            .order_by(Agreement.version)
        )
    )
    visible = [r for r in rows if _party_of(caller, r) is not None]
    if not visible:
        raise NotFound(f"agreement {agreement_id}")
    return rows


# ---------------------------------------------------------------- output


def _signatures(s: Session, row: Agreement) -> list[AgreementSignature]:
    return list(
        s.scalars(
            select(AgreementSignature)
            .where(AgreementSignature.row_id == row.id)
            .order_by(AgreementSignature.id)
        )
    )


def in_force(row: Agreement, now: datetime) -> bool:
    return (
        row.status == S.ACTIVE.value
        and whole_seconds(row.valid_from) <= now
        and (row.valid_until is None or now < whole_seconds(row.valid_until))
    )


def out(s: Session, row: Agreement, now: datetime) -> AgreementOut:
    sigs = _signatures(s, row)
    signed = {g.party for g in sigs}
    return AgreementOut(
        agreement_id=row.agreement_id,
        version=row.version,
        status=S(row.status),
        in_force=in_force(row, now),
        provider=row.provider,
        consumers=list(row.consumers),
        category=Category(row.category),
        fields=sorted(row.fields),
        personal_fields=personal_in(row.category, sorted(row.fields)),
        purposes=sorted(row.purposes),
        places=sorted(row.places),
        crossings=sorted(row.crossings),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        condition=row.condition,
        personal_data=row.personal_data,
        builtin=row.builtin,
        terms_digest=row.terms_digest,
        signing_input=signing_input(row).decode("utf-8"),
        awaiting=[p for p in parties(row) if p not in signed and row.status == S.PROPOSED.value],
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        activated_at=row.activated_at,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
        end_reason=row.end_reason,
        signatures=[
            SignatureOut(
                party=g.party,
                signer=g.signer,
                key_id=key_id(g.public_key),
                signature=g.signature,
                signed_at=g.signed_at,
            )
            for g in sigs
        ],
    )


def state(s: Session, row: Agreement) -> dict[str, object]:
    """What an audit entry records about a version."""
    return {
        "agreement_id": row.agreement_id,
        "version": row.version,
        "status": row.status,
        "terms_digest": row.terms_digest,
        "signed_by": sorted(g.party for g in _signatures(s, row)),
    }


def _event(
    s: Session, actor: str, action: str, row: Agreement, extra: dict[str, object]
) -> AuditEvent:
    s.flush()
    payload = {"terms": terms(row), **extra}
    return AuditEvent(actor, action, "agreement", row.agreement_id, payload, state=state(s, row))


# ---------------------------------------------------------------- validation


def _check_party(s: Session, party: str, where: str) -> FieldError | None:
    if is_authority(party):
        if s.get(MemberState, party) is None:
            return FieldError(where, "not_member", f"{party} is not an SCO member state")
        return None
    if s.scalar(select(Organization.id).where(Organization.member_id == party)) is None:
        return FieldError(where, "unknown_party", f"no organization {party}")
    return None


def validate(s: Session, body: AgreementIn, now: datetime) -> list[FieldError]:
    """Every problem with a proposal, each naming its field."""
    errors = [
        e
        for e in [_check_party(s, body.provider, "/provider")]
        + [_check_party(s, c, f"/consumers/{i}") for i, c in enumerate(body.consumers)]
        if e is not None
    ]
    for i, c in enumerate(body.consumers):
        if c == body.provider:
            errors.append(FieldError(f"/consumers/{i}", "is_provider", "the provider is a party"))
        elif c in body.consumers[:i]:
            errors.append(FieldError(f"/consumers/{i}", "duplicate", f"{c} is listed twice"))
    errors += check_fields(body.category, body.fields)
    personal = personal_in(body.category, body.fields)
    if personal and not body.personal_data:
        i = body.fields.index(personal[0])
        errors.append(
            FieldError(
                f"/fields/{i}",
                "personal_data",
                f"{personal[0]} is personal data; set personal_data to true to share it",
            )
        )
    elif body.personal_data and not personal:
        errors.append(
            FieldError("/personal_data", "no_personal_field", "no field named is personal data")
        )
    for i, p in enumerate(body.places):
        if not is_country(p):
            errors.append(FieldError(f"/places/{i}", "unknown_country", f"{p} is not ISO 3166"))
    for i, c in enumerate(body.crossings):
        if s.get(Crossing, c) is None:
            errors.append(FieldError(f"/crossings/{i}", "unknown_crossing", f"no crossing {c}"))
    if body.valid_until is not None:
        if body.valid_until <= body.valid_from:
            errors.append(FieldError("/valid_until", "before_start", "must be after valid_from"))
        elif body.valid_until <= now:
            errors.append(
                FieldError("/valid_until", "expired", f"ended before now ({now.isoformat()})")
            )
    if body.condition is not None:
        problem = conditions.check(body.condition)
        if problem is not None:
            errors.append(problem.field_error("/condition"))
    return errors


def _intersect(a: Iterable[str], b: Iterable[str]) -> bool:
    return bool(set(a) & set(b))


def overlapping(s: Session, row: Agreement) -> Agreement | None:
    """A live agreement (another id) with the same provider and category, a shared consumer and
    purpose, a shared crossing (none listed: all) and intersecting validity — or None."""
    for other in s.scalars(
        select(Agreement).where(
            Agreement.status.in_(LIVE),
            Agreement.provider == row.provider,
            Agreement.category == row.category,
            Agreement.agreement_id != row.agreement_id,
        )
    ):
        if not _intersect(other.consumers, row.consumers):
            continue
        if not _intersect(other.purposes, row.purposes):
            continue
        if row.crossings and other.crossings and not _intersect(row.crossings, other.crossings):
            continue
        a0, a1 = whole_seconds(row.valid_from), row.valid_until
        b0, b1 = whole_seconds(other.valid_from), other.valid_until
        if (a1 is None or b0 < whole_seconds(a1)) and (b1 is None or a0 < whole_seconds(b1)):
            return other
    return None


def _overlap_conflict(other: Agreement) -> Conflict:
    return Conflict(
        f"overlaps agreement {other.agreement_id} version {other.version} ({other.status}): "
        "same provider, category, a shared consumer and purpose, crossings and validity; "
        "propose a new version of it instead",
        [FieldError(None, "overlap", f"{other.agreement_id} v{other.version}")],
    )


# ---------------------------------------------------------------- lifecycle


def propose(platform: Platform, caller: Caller, body: AgreementIn) -> AgreementOut:
    """Store a proposed version (a new agreement, or the next version of ``agreement_id``)."""
    now = whole_seconds(platform.clock())
    if not any(represents(caller, p) for p in [body.provider, *body.consumers]):
        raise Forbidden("only a party to an agreement may propose it")
    with platform.db.session() as s:
        errors = validate(s, body, now)
        if errors:
            raise ValidationFailed(errors, "The agreement is not valid.")
        agreement_id = body.agreement_id or f"agr-{secrets.token_hex(6)}"
        versions = list(s.scalars(select(Agreement).where(Agreement.agreement_id == agreement_id)))
        if versions:
            current = max(versions, key=lambda r: r.version)
            if _party_of(caller, current) is None:
                raise NotFound(f"agreement {agreement_id}")
            if current.status == S.PROPOSED.value:
                raise Conflict(
                    f"version {current.version} of {agreement_id} awaits signatures; "
                    "revoke it before proposing another",
                    [FieldError("/agreement_id", "pending_version", f"v{current.version}")],
                )
        row = Agreement(
            agreement_id=agreement_id,
            version=max((r.version for r in versions), default=0) + 1,
            status=S.PROPOSED.value,
            provider=body.provider,
            consumers=list(body.consumers),
            category=body.category.value,
            fields=sorted(body.fields),
            purposes=sorted(p.value for p in body.purposes),
            places=sorted(set(body.places)),
            crossings=sorted(set(body.crossings)),
            condition=body.condition,
            personal_data=body.personal_data,
            valid_from=whole_seconds(body.valid_from),
            valid_until=whole_seconds(body.valid_until) if body.valid_until else None,
            builtin=False,
            terms_digest="",
            proposed_by=caller.member_id,
            proposed_at=now,
        )
        row.terms_digest = digest(row)
        other = overlapping(s, row)
        if other is not None:
            raise _overlap_conflict(other)
        s.add(row)
        append(s, platform.signer, [_event(s, caller.member_id, "agreement.proposed", row, {})])
        return out(s, row, now)


def _version(s: Session, caller: Caller, agreement_id: str, version: int | None) -> Agreement:
    rows = _load_versions(s, caller, agreement_id)
    row = rows[-1] if version is None else next((r for r in rows if r.version == version), None)
    if row is None or _party_of(caller, row) is None:
        raise NotFound(f"agreement {agreement_id} version {version}")
    return row


def sign(
    platform: Platform, caller: Caller, agreement_id: str, version: int, signature: str
) -> AgreementOut:
    """Record the caller's signature of a proposed version; the last one activates it."""
    now = whole_seconds(platform.clock())
    with platform.db.session() as s:
        row = _version(s, caller, agreement_id, version)
        # the last two parties signing at once: one waits, then sees the other's signature
        s.execute(select(Agreement.id).where(Agreement.id == row.id).with_for_update())
        s.refresh(row)
        if row.status != S.PROPOSED.value:
            raise Conflict(
                f"{agreement_id} v{version} is {row.status}; only a proposed version is signed",
                [FieldError(None, "wrong_state", row.status)],
            )
        signed = {g.party for g in _signatures(s, row)}
        party = next((p for p in parties(row) if represents(caller, p) and p not in signed), None)
        if party is None:
            raise Conflict(
                f"{caller.member_id} has already signed version {version} of {agreement_id}",
                [FieldError("/signature", "already_signed", "signed before")],
            )
        public = s.scalar(
            select(Organization.signing_public_key).where(Organization.id == caller.id)
        )
        if not public:
            raise Conflict(
                f"{caller.member_id} has no registered signing key ('silkgate org set-key')",
                [FieldError("/signature", "no_signing_key", "register a signing key first")],
            )
        if not verify(public, signature, signing_input(row)):
            raise ValidationFailed(
                [
                    FieldError(
                        "/signature",
                        "bad_signature",
                        f"does not verify with the key registered for {caller.member_id} "
                        f"({key_id(public)}) over the signing_input of version {version}",
                    )
                ]
            )
        if row.valid_until is not None and whole_seconds(row.valid_until) <= now:
            raise Conflict(
                f"version {version} of {agreement_id} expired on {row.valid_until}; propose anew",
                [FieldError("/valid_until", "expired", "validity ended")],
            )
        s.add(
            AgreementSignature(
                row_id=row.id,
                party=party,
                signer=caller.member_id,
                public_key=public,
                signature=signature,
                signed_at=now,
            )
        )
        events = [_event(s, caller.member_id, "agreement.signed", row, {"party": party})]
        if signed | {party} >= set(parties(row)):
            events += _activate(s, row, caller.member_id, now)
        append(s, platform.signer, events)
        return out(s, row, now)


def _activate(s: Session, row: Agreement, actor: str, now: datetime) -> list[AuditEvent]:
    other = overlapping(s, row)
    if other is not None:
        raise _overlap_conflict(other)
    events = []
    for old in s.scalars(
        select(Agreement).where(
            Agreement.agreement_id == row.agreement_id, Agreement.status == S.ACTIVE.value
        )
    ):
        old.status, old.ended_at, old.ended_by = S.SUPERSEDED.value, now, actor
        old.end_reason = f"superseded by version {row.version}"
        events.append(_event(s, actor, "agreement.superseded", old, {"by": row.version}))
    row.status, row.activated_at = S.ACTIVE.value, now
    events.append(_event(s, actor, "agreement.activated", row, {}))
    return events


def revoke(platform: Platform, caller: Caller, agreement_id: str, reason: str) -> AgreementHistory:
    """End an agreement at once: its active and proposed versions become revoked."""
    now = whole_seconds(platform.clock())
    with platform.db.session() as s:
        rows = _load_versions(s, caller, agreement_id)
        s.execute(
            select(Agreement.id).where(Agreement.agreement_id == agreement_id).with_for_update()
        )
        for r in rows:
            s.refresh(r)
        live = [r for r in rows if r.status in LIVE]
        if not live:
            raise Conflict(
                f"agreement {agreement_id} is not active or proposed",
                [FieldError(None, "wrong_state", rows[-1].status)],
            )
        if not any(_party_of(caller, r) for r in live):
            raise NotFound(f"agreement {agreement_id}")
        events = []
        for r in live:
            r.status, r.ended_at, r.ended_by, r.end_reason = (
                S.REVOKED.value,
                now,
                caller.member_id,
                reason,
            )
            events.append(_event(s, caller.member_id, "agreement.revoked", r, {"reason": reason}))
        append(s, platform.signer, events)
        from silkgate.exchange.publish import withdraw  # its deliveries are not sent

        withdraw(s, agreement_id, now)
        return AgreementHistory(
            agreement_id=agreement_id,
            versions=[out(s, r, now) for r in rows if _party_of(caller, r) is not None],
        )


# ---------------------------------------------------------------- reading


def history(platform: Platform, caller: Caller, agreement_id: str) -> AgreementHistory:
    now = whole_seconds(platform.clock())
    with platform.db.session() as s:
        rows = _load_versions(s, caller, agreement_id)
        return AgreementHistory(
            agreement_id=agreement_id,
            versions=[out(s, r, now) for r in rows if _party_of(caller, r) is not None],
        )


def get_version(
    platform: Platform, caller: Caller, agreement_id: str, version: int | None = None
) -> AgreementOut:
    now = whole_seconds(platform.clock())
    with platform.db.session() as s:
        return out(s, _version(s, caller, agreement_id, version), now)


def list_agreements(
    platform: Platform,
    caller: Caller,
    status: AgreementStatus | None = None,
    category: Category | None = None,
) -> list[AgreementOut]:
    """Versions the caller is a party to, by agreement id and version."""
    now = whole_seconds(platform.clock())
    stmt = select(Agreement).order_by(Agreement.agreement_id, Agreement.version)
    if status is not None:
        stmt = stmt.where(Agreement.status == status.value)
    if category is not None:
        stmt = stmt.where(Agreement.category == category.value)
    with platform.db.session() as s:
        return [out(s, r, now) for r in s.scalars(stmt) if _party_of(caller, r) is not None]


def categories() -> list[CategoryOut]:
    return [
        CategoryOut(
            category=c.category,
            document=c.document,
            authority_roles=sorted(c.authority_roles),
            fields=sorted(c.pointers),
            personal_fields=sorted(c.personal),
        )
        for c in catalogue().values()
    ]


# ---------------------------------------------------------------- decisions


def rule_of(row: Agreement) -> Rule:
    return Rule(
        agreement_id=row.agreement_id,
        version=row.version,
        provider=row.provider,
        consumers=frozenset(row.consumers),
        category=Category(row.category),
        fields=frozenset(row.fields),
        purposes=frozenset(row.purposes),
        places=frozenset(row.places),
        crossings=frozenset(row.crossings),
        valid_from=whole_seconds(row.valid_from),
        valid_until=whole_seconds(row.valid_until) if row.valid_until else None,
        condition=row.condition,
        personal_data=row.personal_data,
        builtin=row.builtin,
    )


#: Rules by agreement row id and terms digest, per database engine. A version's terms never
#: change once stored (a change is a new version, a new row); only its status does, and which
#: versions are active is checked on every read (see ``active``).
_RULES: WeakKeyDictionary[Engine, dict[tuple[int, str], Rule]] = WeakKeyDictionary()


@cache
def _active_ids() -> Select[Any]:
    c = table_of(Agreement).c
    return select(c.id, c.terms_digest).where(c.status == S.ACTIVE.value).order_by(c.id)


def active_set(category: Category) -> ScalarSelect[Any]:
    """A column naming the active versions a read of ``category`` consults (the key,
    ``"id:digest,…"``): selected with the record itself, it saves the read a round trip
    (``Point.prime`` turns it into rules, from the cache while it does not change)."""
    return active.key_column(category)


def rules_from(s: Session, versions: Iterable[tuple[int, str]]) -> list[Rule]:
    """Rules of the given active versions (id, terms digest): built once per version."""
    versions = list(versions)
    cache = _RULES.setdefault(s.get_bind().engine, {})
    missing = [i for i, d in versions if (i, d) not in cache]
    if missing:
        for row in s.scalars(select(Agreement).where(Agreement.id.in_(missing))):
            cache[(row.id, row.terms_digest)] = rule_of(row)
    return [cache[k] for k in versions if k in cache]  # a row replaced meanwhile: next read


def parse_active_set(value: str | None) -> list[tuple[int, str]]:
    """``active_set``'s text back into (id, digest) pairs."""
    return active.parse(value)


def active_rules(s: Session, category: Category | None = None) -> list[Rule]:
    """The active agreements (of the categories a read of ``category`` consults), as rules.

    Which versions are active is read from the database on every call (one small statement),
    so a revocation takes effect on the next read; the rules come from the process's cache
    while that set does not change.
    """
    if category is not None:
        return list(active.current(s, category).rules)
    return rules_from(s, [(i, d) for i, d in s.connection().execute(_active_ids())])


def decide_for(
    platform: Platform,
    caller: Caller,
    purpose: str | None,
    place: str | None,
    record: Record,
) -> Decision:
    """The decision for one record against the agreements active now."""
    with platform.db.snapshot() as s:
        rules = for_caller(caller, active_rules(s, record.category))
    return decide(caller, purpose, place, record, rules, platform.clock())


# ---------------------------------------------------------------- ODRL


def export_odrl(
    platform: Platform, caller: Caller, agreement_id: str, version: int | None = None
) -> dict[str, object]:
    """The ODRL 2.2 JSON-LD of a version the caller is a party to (default: the latest)."""
    from silkgate.exchange.agreements import odrl

    return odrl.export(get_version(platform, caller, agreement_id, version))


def import_odrl(platform: Platform, caller: Caller, document: object) -> AgreementOut:
    """Propose the terms of an ODRL Agreement (a new version when its uid names an agreement)."""
    from silkgate.exchange.agreements import odrl

    return propose(platform, caller, odrl.parse(document))

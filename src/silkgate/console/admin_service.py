"""Administration operations of the console: organizations and their keys, agreements with
their signatures checked, subscription delivery health, audit verification.

A platform administrator (an administrator of an organization with the registry role
``admin``) sees every organization; any other administrator sees their own organization only.
Agreements and subscriptions are read with the administrator's own organization's ``Caller``,
so the console shows what the API shows that organization. Every change runs inside
``acting(login)``: the audit log names the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from silkgate.audit import checkpoints as cps
from silkgate.audit.models import AuditEntry
from silkgate.audit.service import AuditEvent, append, trail
from silkgate.console.models import ConsoleUser
from silkgate.console.service import (
    ConsoleRole,
    Person,
    administrator_invited,
    administrator_rows,
    as_person,
    checked_newcomer,
)
from silkgate.core.errors import Conflict, FieldError, Forbidden, NotFound
from silkgate.core.platform import Platform
from silkgate.core.signing import key_id, verify
from silkgate.core.validation import parse_model
from silkgate.core.writes import acting
from silkgate.exchange import service as exchange
from silkgate.exchange import subscriptions as subs
from silkgate.exchange.agreements import service as agreements
from silkgate.exchange.agreements.models import Agreement, AgreementSignature
from silkgate.exchange.agreements.schemas import (
    AgreementHistory,
    AgreementIn,
    AgreementOut,
    RevokeIn,
    SignatureIn,
)
from silkgate.exchange.schemas import (
    DeliveryOut,
    DeliveryStatus,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionStatus,
)
from silkgate.registry import service as registry
from silkgate.registry.models import Organization
from silkgate.registry.schemas import OrganizationCreate

#: The audit log's entity for verification runs asked for in the console.
VERIFICATION = "audit_verification"
VERIFIED = "console.audit_verified"


def is_platform_admin(person: Person) -> bool:
    """An administrator of a platform-administration organization."""
    return person.is_platform_admin


def _admin(person: Person) -> None:
    if not person.has(ConsoleRole.ADMINISTRATOR):
        raise Forbidden("administrators only")


def _platform_admin(person: Person) -> None:
    if not is_platform_admin(person):
        raise Forbidden("platform administrators only")


require_platform_admin = _platform_admin


def _may_see(person: Person, member_id: str) -> bool:
    return member_id == person.organization or is_platform_admin(person)


# --------------------------------------------------------------------------- organizations


@dataclass(frozen=True)
class OrgRow:
    member_id: str
    name: str
    country: str
    roles: list[str]
    crossings: list[str]
    active: bool
    signing_key_id: str | None


@dataclass(frozen=True)
class KeyRow:
    """An API key's public facts: never its secret nor the stored HMAC."""

    prefix: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def organizations(platform: Platform, person: Person) -> list[OrgRow]:
    """Every organization for a platform administrator; their own for anyone else."""
    _admin(person)
    return [
        OrgRow(
            o.member_id,
            o.name,
            o.country,
            sorted(o.roles),
            crossings,
            bool(o.active),
            key_id(o.signing_public_key) if o.signing_public_key else None,
        )
        for o, crossings in registry.list_organizations(platform)
        if _may_see(person, o.member_id)
    ]


def organization(platform: Platform, person: Person, member_id: str) -> OrgRow:
    """One organization the person may see (404 otherwise: another's is not confirmed)."""
    _admin(person)
    if not _may_see(person, member_id):
        raise NotFound(f"organization {member_id}")
    found = next((o for o in organizations(platform, person) if o.member_id == member_id), None)
    if found is None:
        raise NotFound(f"organization {member_id}")
    return found


def register_organization(
    platform: Platform, person: Person, body: OrganizationCreate, login: str, display_name: str
) -> tuple[str, str | None]:
    """Register a member organization (platform administrators only) and, when a login is
    given, invite its first administrator: returns the member id as stored and that one-time
    invitation token. Both are stored in one transaction: a refused login (malformed, or
    taken, even by someone registered a moment before) leaves no organization behind."""
    _platform_admin(person)
    first = None
    if login.strip() or display_name.strip():  # refused before the organization's checks
        first = checked_newcomer(platform, login, display_name)
    actor = person.organization
    staged: list[tuple[ConsoleUser, str]] = []
    with acting(person.login), platform.db.session() as s:

        def first_administrator(org: Organization) -> None:  # rows before any audit entry
            if first is not None:
                staged.append(administrator_rows(s, platform, org, *first, actor))

        org = registry.add_organization(s, platform, body, actor, first_administrator)
        if not staged:
            return org.member_id, None
        user, token = staged[0]
        append(s, platform.signer, [administrator_invited(user, org, actor)])
        return org.member_id, token


def member_states(platform: Platform) -> list[str]:
    """The SCO member states' ISO codes, in which organizations may be registered."""
    return [m.alpha2 for m in registry.list_member_states(platform)]


def api_keys(platform: Platform, person: Person, member_id: str) -> list[KeyRow]:
    organization(platform, person, member_id)
    return [
        KeyRow(k.prefix, k.label, k.created_at, k.last_used_at, k.revoked_at)
        for k in registry.list_api_keys(platform, member_id)
    ]


def _own_key(platform: Platform, person: Person, member_id: str, prefix: str) -> KeyRow:
    key = next((k for k in api_keys(platform, person, member_id) if k.prefix == prefix), None)
    if key is None:  # the registry revokes by prefix alone: the key must be this org's
        raise NotFound(f"API key {prefix}")
    if key.revoked_at is not None:
        raise Conflict("the key is revoked already", [FieldError(None, "revoked", prefix)])
    return key


def revoke_key(platform: Platform, person: Person, member_id: str, prefix: str) -> None:
    """Revoke one of the organization's API keys (audited as ``api_key.revoked``)."""
    _own_key(platform, person, member_id, prefix)
    with acting(person.login):
        registry.revoke_api_key(platform, prefix, person.organization)


def rotate_key(platform: Platform, person: Person, member_id: str, prefix: str) -> str:
    """A new key with the same label, then the old one revoked; the new token is returned
    to be shown once (the registry keeps only its HMAC)."""
    old = _own_key(platform, person, member_id, prefix)
    with acting(person.login):
        _, token = registry.issue_api_key(platform, member_id, old.label, person.organization)
        registry.revoke_api_key(platform, prefix, person.organization)
    return token


def register_signing_key(platform: Platform, person: Person, member_id: str, public: str) -> None:
    """Replace the organization's Ed25519 public key (checked and audited by the registry)."""
    organization(platform, person, member_id)
    with acting(person.login):
        registry.register_signing_key(platform, member_id, public.strip(), person.organization)


# --------------------------------------------------------------------------- agreements


@dataclass(frozen=True)
class SignatureCheck:
    """A stored signature verified again over the version's terms with the key stored with it."""

    valid: bool
    current_key: bool  # still the signer's registered key (or the platform's)


def agreement_list(platform: Platform, person: Person) -> list[AgreementOut]:
    """The newest version of each agreement the person's organization is a party to, by id."""
    _admin(person)
    rows = agreements.list_agreements(platform, person.caller)
    latest: dict[str, AgreementOut] = {}
    for a in rows:
        latest[a.agreement_id] = a
    return sorted(latest.values(), key=lambda a: a.agreement_id)


def agreement(
    platform: Platform, person: Person, agreement_id: str
) -> tuple[AgreementHistory, dict[tuple[int, str], SignatureCheck]]:
    """An agreement's versions the organization is party to, and each signature's check
    keyed by (version, party)."""
    _admin(person)
    history = agreements.history(platform, person.caller, agreement_id)
    return history, _checks(platform, history)


def _checks(platform: Platform, history: AgreementHistory) -> dict[tuple[int, str], SignatureCheck]:
    versions = {v.version: v for v in history.versions}
    current = {o.member_id: o.signing_public_key for o, _ in registry.list_organizations(platform)}
    current["platform"] = platform.signer.public_key
    out: dict[tuple[int, str], SignatureCheck] = {}
    with platform.db.session() as s:
        rows = s.execute(
            select(Agreement.version, AgreementSignature)
            .join(AgreementSignature, AgreementSignature.row_id == Agreement.id)
            .where(Agreement.agreement_id == history.agreement_id)
        )
        for version, g in rows:
            v = versions.get(version)
            if v is None:
                continue
            ok = verify(g.public_key, g.signature, v.signing_input.encode("utf-8"))
            out[(version, g.party)] = SignatureCheck(ok, current.get(g.signer) == g.public_key)
    return out


def awaiting_mine(person: Person, version: AgreementOut) -> bool:
    """The version is proposed and one of the parties the person's organization speaks for has
    not signed it yet."""
    return version.status.value == "proposed" and any(
        agreements.represents(person.caller, party) for party in version.awaiting
    )


def propose_agreement(platform: Platform, person: Person, body: AgreementIn) -> AgreementOut:
    """Propose a new agreement or the next version of one (the service checks the terms and
    that the organization is a party); audited with the person."""
    _admin(person)
    with as_person(person) as caller:
        return agreements.propose(platform, caller, body)


def sign_agreement(
    platform: Platform, person: Person, agreement_id: str, version: int, signature: str
) -> AgreementOut:
    """Store the organization's signature, made elsewhere with its key, of a proposed
    version's terms (the platform never holds the key); the last signature activates it."""
    _admin(person)
    body = parse_model(SignatureIn, {"signature": signature.strip()})  # as the API takes it
    with as_person(person) as caller:
        return agreements.sign(platform, caller, agreement_id, version, body.signature)


def revoke_agreement(
    platform: Platform, person: Person, agreement_id: str, reason: str
) -> AgreementHistory:
    """End an agreement's active and proposed versions at once, with the reason given."""
    _admin(person)
    body = parse_model(RevokeIn, {"reason": reason})
    with as_person(person) as caller:
        return agreements.revoke(platform, caller, agreement_id, body.reason)


def terms(platform: Platform, person: Person, agreement_id: str, version: int) -> bytes:
    """The exact bytes a party signs for one version (its canonical terms)."""
    _admin(person)
    found = agreements.get_version(platform, person.caller, agreement_id, version)
    return found.signing_input.encode("utf-8")


# --------------------------------------------------------------------------- subscriptions


@dataclass(frozen=True)
class Health:
    """The organization's subscriptions with their delivery state, and recent dead letters."""

    subscriptions: list[SubscriptionStatus]
    dead: list[DeliveryOut]


def health(platform: Platform, person: Person) -> Health:
    _admin(person)
    caller = person.caller
    mine = exchange.list_subscriptions(platform, caller)
    found = [subs.status(platform, caller, s.id) for s in mine]
    dead = exchange.list_deliveries(platform, caller, DeliveryStatus.DEAD, 20)
    return Health(found, dead)


def subscribe(platform: Platform, person: Person, body: SubscriptionIn) -> SubscriptionOut:
    """Add a webhook or pull subscription for the organization (audited with the person)."""
    _admin(person)
    with as_person(person) as caller:
        return exchange.add_subscription(platform, caller, body)


def unsubscribe(platform: Platform, person: Person, subscription_id: int) -> SubscriptionOut:
    """Remove one of the organization's subscriptions (its pending deliveries become dead
    letters, as through the API)."""
    _admin(person)
    with as_person(person) as caller:
        return exchange.remove_subscription(platform, caller, subscription_id)


def retry(platform: Platform, person: Person, delivery_id: int) -> None:
    """Send one of the organization's dead letters again (audited with the person)."""
    _admin(person)
    with as_person(person) as caller:
        exchange.retry_delivery(platform, caller, delivery_id)


# --------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class Verification:
    """What one verification run found (problems as the verifier names them)."""

    ok: bool
    entries: int
    broken_seq: int | None
    reason: str
    checkpoints: int
    checked: dict[str, int]
    problems: list[str]


@dataclass(frozen=True)
class CheckpointRow:
    seq: int
    head_hash: str
    at: datetime | None  # None if the file's time is not RFC 3339
    key_id: str
    trusted: bool  # signed by a pinned platform key


@dataclass(frozen=True)
class PastRun:
    at: datetime
    person: str | None
    ok: bool
    entries: int


def verify_audit(platform: Platform, person: Person) -> Verification:
    """Run ``audit verify`` and record in the log who asked and what it found."""
    from silkgate.audit.verify import CannotVerify, verify_all

    _platform_admin(person)
    try:
        outcome = verify_all(platform)
    except CannotVerify as exc:
        result = Verification(False, 0, None, str(exc), 0, {}, [])
    else:
        tables = outcome.tables
        result = Verification(
            outcome.ok,
            outcome.chain.checked,
            outcome.chain.broken_seq,
            outcome.chain.reason,
            len(outcome.checkpoints),
            dict(sorted(tables.checked.items())) if tables else {},
            [str(p) for p in tables.problems] + ([f"… {tables.more}"] if tables.more else [])
            if tables
            else [],
        )
    found = {"ok": result.ok, "entries": result.entries, "broken_seq": result.broken_seq}
    event = AuditEvent(
        person.organization, VERIFIED, VERIFICATION, "platform", found, state=found,
        person=person.login,
    )  # fmt: skip
    with platform.db.session() as s:
        append(s, platform.signer, [event])
    return result


def checkpoint_list(platform: Platform, person: Person) -> list[CheckpointRow]:
    """The platform's signed checkpoints, newest first, each checked against pinned keys."""
    from silkgate.audit.keys import BadPinnedKey, trusted_keys

    _platform_admin(person)
    path = platform.settings.checkpoint_path
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        trusted = trusted_keys(platform.settings)
        found = cps.read(path)
    except (BadPinnedKey, cps.BadCheckpoint):
        trusted, found = {}, []
    return [
        CheckpointRow(c.seq, c.head_hash, _when(c.at), c.key_id, c.verify(trusted))
        for _, c in reversed(found)
    ]


def _when(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def past_runs(platform: Platform, person: Person, limit: int = 20) -> list[PastRun]:
    """Earlier verifications asked for in the console, newest first, with who asked."""
    _platform_admin(person)
    with platform.db.session() as s:
        entries = trail(s, VERIFICATION, "platform")[-limit:]
        return [_run(e) for e in reversed(entries)]


def _run(e: AuditEntry) -> PastRun:
    at = e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC)
    return PastRun(at, e.person, bool(e.state and e.state.get("ok")), _entries(e.state))


def _entries(state: dict[str, object] | None) -> int:
    value = (state or {}).get("entries")
    return value if isinstance(value, int) else 0

"""Registry operations: reference data, organizations, API keys and signing keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent, append
from silkgate.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from silkgate.registry.models import ApiKey, Crossing, CrossingAssignment, MemberState, Organization
from silkgate.registry.schemas import OrganizationCreate, Role

MEMBER_ID_RE = re.compile(r"^([A-Z]{2})/(GOV|COM)/([A-Za-z0-9\-]{1,40})$")
TOKEN_RE = re.compile(r"^sgk_([0-9a-f]{12})_([A-Za-z0-9_\-]{20,100})$")
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class Caller:
    """The authenticated organization behind a request (detached from any session)."""

    id: int
    member_id: str
    country: str
    roles: frozenset[str]
    crossings: frozenset[str]
    signing_key: str | None = None  # registered Ed25519 public key (base64), checks signed writes

    def has(self, *roles: Role) -> bool:
        return any(r.value in self.roles for r in roles)


def seed_reference_data(session: Session) -> None:
    """Insert or refresh SCO member states and crossings from the shipped code lists."""
    from silkgate.codelists.crossings import load_crossings
    from silkgate.codelists.sco import member_states

    for ms in member_states():
        row = session.get(MemberState, ms.alpha2) or MemberState(alpha2=ms.alpha2)
        row.alpha3 = ms.alpha3
        row.name_en, row.name_zh = ms.names["en"], ms.names["zh"]
        row.name_ru, row.name_kk = ms.names["ru"], ms.names["kk"]
        session.add(row)
    for c in load_crossings():
        crossing = session.get(Crossing, c.code) or Crossing(code=c.code)
        crossing.name_en = c.names["en"]
        crossing.countries = list(c.countries)
        crossing.data = c.as_dict()
        session.add(crossing)
    session.flush()


def parse_member_id(member_id: str) -> tuple[str, str, str]:
    """Split and check ``COUNTRY/CLASS/CODE``; CODE is checked by the country's identifier rule."""
    from silkgate.codelists.identifiers import IdentifierError, validate_business_id

    m = MEMBER_ID_RE.match(member_id)
    if not m:
        raise ValidationFailed(
            [FieldError("/member_id", "format", "expected COUNTRY/CLASS/CODE, CLASS GOV or COM")]
        )
    country, member_class, code = m.groups()
    try:
        code = validate_business_id(country, code)
    except IdentifierError as exc:
        raise ValidationFailed(
            [FieldError("/member_id", "identifier", f"{country} business identifier: {exc}")]
        ) from exc
    return country, member_class, code


def create_organization(platform: Platform, body: OrganizationCreate, actor: str) -> Organization:
    """Register an organization; its member state must be an SCO member."""
    with platform.db.session() as s:
        return add_organization(s, platform, body, actor)


def add_organization(
    s: Session,
    platform: Platform,
    body: OrganizationCreate,
    actor: str,
    with_rows: Callable[[Organization], None] | None = None,
) -> Organization:
    """``create_organization`` within the caller's unit of work (with whatever else it
    stores, all or nothing). ``with_rows`` adds the caller's rows once the organization has
    its id and before anything is audited: the audit chain's lock is taken last, as every
    writer takes it, so two writers never wait on each other's rows and lock."""
    country, member_class, code = parse_member_id(body.member_id)
    if body.signing_public_key is not None:
        _check_public_key(body.signing_public_key)
    if s.get(MemberState, country) is None:
        raise ValidationFailed(
            [FieldError("/member_id", "not_member", f"{country} is not an SCO member state")]
        )
    member_id = f"{country}/{member_class}/{code}"
    if s.scalar(select(Organization.id).where(Organization.member_id == member_id)):
        raise Conflict(
            f"organization {member_id} exists",
            [FieldError("/member_id", "duplicate", "already registered")],
        )
    org = Organization(
        member_id=member_id,
        country=country,
        member_class=member_class,
        code=code,
        name=body.name,
        roles=sorted({r.value for r in body.roles}),
        signing_public_key=body.signing_public_key,
        active=True,
        created_at=datetime.now(UTC),
    )
    s.add(org)
    s.flush()
    for i, crossing in enumerate(body.crossings):
        if s.get(Crossing, crossing) is None:
            raise ValidationFailed(
                [FieldError(f"/crossings/{i}", "unknown_crossing", f"no crossing {crossing}")]
            )
        s.add(CrossingAssignment(organization_id=org.id, crossing_code=crossing))
    if with_rows is not None:
        with_rows(org)
    append(
        s,
        platform.signer,
        [
            AuditEvent(
                actor,
                "organization.created",
                "organization",
                member_id,
                body.model_dump(mode="json"),
                state=organization_state(s, org),
            )
        ],
    )
    # the first customs organization of a crossing brings its default agreements; an
    # analyst or administrator is named in the KPI defaults of every served crossing
    from silkgate.exchange.agreements.defaults import ensure_defaults, served_crossings

    seed = set(body.crossings) if Role.CUSTOMS in body.roles else set()
    if {Role.ANALYST, Role.ADMIN} & set(body.roles):
        seed |= set(served_crossings(s))
    if seed:
        share = platform.settings.share_driver_data_across_border
        ensure_defaults(s, platform.signer, seed, share, actor)
    return org


def organization_state(session: Session, org: Organization) -> dict[str, object]:
    """What the registry holds about an organization, as its audit entries record it.

    API keys appear by prefix, label, revocation and a SHA-256 of their stored HMAC (never the
    HMAC itself); ``last_used_at`` is bookkeeping and left out.
    """
    session.flush()
    crossings = session.scalars(
        select(CrossingAssignment.crossing_code).where(CrossingAssignment.organization_id == org.id)
    )
    keys = session.scalars(
        select(ApiKey).where(ApiKey.organization_id == org.id).order_by(ApiKey.prefix)
    )
    return {
        "member_id": org.member_id,
        "country": org.country,
        "member_class": org.member_class,
        "code": org.code,
        "name": org.name,
        "roles": sorted(org.roles),
        "active": bool(org.active),
        "signing_public_key": org.signing_public_key,
        "crossings": sorted(crossings),
        "api_keys": {
            k.prefix: {
                "label": k.label,
                "key_hash_sha256": hashlib.sha256(k.key_hash.encode()).hexdigest(),
                "revoked": k.revoked_at is not None,
            }
            for k in keys
        },
    }


def _check_public_key(value: str) -> None:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValidationFailed(
            [
                FieldError(
                    "/signing_public_key", "format", "expected base64 of a 32-byte Ed25519 key"
                )
            ]
        )


def get_organization(session: Session, member_id: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.member_id == member_id))
    if org is None:
        raise NotFound(f"organization {member_id}")
    return org


def list_organizations(platform: Platform) -> list[tuple[Organization, list[str]]]:
    with platform.db.session() as s:
        orgs = list(s.scalars(select(Organization).order_by(Organization.member_id)))
        assigned: dict[int, list[str]] = {}
        for a in s.scalars(select(CrossingAssignment)):
            assigned.setdefault(a.organization_id, []).append(a.crossing_code)
        return [(o, sorted(assigned.get(o.id, []))) for o in orgs]


def register_signing_key(platform: Platform, member_id: str, public_key: str, actor: str) -> None:
    """Record an organization's Ed25519 public key (replacing any earlier one)."""
    _check_public_key(public_key)
    with platform.db.session() as s:
        org = get_organization(s, member_id)
        org.signing_public_key = public_key
        append(
            s,
            platform.signer,
            [
                AuditEvent(
                    actor,
                    "organization.signing_key_registered",
                    "organization",
                    member_id,
                    {"public_key": public_key},
                    state=organization_state(s, org),
                )
            ],
        )
    _AUTH_CACHE.clear()  # cached callers carry the key that checks signed writes


def _hash_token(settings: Settings, token: str) -> str:
    pepper = settings.api_key_pepper.get_secret_value().encode()
    return hmac.new(pepper, token.encode(), hashlib.sha256).hexdigest()


def issue_api_key(platform: Platform, member_id: str, label: str, actor: str) -> tuple[ApiKey, str]:
    """Create an API key and return it with its token; the token is not stored anywhere."""
    prefix = secrets.token_hex(6)
    token = f"sgk_{prefix}_{secrets.token_urlsafe(32)}"
    with platform.db.session() as s:
        org = get_organization(s, member_id)
        key = ApiKey(
            organization_id=org.id,
            prefix=prefix,
            key_hash=_hash_token(platform.settings, token),
            label=label,
            created_at=datetime.now(UTC),
        )
        s.add(key)
        append(
            s,
            platform.signer,
            [
                AuditEvent(
                    actor,
                    "api_key.created",
                    "organization",
                    member_id,
                    {"prefix": prefix, "label": label},
                    state=organization_state(s, org),
                )
            ],
        )
        return key, token


def revoke_api_key(platform: Platform, prefix: str, actor: str) -> ApiKey:
    with platform.db.session() as s:
        key = s.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if key is None:
            raise NotFound(f"API key {prefix}")
        _AUTH_CACHE.clear()
        if key.revoked_at is None:
            key.revoked_at = datetime.now(UTC)
            org = s.get(Organization, key.organization_id)
            assert org is not None  # a foreign key
            state = organization_state(s, org)
            event = AuditEvent(
                actor,
                "api_key.revoked",
                "organization",
                org.member_id,
                {"prefix": prefix},
                state=state,
            )
            append(s, platform.signer, [event])
        return key


def list_api_keys(platform: Platform, member_id: str) -> list[ApiKey]:
    with platform.db.session() as s:
        org = get_organization(s, member_id)
        return list(
            s.scalars(select(ApiKey).where(ApiKey.organization_id == org.id).order_by(ApiKey.id))
        )


_AUTH_CACHE: dict[str, tuple[float, Caller]] = {}


def cached_caller(platform: Platform, token: str) -> Caller | None:
    """The caller for a token verified within ``auth_cache_seconds``, without any I/O."""
    if not TOKEN_RE.match(token):
        return None
    hit = _AUTH_CACHE.get(_hash_token(platform.settings, token))
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def authenticate(platform: Platform, token: str) -> Caller | None:
    """Resolve a bearer token to its organization, or None if unknown, revoked or inactive.

    Successful look-ups are cached per process for ``auth_cache_seconds`` (keyed by the
    token's HMAC, never the token), so a revocation reaches other processes within that time.
    """
    m = TOKEN_RE.match(token)
    if not m:
        return None
    digest = _hash_token(platform.settings, token)
    ttl = platform.settings.auth_cache_seconds
    hit = _AUTH_CACHE.get(digest)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    caller = _authenticate_uncached(platform, m.group(1), digest)
    if caller is not None and ttl > 0:
        if len(_AUTH_CACHE) > 10_000:
            _AUTH_CACHE.clear()
        _AUTH_CACHE[digest] = (time.monotonic() + ttl, caller)
    return caller


def _authenticate_uncached(platform: Platform, prefix: str, digest: str) -> Caller | None:
    with platform.db.session() as s:
        key = s.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if key is None or key.revoked_at is not None:
            return None
        if not hmac.compare_digest(key.key_hash, digest):
            return None
        org = s.get(Organization, key.organization_id)
        if org is None or not org.active:
            return None
        now = datetime.now(UTC)
        last = key.last_used_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        if last is None or now - last > LAST_USED_GRANULARITY:
            key.last_used_at = now
        crossings = s.scalars(
            select(CrossingAssignment.crossing_code).where(
                CrossingAssignment.organization_id == org.id
            )
        )
        return Caller(
            org.id,
            org.member_id,
            org.country,
            frozenset(org.roles),
            frozenset(crossings),
            org.signing_public_key,
        )


def list_crossings(platform: Platform) -> list[Crossing]:
    with platform.db.session() as s:
        return list(s.scalars(select(Crossing).order_by(Crossing.code)))


def list_member_states(platform: Platform) -> list[MemberState]:
    with platform.db.session() as s:
        return list(s.scalars(select(MemberState).order_by(MemberState.alpha2)))


def caller_for(platform: Platform, member_id: str) -> Caller:
    """Act as an organization from the console (operator commands, imports, demo)."""
    with platform.db.session() as s:
        org = get_organization(s, member_id)
        crossings = s.scalars(
            select(CrossingAssignment.crossing_code).where(
                CrossingAssignment.organization_id == org.id
            )
        )
        return Caller(
            org.id,
            org.member_id,
            org.country,
            frozenset(org.roles),
            frozenset(crossings),
            org.signing_public_key,
        )

"""Console operations: people, invitations, sign-in with a second factor, sessions, lock-out,
and the customs officer's work done as a person of an organization.

Routes and the CLI call these; they never touch a database session. Every change a person
makes is audited with the organization as the actor and the person beside it
(``core.writes.acting``); the declaration and risk services are called with the
organization's ``Caller``, so the console sees exactly what the API would show that
organization, and nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, overload

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from silkgate.audit.service import AuditEvent, append
from silkgate.console import security
from silkgate.console.models import ConsoleInvite, ConsoleSession, ConsoleUser
from silkgate.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.core.writes import acting
from silkgate.exchange.agreements.enforce import Asking
from silkgate.registry.models import CrossingAssignment, Organization
from silkgate.registry.schemas import Role
from silkgate.registry.service import Caller

LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")
#: A session that has passed the password but not yet a required second factor lives this long.
PENDING_MINUTES = 5
#: ``last_seen_at`` is written at most this often (not on every page).
TOUCH_EVERY = timedelta(seconds=60)
#: Languages of the console (Babel locale identifiers).
LANGUAGES = ("en", "ru_KZ", "kk_KZ", "zh_Hans_CN")


class ConsoleRole(StrEnum):
    """What a person does in their organization."""

    OFFICER = "officer"  # customs: reads declarations, records inspections
    SUPERVISOR = "supervisor"  # customs: also overrides lanes
    ADMINISTRATOR = "administrator"  # invites and disables the organization's people


def roles_for(org_roles: set[str] | frozenset[str] | list[str]) -> list[ConsoleRole]:
    """The console roles an organization's people can hold. Every organization has all three;
    what a role lets a person do follows from the organization's registry roles too (an
    officer of a carrier does not see the customs pages: the carrier is not customs)."""
    del org_roles  # the same three for every organization today
    return list(ConsoleRole)


def totp_required(org_roles: set[str] | frozenset[str] | list[str], roles: list[str]) -> bool:
    """A second factor is required for customs and platform administration organizations,
    and for every organization's administrators."""
    return bool({Role.CUSTOMS.value, Role.ADMIN.value} & set(org_roles)) or (
        ConsoleRole.ADMINISTRATOR.value in roles
    )


class SignInFailed(Exception):
    """Wrong login, password or code, or a locked or disabled account (one answer for all)."""


@dataclass(frozen=True)
class Person:
    """A signed-in person and their organization (detached from any database session)."""

    user_id: int
    login: str
    display_name: str
    roles: frozenset[str]
    language: str | None
    totp_enrolled: bool
    organization: str  # member id
    organization_name: str
    caller: Caller  # the organization, as the API services take it

    def has(self, *roles: ConsoleRole) -> bool:
        return any(r.value in self.roles for r in roles)

    @property
    def is_declarant(self) -> bool:
        """Those the declaration service lets lodge (brokers, carriers, e-ports …)."""
        from silkgate.declarations.service import DECLARANT_ROLES

        return self.caller.has(*DECLARANT_ROLES)

    @property
    def is_booker(self) -> bool:
        """Carriers, brokers and customs-service companies book crossing slots."""
        return self.caller.has(Role.CARRIER, Role.BROKER, Role.CUSTOMS_SERVICE)

    @property
    def is_operator(self) -> bool:
        """Officers and supervisors of an e-port operator run its crossings' queue pages."""
        return self.caller.has(Role.E_PORT) and self.has(
            ConsoleRole.OFFICER, ConsoleRole.SUPERVISOR
        )

    @property
    def is_platform_admin(self) -> bool:
        """An administrator of a platform-administration organization: sees every one."""
        return self.has(ConsoleRole.ADMINISTRATOR) and self.caller.has(Role.ADMIN)

    @property
    def is_analyst(self) -> bool:
        """Analysts, customs and platform administrations run analytics jobs and the twin
        (the analytics API's rule, by the organization's roles)."""
        from silkgate.analytics.jobs.api import RUNNERS

        return self.caller.has(*RUNNERS)

    @property
    def is_customs(self) -> bool:
        return self.caller.has(Role.CUSTOMS) and self.has(
            ConsoleRole.OFFICER, ConsoleRole.SUPERVISOR
        )


@dataclass(frozen=True)
class Signed:
    """A browser's session as a request sees it."""

    stage: str  # "password" (second factor pending) or "full"
    csrf_token: str
    person: Person
    totp_required: bool


@dataclass(frozen=True)
class UserRow:
    """A person as the organization's administrator sees them."""

    login: str
    display_name: str
    roles: list[str]
    active: bool
    joined: bool  # has set a password
    totp_enrolled: bool
    locked: bool
    created_at: datetime
    last_signin_at: datetime | None


@dataclass(frozen=True)
class InviteInfo:
    login: str
    display_name: str
    organization_name: str


# --------------------------------------------------------------------------- helpers


def _now(platform: Platform) -> datetime:
    return platform.clock()


@overload
def _aware(t: datetime) -> datetime: ...
@overload
def _aware(t: None) -> None: ...
def _aware(t: datetime | None) -> datetime | None:
    """A stored time as UTC-aware (SQLite returns naive datetimes)."""
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


def user_state(u: ConsoleUser, org: Organization) -> dict[str, Any]:
    """What the audit log records of a person (never a secret or its hash)."""
    return {
        "login": u.login,
        "organization": org.member_id,
        "display_name": u.display_name,
        "roles": sorted(u.roles),
        "active": bool(u.active),
        "joined": u.password_hash is not None,
        "totp_enrolled": u.totp_secret is not None,
    }


def _audit(
    s: Session,
    platform: Platform,
    org: Organization,
    person: str | None,
    action: str,
    user: ConsoleUser,
    payload: dict[str, Any],
) -> None:
    event = AuditEvent(
        org.member_id,
        action,
        "console_user",
        user.login,
        payload,
        state=user_state(user, org),
        person=person,
    )
    append(s, platform.signer, [event])


def checked_newcomer(platform: Platform, login: str, display_name: str) -> tuple[str, str]:
    """A new person's login and name as they will be stored, refused (``/login``,
    ``/display_name``) when malformed or the login is taken — to check before anything else
    is written on their account."""
    login, name = _check_login(login), _check_name(display_name)
    with platform.db.session() as s:
        if s.scalar(select(ConsoleUser.id).where(ConsoleUser.login == login)) is not None:
            raise Conflict(
                f"login {login} is taken", [FieldError("/login", "duplicate", "already taken")]
            )
    return login, name


def _check_login(login: str) -> str:
    login = login.strip().lower()
    if not LOGIN_RE.match(login):
        raise ValidationFailed(
            [
                FieldError(
                    "/login",
                    "format",
                    "3 to 64 characters: letters a-z, digits and . _ @ -, starting with a "
                    "letter or digit",
                )
            ]
        )
    return login


def _check_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 120 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValidationFailed(
            [FieldError("/display_name", "format", "1 to 120 printable characters")]
        )
    return name


def check_password_rules(login: str, password: str, confirm: str) -> None:
    """A new password: long enough, not the login, typed the same twice."""
    errors: list[FieldError] = []
    if not security.PASSWORD_MIN <= len(password) <= security.PASSWORD_MAX:
        errors.append(
            FieldError(
                "/password",
                "length",
                f"{security.PASSWORD_MIN} to {security.PASSWORD_MAX} characters",
            )
        )
    elif password.strip().lower() == login:
        errors.append(FieldError("/password", "is_login", "must not be the login"))
    if password != confirm:
        errors.append(FieldError("/confirm", "mismatch", "the two passwords differ"))
    if errors:
        raise ValidationFailed(errors)


def _check_roles(org: Organization, roles: list[str]) -> list[str]:
    allowed = {r.value for r in roles_for(org.roles)}
    picked = sorted(set(roles))
    if not picked:
        raise ValidationFailed([FieldError("/roles", "required", "choose at least one role")])
    for r in picked:
        if r not in allowed:
            raise ValidationFailed(
                [
                    FieldError(
                        "/roles",
                        "not_allowed",
                        f"{r} is not a role of {org.member_id} (one of {sorted(allowed)})",
                    )
                ]
            )
    return picked


def _org(s: Session, member_id: str) -> Organization:
    org = s.scalar(select(Organization).where(Organization.member_id == member_id))
    if org is None:
        raise NotFound(f"organization {member_id}")
    return org


def _caller(s: Session, org: Organization) -> Caller:
    crossings = s.scalars(
        select(CrossingAssignment.crossing_code).where(CrossingAssignment.organization_id == org.id)
    )
    return Caller(
        org.id,
        org.member_id,
        org.country,
        frozenset(org.roles),
        frozenset(crossings),
        org.signing_public_key,
    )


def _person(s: Session, u: ConsoleUser, org: Organization) -> Person:
    return Person(
        user_id=u.id,
        login=u.login,
        display_name=u.display_name,
        roles=frozenset(u.roles),
        language=u.language,
        totp_enrolled=u.totp_secret is not None,
        organization=org.member_id,
        organization_name=org.name,
        caller=_caller(s, org),
    )


def _new_user(
    s: Session, org: Organization, login: str, name: str, roles: list[str], by: str, now: datetime
) -> ConsoleUser:
    if s.scalar(select(ConsoleUser.id).where(ConsoleUser.login == login)) is not None:
        raise Conflict(
            f"login {login} is taken", [FieldError("/login", "duplicate", "already taken")]
        )
    user = ConsoleUser(
        organization_id=org.id,
        login=login,
        display_name=name,
        roles=roles,
        failed_signins=0,
        active=True,
        created_at=now,
        created_by=by,
    )
    s.add(user)
    try:
        s.flush()
    except IntegrityError as exc:  # taken by a transaction that committed while this one ran
        if "login" not in str(exc.orig):
            raise
        raise Conflict(
            f"login {login} is taken", [FieldError("/login", "duplicate", "already taken")]
        ) from None
    return user


def _new_invite(platform: Platform, s: Session, user: ConsoleUser, now: datetime) -> str:
    token = security.new_token()
    hours = platform.settings.console_invite_hours
    s.add(
        ConsoleInvite(
            token_hash=security.token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return token


# --------------------------------------------------------------------------- people


def create_administrator(
    platform: Platform, member_id: str, login: str, display_name: str, actor: str
) -> str:
    """An organization's first (or another) administrator, from the command line; returns
    the one-time invitation token with which they set their password."""
    with platform.db.session() as s:
        org = _org(s, member_id)
        if not org.active:
            raise Conflict(f"organization {member_id} is not active")
        user, token = administrator_rows(s, platform, org, login, display_name, actor)
        append(s, platform.signer, [administrator_invited(user, org, actor)])
        return token


def administrator_rows(
    s: Session, platform: Platform, org: Organization, login: str, display_name: str, actor: str
) -> tuple[ConsoleUser, str]:
    """An administrator's account and one-time invitation, not yet audited
    (``administrator_invited`` is the event): returns the account and the invitation token."""
    login, name = _check_login(login), _check_name(display_name)
    now = _now(platform)
    user = _new_user(s, org, login, name, [ConsoleRole.ADMINISTRATOR.value], actor, now)
    return user, _new_invite(platform, s, user, now)


def administrator_invited(user: ConsoleUser, org: Organization, actor: str) -> AuditEvent:
    """The audit entry of an administrator's invitation, appended by the caller in the
    transaction that wrote the account (``administrator_rows``)."""
    return AuditEvent(
        actor,
        "console.user_invited",
        "console_user",
        user.login,
        {"login": user.login, "roles": user.roles, "organization": org.member_id},
        state=user_state(user, org),
    )


def invite(
    platform: Platform, admin: Person, login: str, display_name: str, roles: list[str]
) -> str:
    """An administrator invites a person of their organization; returns the one-time token
    (shown once, to be passed on to the person)."""
    _require(admin, ConsoleRole.ADMINISTRATOR)
    login, name = _check_login(login), _check_name(display_name)
    now = _now(platform)
    with platform.db.session() as s:
        org = _org(s, admin.organization)
        picked = _check_roles(org, roles)
        user = _new_user(s, org, login, name, picked, admin.login, now)
        token = _new_invite(platform, s, user, now)
        payload = {"login": login, "roles": picked, "organization": org.member_id}
        _audit(s, platform, org, admin.login, "console.user_invited", user, payload)
        return token


def reinvite(platform: Platform, admin: Person, login: str) -> str:
    """A new one-time link for a person who has not joined yet (the earlier one expired or
    was lost); earlier links stop working. Returns the new token."""
    _require(admin, ConsoleRole.ADMINISTRATOR)
    now = _now(platform)
    with platform.db.session() as s:
        user = s.scalar(
            select(ConsoleUser).where(
                ConsoleUser.login == login, ConsoleUser.organization_id == admin.caller.id
            )
        )
        if user is None or not user.active:
            raise NotFound(f"person {login}")
        if user.password_hash is not None:
            raise Conflict(
                f"{login} has joined already",
                [FieldError("/login", "joined", "has a password already")],
            )
        org = s.get(Organization, user.organization_id)
        assert org is not None
        s.execute(
            delete(ConsoleInvite).where(
                ConsoleInvite.user_id == user.id, ConsoleInvite.used_at.is_(None)
            )
        )
        token = _new_invite(platform, s, user, now)
        _audit(s, platform, org, admin.login, "console.user_reinvited", user, {"login": login})
        return token


def _open_invite(s: Session, token: str, now: datetime) -> tuple[ConsoleInvite, ConsoleUser]:
    inv = s.get(ConsoleInvite, security.token_hash(token)) if token else None
    if inv is None or inv.used_at is not None or _aware(inv.expires_at) <= now:
        raise NotFound("invitation (unknown, used or expired)")
    user = s.get(ConsoleUser, inv.user_id)
    if user is None or not user.active:
        raise NotFound("invitation (unknown, used or expired)")
    return inv, user


def invite_info(platform: Platform, token: str) -> InviteInfo:
    """Whom a still valid invitation is for (404 otherwise)."""
    with platform.db.session() as s:
        _, user = _open_invite(s, token, _now(platform))
        org = s.get(Organization, user.organization_id)
        assert org is not None
        return InviteInfo(user.login, user.display_name, org.name)


def accept_invite(platform: Platform, token: str, password: str, confirm: str) -> str:
    """The invited person sets their password; the invitation is used up. Returns the login."""
    now = _now(platform)
    with platform.db.session() as s:
        inv, user = _open_invite(s, token, now)
        check_password_rules(user.login, password, confirm)
        org = s.get(Organization, user.organization_id)
        assert org is not None
        inv.used_at = now
        user.password_hash = security.hash_password(password)
        user.failed_signins, user.locked_until = 0, None
        _audit(s, platform, org, user.login, "console.user_joined", user, {"login": user.login})
        return user.login


def list_users(platform: Platform, admin: Person) -> list[UserRow]:
    _require(admin, ConsoleRole.ADMINISTRATOR)
    now = _now(platform)
    with platform.db.session() as s:
        users = s.scalars(
            select(ConsoleUser)
            .where(ConsoleUser.organization_id == admin.caller.id)
            .order_by(ConsoleUser.login)
        )
        return [
            UserRow(
                login=u.login,
                display_name=u.display_name,
                roles=sorted(u.roles),
                active=bool(u.active),
                joined=u.password_hash is not None,
                totp_enrolled=u.totp_secret is not None,
                locked=u.locked_until is not None and _aware(u.locked_until) > now,
                created_at=_aware(u.created_at),
                last_signin_at=_aware(u.last_signin_at),
            )
            for u in users
        ]


def disable_user(platform: Platform, admin: Person, login: str) -> None:
    """An administrator disables a person of their organization: signed out at once, their
    open invitations void, and no sign-in any more."""
    _require(admin, ConsoleRole.ADMINISTRATOR)
    if login == admin.login:
        raise Conflict(
            "you cannot disable yourself",
            [FieldError("/login", "self", "ask another administrator")],
        )
    now = _now(platform)
    with platform.db.session() as s:
        user = s.scalar(
            select(ConsoleUser).where(
                ConsoleUser.login == login, ConsoleUser.organization_id == admin.caller.id
            )
        )
        if user is None:  # another organization's people are not even named
            raise NotFound(f"person {login}")
        if not user.active:
            return
        org = s.get(Organization, user.organization_id)
        assert org is not None
        user.active, user.disabled_at = False, now
        s.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
        s.execute(
            delete(ConsoleInvite).where(
                ConsoleInvite.user_id == user.id, ConsoleInvite.used_at.is_(None)
            )
        )
        _audit(s, platform, org, admin.login, "console.user_disabled", user, {"login": login})


def set_language(platform: Platform, person: Person, language: str) -> None:
    """The person's console language (one of ``LANGUAGES``)."""
    if language not in LANGUAGES:
        raise ValidationFailed(
            [FieldError("/language", "unknown", f"one of {', '.join(LANGUAGES)}")]
        )
    with platform.db.session() as s:
        user = s.get(ConsoleUser, person.user_id)
        if user is not None:
            user.language = language


def _require(person: Person, *roles: ConsoleRole) -> None:
    if not person.has(*roles):
        raise Forbidden(f"needs the role {' or '.join(r.value for r in roles)}")


# --------------------------------------------------------------------------- signing in


def _fail(platform: Platform, s: Session, user: ConsoleUser, now: datetime) -> None:
    """Count a failed attempt; lock the account at the limit (and end its sessions)."""
    user.failed_signins += 1
    if user.failed_signins >= platform.settings.console_max_failed_signins:
        user.failed_signins = 0
        user.locked_until = now + timedelta(minutes=platform.settings.console_lockout_minutes)
        s.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
        org = s.get(Organization, user.organization_id)
        assert org is not None
        limit = platform.settings.console_max_failed_signins
        _audit(s, platform, org, None, "console.user_locked", user, {"failed": limit})


def _usable(user: ConsoleUser | None, org: Organization | None, now: datetime) -> bool:
    if user is None or org is None or not user.active or not org.active:
        return False
    locked = _aware(user.locked_until)
    return locked is None or locked <= now


def _open_session(
    platform: Platform, s: Session, user: ConsoleUser, stage: str, now: datetime
) -> str:
    token = security.new_token()
    hours = platform.settings.console_session_absolute_hours
    s.add(
        ConsoleSession(
            token_hash=security.token_hash(token),
            user_id=user.id,
            stage=stage,
            csrf_token=security.new_token(),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return token


def sign_in(platform: Platform, login: str, password: str) -> tuple[str, str]:
    """Check a login and password; returns a new session token and its stage (``full``, or
    ``password`` when a second factor is still to be given or set up).

    Raises ``SignInFailed`` for every refusal alike: unknown login, wrong password, locked,
    disabled, not yet joined.
    """
    now = _now(platform)
    login = login.strip().lower()
    with platform.db.session() as s:
        user = s.scalar(select(ConsoleUser).where(ConsoleUser.login == login)) if login else None
        ok, rehash = security.check_password(user.password_hash if user else None, password)
        org = s.get(Organization, user.organization_id) if user is not None else None
        if user is None or not _usable(user, org, now):
            raise SignInFailed
        assert org is not None
        if not ok:
            _fail(platform, s, user, now)
            s.commit()
            raise SignInFailed
        if rehash:
            user.password_hash = security.hash_password(password)
        needs_second = user.totp_secret is not None or totp_required(org.roles, user.roles)
        if needs_second:
            # the failure count is kept until the second factor is given too
            return _open_session(platform, s, user, "password", now), "password"
        user.failed_signins, user.last_signin_at = 0, now
        token = _open_session(platform, s, user, "full", now)
        _audit(s, platform, org, user.login, "console.signed_in", user, {"factors": 1})
        return token, "full"


def _live_session(
    platform: Platform, s: Session, token: str, now: datetime
) -> tuple[ConsoleSession, ConsoleUser, Organization] | None:
    row = s.get(ConsoleSession, security.token_hash(token)) if token else None
    if row is None:
        return None
    settings = platform.settings
    idle = (
        timedelta(minutes=PENDING_MINUTES)
        if row.stage != "full"
        else timedelta(minutes=settings.console_session_idle_minutes)
    )
    last_seen = _aware(row.last_seen_at)
    expires = _aware(row.expires_at)
    assert last_seen is not None and expires is not None
    user = s.get(ConsoleUser, row.user_id)
    org = s.get(Organization, user.organization_id) if user is not None else None
    if now - last_seen > idle or now >= expires or not _usable(user, org, now):
        s.delete(row)
        return None
    assert user is not None and org is not None
    return row, user, org


def session(platform: Platform, token: str, touch: bool = True) -> Signed | None:
    """The session behind a cookie, or None when unknown, idle too long, past its absolute
    limit, or its person or organization is disabled or locked (such a session is deleted).
    ``touch=False`` (a live page refreshing itself) does not count as use."""
    now = _now(platform)
    with platform.db.session() as s:
        live = _live_session(platform, s, token, now)
        if live is None:
            return None
        row, user, org = live
        if touch and now - _aware(row.last_seen_at) > TOUCH_EVERY:
            row.last_seen_at = now
        return Signed(
            stage=row.stage,
            csrf_token=row.csrf_token,
            person=_person(s, user, org),
            totp_required=totp_required(org.roles, user.roles),
        )


@dataclass(frozen=True)
class TotpSetup:
    """A secret offered for enrolment: typed into or scanned by an authenticator app."""

    secret: str
    uri: str


def totp_setup(platform: Platform, token: str) -> TotpSetup:
    """The secret this session offers for enrolment (made once per session, kept encrypted)."""
    now = _now(platform)
    with platform.db.session() as s:
        live = _live_session(platform, s, token, now)
        if live is None:
            raise NotFound("session")
        row, user, org = live
        if user.totp_secret is not None:
            raise Conflict("two-step sign-in is set up already")
        secret = None
        if row.pending_totp is not None:
            secret = security.open_totp(platform.settings, user.login, row.pending_totp)
        if secret is None:
            secret = security.new_totp_secret()
            row.pending_totp = security.seal_totp(platform.settings, user.login, secret)
        return TotpSetup(secret, security.totp_uri(secret, user.login, org.member_id))


def verify_totp(platform: Platform, token: str, code: str) -> str:
    """Check the second factor (enrolling the offered secret if none is set up yet) and make
    the session full. Returns the new session token: the old one is dropped, so a token
    seen before the second factor is worth nothing after it. ``SignInFailed`` otherwise
    (counted towards the lock-out)."""
    now = _now(platform)
    with platform.db.session() as s:
        live = _live_session(platform, s, token, now)
        if live is None:
            raise SignInFailed
        row, user, org = live
        enrolling = user.totp_secret is None
        sealed = row.pending_totp if enrolling else user.totp_secret
        secret = security.open_totp(platform.settings, user.login, sealed) if sealed else None
        step = (
            security.totp_step(secret, code, now.timestamp(), user.totp_last_step)
            if secret
            else None
        )
        if step is None:
            _fail(platform, s, user, now)
            s.commit()
            raise SignInFailed
        user.totp_last_step = step
        if enrolling:
            user.totp_secret = row.pending_totp
            _audit(s, platform, org, user.login, "console.totp_enrolled", user, {})
        first = row.stage != "full"
        s.delete(row)
        new = _open_session(platform, s, user, "full", now)
        if first:
            user.failed_signins, user.last_signin_at = 0, now
            _audit(s, platform, org, user.login, "console.signed_in", user, {"factors": 2})
        return new


def sign_out(platform: Platform, token: str) -> None:
    now = _now(platform)
    with platform.db.session() as s:
        live = _live_session(platform, s, token, now)
        if live is None:
            return
        row, user, org = live
        s.delete(row)
        if row.stage == "full":
            _audit(s, platform, org, user.login, "console.signed_out", user, {})


# --------------------------------------------------------------------------- acting


@contextmanager
def as_person(person: Person) -> Iterator[Caller]:
    """The organization's caller for a service call whose audit entries name the person."""
    with acting(person.login):
        yield person.caller


def require(person: Person, *roles: ConsoleRole) -> None:
    """403 unless the person holds one of the roles."""
    _require(person, *roles)


# --------------------------------------------------------------------------- customs work
#
# The declaration, risk and gate services are called with the person's organization as the
# caller: the console reads and changes exactly what the API lets that organization read and
# change (the same policy decision point, the same lodging-customs checks), and every audit
# entry those calls make names the person too.


#: Declarations on one page of the officer's list.
PAGE_SIZE = 25
#: The purpose the customs pages declare when they read data another organization shares
#: (the API's Silkgate-Purpose header): these pages are for customs control. Disclosures
#: they make are logged with it, as for any API read.
CUSTOMS_PURPOSE = "customs_control"
DIRECTIONS = ("incoming", "outgoing", "all")


@dataclass(frozen=True)
class DeclarationFilters:
    """The officer's list filters (all optional; ``direction`` relative to their country)."""

    direction: str = "incoming"
    crossing: str | None = None
    status: str | None = None
    type: str | None = None
    lrn: str | None = None


@dataclass(frozen=True)
class DeclarationDetail:
    """What a declaration's page shows, each part as the organization may read it."""

    declaration: Any  # DeclarationOut or SharedDeclaration
    assessment: Any | None  # AssessmentOut (lodging customs) or SharedAssessment
    inspection: Any | None
    timeline: Any | None
    lodging: bool  # the person's organization is customs of the side it is lodged with


def _customs(person: Person) -> Caller:
    if not person.is_customs:
        raise Forbidden("customs officers and supervisors only")
    return person.caller


def list_declarations(
    platform: Platform, person: Person, filters: DeclarationFilters, cursor: str | None
) -> Any:
    """A page of declarations at the organization's crossings, newest first."""
    from silkgate.declarations import reading
    from silkgate.declarations.schemas import DeclarationStatus, DeclarationType

    caller = _customs(person)
    errors = []
    if filters.direction not in DIRECTIONS:
        errors.append(FieldError("/direction", "enum", f"one of {', '.join(DIRECTIONS)}"))
    if filters.crossing is not None and filters.crossing not in caller.crossings:
        errors.append(FieldError("/crossing", "enum", "not a crossing your organization serves"))
    if filters.status is not None and filters.status not in set(DeclarationStatus):
        errors.append(FieldError("/status", "enum", "not a declaration state"))
    if filters.type is not None and filters.type not in set(DeclarationType):
        errors.append(FieldError("/type", "enum", "not a declaration type"))
    if errors:
        raise ValidationFailed(errors)
    f = reading.ListFilter(
        status=filters.status,
        type=filters.type,
        crossing=filters.crossing,
        lrn=filters.lrn,
        entry_country=caller.country if filters.direction == "incoming" else None,
        exit_country=caller.country if filters.direction == "outgoing" else None,
    )
    with as_person(person) as who:
        asking = Asking(who, CUSTOMS_PURPOSE)
        return reading.list_declarations(platform, asking, f, cursor, PAGE_SIZE)


def _lodged_here(caller: Caller, view: Any) -> bool:
    """Customs of the side the declaration is lodged with (as ``risk.platform.offices``)."""
    lodged = view.entry_country if view.type == "import" else view.exit_country
    return (
        caller.has(Role.CUSTOMS)
        and view.crossing in caller.crossings
        and lodged == caller.country
        and not view.pre_arrival
    )


def declaration_detail(platform: Platform, person: Person, decl_id: str) -> DeclarationDetail:
    """A declaration, its lane and reasons, its inspection and its consignment timeline."""
    from silkgate.declarations import reading
    from silkgate.exchange.agreements.enforce import PurposeRequired
    from silkgate.gates.timeline import declaration_timeline
    from silkgate.risk.platform import service as risk

    _customs(person)
    with as_person(person) as caller:
        who = Asking(caller, CUSTOMS_PURPOSE)
        view = reading.get(platform, who, decl_id)
        assessment = inspection = timeline = None
        # a part the organization may not read (or not without a declared purpose) is left out
        hidden = (NotFound, PurposeRequired)
        with suppress(*hidden):
            assessment = risk.get_assessment(platform, who, decl_id)
        with suppress(*hidden):
            inspection = risk.get_inspection(platform, who, decl_id)
        with suppress(*hidden):
            timeline = declaration_timeline(platform, who, decl_id)
    return DeclarationDetail(view, assessment, inspection, timeline, _lodged_here(caller, view))


def override_lane(platform: Platform, person: Person, decl_id: str, lane: str, reason: str) -> Any:
    """A supervisor puts the declaration in another lane, with a reason (audited with them)."""
    from silkgate.core.validation import parse_model
    from silkgate.risk.platform import service as risk
    from silkgate.risk.platform.schemas import LaneOverrideIn

    _customs(person)
    _require(person, ConsoleRole.SUPERVISOR)
    given = {"lane": lane, "reason": reason}  # a field left empty is missing, not null
    body = parse_model(LaneOverrideIn, {k: v for k, v in given.items() if v})
    with as_person(person) as who:
        return risk.override_lane(platform, who, decl_id, body)


@dataclass(frozen=True)
class FindingForm:
    kind: str
    text: str
    item: str = ""


def record_inspection(
    platform: Platform,
    person: Person,
    decl_id: str,
    outcome: str,
    findings: list[FindingForm],
    duties_amount: str,
    duties_currency: str,
    note: str,
) -> Any:
    """An officer records the inspection of the declaration's current version (audited with
    them); form fields are checked by the same rules as the API's body."""
    from silkgate.core.validation import parse_model
    from silkgate.risk.platform import service as risk
    from silkgate.risk.platform.schemas import InspectionIn

    _customs(person)
    body: dict[str, Any] = {"note": note.strip() or None}
    if outcome:
        body["outcome"] = outcome
    rows: list[dict[str, Any]] = []
    for f in findings:
        if not (f.kind or f.text.strip() or f.item.strip()):
            continue  # an empty row of the form
        row: dict[str, Any] = {"kind": f.kind or None, "text": f.text}
        if f.item.strip():
            row["item"] = _whole(f.item, pointer_of=f"/findings/{len(rows)}/item")
        rows.append(row)
    body["findings"] = rows
    if duties_amount.strip() or duties_currency.strip():
        body["additional_duties"] = {
            "amount": _amount(duties_amount),
            "currency": duties_currency.strip().upper(),
        }
    parsed = parse_model(InspectionIn, body)
    with as_person(person) as who:
        return risk.record_inspection(platform, who, decl_id, parsed)


def _whole(text: str, pointer_of: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationFailed([FieldError(pointer_of, "format", "a whole number")]) from None


def _amount(text: str) -> float:
    try:
        value = float(text.strip().replace(" ", "").replace("\xa0", "").replace(",", "."))
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e14:
        raise ValidationFailed(
            [FieldError("/additional_duties/amount", "format", "an amount of zero or more")]
        )
    return value

"""People of an organization: invitations, Argon2 passwords, TOTP, sessions, lock-out, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from silkgate.audit.keys import trusted_keys
from silkgate.audit.models import AuditEntry
from silkgate.audit.service import verify_chain
from silkgate.audit.verify import verify_all
from silkgate.console import security
from silkgate.console import service as console
from silkgate.console.models import ConsoleInvite, ConsoleSession, ConsoleUser
from silkgate.console.pages import LIVE_HEADER
from silkgate.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.core.settings import Settings
from tests.console.browser import Browser
from tests.console.people import PASSWORD, admin, code, join, member, sign_in, world


def _entries(platform: Platform, action: str) -> list[AuditEntry]:
    with platform.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_secrets_are_stored_hashed_or_encrypted(platform: Platform) -> None:
    w = world(platform)
    invite = console.create_administrator(platform, w.ids["kz-customs"], "Aigerim", "A", "test")
    join(w, invite)
    token = sign_in(w, "aigerim")
    with platform.db.session() as s:
        user = s.scalar(select(ConsoleUser).where(ConsoleUser.login == "aigerim"))
        assert user is not None and user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert user.totp_secret is not None
        assert w.secrets["aigerim"].encode() not in user.totp_secret
        # sealed for this login: moved to another row it does not open
        assert (
            security.open_totp(platform.settings, "aigerim", user.totp_secret)
            == w.secrets["aigerim"]
        )
        assert security.open_totp(platform.settings, "someone", user.totp_secret) is None
        sessions = list(s.scalars(select(ConsoleSession)))
        invites = list(s.scalars(select(ConsoleInvite)))
    assert [x.token_hash for x in sessions] == [security.token_hash(token)]
    assert all(token not in (x.token_hash, x.csrf_token) for x in sessions)
    assert [x.token_hash for x in invites] == [security.token_hash(invite)]


def test_totp_key_comes_from_the_settings_secret(platform: Platform) -> None:
    sealed = security.seal_totp(platform.settings, "a", "JBSWY3DPEHPK3PXP")
    other = Settings(demo_mode=True, console_secret="another-console-secret-0123")  # type: ignore[arg-type]
    assert security.open_totp(platform.settings, "a", sealed) == "JBSWY3DPEHPK3PXP"
    assert security.open_totp(other, "a", sealed) is None


def test_demo_console_secret_refused_outside_demo_mode() -> None:
    from pydantic import ValidationError

    from silkgate.core.settings import DEMO_CONSOLE_SECRET

    with pytest.raises(ValidationError, match="CONSOLE_SECRET"):
        Settings(
            demo_mode=False,
            api_key_pepper="a-real-pepper-of-ours",
            console_secret=DEMO_CONSOLE_SECRET,
        )  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="CONSOLE_SECRET"):
        Settings(demo_mode=False, api_key_pepper="a-real-pepper-of-ours", console_secret="short")  # type: ignore[arg-type]
    ok = Settings(demo_mode=False, api_key_pepper="a-real-pepper-of-ours", console_secret="x" * 32)  # type: ignore[arg-type]
    assert ok.console_key("a") != ok.console_key("b")


def test_invitation_is_used_once_and_expires(platform: Platform) -> None:
    w = world(platform)
    invite = console.create_administrator(platform, w.ids["cn-carrier"], "li.wei", "Li Wei", "t")
    assert console.invite_info(platform, invite).login == "li.wei"
    with pytest.raises(ValidationFailed) as bad:
        console.accept_invite(platform, invite, "short", "short")
    assert bad.value.errors[0].field == "/password"
    with pytest.raises(ValidationFailed) as differ:
        console.accept_invite(platform, invite, PASSWORD, PASSWORD + "x")
    assert differ.value.errors[0].field == "/confirm"
    join(w, invite)
    with pytest.raises(NotFound):
        join(w, invite)
    late = console.create_administrator(platform, w.ids["cn-carrier"], "late", "Late", "t")
    w.clock.advance(hours=platform.settings.console_invite_hours + 1)
    with pytest.raises(NotFound):
        console.invite_info(platform, late)


def test_carrier_without_totp_signs_in_with_a_password(platform: Platform) -> None:
    w = world(platform)
    boss, _ = admin(w, "cn-carrier", "boss")
    with pytest.raises(ValidationFailed) as wrong_role:
        console.invite(platform, boss, "driver", "Driver", ["captain"])
    assert wrong_role.value.errors[0].code == "not_allowed"
    with pytest.raises(ValidationFailed) as no_role:
        console.invite(platform, boss, "driver", "Driver", [])
    assert no_role.value.errors[0].code == "required"
    join(w, console.invite(platform, boss, "driver", "Driver", ["officer"]))
    token, stage = console.sign_in(platform, "driver", PASSWORD)
    signed = console.session(platform, token)
    assert stage == "full" and signed is not None and not signed.totp_required
    assert not signed.person.is_customs  # an officer of a carrier: no customs pages


def test_customs_officer_must_set_up_and_give_totp(platform: Platform) -> None:
    w = world(platform)
    boss, _ = admin(w, "kz-customs", "boss")
    join(w, console.invite(platform, boss, "officer1", "Officer One", ["officer"]))
    token, stage = console.sign_in(platform, "officer1", PASSWORD)
    assert stage == "password"
    pending = console.session(platform, token)
    assert pending is not None and pending.stage == "password" and pending.totp_required
    setup = console.totp_setup(platform, token)
    assert console.totp_setup(platform, token).secret == setup.secret  # stable across reloads
    assert setup.uri.startswith("otpauth://totp/") and "Silkgate" in setup.uri
    w.secrets["officer1"] = setup.secret
    with pytest.raises(console.SignInFailed):
        console.verify_totp(platform, token, "000000" if code(w, "officer1") != "000000" else "1")
    full = console.verify_totp(platform, token, code(w, "officer1"))
    assert full != token and console.session(platform, token) is None  # the old token is gone
    signed = console.session(platform, full)
    assert signed is not None and signed.stage == "full" and signed.person.totp_enrolled
    # next time the code is asked for, and a code already used is refused (no replay)
    again, stage = console.sign_in(platform, "officer1", PASSWORD)
    assert stage == "password"
    with pytest.raises(console.SignInFailed):
        console.verify_totp(platform, again, code(w, "officer1"))
    w.clock.advance(seconds=30)
    assert console.session(platform, console.verify_totp(platform, again, code(w, "officer1")))


def test_lock_out_after_repeated_failures(platform: Platform) -> None:
    w = world(platform)
    boss, boss_token = admin(w, "kz-customs", "boss")
    limit = platform.settings.console_max_failed_signins
    for _ in range(limit):
        with pytest.raises(console.SignInFailed):
            console.sign_in(platform, "boss", "wrong password!")
    # locked: the right password is refused too, and open sessions are ended
    with pytest.raises(console.SignInFailed):
        console.sign_in(platform, "boss", PASSWORD)
    assert console.session(platform, boss_token) is None
    [locked] = _entries(platform, "console.user_locked")
    assert locked.entity_id == "boss" and locked.actor == boss.organization
    w.clock.advance(minutes=platform.settings.console_lockout_minutes + 1)
    assert sign_in(w, "boss")


def test_wrong_totp_codes_count_towards_the_lock_out(platform: Platform) -> None:
    w = world(platform)
    admin(w, "kz-customs", "boss")
    for _ in range(platform.settings.console_max_failed_signins):
        token, _ = console.sign_in(platform, "boss", PASSWORD)
        with pytest.raises(console.SignInFailed):
            console.verify_totp(platform, token, "12345x")
    with pytest.raises(console.SignInFailed):
        console.sign_in(platform, "boss", PASSWORD)


def test_unknown_login_and_wrong_password_are_one_answer(platform: Platform) -> None:
    w = world(platform)
    admin(w, "cn-carrier", "boss")
    for login, password in (("nobody", PASSWORD), ("boss", "not the password"), ("", "")):
        with pytest.raises(console.SignInFailed):
            console.sign_in(platform, login, password)


def test_session_idle_and_absolute_expiry(platform: Platform) -> None:
    w = world(platform)
    _, token = admin(w, "cn-carrier", "boss")
    idle = platform.settings.console_session_idle_minutes
    w.clock.advance(minutes=idle - 1)
    assert console.session(platform, token) is not None  # used: the idle time starts again
    w.clock.advance(minutes=idle - 1)
    assert console.session(platform, token) is not None
    w.clock.advance(minutes=idle + 1)
    assert console.session(platform, token) is None
    with platform.db.session() as s:  # the expired session is deleted, not just refused
        assert s.get(ConsoleSession, security.token_hash(token)) is None
    token = sign_in(w, "boss")
    hours = platform.settings.console_session_absolute_hours
    for _ in range(int(hours * 60 / (idle / 2)) + 1):  # kept busy, yet ends at the limit
        w.clock.advance(minutes=idle / 2)
        if console.session(platform, token) is None:
            break
    else:
        pytest.fail("the session outlived its absolute limit")


def test_a_live_page_refreshing_itself_does_not_keep_a_session_alive(platform: Platform) -> None:
    """The queue boards refresh every few seconds (static/live.js, header X-Silkgate-Live):
    left open on an unattended screen, they must not stop the session from ending when idle."""
    w = world(platform)
    admin(w, "cn-carrier", "boss")
    b = Browser(platform)
    b.sign_in(w, "boss")
    idle = platform.settings.console_session_idle_minutes
    w.clock.advance(minutes=idle - 1)
    refreshed = b.get("/console/", headers={LIVE_HEADER: "1"})
    assert refreshed.status_code == 200 and 'data-testid="signed-in-as"' in refreshed.text
    w.clock.advance(minutes=2)  # idle since the last real use, refreshed or not
    assert b.get("/console/", headers={LIVE_HEADER: "1"}).status_code == 303
    assert b.get("/console/").headers["location"].startswith("/console/sign-in")


def test_pending_session_reaches_nothing_after_five_minutes(platform: Platform) -> None:
    w = world(platform)
    admin(w, "kz-customs", "boss")
    token, _ = console.sign_in(platform, "boss", PASSWORD)
    w.clock.advance(minutes=console.PENDING_MINUTES + 1)
    with pytest.raises(console.SignInFailed):
        console.verify_totp(platform, token, code(w, "boss", ahead=20))


def test_administrator_invites_and_disables(platform: Platform) -> None:
    w = world(platform)
    boss, _ = admin(w, "kz-customs", "boss")
    officer, officer_token = member(w, boss, "asel", ["officer"])
    with pytest.raises(Forbidden):
        console.invite(platform, officer, "x1x", "X", ["officer"])
    with pytest.raises(Forbidden):
        console.disable_user(platform, officer, "boss")
    with pytest.raises(Conflict):
        console.invite(platform, boss, "ASEL", "Again", ["officer"])
    with pytest.raises(Conflict):
        console.disable_user(platform, boss, "boss")
    rows = {u.login: u for u in console.list_users(platform, boss)}
    assert rows["asel"].roles == ["officer"] and rows["asel"].totp_enrolled
    console.disable_user(platform, boss, "asel")
    assert console.session(platform, officer_token) is None
    with pytest.raises(console.SignInFailed):
        console.sign_in(platform, "asel", PASSWORD)
    assert not {u.login: u for u in console.list_users(platform, boss)}["asel"].active


def test_an_administrator_cannot_reach_another_organizations_people(platform: Platform) -> None:
    w = world(platform)
    kz, _ = admin(w, "kz-customs", "kzboss")
    cn, _ = admin(w, "cn-customs", "cnboss")
    member(w, cn, "wang", ["officer"])
    with pytest.raises(NotFound):
        console.disable_user(platform, kz, "wang")
    assert "wang" not in {u.login for u in console.list_users(platform, kz)}


def test_audit_log_names_the_person_and_the_organization(platform: Platform) -> None:
    w = world(platform)
    boss, _ = admin(w, "kz-customs", "boss")
    member(w, boss, "asel", ["officer", "supervisor"])
    console.disable_user(platform, boss, "asel")
    [invited] = [e for e in _entries(platform, "console.user_invited") if e.entity_id == "asel"]
    [disabled] = _entries(platform, "console.user_disabled")
    for e in (invited, disabled):
        assert (e.actor, e.person, e.entity_type) == (boss.organization, "boss", "console_user")
    assert disabled.state is not None and disabled.state["active"] is False
    signed_in = [e for e in _entries(platform, "console.signed_in") if e.entity_id == "asel"]
    assert signed_in and signed_in[0].person == "asel"
    assert verify_all(platform).ok


def test_the_person_is_covered_by_the_entry_hash(platform: Platform) -> None:
    w = world(platform)
    admin(w, "cn-carrier", "boss")
    [joined] = _entries(platform, "console.user_joined")
    with platform.db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == joined.seq).values(person="other"))
    with platform.db.session() as s:
        result = verify_chain(s, trusted_keys(platform.settings))
    assert result.broken_seq == joined.seq


def test_cli_invites_the_first_administrator(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from silkgate.cli import app

    w = world(platform)
    monkeypatch.setenv("SILKGATE_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SILKGATE_DEMO_MODE", "true")
    monkeypatch.setenv("SILKGATE_DATA_DIR", str(platform.settings.data_dir))
    args = ["console", "create-admin", "--org", w.ids["kz-customs"], "--login", "First.Admin"]
    out = CliRunner().invoke(
        app, [*args, "--name", "First Admin", "--base-url", "https://sg.example"]
    )
    assert out.exit_code == 0, out.output
    link = next(x for x in out.output.split() if x.startswith("https://sg.example/console/invite/"))
    assert console.invite_info(platform, link.rsplit("/", 1)[1]).login == "first.admin"
    again = CliRunner().invoke(app, [*args, "--name", "X"])
    assert again.exit_code == 1 and "taken" in again.output
    bad = CliRunner().invoke(
        app, ["console", "create-admin", "--org", "KZ/GOV/000", "--login", "zz", "--name", "Z"]
    )
    assert bad.exit_code == 1

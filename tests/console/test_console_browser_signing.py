"""Signing in a real browser (static/sign.js): an administrator signs a proposed agreement
and an operator a gate event with their organization's key file, read by WebCrypto in the
page and never sent; a missing or wrong file is said and signs nothing. axe-core finds no
serious or critical violation on the pages with the signing part shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import expect

from silkgate.console import i18n
from silkgate.console import service as console
from silkgate.core.signing import public_key_b64, verify, write_private_key_file
from silkgate.exchange.agreements import service as agreements
from silkgate.exchange.agreements.schemas import AgreementIn
from silkgate.registry import service as registry
from tests.console.live import Live, _enrol
from tests.console.test_console_admin_browser import _sign_in as admin_sign_in
from tests.console.test_console_browser import axe_violations
from tests.console.test_console_browser_operator import _sign_in as operator_sign_in

pytestmark = pytest.mark.xdist_group("browser")
ADMIN = "svc.admin"


def _(text: str) -> str:
    return i18n.translations("en").gettext(text)


def _key(live: Live, org: str, where: Path) -> tuple[Ed25519PrivateKey, Path]:
    """A new Ed25519 key registered for the organization, its private half in a file."""
    key = Ed25519PrivateKey.generate()
    registry.register_signing_key(live.platform, live.ids[org], public_key_b64(key), "test")
    path = where / f"{org}.key"
    write_private_key_file(path, key)
    return key, path


def _admin_signed_in(page: Any, live: Live) -> None:
    """The Kazakh customs-service company's administrator (made once per live console)."""
    if ADMIN not in live.made:
        invite = console.create_administrator(
            live.platform, live.ids["kz-service"], ADMIN, "Service Admin", "test"
        )
        _enrol(live, invite, ADMIN)
        live.made.add(ADMIN)
    admin_sign_in(page, live, ADMIN)


def test_an_administrator_signs_an_agreement_in_the_browser(
    live: Live, new_context: Any, axe_source: str, tmp_path: Path
) -> None:
    key_file = _key(live, "kz-service", tmp_path)[1]
    service = registry.caller_for(live.platform, live.ids["kz-service"])
    terms = AgreementIn(
        provider=live.ids["kz-service"], consumers=[live.ids["cn-broker"]], category="booking",
        fields=["/crossing", "/day"], purposes=["statistics"], places=["KZ"],
        valid_from=datetime.now(UTC),
    )  # fmt: skip
    proposed = agreements.propose(live.platform, service, terms)
    page = new_context("en").new_page()
    _admin_signed_in(page, live)
    page.goto(f"/console/admin/agreements/{proposed.agreement_id}")
    part = page.get_by_test_id("browser-sign")
    expect(part).to_be_visible()
    status = page.get_by_test_id("browser-sign-status")
    page.locator("#key-file-1-sign").click()
    expect(status).to_have_text(_("Choose your organization’s private key file first."))
    wrong = tmp_path / "wrong.key"
    wrong.write_text("not a key at all\n")
    page.locator("#key-file-1").set_input_files(str(wrong))
    page.locator("#key-file-1-sign").click()
    expect(status).to_contain_text("nothing is signed")
    assert page.locator("#signature-1").input_value() == ""
    page.locator("#key-file-1").set_input_files(str(key_file))
    page.locator("#key-file-1-sign").click()
    expect(page.locator("#signature-1")).not_to_have_value("")
    assert page.locator("#key-file-1").input_value() == ""  # the key is not kept in the page
    found = axe_violations(page, axe_source)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)
    with page.expect_navigation():
        page.locator("#sign-submit-1").click()
    assert "done=agreement_signed" in page.url
    version = agreements.get_version(live.platform, service, proposed.agreement_id, 1)
    assert [g.party for g in version.signatures] == [live.ids["kz-service"]]
    agreements.revoke(live.platform, service, proposed.agreement_id, "browser test done")


def test_an_operator_signs_a_gate_event_in_the_browser(
    live: Live, new_context: Any, axe_source: str, tmp_path: Path
) -> None:
    key, key_file = _key(live, "cn-eport", tmp_path)
    page = new_context("en").new_page()
    operator_sign_in(page, live, "en")
    page.goto("/console/operator/KHG-NZH/gate-events")
    page.locator("#ge-read_point").select_option("gate_in")
    page.locator("#ge-plate").fill("新F12345")
    page.locator("#gate-event-submit").click()
    expect(page.get_by_test_id("browser-sign")).to_be_visible()
    page.locator("#ge-key-file").set_input_files(str(key_file))
    page.locator("#ge-key-file-sign").click()
    expect(page.locator("#ge-signature")).not_to_have_value("")
    # the signature is over the exact bytes the page shows (a Chinese plate: UTF-8)
    text = page.get_by_test_id("to-sign-text").inner_text()
    assert "新F12345" in text
    signature = page.locator("#ge-signature").input_value()
    assert verify(public_key_b64(key), signature, text.encode("utf-8"))
    found = axe_violations(page, axe_source)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)

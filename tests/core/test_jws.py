"""Detached and compact JWS: round trips, interoperability with joserfc, and a parser that
refuses what it cannot read with a named reason and never with anything else."""

from __future__ import annotations

import base64
import json
import warnings

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws as jose
from joserfc.jwk import OKPKey

from silkgate.core import jws
from silkgate.core.signing import private_key_b64, public_key_b64

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()


def _okp(key: Ed25519PrivateKey) -> OKPKey:
    raw = base64.b64decode(private_key_b64(key))
    pub = base64.b64decode(public_key_b64(key))
    return OKPKey.import_key(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "d": jws.b64url_encode(raw),
            "x": jws.b64url_encode(pub),
        }
    )


def _header(obj: object) -> str:
    return jws.b64url_encode(json.dumps(obj).encode())


@pytest.mark.parametrize("encoded", [True, False])
def test_detached_round_trip_and_any_change_breaks_it(encoded: bool) -> None:
    body = b'{"lrn": "A-1", "x": "a.b"}\n'
    token = jws.sign_detached(KEY, {"kid": "k"}, body, encoded)
    _, middle, _ = token.split(".")
    assert middle == ""
    parsed = jws.parse_detached(token)
    assert parsed.encoded is encoded and parsed.header["kid"] == "k"
    assert parsed.verify(body, KEY.public_key())
    assert not parsed.verify(body + b" ", KEY.public_key())
    assert not parsed.verify(body, OTHER.public_key())


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
@pytest.mark.parametrize("encoded", [True, False])
def test_joserfc_signatures_verify_here_and_ours_verify_there(alg: str, encoded: bool) -> None:
    body = b"line one\nline.two\n"
    okp = _okp(KEY)
    protected: dict[str, object] = {"alg": alg, "kid": "k"}
    if not encoded:
        protected.update({"b64": False, "crit": ["b64"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns that EdDSA is deprecated (RFC 9864)
        theirs = jose.detach_content(jose.serialize_compact(protected, body, okp, [alg]))
        assert jws.parse_detached(theirs).verify(body, KEY.public_key())
        ours = jws.sign_detached(KEY, {"kid": "k"}, body, encoded)
        got = jose.deserialize_compact(ours, okp, algorithms=["Ed25519"], payload=body)
        assert got.payload == body
        receipt = jws.sign_compact(KEY, {"kid": "k"}, b'{"a":1}')
        assert jose.deserialize_compact(receipt, okp, algorithms=["Ed25519"]).payload == b'{"a":1}'


def _sig() -> str:
    return jws.b64url_encode(b"\0" * 64)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("abc", "malformed"),
        (f"{_header({'alg': 'EdDSA'})}.eyJ9.{_sig()}", "not_detached"),
        (f"{_header({'alg': 'HS256'})}..{_sig()}", "unsupported_alg"),
        (f"{_header({'alg': 'none'})}..", "unsupported_alg"),
        (f"{_header({'kid': 'k'})}..{_sig()}", "malformed"),
        (f"{_header(['alg'])}..{_sig()}", "malformed"),
        (f"{_header({'alg': 'EdDSA', 'b64': False})}..{_sig()}", "malformed"),
        (f"{_header({'alg': 'EdDSA', 'b64': 'no'})}..{_sig()}", "malformed"),
        (f"{_header({'alg': 'EdDSA', 'crit': ['exp'], 'exp': 1})}..{_sig()}", "unsupported_crit"),
        (f"{_header({'alg': 'EdDSA', 'crit': ['alg']})}..{_sig()}", "malformed"),
        (f"{_header({'alg': 'EdDSA', 'crit': ['iat']})}..{_sig()}", "malformed"),
        (f"{_header({'alg': 'EdDSA'})}..{jws.b64url_encode(b'x' * 63)}", "malformed"),
        (f"{_header({'alg': 'EdDSA'})}==..{_sig()}", "malformed"),
        (f"{_header({'alg': 'EdDSA'})}..{_sig()[:-1]}B", "malformed"),  # non-canonical
        (jws.b64url_encode(b'{"alg":"EdDSA","alg":"EdDSA"}') + ".." + _sig(), "malformed"),
        (jws.b64url_encode(b'{"alg":NaN}') + ".." + _sig(), "malformed"),
        (jws.b64url_encode(b"\xff\xfe") + ".." + _sig(), "malformed"),
        ("x" * (jws.MAX_LENGTH + 1), "malformed"),
    ],
)
def test_unreadable_values_are_refused_with_a_reason(value: str, code: str) -> None:
    with pytest.raises(jws.JWSError) as err:
        jws.parse_detached(value, understood=("iat",))
    assert err.value.code == code and err.value.message


def test_crit_may_list_understood_extensions() -> None:
    header = {"alg": "Ed25519", "iat": 1, "crit": ["iat"]}
    assert jws.parse_detached(f"{_header(header)}..{_sig()}", ("iat",)).header["iat"] == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_is_refused_by_name(value: str) -> None:
    try:
        jws.parse_detached(value, ("iat", "htm", "htu"))
    except jws.JWSError as exc:
        assert exc.code in {"malformed", "not_detached", "unsupported_alg", "unsupported_crit"}


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["alg", "kid", "b64", "crit", "iat", "htm", "htu", "typ", "x"]),
        json_values | st.sampled_from(["EdDSA", "Ed25519", ["b64"], ["iat"], False]),
        max_size=7,
    ),
    st.binary(max_size=70),
)
def test_any_header_object_parses_or_is_refused_by_name(header: dict, sig: bytes) -> None:
    value = f"{_header(header)}..{jws.b64url_encode(sig)}"
    try:
        parsed = jws.parse_detached(value, ("iat", "htm", "htu"))
    except jws.JWSError as exc:
        assert exc.code in {"malformed", "unsupported_alg", "unsupported_crit"}
        return
    # what is accepted has an accepted alg, a 64-byte signature and a coherent b64/crit pair
    assert parsed.header["alg"] in jws.ALGORITHMS and len(parsed.signature) == 64
    assert parsed.encoded or "b64" in parsed.header["crit"]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.booleans(), st.integers(min_value=0, max_value=199))
def test_signatures_cover_every_byte_of_the_body(body: bytes, encoded: bool, at: int) -> None:
    parsed = jws.parse_detached(jws.sign_detached(KEY, {"kid": "k"}, body, encoded))
    assert parsed.verify(body, KEY.public_key())
    if body:
        i = at % len(body)
        changed = body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]
        assert not parsed.verify(changed, KEY.public_key())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_base64url_is_strict_and_canonical(text: str) -> None:
    try:
        raw = jws.b64url_decode(text)
    except jws.JWSError:
        return
    assert jws.b64url_encode(raw) == text

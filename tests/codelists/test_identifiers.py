"""Identifier validators: known cases, hand-computed check digits, and properties."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from silkgate.codelists.identifiers import (
    IdentifierError,
    generate_container_number,
    generate_kz_bin,
    generate_uscc,
    is_valid_kz_bin,
    kz_bin_check_digit,
    kz_bin_from_prefix,
    validate_business_id,
    validate_container_number,
    validate_kz_bin,
    validate_plate,
    validate_tir_carnet,
)

COUNTRIES = ["CN", "KZ", "RU", "BY", "IN", "UZ", "KG", "PK", "IR", "TJ", "FR", ""]


# --- Kazakhstan BIN/IIN ---------------------------------------------------------------------------


def test_kz_bin_hand_computed() -> None:
    # 98041240001, weights 1..11: 9+16+0+16+5+12+28+0+0+0+11 = 97; 97 mod 11 = 9 (first pass).
    assert kz_bin_check_digit("98041240001") == 9
    assert validate_kz_bin("980412400019") == "980412400019"
    # 12345678901: weights 1..11 give 1+4+9+16+25+36+49+64+81+0+11 = 296; 296 mod 11 = 10,
    # so the second pass applies: weights 3..11,1,2 give 3+8+15+24+35+48+63+80+99+0+2 = 377;
    # 377 mod 11 = 3.
    assert kz_bin_check_digit("12345678901") == 3
    assert validate_kz_bin("123456789013") == "123456789013"
    # 00000000001: first pass 11 mod 11 = 0.
    assert kz_bin_check_digit("00000000001") == 0
    # 60500000000: first pass 6*1 + 5*3 = 21 ≡ 10, second pass 6*3 + 5*5 = 43 ≡ 10: no BIN.
    assert kz_bin_check_digit("60500000000") is None
    with pytest.raises(IdentifierError, match="both check-digit passes"):
        validate_kz_bin("605000000000")
    with pytest.raises(IdentifierError, match="check digit"):
        validate_kz_bin("123456789014")
    with pytest.raises(IdentifierError, match="12 digits"):
        validate_kz_bin("12345")


def test_kz_bin_formats() -> None:
    assert validate_kz_bin(" 9804 1240 0019 ") == "980412400019"
    assert is_valid_kz_bin("980412400019")
    for bad in ("98041240001X", "９８０４１２４０００１９", "980412400019\n1", "", "1" * 13):
        assert not is_valid_kz_bin(bad)
    assert not is_valid_kz_bin(980412400019)  # type: ignore[arg-type]
    assert kz_bin_from_prefix("98041240001") == "980412400019"
    with pytest.raises(IdentifierError, match="no valid BIN"):
        kz_bin_from_prefix("60500000000")
    with pytest.raises(IdentifierError, match="11 digits"):
        kz_bin_check_digit("1234")


def _first_pass(first11: str) -> int:
    return sum(w * int(d) for w, d in zip(range(1, 12), first11, strict=True)) % 11


def test_single_digit_change_can_escape_when_passes_differ() -> None:
    # 009090072102: first pass 9*3 + 9*5 + 7*8 + 2*9 + 1*10 = 156 ≡ 2, check digit 2.
    # Change the 8th digit 7 -> 8: first pass 164 ≡ 10, second pass 45+63+80+22+1 = 211 ≡ 2.
    assert is_valid_kz_bin("009090072102") and is_valid_kz_bin("009090082102")
    # The 11th digit has weight 11 ≡ 0 in the first pass, so changing it goes unnoticed.
    assert is_valid_kz_bin("980412400019") and is_valid_kz_bin("980412400049")


@given(st.integers(min_value=0, max_value=2**32), st.integers(0, 11), st.integers(1, 9))
def test_single_digit_change_property(seed: int, position: int, delta: int) -> None:
    # The true property of the two-pass mod-11 rule for a one-digit change of a valid BIN:
    # - the check digit (12th): always caught;
    # - digits 1-10 (weights 1..10, non-zero mod 11): always caught when both numbers take the
    #   first pass; both cannot take the second pass (their first-pass sums differ); when only
    #   one does, the check digits can coincide (about 1.6% of changes);
    # - the 11th digit (first-pass weight 11 ≡ 0): caught only if the BIN took the second pass.
    number = generate_kz_bin(random.Random(seed))
    digits = list(number)
    digits[position] = str((int(digits[position]) + delta) % 10)
    changed = "".join(digits)
    original_first = _first_pass(number[:11]) != 10
    changed_first = _first_pass(changed[:11]) != 10
    if position == 11:
        assert not is_valid_kz_bin(changed)
    elif position == 10:
        assert is_valid_kz_bin(changed) == original_first
    else:
        assert original_first or changed_first
        if original_first and changed_first:
            assert not is_valid_kz_bin(changed)


# --- Other countries ------------------------------------------------------------------------------


def test_uscc_known_values() -> None:
    assert validate_business_id("CN", "91350100M000100Y43") == "91350100M000100Y43"
    assert validate_business_id("CN", "9135 0100-m000100y43") == "91350100M000100Y43"
    assert validate_business_id("CN", "91110000600037341L") == "91110000600037341L"
    for bad in ("91350100M000100Y44", "91350100M000100Y4", "A1350100M000100Y43", "9135O100M0"):
        with pytest.raises(IdentifierError):
            validate_business_id("CN", bad)


@pytest.mark.parametrize(
    ("country", "good", "normalized"),
    [
        ("RU", "7707083893", "7707083893"),  # Sberbank's INN
        ("RU", "123456789047", "123456789047"),  # an individual's 12-digit INN
        ("BY", "200988541", "200988541"),
        ("BY", "УНП MA1953684", "MA1953684"),
        ("IN", "27AAPFU0939F1ZV", "27AAPFU0939F1ZV"),  # GSTIN
        ("IN", "acupa7085r", "ACUPA7085R"),  # PAN
        ("KG", "01234567890123", "01234567890123"),
        ("TJ", "123456789", "123456789"),
        ("UZ", "123 456 789", "123456789"),
        ("PK", "1234567", "1234567"),
        ("PK", "12345-1234567-1", "1234512345671"),
        ("IR", "10101234567", "10101234567"),
        ("FR", "fr-123", "FR-123"),
    ],
)
def test_business_id_good(country: str, good: str, normalized: str) -> None:
    assert validate_business_id(country, good) == normalized


@pytest.mark.parametrize(
    ("country", "bad", "reason"),
    [
        ("RU", "7707083894", "INN"),
        ("BY", "200988542", "UNP"),
        ("IN", "27AAPFU0939F1ZO", "GSTIN"),
        ("IN", "ABMXA3211G", "PAN"),
        ("KG", "0123456789012", "14 digits"),
        ("TJ", "12345678A", "9 digits"),
        ("UZ", "12345", "9 digits"),
        ("UZ", "١٢٣٤٥٦٧٨٩", "Latin"),  # Arabic-Indic digits are not accepted
        ("PK", "12345678", "NTN"),
        ("IR", "1010123456", "11-digit"),
        ("FR", "x", "2–40"),
        ("KZ", "", "empty"),
    ],
)
def test_business_id_bad(country: str, bad: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason):
        validate_business_id(country, bad)


# --- Containers, TIR carnets, plates ----------------------------------------------------------------


def test_container_numbers() -> None:
    assert validate_container_number("CSQU3054383") == "CSQU3054383"
    assert validate_container_number("csqu 305438 3") == "CSQU3054383"
    for bad in ("CSQU3054384", "CSQX3054383", "123U3054383", "CSQU305438", "ÇSQU3054383"):
        with pytest.raises(IdentifierError):
            validate_container_number(bad)


def test_tir_carnets() -> None:
    assert validate_tir_carnet("xz 12345678") == "XZ12345678"
    for bad in ("X1234567", "XZ1234567", "XZ123456789", "ﬀ12345678", "XZ１２３４５６７８"):
        with pytest.raises(IdentifierError, match="two letters and eight digits"):
            validate_tir_carnet(bad)


@pytest.mark.parametrize(
    ("country", "plate", "normalized"),
    [
        ("CN", "新F12345", "新F12345"),
        ("CN", "新f1a2b3", "新F1A2B3"),
        ("CN", "新F 1234挂", "新F1234挂"),
        ("CN", "京AD12345", "京AD12345"),  # small new-energy vehicle
        ("CN", "京A12345D", "京A12345D"),  # large new-energy vehicle
        ("KZ", "123ABC02", "123ABC02"),
        ("KZ", "123 ab 02", "123AB02"),  # legal entity: two letters
        ("KZ", "001AAA20", "001AAA20"),
        ("RU", "А123ВС77", "A123BC77"),  # Cyrillic look-alikes read as Latin
        ("DE", "b-ab-1234", "BAB1234"),
    ],
)
def test_plates_good(country: str, plate: str, normalized: str) -> None:
    assert validate_plate(country, plate) == normalized


@pytest.mark.parametrize(
    ("country", "plate"),
    [
        ("CN", "F12345"),
        ("CN", "新12345"),
        ("CN", "新F1234"),
        ("CN", "新FI2345"),  # I is not used on plates
        ("CN", "京AX12345"),  # 6 characters but not a new-energy pattern
        ("KZ", "123ABC99"),
        ("KZ", "123ABC00"),
        ("KZ", "123ABCD02"),
        ("KZ", "12ABC02"),
        ("DE", "X"),
        ("DE", "ABCDEFGHIJK"),
    ],
)
def test_plates_bad(country: str, plate: str) -> None:
    with pytest.raises(IdentifierError, match="registration plate"):
        validate_plate(country, plate)


# --- Properties -----------------------------------------------------------------------------------


@given(st.one_of(st.text(max_size=40), st.none(), st.integers(), st.binary(max_size=20)))
def test_validators_only_raise_identifier_error(value: object) -> None:
    for country in COUNTRIES:
        for check in (validate_business_id, validate_plate):
            with contextlib.suppress(IdentifierError):
                check(country, value)  # type: ignore[arg-type]
    for single in (
        validate_container_number,
        validate_tir_carnet,
        validate_kz_bin,
        kz_bin_check_digit,
        kz_bin_from_prefix,
    ):
        with contextlib.suppress(IdentifierError):
            single(value)  # type: ignore[arg-type]


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY -", max_size=22))
def test_near_miss_identifiers_only_raise_identifier_error(text: str) -> None:
    for country in COUNTRIES:
        with contextlib.suppress(IdentifierError):
            validate_business_id(country, text)
    with contextlib.suppress(IdentifierError):
        validate_container_number(text)


@given(st.integers(min_value=0, max_value=2**32))
def test_generated_identifiers_validate(seed: int) -> None:
    rng = random.Random(seed)
    bin_ = generate_kz_bin(rng)
    assert validate_business_id("KZ", bin_) == bin_
    assert bin_[4] == "4"  # resident legal entity
    uscc = generate_uscc(rng)
    assert validate_business_id("CN", uscc) == uscc
    assert uscc.startswith("91654004")
    container = generate_container_number(rng)
    assert validate_container_number(container) == container


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_prefix_completion(prefix: str) -> None:
    check = kz_bin_check_digit(prefix)
    if check is None:
        with pytest.raises(IdentifierError):
            kz_bin_from_prefix(prefix)
    else:
        number = kz_bin_from_prefix(prefix)
        assert is_valid_kz_bin(number)
        # exactly one of the ten possible 12th digits is valid
        assert [is_valid_kz_bin(prefix + d) for d in "0123456789"].count(True) == 1


def test_generator_arguments() -> None:
    rng = random.Random(0)
    assert generate_uscc(rng, "650100").startswith("91650100")
    assert generate_container_number(rng, "TGH").startswith("TGHU")
    with pytest.raises(IdentifierError):
        generate_uscc(rng, "65")
    with pytest.raises(IdentifierError):
        generate_container_number(rng, "tg")


@given(st.integers(min_value=0, max_value=2**32), st.integers(0, 16), st.integers(1, 30))
def test_uscc_single_character_change_is_caught(seed: int, position: int, delta: int) -> None:
    # The USCC check is mod 31 with weights 3^i mod 31 (all non-zero): any one-character
    # substitution within the alphabet changes the check character.
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    code = generate_uscc(random.Random(seed))
    new = alphabet[(alphabet.index(code[position]) + delta) % 31]
    assume(position >= 8 or new.isdigit())  # the first 8 characters must stay digits
    changed = code[:position] + new + code[position + 1 :]
    with pytest.raises(IdentifierError):
        validate_business_id("CN", changed)

"""Business identifiers, container numbers, TIR carnets and number plates.

China's USCC and Kazakhstan's BIN/IIN are checked with their check characters; Russia's INN,
Belarus's UNP and India's GSTIN/PAN through python-stdnum; the other SCO states' numbers are
checked for format only (no public check-digit rule we can rely on). Every validator takes any
input and either returns the normalized value or raises IdentifierError with the reason.
"""

from __future__ import annotations

import random
import re
from types import ModuleType

from stdnum import iso6346
from stdnum.by import unp
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError
from stdnum.in_ import gstin, pan
from stdnum.ru import inn


class IdentifierError(ValueError):
    """An identifier that fails its format or check digit; the message says which."""


def _text(value: object, what: str) -> str:
    """The input as a str without spaces and surrounding whitespace; empty or non-str fails."""
    if not isinstance(value, str):
        raise IdentifierError(f"{what} must be text")
    compact = "".join(value.split())
    if not compact:
        raise IdentifierError(f"{what} is empty")
    return compact


# --- Kazakhstan: BIN (legal entities) and IIN (individuals) ------------------------------------

KZ_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
KZ_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_DIGITS_11 = re.compile(r"[0-9]{11}")
_DIGITS_12 = re.compile(r"[0-9]{12}")


def kz_bin_check_digit(first11: str) -> int | None:
    """The 12th digit of a BIN/IIN; None when the two-pass mod-11 rule gives 10 (unusable).

    Pass 1 weighs the 11 digits 1..11; if the sum mod 11 is 10, pass 2 weighs them
    3..11,1,2; a second 10 means no BIN/IIN may be issued with these 11 digits.
    """
    if not isinstance(first11, str) or not _DIGITS_11.fullmatch(first11):
        raise IdentifierError("a BIN/IIN check digit needs exactly 11 digits")
    digits = [int(c) for c in first11]
    check = sum(w * d for w, d in zip(KZ_WEIGHTS_1, digits, strict=True)) % 11
    if check == 10:
        check = sum(w * d for w, d in zip(KZ_WEIGHTS_2, digits, strict=True)) % 11
    return None if check == 10 else check


def validate_kz_bin(number: str) -> str:
    """A Kazakh BIN or IIN: 12 digits whose last is the mod-11 check digit."""
    compact = _text(number, "BIN/IIN")
    if not _DIGITS_12.fullmatch(compact):
        raise IdentifierError("a BIN/IIN is 12 digits")
    check = kz_bin_check_digit(compact[:11])
    if check is None:
        raise IdentifierError("BIN/IIN cannot be issued: both check-digit passes give 10")
    if check != int(compact[11]):
        raise IdentifierError(f"BIN/IIN check digit does not match (expected {check})")
    return compact


def is_valid_kz_bin(number: str) -> bool:
    """True for a well-formed BIN/IIN with a correct check digit."""
    try:
        validate_kz_bin(number)
    except IdentifierError:
        return False
    return True


def kz_bin_from_prefix(prefix11: str) -> str:
    """Append the check digit to 11 digits; IdentifierError if the prefix has none."""
    check = kz_bin_check_digit(prefix11)
    if check is None:
        raise IdentifierError(f"no valid BIN/IIN starts with {prefix11}")
    return prefix11 + str(check)


def generate_kz_bin(rng: random.Random) -> str:
    """A random valid BIN for demo data: registration YYMM, 4 (resident legal entity), a
    division digit 0-3 (head office, branch, representative office, farm), 5-digit serial."""
    while True:
        prefix = (
            f"{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}4"
            f"{rng.choice('0123')}{rng.randint(0, 99999):05d}"
        )
        if kz_bin_check_digit(prefix) is not None:
            return kz_bin_from_prefix(prefix)


# --- China: Unified Social Credit Code; ISO 6346 containers (generators for demo data) ---------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# GB 11714 organization-code check: weights over the first 8 characters, value 0-9 or A=10..Z=35.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code_check(body8: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def generate_uscc(rng: random.Random, division: str = "654004", kind: str = "91") -> str:
    """A random valid USCC for demo data: registering authority and type (91 enterprise, 11 state
    organ), a 6-digit division (654004: Khorgos city), an organization code with its own
    GB 11714 check, and the USCC check character."""
    if not re.fullmatch(r"[0-9]{6}", division):
        raise IdentifierError("an administrative division code is 6 digits")
    org = "".join(rng.choice(USCC_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWY") for _ in range(8))
    if kind not in ("91", "11", "12", "51", "52", "53"):
        raise IdentifierError("unsupported registering authority and organization type")
    body = kind + division + org + _org_code_check(org)
    return body + uscc.calc_check_digit(body)


CONTAINER_OWNERS = ("CSQ", "COS", "MSC", "MSK", "CMA", "TGH", "TRH", "FCI", "KZT", "UTC")


def generate_container_number(rng: random.Random, owner: str | None = None) -> str:
    """A random valid ISO 6346 freight container number (category U) for demo data."""
    prefix = owner or rng.choice(CONTAINER_OWNERS)
    if not re.fullmatch(r"[A-Z]{3}", prefix):
        raise IdentifierError("an ISO 6346 owner code is three capital letters")
    body = f"{prefix}U{rng.randint(0, 999999):06d}"
    return body + iso6346.calc_check_digit(body)


# --- Business identifiers by country ------------------------------------------------------------

FORMAT_ONLY: dict[str, tuple[re.Pattern[str], str]] = {
    "KG": (re.compile(r"[0-9]{14}"), "14 digits (INN)"),
    "TJ": (re.compile(r"[0-9]{9}"), "9 digits (INN)"),
    "UZ": (re.compile(r"[0-9]{9}"), "9 digits (STIR/INN)"),
    "PK": (re.compile(r"[0-9]{7}|[0-9]{13}"), "7-digit NTN or 13-digit CNIC"),
    "IR": (re.compile(r"[0-9]{11}"), "11-digit national ID of a legal entity"),
}
GENERIC_ID = re.compile(r"[A-Z0-9\-]{2,40}")


def _stdnum(module: ModuleType, number: str, label: str) -> str:
    try:
        return str(module.validate(number))
    except ValidationError as exc:
        raise IdentifierError(f"invalid {label}: {exc}") from None
    except Exception:  # stdnum raises plain errors on some exotic input
        raise IdentifierError(f"invalid {label}") from None


def validate_business_id(country: str, code: str) -> str:
    """Normalize and check an organization's identifier under its country's rule.

    CN USCC, KZ BIN/IIN, RU INN, BY UNP and IN GSTIN/PAN are checked with their check
    characters; KG, TJ, UZ, PK and IR for format only; other countries loosely.
    """
    compact = _text(code, "identifier")
    if country == "CN":
        return _stdnum(uscc, compact, "Unified Social Credit Code")
    if country == "KZ":
        return validate_kz_bin(compact)
    if country == "RU":
        return _stdnum(inn, compact, "INN")
    if country == "BY":
        return _stdnum(unp, compact, "UNP")
    if country == "IN":
        if len(compact) == 15:
            return _stdnum(gstin, compact, "GSTIN")
        return _stdnum(pan, compact, "PAN")
    if not compact.isascii():
        raise IdentifierError("identifier must use Latin letters, digits or hyphens")
    compact = compact.replace("-", "").upper() if country in FORMAT_ONLY else compact.upper()
    if country in FORMAT_ONLY:
        pattern, label = FORMAT_ONLY[country]
        if not pattern.fullmatch(compact):
            raise IdentifierError(f"expected {label}")
        return compact
    if not GENERIC_ID.fullmatch(compact):
        raise IdentifierError("expected 2–40 letters, digits or hyphens")
    return compact


# --- Containers, TIR carnets, number plates -----------------------------------------------------

_CONTAINER = re.compile(r"[A-Z]{3}[UJZR][0-9]{7}")


def validate_container_number(number: str) -> str:
    """An ISO 6346 container number (owner, category, serial, check digit), e.g. CSQU3054383."""
    compact = _text(number, "container number").upper()
    if not compact.isascii() or not _CONTAINER.fullmatch(compact):
        raise IdentifierError(
            "a container number is 3 letters, U/J/Z/R and 7 digits, e.g. CSQU3054383"
        )
    return _stdnum(iso6346, compact, "ISO 6346 container number")


TIR_CARNET = re.compile(r"[A-Z]{2}[0-9]{8}")


def validate_tir_carnet(number: str) -> str:
    """A TIR carnet reference: two letters and eight digits (format only; no check digit)."""
    compact = _text(number, "TIR carnet number")
    if not compact.isascii() or not TIR_CARNET.fullmatch(compact.upper()):
        raise IdentifierError(
            "a TIR carnet number is two letters and eight digits, e.g. XZ12345678"
        )
    return compact.upper()


CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_CN_CHAR = "A-HJ-NP-Z0-9"  # plates avoid I and O (confusable with 1 and 0)
PLATES: dict[str, re.Pattern[str]] = {
    # Province character, issuing-office letter, then: 5 characters (ordinary); new-energy
    # D/F + 5 (small vehicles, GA 36-2018) or 5 digits + D/F (large); 4 characters + 挂 (trailer).
    "CN": re.compile(
        rf"[{CN_PROVINCES}][A-Z]"
        rf"([{_CN_CHAR}]{{5}}|[DF][{_CN_CHAR}][0-9]{{4}}|[0-9]{{5}}[DF]|[{_CN_CHAR}]{{4}}挂)"
    ),
    # 3 digits, 3 letters (individuals) or 2 letters (legal entities), 2-digit region 01–20;
    # 2 digits, 2 letters, region: trailers (format assumed).
    "KZ": re.compile(r"([0-9]{3}[A-Z]{2,3}|[0-9]{2}[A-Z]{2})(0[1-9]|1[0-9]|20)"),
}
GENERIC_PLATE = re.compile(r"[A-Z0-9]{2,10}")
PLATE_EXAMPLES = {"CN": "新F12345", "KZ": "123ABC02"}
# Cyrillic letters that plates of RU, BY, KG ... share with Latin; typed either way, same plate.
_CYRILLIC_TO_LATIN = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")


def validate_plate(country: str, plate: str) -> str:
    """A vehicle registration plate in its country's format (CN, KZ; others 2–10 letters/digits).

    Spaces and hyphens are dropped and Latin letters upper-cased; format only.
    """
    compact = _text(plate, "registration plate").replace("-", "")
    compact = "".join(c.upper() if c.isascii() else c for c in compact)
    if country != "CN":
        compact = compact.translate(_CYRILLIC_TO_LATIN)
    pattern = PLATES.get(country, GENERIC_PLATE)
    if not pattern.fullmatch(compact) or (country != "CN" and not compact.isascii()):
        example = PLATE_EXAMPLES.get(country, "2–10 letters or digits")
        raise IdentifierError(f"not a {country} registration plate (e.g. {example})")
    return compact

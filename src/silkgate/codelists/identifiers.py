"""Business identifiers, container numbers, TIR carnets and number plates.

China's USCC and Kazakhstan's BIN/IIN are checked with their check characters; Russia's INN,
Belarus's UNP and India's GSTIN/PAN through python-stdnum; the other SCO states' numbers are
checked for format only (no public check-digit rule we can rely on).
"""

from __future__ import annotations

import re

from stdnum import iso6346
from stdnum.by import unp
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError
from stdnum.in_ import gstin, pan
from stdnum.ru import inn


class IdentifierError(ValueError):
    """An identifier that fails its format or check digit; the message says which."""


KZ_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
KZ_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
FORMAT_ONLY = {
    "KG": (re.compile(r"^\d{14}$"), "14 digits (INN)"),
    "TJ": (re.compile(r"^\d{9}$"), "9 digits (INN)"),
    "UZ": (re.compile(r"^\d{9}$"), "9 digits (STIR/INN)"),
    "PK": (re.compile(r"^(\d{7}|\d{13})$"), "7-digit NTN or 13-digit CNIC"),
    "IR": (re.compile(r"^\d{11}$"), "11-digit national ID of a legal entity"),
}
GENERIC_ID = re.compile(r"^[A-Z0-9\-]{2,40}$")


def kz_bin_check_digit(first11: str) -> int | None:
    """The 12th digit of a BIN/IIN; None when the two-pass mod-11 rule gives 10 (unusable)."""
    digits = [int(c) for c in first11]
    check = sum(w * d for w, d in zip(KZ_WEIGHTS_1, digits, strict=True)) % 11
    if check == 10:
        check = sum(w * d for w, d in zip(KZ_WEIGHTS_2, digits, strict=True)) % 11
    return None if check == 10 else check


def validate_kz_bin(number: str) -> str:
    """A Kazakh BIN or IIN: 12 digits whose last is the mod-11 check digit."""
    number = number.strip().replace(" ", "")
    if len(number) != 12 or not number.isdigit() or not number.isascii():
        raise IdentifierError("a BIN/IIN is 12 digits")
    check = kz_bin_check_digit(number[:11])
    if check is None or check != int(number[11]):
        raise IdentifierError("BIN/IIN check digit does not match")
    return number


def _stdnum(module: object, number: str, label: str) -> str:
    try:
        return str(module.validate(number))  # type: ignore[attr-defined]
    except ValidationError as exc:
        raise IdentifierError(f"invalid {label}: {exc}") from None
    except Exception:  # stdnum raises plain errors on some exotic input
        raise IdentifierError(f"invalid {label}") from None


def validate_business_id(country: str, code: str) -> str:
    """Normalise and check an organization's identifier under its country's rule."""
    if not isinstance(code, str) or not code.strip():
        raise IdentifierError("identifier is empty")
    if country == "CN":
        return _stdnum(uscc, code, "Unified Social Credit Code")
    if country == "KZ":
        return validate_kz_bin(code)
    if country == "RU":
        return _stdnum(inn, code, "INN")
    if country == "BY":
        return _stdnum(unp, code, "UNP")
    if country == "IN":
        if len(code.strip()) == 15:
            return _stdnum(gstin, code, "GSTIN")
        return _stdnum(pan, code, "PAN")
    compact = code.strip().replace(" ", "").upper()
    if country in FORMAT_ONLY:
        pattern, label = FORMAT_ONLY[country]
        if not pattern.match(compact):
            raise IdentifierError(f"expected {label}")
        return compact
    if not GENERIC_ID.match(compact):
        raise IdentifierError("expected 2–40 letters, digits or hyphens")
    return compact


def validate_container_number(number: str) -> str:
    """An ISO 6346 container number with its check digit."""
    return _stdnum(iso6346, number, "ISO 6346 container number")


TIR_CARNET = re.compile(r"^[A-Z]{2}\d{8}$")


def validate_tir_carnet(number: str) -> str:
    """A TIR carnet reference: two letters and eight digits (format only)."""
    compact = number.strip().replace(" ", "").upper()
    if not TIR_CARNET.match(compact):
        raise IdentifierError(
            "a TIR carnet number is two letters and eight digits, e.g. XZ12345678"
        )
    return compact


CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATES = {
    # province, issuing-office letter, 5 characters (6 for new-energy), optional 挂 for trailers
    "CN": re.compile(rf"^[{CN_PROVINCES}][A-Z]([A-HJ-NP-Z0-9]{{5,6}}|[A-HJ-NP-Z0-9]{{4}}挂)$"),
    # 3 digits, 2–3 letters, 2-digit region; trailers 2 digits, 2 letters, region
    "KZ": re.compile(r"^(\d{3}[A-Z]{2,3}|\d{2}[A-Z]{2})(0[1-9]|1[0-9]|20)$"),
}
GENERIC_PLATE = re.compile(r"^[A-Z0-9\-]{2,10}$")


def validate_plate(country: str, plate: str) -> str:
    """A vehicle registration plate in its country's format (CN, KZ; others loosely)."""
    compact = plate.replace(" ", "").upper()
    pattern = PLATES.get(country, GENERIC_PLATE)
    if not pattern.match(compact):
        example = {"CN": "新F12345", "KZ": "123ABC05"}.get(country, "2–10 letters or digits")
        raise IdentifierError(f"not a {country} registration plate (e.g. {example})")
    return compact

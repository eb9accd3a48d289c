"""Validation, normalisation and masking of the identifiers of transport-sector credit subjects."""

from __future__ import annotations

import datetime
import functools
import re

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from domain.errors import Rule

__all__ = [
    "SUBJECT_KINDS",
    "SUBJECT_KIND_KNOWN",
    "USCC_ALPHABET",
    "InvalidCode",
    "guess_kind",
    "make_uscc",
    "mask_code",
    "mask_id_numbers",
    "mask_resident_id",
    "normalise_code",
    "normalise_plate",
    "normalise_region_code",
    "normalise_resident_id",
    "normalise_uscc",
    "uscc_check_char",
]


class InvalidCode(ValueError):
    """Raised with a human-readable reason (English) saying exactly what is wrong, and the rule
    of the identifier's kind that it fails."""

    def __init__(self, kind: str, reason: str):
        super().__init__(f"invalid {kind}: {reason}")
        self.kind = kind
        self.reason = reason
        self.rule = _RULES[kind]


SUBJECT_KINDS = ("enterprise", "individual", "vehicle", "public_body")

_USCC = "unified social credit code"
_RESIDENT_ID = "resident id number"
_PLATE = "plate number"
_REGION = "region code"
_SUBJECT_KIND = "subject kind"

# Each kind of identifier is one rule: what exactly is wrong with a code is in the reason.
USCC_VALID = Rule("uscc-valid")  # GB 32100
RESIDENT_ID_VALID = Rule("resident-id-valid")  # GB 11643
PLATE_NUMBER_VALID = Rule("plate-number-valid")  # GA 36
REGION_CODE_VALID = Rule("region-code-valid")  # GB/T 2260
SUBJECT_KIND_KNOWN = Rule("subject-kind-known")
_RULES = {
    _USCC: USCC_VALID,
    _RESIDENT_ID: RESIDENT_ID_VALID,
    _PLATE: PLATE_NUMBER_VALID,
    _REGION: REGION_CODE_VALID,
    _SUBJECT_KIND: SUBJECT_KIND_KNOWN,
}

# str.isdigit() also accepts full-width and other Unicode digits, which no register stores.
_ASCII_DIGITS = frozenset("0123456789")

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {char: value for value, char in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def _check_uscc_alphabet(code: str) -> None:
    for position, char in enumerate(code, start=1):
        if char not in _USCC_VALUES:
            raise InvalidCode(_USCC, f"character {char!r} at position {position} is not allowed")


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters of a USCC."""
    if len(first17) != 17:
        raise InvalidCode(
            _USCC, f"need 17 characters to compute the check character, got {len(first17)}"
        )
    _check_uscc_alphabet(first17)
    total = sum(
        _USCC_VALUES[char] * weight for char, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc(first17: str) -> str:
    """Append the check character; the region digits are deliberately not checked here."""
    return first17 + uscc_check_char(first17)


@functools.lru_cache(maxsize=65_536)
def normalise_uscc(code: str) -> str:
    """Return the canonical 18-character unified social credit code or raise InvalidCode.

    Cached: an import checks the same authority codes and subjects row after row."""
    # stdnum.cn.uscc is not used: it rejects registration authorities written as letters
    # (A, N, Y, ...), which are legitimate issuers.
    code = code.strip().upper()
    if len(code) != 18:
        raise InvalidCode(_USCC, f"must be 18 characters, got {len(code)}")
    _check_uscc_alphabet(code)
    for position in range(3, 9):
        char = code[position - 1]
        if char not in _ASCII_DIGITS:
            raise InvalidCode(
                _USCC,
                f"characters 3-8 are the administrative region code and must be digits, "
                f"got {char!r} at position {position}",
            )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise InvalidCode(_USCC, f"check character should be {expected!r}, got {code[17]!r}")
    return code


def normalise_resident_id(number: str, *, today: datetime.date) -> str:
    """Return the canonical 18-character resident ID number or raise InvalidCode.

    Reasons never contain the number or any part of it: they may end up in logs.
    """
    number = number.strip().upper()
    if len(number) == 15 and all(char in _ASCII_DIGITS for char in number):
        raise InvalidCode(
            _RESIDENT_ID,
            "only 18-digit resident ID numbers are accepted, got a 15-digit legacy number",
        )
    if len(number) != 18:
        raise InvalidCode(_RESIDENT_ID, f"must be 18 characters, got {len(number)}")
    if not all(char in _ASCII_DIGITS for char in number[:17]):
        raise InvalidCode(_RESIDENT_ID, "the first 17 characters must be digits")
    if number[17] not in _ASCII_DIGITS and number[17] != "X":
        raise InvalidCode(_RESIDENT_ID, "the last character must be a digit or X")
    # Birth date before checksum: a bad date is the more useful thing to tell the user.
    try:
        birth_date = ric.get_birth_date(number)
    except ValidationError:
        raise InvalidCode(
            _RESIDENT_ID, "characters 7-14 are not a valid birth date (YYYYMMDD)"
        ) from None
    if birth_date > today:
        raise InvalidCode(_RESIDENT_ID, "the birth date is in the future")
    if ric.calc_check_digit(number) != number[17]:
        raise InvalidCode(_RESIDENT_ID, "the check digit (last character) does not match")
    return number


_PROVINCES = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")
_PLATE_ALNUM = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
_AUTHORITY_LETTERS = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ")
_PLATE_SUFFIXES = frozenset("挂学警港澳")
_PLATE_SEPARATORS = frozenset("·• ")


def normalise_plate(plate: str) -> str:
    """Return the canonical plate number (no separator, upper case) or raise InvalidCode."""
    plate = plate.strip()
    if len(plate) > 2 and plate[2] in _PLATE_SEPARATORS:
        plate = plate[:2] + plate[3:]
    plate = plate.upper()
    if not plate:
        raise InvalidCode(_PLATE, "is empty")
    if plate[0] not in _PROVINCES:
        raise InvalidCode(
            _PLATE, f"must start with a province abbreviation such as 京 or 粤, got {plate[0]!r}"
        )
    if len(plate) < 2 or plate[1] not in _AUTHORITY_LETTERS:
        got = repr(plate[1]) if len(plate) >= 2 else "nothing"
        raise InvalidCode(
            _PLATE, f"the second character must be a letter A-Z other than I and O, got {got}"
        )
    has_suffix = plate[-1] in _PLATE_SUFFIXES
    if has_suffix and len(plate) != 7:
        raise InvalidCode(
            _PLATE,
            f"a plate ending in {plate[-1]!r} must be 7 characters "
            f"(province, letter, 4 letters or digits, {plate[-1]}), got {len(plate)}",
        )
    if len(plate) not in (7, 8):
        raise InvalidCode(
            _PLATE, f"must be 7 characters (8 for new-energy vehicles), got {len(plate)}"
        )
    serial_end = len(plate) - 1 if has_suffix else len(plate)
    for position in range(3, serial_end + 1):
        char = plate[position - 1]
        if char not in _PLATE_ALNUM:
            hint = " (I and O are never used)" if char in "IO" else ""
            raise InvalidCode(
                _PLATE, f"character {char!r} at position {position} is not allowed{hint}"
            )
    return plate


_PROVINCE_CODES = frozenset(
    (
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
    )
)


@functools.lru_cache(maxsize=4_096)
def normalise_region_code(code: str) -> str:
    """Return the 6-digit administrative division code (行政区划代码) or raise InvalidCode.

    Cached: an import checks each row's region twice (its subject's code, then the command)."""
    code = code.strip()
    # The reason names lengths and characters, not the input: a mistyped field might hold an ID.
    if len(code) != 6:
        raise InvalidCode(_REGION, f"must be exactly 6 digits, got {len(code)} characters")
    for position, char in enumerate(code, start=1):
        if char not in _ASCII_DIGITS:
            raise InvalidCode(_REGION, f"character {char!r} at position {position} is not a digit")
    if int(code[:2]) not in _PROVINCE_CODES:
        raise InvalidCode(_REGION, f"{code[:2]!r} is not a province-level code")
    return code


def mask_resident_id(number: str) -> str:
    """Keep the region (first 6) and last 4 characters; hide the 8-digit birth date."""
    number = number.strip().upper()
    if len(number) != 18:
        # A malformed value might still be personal data: hide all of it rather than fail.
        return "*" * len(number)
    return number[:6] + "*" * 8 + number[14:]


# 15 or more digits (the last may be X): a resident ID number, 18-digit or legacy 15-digit, or a
# longer run that may hold one at any offset.
_ID_LIKE_RUN = re.compile(r"(?<![0-9])[0-9]{14,}[0-9Xx]")


def mask_id_numbers(text: str) -> str:
    """Mask every run of text that may be or contain a resident ID number, wherever a text is
    echoed (a submitted code, a reference, a cell of an uploaded row).

    An 18-character run is masked as `mask_resident_id` does (first 6 and last 4 kept). Any other
    run of 15 or more keeps its first 6 and last 3: that hides the birth date of a legacy
    15-digit number (characters 7-12) and of any 15- or 18-digit number inside a longer run,
    whatever its offset."""

    def masked(match: re.Match[str]) -> str:
        run = match.group().upper()
        if len(run) == 18:
            return mask_resident_id(run)
        return run[:6] + "*" * (len(run) - 9) + run[-3:]

    return _ID_LIKE_RUN.sub(masked, text)


def _check_kind(kind: str) -> None:
    if kind not in SUBJECT_KINDS:
        raise InvalidCode(_SUBJECT_KIND, f"{kind!r} is not one of {', '.join(SUBJECT_KINDS)}")


def mask_code(kind: str, code: str) -> str:
    """Mask an identifier for display: only individuals' ID numbers are personal data."""
    # An unknown kind raises instead of passing through, so a typo cannot leak an ID number.
    _check_kind(kind)
    if kind == "individual":
        return mask_resident_id(code)
    return code


def normalise_code(kind: str, code: str, *, today: datetime.date) -> str:
    """Normalise the identifier of a credit subject of the given kind."""
    _check_kind(kind)
    if kind == "individual":
        return normalise_resident_id(code, today=today)
    if kind == "vehicle":
        return normalise_plate(code)
    return normalise_uscc(code)


def guess_kind(code: str) -> str | None:
    """Guess the subject kind of a bare code; a public body's USCC answers "enterprise"."""
    candidate = code.strip().upper()
    # Each normaliser is tried only where its first checks pass: the refusals it would raise
    # otherwise (exceptions with their reasons) cost more than the rest of a look-up.
    if candidate[:1] in _PROVINCES:
        try:
            normalise_plate(candidate)
        except InvalidCode:
            pass
        else:
            return "vehicle"
    if len(candidate) == 18 and all(char in _ASCII_DIGITS for char in candidate[:17]):
        try:
            normalise_resident_id(candidate, today=datetime.date.today())
        except InvalidCode:
            pass
        else:
            return "individual"
    try:
        normalise_uscc(candidate)
    except InvalidCode:
        return None
    return "enterprise"

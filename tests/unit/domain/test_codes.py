import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.codes import (
    USCC_ALPHABET,
    InvalidCode,
    guess_kind,
    make_uscc,
    mask_code,
    mask_id_numbers,
    mask_resident_id,
    normalise_code,
    normalise_plate,
    normalise_region_code,
    normalise_resident_id,
    normalise_uscc,
    uscc_check_char,
)

pytestmark = pytest.mark.domain

TODAY = datetime.date(2025, 1, 1)


# --- InvalidCode -----------------------------------------------------------------------------


def test_invalid_code_keeps_kind_and_reason_and_is_a_value_error():
    error = InvalidCode("plate number", "is empty")
    assert error.kind == "plate number"
    assert error.reason == "is empty"
    assert str(error) == "invalid plate number: is empty"
    assert isinstance(error, ValueError)


# --- USCC --------------------------------------------------------------------------------------


def test_uscc_alphabet_has_31_characters_without_i_o_s_v_z():
    assert len(USCC_ALPHABET) == 31
    assert len(set(USCC_ALPHABET)) == 31
    assert not set("IOSVZ") & set(USCC_ALPHABET)


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("91110000600037341", "L"),
        ("N2410105MA9G5K2RQ", "3"),
        ("12100000400000624", "D"),
        ("A1110108MA01XYW12", "B"),
        ("91310000MA1FL1MM0", "T"),
        ("91110000600000005", "2"),
        # The two ends of the alphabet: weighted sum % 31 == 0 gives '0', == 1 gives 'Y'.
        ("91110000600000014", "0"),
        ("91110000600000004", "Y"),
    ],
)
def test_uscc_check_char(first17, check):
    assert uscc_check_char(first17) == check
    assert make_uscc(first17) == first17 + check


@pytest.mark.parametrize(
    ("first17", "reason"),
    [
        ("9111000060003734", "need 17 characters to compute the check character, got 16"),
        ("91110000600037341L", "need 17 characters to compute the check character, got 18"),
        ("9111000060003734O", "character 'O' at position 17 is not allowed"),
    ],
)
def test_uscc_check_char_rejects_bad_input(first17, reason):
    with pytest.raises(InvalidCode) as caught:
        uscc_check_char(first17)
    assert caught.value.kind == "unified social credit code"
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("91110000600037341L", "91110000600037341L"),
        ("  91110000600037341l\n", "91110000600037341L"),
        ("N2410105MA9G5K2RQ3", "N2410105MA9G5K2RQ3"),
        ("n2410105ma9g5k2rq3", "N2410105MA9G5K2RQ3"),
        ("A1110108MA01XYW12B", "A1110108MA01XYW12B"),
        ("12100000400000624D", "12100000400000624D"),
        ("911100006000000052", "911100006000000052"),
    ],
)
def test_normalise_uscc_accepts_valid_codes(raw, expected):
    assert normalise_uscc(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must be 18 characters, got 0"),
        # The example from the domain notes: one character short.
        ("N2410105MA9G5K2RQ", "must be 18 characters, got 17"),
        ("91110000600037341L0", "must be 18 characters, got 19"),
        ("9111I000600037341L", "character 'I' at position 5 is not allowed"),
        ("O1110000600037341L", "character 'O' at position 1 is not allowed"),
        ("91110000600037341Z", "character 'Z' at position 18 is not allowed"),
        ("911100006000-7341L", "character '-' at position 13 is not allowed"),
        (
            "9111A000600037341L",
            "characters 3-8 are the administrative region code and must be digits, "
            "got 'A' at position 5",
        ),
        (
            "91M10000600037341L",
            "characters 3-8 are the administrative region code and must be digits, "
            "got 'M' at position 3",
        ),
        (
            "911100H0600037341L",
            "characters 3-8 are the administrative region code and must be digits, "
            "got 'H' at position 7",
        ),
        (
            "9111000N600037341L",
            "characters 3-8 are the administrative region code and must be digits, "
            "got 'N' at position 8",
        ),
        ("91110000600037341X", "check character should be 'L', got 'X'"),
        ("N2410105MA9G5K2RQ4", "check character should be '3', got '4'"),
        ("91110000600037314L", "check character should be 'T', got 'L'"),
    ],
)
def test_normalise_uscc_rejects_with_reason(raw, reason):
    with pytest.raises(InvalidCode) as caught:
        normalise_uscc(raw)
    assert caught.value.kind == "unified social credit code"
    assert caught.value.reason == reason
    assert str(caught.value) == f"invalid unified social credit code: {reason}"


def test_normalise_uscc_accepts_region_digits_at_index_2_to_7_only():
    # Letters are fine outside the region code, including as the first (authority) character.
    code = make_uscc("Y1440300MA5FWXY00")
    assert normalise_uscc(code) == code


_uscc_prefixes = st.builds(
    lambda head, region, tail: head + region + tail,
    st.text(alphabet=USCC_ALPHABET, min_size=2, max_size=2),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9),
)


@given(_uscc_prefixes)
def test_made_uscc_round_trips(prefix):
    code = make_uscc(prefix)
    assert len(code) == 18
    assert normalise_uscc(code) == code


@given(
    _uscc_prefixes,
    st.integers(min_value=0, max_value=17),
    st.sampled_from(USCC_ALPHABET + "IOSVZ*"),
)
def test_any_single_substitution_makes_uscc_invalid(prefix, position, replacement):
    code = make_uscc(prefix)
    if code[position] == replacement:
        replacement = USCC_ALPHABET[(USCC_ALPHABET.index(replacement) + 1) % 31]
    changed = code[:position] + replacement + code[position + 1 :]
    assert changed != code
    with pytest.raises(InvalidCode):
        normalise_uscc(changed)


# --- Resident ID ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("360426199101010071", "360426199101010071"),
        ("41010519900307123X", "41010519900307123X"),
        (" 41010519900307123x ", "41010519900307123X"),
        ("440301200002290015", "440301200002290015"),  # 29 February of a leap year
        ("11010519491231002X", "11010519491231002X"),
        ("410105202412314567", "410105202412314567"),  # born on `today` (see below)
    ],
)
def test_normalise_resident_id_accepts_valid_numbers(raw, expected):
    assert normalise_resident_id(raw, today=datetime.date(2024, 12, 31)) == expected


@pytest.mark.parametrize(
    ("raw", "today", "reason"),
    [
        (
            "410105900307123",
            TODAY,
            "only 18-digit resident ID numbers are accepted, got a 15-digit legacy number",
        ),
        ("41010519900307123", TODAY, "must be 18 characters, got 17"),
        ("41010519900307123X0", TODAY, "must be 18 characters, got 19"),
        ("41010519900307A23X", TODAY, "the first 17 characters must be digits"),
        ("４１010519900307123X", TODAY, "the first 17 characters must be digits"),
        ("41010519900307123Y", TODAY, "the last character must be a digit or X"),
        (
            "410105199002301234",
            TODAY,
            "characters 7-14 are not a valid birth date (YYYYMMDD)",
        ),
        (
            "410105199013011234",
            TODAY,
            "characters 7-14 are not a valid birth date (YYYYMMDD)",
        ),
        (
            "410105200102291232",
            TODAY,
            "characters 7-14 are not a valid birth date (YYYYMMDD)",
        ),
        (
            "410105000001011234",
            TODAY,
            "characters 7-14 are not a valid birth date (YYYYMMDD)",
        ),
        ("410105203001011232", TODAY, "the birth date is in the future"),
        ("410105202412314567", datetime.date(2024, 12, 30), "the birth date is in the future"),
        ("410105199003071230", TODAY, "the check digit (last character) does not match"),
        ("360426199101010072", TODAY, "the check digit (last character) does not match"),
    ],
)
def test_normalise_resident_id_rejects_without_leaking_the_number(raw, today, reason):
    with pytest.raises(InvalidCode) as caught:
        normalise_resident_id(raw, today=today)
    assert caught.value.kind == "resident id number"
    assert caught.value.reason == reason
    digits = raw.strip()
    leaked = [
        digits[i : i + 4] for i in range(len(digits) - 3) if digits[i : i + 4] in str(caught.value)
    ]
    assert leaked == []


# --- Plates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("京A12345", "京A12345"),
        ("粤B8H3K9", "粤B8H3K9"),
        ("京a·12345", "京A12345"),
        ("沪C•ab123", "沪CAB123"),
        ("  苏E 5Z2Y8 ", "苏E5Z2Y8"),
        ("粤BD12345", "粤BD12345"),  # new-energy, 8 characters
        ("浙A·F23456", "浙AF23456"),
        ("沪A1234挂", "沪A1234挂"),
        ("京A1234学", "京A1234学"),
        ("京A1234警", "京A1234警"),
        ("粤Z1234港", "粤Z1234港"),
        ("粤Z1234澳", "粤Z1234澳"),
        ("琼A12345", "琼A12345"),
        ("藏Z12345", "藏Z12345"),
    ],
)
def test_normalise_plate_accepts_valid_plates(raw, expected):
    assert normalise_plate(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("AA12345", "must start with a province abbreviation such as 京 or 粤, got 'A'"),
        ("台A12345", "must start with a province abbreviation such as 京 or 粤, got '台'"),
        ("京", "the second character must be a letter A-Z other than I and O, got nothing"),
        ("京I12345", "the second character must be a letter A-Z other than I and O, got 'I'"),
        ("京O12345", "the second character must be a letter A-Z other than I and O, got 'O'"),
        ("京112345", "the second character must be a letter A-Z other than I and O, got '1'"),
        ("京A1234", "must be 7 characters (8 for new-energy vehicles), got 6"),
        ("京A1234567", "must be 7 characters (8 for new-energy vehicles), got 9"),
        ("京A·1234", "must be 7 characters (8 for new-energy vehicles), got 6"),
        ("京A1I345", "character 'I' at position 4 is not allowed (I and O are never used)"),
        ("京AD1234O", "character 'O' at position 8 is not allowed (I and O are never used)"),
        ("京A12-45", "character '-' at position 5 is not allowed"),
        ("京A12·45", "character '·' at position 5 is not allowed"),
        (
            "京A12345挂",
            "a plate ending in '挂' must be 7 characters (province, letter, "
            "4 letters or digits, 挂), got 8",
        ),
        (
            "沪A123挂",
            "a plate ending in '挂' must be 7 characters (province, letter, "
            "4 letters or digits, 挂), got 6",
        ),
        ("京A123挂5", "character '挂' at position 6 is not allowed"),
    ],
)
def test_normalise_plate_rejects_with_reason(raw, reason):
    with pytest.raises(InvalidCode) as caught:
        normalise_plate(raw)
    assert caught.value.kind == "plate number"
    assert caught.value.reason == reason


# --- Region codes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "110000",
        "150000",
        "210000",
        "230000",
        "310000",
        "370000",
        "410105",
        "460000",
        "500000",
        "540000",
        "610000",
        "650000",
        "710000",
        "810000",
        "820000",
    ],
)
def test_normalise_region_code_accepts_province_level_prefixes(code):
    assert normalise_region_code(code) == code


@pytest.mark.parametrize(
    "prefix",
    [
        "00",
        "10",
        "16",
        "20",
        "24",
        "30",
        "38",
        "40",
        "47",
        "49",
        "55",
        "60",
        "66",
        "70",
        "72",
        "80",
        "83",
        "99",
    ],
)
def test_normalise_region_code_rejects_unknown_province(prefix):
    with pytest.raises(InvalidCode) as caught:
        normalise_region_code(prefix + "0101")
    assert caught.value.kind == "region code"
    assert caught.value.reason == f"'{prefix}' is not a province-level code"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must be exactly 6 digits, got 0 characters"),
        ("11000", "must be exactly 6 digits, got 5 characters"),
        ("1100000", "must be exactly 6 digits, got 7 characters"),
        ("11000A", "character 'A' at position 6 is not a digit"),
        ("１１0000", "character '１' at position 1 is not a digit"),
        ("-11000", "character '-' at position 1 is not a digit"),
    ],
)
def test_normalise_region_code_rejects_malformed_codes(raw, reason):
    with pytest.raises(InvalidCode) as caught:
        normalise_region_code(raw)
    assert caught.value.kind == "region code"
    assert caught.value.reason == reason


# --- Masking -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("410105199003071234", "410105********1234"),
        ("41010519900307123X", "410105********123X"),
        ("41010519900307123x", "410105********123X"),
        ("12345", "*****"),
        ("410105900307123", "***************"),
    ],
)
def test_mask_resident_id(number, masked):
    assert mask_resident_id(number) == masked


@pytest.mark.parametrize(
    ("kind", "code", "masked"),
    [
        ("individual", "41010519900307123X", "410105********123X"),
        ("enterprise", "91110000600037341L", "91110000600037341L"),
        ("public_body", "12100000400000624D", "12100000400000624D"),
        ("vehicle", "京A12345", "京A12345"),
    ],
)
def test_mask_code(kind, code, masked):
    assert mask_code(kind, code) == masked


def test_mask_code_refuses_unknown_kind_instead_of_leaking():
    with pytest.raises(InvalidCode) as caught:
        mask_code("person", "41010519900307123X")
    assert caught.value.kind == "subject kind"
    assert "41010519900307123X" not in str(caught.value)


# --- Dispatch ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("enterprise", " 91110000600037341l", "91110000600037341L"),
        ("public_body", "12100000400000624d", "12100000400000624D"),
        ("individual", "41010519900307123x", "41010519900307123X"),
        ("vehicle", "京a·12345", "京A12345"),
    ],
)
def test_normalise_code_dispatches_on_kind(kind, raw, expected):
    assert normalise_code(kind, raw, today=TODAY) == expected


@pytest.mark.parametrize(
    ("kind", "raw", "error_kind"),
    [
        ("enterprise", "京A12345", "unified social credit code"),
        ("public_body", "41010519900307123X", "unified social credit code"),
        ("individual", "91110000600037341L", "resident id number"),
        ("individual", "410105203001011232", "resident id number"),
        ("vehicle", "91110000600037341L", "plate number"),
    ],
)
def test_normalise_code_raises_for_the_dispatched_kind(kind, raw, error_kind):
    with pytest.raises(InvalidCode) as caught:
        normalise_code(kind, raw, today=TODAY)
    assert caught.value.kind == error_kind


@pytest.mark.parametrize("kind", ["", "company", "Enterprise", "vehicles"])
def test_normalise_code_rejects_unknown_kind(kind):
    with pytest.raises(InvalidCode) as caught:
        normalise_code(kind, "91110000600037341L", today=TODAY)
    assert caught.value.kind == "subject kind"
    assert caught.value.reason == (
        f"{kind!r} is not one of enterprise, individual, vehicle, public_body"
    )


# --- guess_kind ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("京A12345", "vehicle"),
        ("京a·12345", "vehicle"),
        ("粤BD12345", "vehicle"),
        ("沪A1234挂", "vehicle"),
        ("41010519900307123X", "individual"),
        ("41010519900307123x", "individual"),
        ("360426199101010071", "individual"),
        # Valid both as a resident ID and as a USCC: the resident ID wins.
        ("410105199003070739", "individual"),
        ("91110000600037341L", "enterprise"),
        ("12100000400000624D", "enterprise"),
        ("N2410105MA9G5K2RQ3", "enterprise"),
        # All digits, but the "birth date" is impossible, so only the USCC reading holds.
        ("911100006000000052", "enterprise"),
        ("N2410105MA9G5K2RQ", None),
        ("410105199003071230", None),
        ("91110000600037341X", None),
        ("京I12345", None),
        ("410105900307123", None),
        ("", None),
        ("hello", None),
    ],
)
def test_guess_kind(code, kind):
    assert guess_kind(code) == kind


def guessed_by_trying_each(code: str) -> str | None:
    """guess_kind by its definition: the first normaliser, in order, that accepts the code."""
    candidate = code.strip().upper()
    for kind, normalise in (
        ("vehicle", normalise_plate),
        ("individual", lambda c: normalise_resident_id(c, today=datetime.date.today())),
        ("enterprise", normalise_uscc),
    ):
        try:
            normalise(candidate)
        except InvalidCode:
            continue
        return kind
    return None


ALL_DIGITS_18 = st.builds(
    lambda n, tail: f"{n:017d}{tail}", st.integers(0, 10**17 - 1), st.sampled_from("0123456789XA")
)
CODE_LIKE = st.one_of(
    st.text(alphabet="0123456789X京粤沪豫AaBI·挂 MN", max_size=20),
    ALL_DIGITS_18,
    st.builds(make_uscc, st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)),
    st.text(max_size=20),
)


@given(CODE_LIKE)
def test_guess_kind_answers_as_trying_each_normaliser_in_turn(code):
    # it skips a normaliser whose first checks fail, without changing an answer
    assert guess_kind(code) == guessed_by_trying_each(code)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("410105199003070739", "410105********0739"),  # an 18-digit ID, as mask_resident_id
        ("41010519900307123x", "410105********123X"),
        ("410105900307123", "410105******123"),  # legacy 15 digits: the YYMMDD birth date
        ("1410105199003070739", "141010**********739"),  # 19 digits holding an 18-digit ID
        ("罚字410105199003070739号", "罚字410105********0739号"),
        ("ID 410105900307123 and 410105199003070739", "ID 410105******123 and 410105********0739"),
        ("N2410105MA9G5K2RQ3", "N2410105MA9G5K2RQ3"),  # letters break the run: a USCC stays
        # 17 digits may hold a legacy ID: masked, even where it is a USCC's
        ("91110000600037341L", "911100********341L"),
        ("XF20261120123456", "XF20261120123456"),  # 14 digits: a case number stays
        ("20261102", "20261102"),
        ("", ""),
    ],
)
def test_mask_id_numbers(text, masked):
    assert mask_id_numbers(text) == masked


@given(
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=5),
    st.sampled_from(["410105199003070739", "41010519900307123X", "410105900307123"]),
)
def test_no_birth_date_survives_masking_at_any_offset(before, after, number):
    masked = mask_id_numbers("1" * before + number + "2" * after)
    birth = number[6:14] if len(number) == 18 else number[6:12]
    assert birth not in masked
    assert len(masked) == before + len(number) + after

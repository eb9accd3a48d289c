"""A record's id is `uuid.uuid5` of its subject's id and its natural key, and a subject's id the
HMAC-SHA256 of its code as a version 8 UUID, both made at less cost than the standard library's
calls (service/commanding/identity.py): every id a store holds was made by those calls, and a
record or subject sent again must map onto the same one."""

import hashlib
import hmac
from uuid import UUID, uuid5

from hypothesis import given, settings
from hypothesis import strategies as st

from service.commanding.identity import SubjectIds, record_id_for


@settings(max_examples=2000, deadline=None)
@given(st.uuids(), st.text())
def test_a_records_id_is_uuid5_of_its_subject_and_key(subject_id: UUID, key: str) -> None:
    def made(make: object) -> tuple[str, object]:
        try:
            return "made", make(subject_id, key)  # type: ignore[operator]
        except UnicodeEncodeError as error:  # a lone surrogate: refused alike
            return "refused", error.reason

    made_here = made(record_id_for)
    assert made_here == made(uuid5)
    if made_here[0] == "made":
        assert isinstance(made_here[1], UUID)
        assert made_here[1].version == 5
        assert made_here[1].variant == "specified in RFC 4122"


def test_an_id_stored_before_is_made_again() -> None:
    """An id as stores hold it (made by `uuid5` when the record was first written)."""
    subject_id = UUID("9b2f7c1e-5d4a-4e8b-8c3f-2a1d0e9f8b7c")
    key = "PenaltyDecided|11410100MB00000018|郑交执罚〔2026〕1号"
    assert record_id_for(subject_id, key) == UUID("e991d234-417e-5134-8541-04f4d6d625e5")


def subject_id_as_first_made(key: str, code: str) -> UUID:
    digest = hmac.digest(key.encode(), b"subject:" + code.encode(), hashlib.sha256)
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC's variant
    return UUID(bytes=bytes(raw))


@settings(max_examples=1000, deadline=None)
@given(
    st.text(min_size=1, max_size=80),
    st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", max_size=20),
)
def test_a_subjects_id_is_the_keyed_hash_of_its_code(key: str, code: str) -> None:
    try:
        expected = subject_id_as_first_made(key, code)
    except UnicodeEncodeError:  # a key no settings file holds
        return
    made = SubjectIds(key).for_code(code)
    assert made == expected
    assert made.version == 8


def test_each_code_is_hashed_from_the_keys_hash_alone() -> None:
    """Each code's hash starts from a copy of the key's: one code's never leaks into the next."""
    ids = SubjectIds("test-key")
    codes = ["91410100MA44A0UA0X", "410105199001011234", "91410100MA44A0UA0X"]
    assert [ids.for_code(code) for code in codes] == [
        subject_id_as_first_made("test-key", code) for code in codes
    ]

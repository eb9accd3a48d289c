"""A record's id is `uuid.uuid5` of its subject's id and its natural key, made here at less cost
(service/commanding/identity.py): every id a stream holds was made by `uuid5`, and a record sent
again must map onto the same one."""

from uuid import UUID, uuid5

from hypothesis import given, settings
from hypothesis import strategies as st

from service.commanding.identity import record_id_for


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

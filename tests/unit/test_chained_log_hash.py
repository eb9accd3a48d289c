"""A chained-log row's hash: the hash the row names over the same canonical bytes, so SHA-256
rows hash exactly as they did before rows named their hash, and an SM3 row is GB/T 32905's SM3
of those bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from gmalg.sm3 import SM3 as GmalgSM3

from service.access.access_log import entry_hash
from service.access.chained_log import row_content

ROW = {
    "seq": 1,
    "at": datetime(2026, 11, 20, 4, 0, tzinfo=UTC),
    "client_id": "zz-agency-01",
    "role": "agency",
    "agency_code": "11410100MB00000018",
    "subject_id": UUID(int=1),
    "action": "status",
    "purpose": "招标投标资格审查",
    "returned": {"version": 4, "lists": ["black"]},
    "prev_hash": "0" * 64,
}
# What the access log's row_hash gave for ROW before rows named their hash (commit 0fc63e1).
SHA256_BEFORE = "19ec0ea9b06be5f35a1660ef69b9d2e2379eac813f516f79ed6a012a08bc7796"


def test_a_sha256_row_hashes_byte_for_byte_as_before_rows_named_their_hash() -> None:
    assert entry_hash(ROW) == SHA256_BEFORE  # read from a store not yet migrated
    assert entry_hash({**ROW, "hash_algorithm": "sha256"}) == SHA256_BEFORE


def test_an_sm3_row_is_sm3_of_the_same_bytes_and_an_unknown_hash_matches_nothing() -> None:
    sm3 = GmalgSM3()
    sm3.update(row_content(ROW, ROW))
    assert entry_hash({**ROW, "hash_algorithm": "sm3"}) == sm3.value().hex()
    assert entry_hash({**ROW, "hash_algorithm": "sm3"}) != SHA256_BEFORE
    assert entry_hash({**ROW, "hash_algorithm": "md5"}) is None

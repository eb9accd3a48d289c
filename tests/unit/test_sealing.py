"""Seals hashed ahead of the insert's lock are the seals hashing under it gives: they are used
only where each stream's last seal is still the one they follow, and only in the events' own
order."""

from __future__ import annotations

from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from service.integrity.sealing import (
    SealedHeads,
    SealingError,
    chain_links,
    hash_ahead,
    locked_seal_rows,
    seal_rows,
)


def stored(stream: UUID, version: int, n: int) -> StoredEvent:
    return StoredEvent(stream, version, "credit:PenaltyDecided", orjson.dumps({"n": n}))


S, T = uuid4(), uuid4()
EVENTS = [stored(S, 3, 1), stored(T, 1, 2), stored(S, 4, 3)]
NOW = {S: (2, b"\x01" * 32)}


def test_hashes_ahead_against_the_last_seals_under_the_lock_are_the_seals():
    ahead = hash_ahead(EVENTS, NOW)
    assert ahead.links is not None
    assert locked_seal_rows(EVENTS, [10, 11, 12], NOW, 7, ahead) == seal_rows(
        EVENTS, [10, 11, 12], NOW, 7
    )


@pytest.mark.parametrize(
    "then",
    [
        {S: (2, b"\x02" * 32)},  # the same version sealed otherwise (a store put back)
        {},  # no seal yet: the events did not follow it
        {S: (2, b"\x01" * 32), T: (1, b"\x03" * 32)},  # a stream sealed since, then not
    ],
)
def test_hashes_ahead_against_another_last_seal_are_computed_again(then):
    assert locked_seal_rows(EVENTS, [10, 11, 12], NOW, 7, hash_ahead(EVENTS, then)) == (
        seal_rows(EVENTS, [10, 11, 12], NOW, 7)
    )


def test_positions_out_of_the_events_order_are_sealed_in_position_order():
    positions = [11, 10, 12]
    rows = locked_seal_rows(EVENTS, positions, NOW, 7, hash_ahead(EVENTS, NOW))
    assert rows == seal_rows(EVENTS, positions, NOW, 7)
    assert [row[0] for row in rows] == [10, 11, 12]


def test_events_that_follow_no_last_seal_are_refused_under_the_lock_as_before():
    with pytest.raises(SealingError, match="version 3 does not follow the last sealed version 0"):
        locked_seal_rows(EVENTS, [10, 11, 12], {}, 0, hash_ahead(EVENTS, NOW))


def test_remembered_heads_are_the_last_seals_an_insert_follows():
    heads = SealedHeads(capacity=10)
    links = chain_links([stored(S, 1, 1), stored(S, 2, 2), stored(T, 1, 3)], {})
    heads.remember(links)
    last_of_s, last_of_t = links[1], links[2]
    # The next events of both streams follow what was remembered, as the seals' read gives.
    assert heads.followed_by([stored(S, 3, 4), stored(T, 2, 5), stored(S, 4, 6)]) == {
        S: (2, last_of_s[2]),
        T: (1, last_of_t[2]),
    }
    # A new stream follows no seal; an unknown one, or one written since elsewhere (its
    # events do not follow the version remembered), must be read.
    assert heads.followed_by([stored(uuid4(), 1, 7)]) == {}
    assert heads.followed_by([stored(uuid4(), 2, 8)]) is None
    assert heads.followed_by([stored(S, 5, 9)]) is None
    assert heads.followed_by([stored(T, 2, 10), stored(S, 5, 11)]) is None


def test_remembered_heads_keep_the_streams_written_last():
    heads = SealedHeads(capacity=3)
    a, b, c, d = (uuid4() for _ in range(4))
    for n, stream in enumerate((a, b, c)):
        heads.remember(chain_links([stored(stream, 1, n)], {}))
    follows = heads.followed_by([stored(a, 2, 3)])
    assert follows is not None
    heads.remember(chain_links([stored(a, 2, 3)], follows))
    heads.remember(chain_links([stored(d, 1, 4)], {}))  # b, written least lately, goes
    assert heads.followed_by([stored(a, 3, 5)]) is not None
    assert heads.followed_by([stored(b, 2, 5)]) is None
    assert heads.followed_by([stored(c, 2, 5)]) is not None
    assert heads.followed_by([stored(d, 2, 5)]) is not None

"""The per-client token bucket: bursts, refill, retry-after, independence, eviction, threads."""

from __future__ import annotations

import threading

import pytest

from api.rate_limit import RateLimited, RateLimiter

pytestmark = pytest.mark.api


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limiter(rate: float, burst: int, fake: FakeClock, max_clients: int = 100_000) -> RateLimiter:
    return RateLimiter(rate_per_second=rate, burst=burst, clock=fake, max_clients=max_clients)


def retry_after(rate_limiter: RateLimiter, client_id: str) -> int:
    with pytest.raises(RateLimited) as caught:
        rate_limiter.check(client_id)
    return caught.value.retry_after_seconds


def test_a_full_burst_passes_and_the_next_check_is_refused_for_one_second():
    fake = FakeClock()
    rl = limiter(1.0, 5, fake)
    for _ in range(5):
        rl.check("alice")
    assert retry_after(rl, "alice") == 1


def test_retry_after_is_the_ceiling_of_the_wait_for_slow_rates():
    fake = FakeClock()
    rl = limiter(0.1, 1, fake)
    rl.check("alice")
    assert retry_after(rl, "alice") == 10
    fake.advance(4.0)
    assert retry_after(rl, "alice") == 6
    fake.advance(0.5)
    assert retry_after(rl, "alice") == 6
    fake.advance(5.4)
    assert retry_after(rl, "alice") == 1


def test_retry_after_rounds_a_fractional_wait_up():
    fake = FakeClock()
    rl = limiter(0.3, 1, fake)
    rl.check("alice")
    assert retry_after(rl, "alice") == 4  # 1 / 0.3 = 3.33 s
    fast = limiter(4.0, 1, fake)
    fast.check("bob")
    assert retry_after(fast, "bob") == 1  # 0.25 s is still reported as a whole second


def test_tokens_refill_with_time_up_to_the_burst():
    fake = FakeClock()
    rl = limiter(1.0, 2, fake)
    rl.check("alice")
    rl.check("alice")
    assert retry_after(rl, "alice") == 1
    fake.advance(1.0)
    rl.check("alice")
    assert retry_after(rl, "alice") == 1
    fake.advance(0.5)
    assert retry_after(rl, "alice") == 1
    fake.advance(0.5)
    rl.check("alice")
    fake.advance(3600.0)  # a long pause refills to the burst, not beyond it
    rl.check("alice")
    rl.check("alice")
    assert retry_after(rl, "alice") == 1


def test_clients_have_independent_buckets():
    fake = FakeClock()
    rl = limiter(0.5, 2, fake)
    rl.check("alice")
    rl.check("alice")
    assert retry_after(rl, "alice") == 2
    rl.check("bob")
    rl.check("bob")
    assert retry_after(rl, "bob") == 2
    assert retry_after(rl, "alice") == 2


def test_the_least_recently_used_client_is_dropped_beyond_max_clients():
    fake = FakeClock()
    rl = limiter(0.001, 1, fake, max_clients=2)
    rl.check("a")
    rl.check("b")
    assert retry_after(rl, "a") == 1000  # touching "a" makes "b" the least recently used
    rl.check("c")  # a third client: "b" is dropped
    assert len(rl) == 2
    assert retry_after(rl, "a") == 1000  # "a" kept its empty bucket
    rl.check("b")  # "b" starts over with a full bucket (and "c" is dropped)
    assert len(rl) == 2
    rl.check("c")
    assert len(rl) == 2


def test_without_touches_the_oldest_client_is_dropped_first():
    fake = FakeClock()
    rl = limiter(0.001, 1, fake, max_clients=3)
    for client_id in ("a", "b", "c", "d"):
        rl.check(client_id)
    assert len(rl) == 3
    rl.check("a")  # evicted, so full again; this drops "b"
    assert retry_after(rl, "c") == 1000
    assert retry_after(rl, "d") == 1000
    rl.check("b")


@pytest.mark.parametrize(
    ("rate", "burst"),
    [(0.0, 1), (-1.0, 1), (1.0, 0), (1.0, -3)],
)
def test_bad_arguments_are_rejected(rate: float, burst: int):
    with pytest.raises(ValueError):
        RateLimiter(rate_per_second=rate, burst=burst)


def test_the_limiter_is_exact_under_threads():
    rl = RateLimiter(rate_per_second=1e-9, burst=500)
    passed: list[int] = []
    refused: list[int] = []
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        ok = no = 0
        for _ in range(1000):
            try:
                rl.check("shared")
                ok += 1
            except RateLimited:
                no += 1
        passed.append(ok)
        refused.append(no)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(passed) == 500
    assert sum(refused) == 7500

"""The API's per-key rate limit holds across the server's worker processes (a shared bucket file)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from drgaudit.api.ratelimit import SLOTS, RateLimiter, SharedRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("shared", [False, True])
def test_burst_then_the_rate(tmp_path: Path, shared: bool) -> None:
    clock = Clock()
    limiter = (
        SharedRateLimiter(SharedRateLimiter.create(tmp_path / "b"), per_minute=60, burst=3, clock=clock)
        if shared
        else RateLimiter(per_minute=60, burst=3, clock=clock)
    )
    assert [limiter.take(7) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take(7) == pytest.approx(1.0)  # one a second: the next in a second
    assert limiter.take(8) == 0.0  # another key has its own bucket
    clock.now += 0.5
    assert limiter.take(7) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take(7) == 0.0
    clock.now += 3600
    assert [limiter.take(7) for _ in range(4)][-1] > 0  # refilled to the burst, not beyond


def test_two_workers_share_one_bucket_per_key(tmp_path: Path) -> None:
    path = SharedRateLimiter.create(tmp_path / "b")
    clock = Clock()
    first = SharedRateLimiter(path, per_minute=1, burst=5, clock=clock)
    second = SharedRateLimiter(path, per_minute=1, burst=5, clock=clock)
    allowed = sum(limiter.take(42) == 0.0 for _ in range(4) for limiter in (first, second))
    assert allowed == 5  # in-memory buckets would have allowed 8


def _takes(path: str, count: int) -> int:
    limiter = SharedRateLimiter(Path(path), per_minute=0.001, burst=50)
    return sum(limiter.take(9) == 0.0 for _ in range(count))


def test_processes_racing_on_the_file_never_exceed_the_burst(tmp_path: Path) -> None:
    path = SharedRateLimiter.create(tmp_path / "b")
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        allowed = pool.starmap(_takes, [(str(path), 200)] * 3)
    assert sum(allowed) == 50


def test_a_full_file_gives_the_least_recently_used_slot_to_a_new_key(tmp_path: Path) -> None:
    clock = Clock()
    limiter = SharedRateLimiter(
        SharedRateLimiter.create(tmp_path / "b"), per_minute=0.01, burst=1, clock=clock
    )
    for key in range(1, SLOTS + 1):
        clock.now += 1
        assert limiter.take(key) == 0.0
    clock.now += 1
    assert limiter.take(SLOTS + 1) == 0.0  # took key 1's slot (the oldest)
    assert limiter.take(SLOTS) > 0  # the newest keys keep theirs (its token is spent)
    assert limiter.take(1) == 0.0  # key 1 starts again with a full bucket


def test_serve_gives_its_workers_one_bucket_file(tmp_path: Path) -> None:
    from drgaudit.api.settings import ApiSettings

    path = SharedRateLimiter.create(tmp_path / "b")
    settings = ApiSettings(rate_file=path)
    assert settings.rate_file == path

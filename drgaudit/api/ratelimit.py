"""A per-key rate limit: a token bucket for each API key, shared by the server's worker processes.

A key may send `per_minute` requests a minute on average and `burst` at once; a request over the
limit is refused with 429 `rate_limited` and `Retry-After` (seconds until a token is back). Refused
requests do not count.

Where the buckets live: with one process, in its memory. `drgaudit serve --workers N` makes a small
file of buckets before it starts the workers (`DRGAUDIT_API_RATE_FILE`), which every worker maps into
memory and changes under an exclusive file lock, so the limit holds for the key across the workers
(the operating system spreads connections over them; with a bucket per worker a key could send N times
its limit). `time.monotonic` is one clock for every process of the machine.
"""

from __future__ import annotations

import fcntl
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

# One bucket in the shared file: key id (0: free), tokens, when they were counted.
_SLOT = struct.Struct("<qdd")
SLOTS = 4096  # distinct keys the file holds (a province has a few settlement systems, not thousands)


class RateLimiter:
    """Token buckets by key id, in this process's memory (see the module docstring)."""

    def __init__(self, *, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("the rate limit needs per_minute > 0 and burst ≥ 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[object, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: int) -> float:
        """Take a token for `key`: 0 when allowed, else the seconds to wait before the next one."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens, wait = self._refill(tokens, at, now)
            self._buckets[key] = (tokens, now)
            return wait

    def _refill(self, tokens: float, at: float, now: float) -> tuple[float, float]:
        """(tokens left, seconds to wait): one taken when there is one, else the wait for the next."""
        tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
        if tokens >= 1.0:
            return tokens - 1.0, 0.0
        return tokens, (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> int:
        """Whole seconds for the Retry-After header (at least 1)."""
        return max(1, math.ceil(wait))


class SharedRateLimiter(RateLimiter):
    """The same buckets in a file every worker process maps (see the module docstring)."""

    def __init__(
        self, path: Path, *, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(per_minute=per_minute, burst=burst, clock=clock)
        self.path = Path(path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            if os.fstat(fd).st_size < SLOTS * _SLOT.size:
                os.ftruncate(fd, SLOTS * _SLOT.size)  # zeros: every slot free
            self._map = mmap.mmap(fd, SLOTS * _SLOT.size)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    @staticmethod
    def create(path: Path) -> Path:
        """Make an empty bucket file (the parent process, before the workers start)."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.ftruncate(fd, SLOTS * _SLOT.size)
        finally:
            os.close(fd)
        return path

    def take(self, key: int) -> float:
        key = int(key)
        if key == 0:
            raise ValueError("key id 0 marks a free slot")
        now = self.clock()
        with self._lock:  # threads of this process; the file lock is per open file, not per thread
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                offset = self._slot(key)
                stored, tokens, at = _SLOT.unpack_from(self._map, offset)
                if stored != key:
                    tokens, at = self.burst, now
                tokens, wait = self._refill(tokens, at, now)
                _SLOT.pack_into(self._map, offset, key, tokens, now)
                return wait
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _slot(self, key: int) -> int:
        """The byte offset of the key's slot: its own, else the first free one after its hash (open
        addressing); with every slot taken, the least recently used one is given to the key."""
        start = (key * 2654435761) % SLOTS
        oldest, oldest_at = start * _SLOT.size, math.inf
        for step in range(SLOTS):
            offset = ((start + step) % SLOTS) * _SLOT.size
            stored, _tokens, at = _SLOT.unpack_from(self._map, offset)
            if stored in (key, 0):
                return offset
            if at < oldest_at:
                oldest, oldest_at = offset, at
        return oldest

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

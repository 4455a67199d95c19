"""A process's memory of users' last snapshots, lent out as guesses that a store checks.

A store that remembers the snapshot it last read or wrote for a user can skip
the next load, provided the database refuses the write if the guess was stale
(a version check does). A stale guess costs a refused write and a reload, so
guessing pays only while most guesses are right; this memory tracks that and
stops lending guesses:

- for **one user**, for a minute after a guess about them was wrong (another
  process writes that user too);
- for **every user**, for a few seconds, when recent guesses were wrong too
  often (requests spread over processes with no affinity: each process then
  sees a user's state change behind its back). It lends again afterwards, and
  stops again after a few more wrong guesses if nothing changed.

A snapshot is also trusted for a limited time only, so that a version that is a
32-bit transaction id cannot come round to the same value while remembered.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InvalidArgumentError
from .base import Snapshot

__all__ = ["SnapshotCache", "SnapshotCacheInfo"]

TRUST_SECONDS = 300.0
"""How long a remembered snapshot may be lent out (2**32 transactions take far longer)."""
SHARED_SECONDS = 60.0
"""How long a user whose guess was wrong is not guessed."""
SHARED_MAX = 10_000
"""At most this many users are remembered as shared (the oldest marks are dropped first)."""
MISS_WEIGHT = 1 / 8
"""Weight of the latest guess in the running rate of wrong guesses."""
MISS_LIMIT = 0.4
"""Above this running rate of wrong guesses the cache stops lending.

A wrong guess costs a round trip and a right one saves one, so guessing pays while
fewer than half are wrong; with ``MISS_WEIGHT`` this pauses when about a third of
the guesses go wrong for a while, or after four wrong guesses in a row."""
PAUSE_SECONDS = 10.0
"""How long the cache stops lending after the rate passed ``MISS_LIMIT``."""


@dataclass(frozen=True, slots=True)
class SnapshotCacheInfo:
    """What a snapshot cache holds and how its guesses went since it was made."""

    users: int
    """Users remembered now."""
    max_users: int
    """The most users it remembers."""
    guesses: int
    """Snapshots lent out as guesses."""
    wrong: int
    """Guesses the database refused (stale)."""
    lending: bool
    """Whether it lends guesses now (``False`` during a pause)."""


class SnapshotCache:
    """Up to ``max_users`` users' last snapshots, least recently used dropped first.

    Thread-safe. ``clock`` (monotonic seconds) is for tests.
    """

    def __init__(self, max_users: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_users < 1:
            raise InvalidArgumentError("max_users", "an integer of at least 1", max_users)
        self.max_users = max_users
        self._clock = clock
        self._lock = threading.Lock()
        self._held: OrderedDict[str, tuple[Snapshot, float]] = OrderedDict()
        self._shared: OrderedDict[str, float] = OrderedDict()
        self._miss_rate = 0.0
        self._paused_until = 0.0
        self._guesses = 0
        self._wrong = 0

    def guess(self, user_id: str) -> Snapshot | None:
        """The user's last snapshot, if it is worth guessing from now; report the outcome."""
        now = self._clock()
        with self._lock:
            if now < self._paused_until:
                return None
            held = self._held.get(user_id)
            if held is None:
                return None
            snapshot, trusted_until = held
            if trusted_until < now:
                del self._held[user_id]
                return None
            self._held.move_to_end(user_id)
            self._guesses += 1
            return snapshot

    def at_version(self, user_id: str, version: object) -> Snapshot | None:
        """The user's snapshot if it is of ``version``, which the caller has just read from
        the database (under the row's lock): a certainty, not a guess, so it is lent even
        during a pause and counts as no guess."""
        now = self._clock()
        with self._lock:
            held = self._held.get(user_id)
            if held is None or held[1] < now or held[0].version != version:
                return None
            self._held.move_to_end(user_id)
            return held[0]

    def remember(self, user_id: str, snapshot: Snapshot, *, guessed_right: bool = False) -> None:
        """Keep ``snapshot``, the user's state as the database now holds it.

        ``guessed_right``: the database has just confirmed a guess about the user.
        """
        now = self._clock()
        with self._lock:
            if guessed_right:
                self._miss_rate -= MISS_WEIGHT * self._miss_rate
            shared_until = self._shared.get(user_id)
            if shared_until is not None:
                if shared_until > now:
                    return
                del self._shared[user_id]
            self._held[user_id] = (snapshot, now + TRUST_SECONDS)
            self._held.move_to_end(user_id)
            if len(self._held) > self.max_users:
                self._held.popitem(last=False)

    def forget(self, user_id: str) -> None:
        """Drop the user's snapshot (it may no longer be what the database holds)."""
        with self._lock:
            self._held.pop(user_id, None)

    def clear(self) -> None:
        """Drop every snapshot (the store now reads other columns)."""
        with self._lock:
            self._held.clear()

    def wrong(self, user_id: str) -> None:
        """The database refused a guess about ``user_id``: someone else changed the user."""
        now = self._clock()
        with self._lock:
            self._wrong += 1
            self._held.pop(user_id, None)
            self._shared[user_id] = now + SHARED_SECONDS
            self._shared.move_to_end(user_id)
            if len(self._shared) > SHARED_MAX:
                self._shared.popitem(last=False)
            self._miss_rate += MISS_WEIGHT * (1.0 - self._miss_rate)
            if self._miss_rate > MISS_LIMIT:
                self._paused_until = now + PAUSE_SECONDS
                self._miss_rate = 0.0

    def info(self) -> SnapshotCacheInfo:
        """A consistent reading of the cache's size and record."""
        now = self._clock()
        with self._lock:
            return SnapshotCacheInfo(
                users=len(self._held),
                max_users=self.max_users,
                guesses=self._guesses,
                wrong=self._wrong,
                lending=now >= self._paused_until,
            )

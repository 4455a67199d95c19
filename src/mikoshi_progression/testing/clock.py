"""A clock for tests: it moves only when told to (no hypothesis needed)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from ..core.days import require_aware

__all__ = ["FakeClock"]

_START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock for ``ProgressionService(clock=...)`` that moves only when told to.

    Safe to share between threads. Every moment must be timezone-aware.

    >>> clock = FakeClock(datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC))
    >>> clock.advance(timedelta(seconds=2)).isoformat()
    '2026-01-02T00:00:01+00:00'
    >>> clock().isoformat()
    '2026-01-02T00:00:01+00:00'
    """

    def __init__(self, start: datetime = _START) -> None:
        self._now = require_aware(start, "start")
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment`` (earlier or later) and return it."""
        moment = require_aware(moment, "moment")
        with self._lock:
            self._now = moment
        return moment

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move by ``delta`` or ``timedelta(**parts)`` (negative to model a lagging server).

        Returns the new moment.
        """
        step = (delta or timedelta()) + timedelta(**parts)
        with self._lock:
            self._now += step
            return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self().isoformat()})"

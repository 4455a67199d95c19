"""The store machine's clock rules: time passing, day boundaries, lagging and racing
servers, other UTC offsets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import rule

from ..core.days import LAST_YEAR
from ..service import ProgressionService
from .clock import FakeClock

__all__ = ["ClockRules"]

T = TypeVar("T")

_OFFSETS = (0, 9 * 60, -5 * 60, 5 * 60 + 30)
_LATEST = datetime(LAST_YEAR, 6, 1, tzinfo=UTC)
"""How far a clock running ahead goes at most (inside the supported years)."""


class ClockRules:
    """Rules for a :class:`~mikoshi_progression.testing.machine.StoreMachine` (a mixin)."""

    clock: FakeClock
    config: Any
    users: tuple[str, ...]
    _touched: set[str]

    def _both(self, what: str, call: Callable[[ProgressionService], T]) -> tuple[T, T] | None:
        raise NotImplementedError  # the machine's

    @rule(
        seconds=st.integers(1, 600) | st.integers(1, 6 * 3600),
        microseconds=st.integers(0, 999_999),
    )
    def advance_clock(self, seconds: int, microseconds: int) -> None:
        """Time passes within the day, or a little beyond it."""
        self.clock.advance(timedelta(seconds=seconds, microseconds=microseconds))

    @rule(offset=st.integers(-3, 3))
    def cross_day_boundary(self, offset: int) -> None:
        """Jump to within a few seconds of the next day boundary (either side)."""
        boundary = self.config.day_boundary.next_reset(self.clock())
        self.clock.set(boundary + timedelta(seconds=offset))

    @rule(seconds=st.integers(1, 5))
    def skew_clock_back(self, seconds: int) -> None:
        """The next request lands on a server whose clock lags a few seconds."""
        self.clock.advance(timedelta(seconds=-seconds))

    @rule(years=st.integers(1, 70))
    def clock_runs_far_ahead(self, years: int) -> None:
        """A server whose clock ran years ahead serves one request; the next request finds
        the clock right again: the day it stamped is a clock fault and reopens."""
        real = self.clock()
        self.clock.set(min(real + timedelta(days=365 * years), _LATEST))
        user = self.users[years % len(self.users)]
        self._both(f"limits({user!r}) at {self.clock()}", lambda s: s.limits(user))
        self._touched.add(user)
        self.clock.set(real)

    @rule(minutes=st.sampled_from(_OFFSETS))
    def change_clock_offset(self, minutes: int) -> None:
        """The same instant, reported in another UTC offset."""
        self.clock.set(self.clock().astimezone(timezone(timedelta(minutes=minutes))))

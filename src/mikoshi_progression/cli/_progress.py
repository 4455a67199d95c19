"""The progress bar the simulator's commands draw on a terminal (runs, comparisons, sweeps)."""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """A one-line progress bar redrawn in place on a terminal.

    The time left is reckoned from the pace since the first report: what came before
    it (starting the worker processes) is not part of the pace of the work.
    """

    def __init__(self, stream: TextIO, label: str = "simulating") -> None:
        self._stream = stream
        self._label = label
        self._started = time.monotonic()
        self._first: tuple[float, float] | None = None  # (when, share) of the first report
        self._drawn = 0.0
        self._width = 0

    def remaining(self, now: float, share: float) -> float | None:
        """Seconds left at ``share`` done at ``now``, once the pace can be told."""
        if self._first is None:
            self._first = (now, share)
        if not 0 < share < 1:
            return None
        began, at = self._first
        if share > at and now > began:
            return (1 - share) * (now - began) / (share - at)
        elapsed = now - self._started
        return elapsed / share - elapsed

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        share = done / total if total else 1.0
        left = self.remaining(now, share)
        if done < total and now - self._drawn < 0.1:
            return
        self._drawn = now
        filled = round(30 * share)
        eta = f", {left:.0f}s left" if left is not None else ""
        text = f"\r{self._label} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}{eta}"
        self._width = max(self._width, len(text))
        self._stream.write(text.ljust(self._width))
        self._stream.flush()

    def close(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()

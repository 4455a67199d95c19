"""What every mode of ``simulate`` shares (a run, a comparison, a sweep): the archetypes
argument, the default number of workers, the progress bar, and the translation of a
run's errors."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from ..errors import ConfigError, ConfigFileError
from ..simulation import DEFAULT_ARCHETYPES, Archetype, default_jobs, load_archetypes
from ._common import CliError, config_file_message

__all__ = ["ProgressBar", "archetypes_argument", "jobs_for", "progress_bar", "simulation_errors"]

SMALL_RUN = 200_000
"""Player-days (over every config run) under which ``simulate`` stays in one process by
default: starting workers would cost more than they save."""


def archetypes_argument(path: str | None) -> tuple[Archetype, ...]:
    """The archetypes of ``--archetypes`` (the built-in ones without it); a file that
    cannot be read or parsed is a CliError (exit 2)."""
    if path is None:
        return DEFAULT_ARCHETYPES
    try:
        return load_archetypes(path)
    except ConfigFileError as exc:
        raise CliError(config_file_message(exc)) from exc


def jobs_for(args: argparse.Namespace, player_days: int) -> int:
    """``--jobs``, or by default one process for a small run and every CPU otherwise."""
    if args.jobs is not None:
        return int(args.jobs)
    return 1 if player_days < SMALL_RUN else default_jobs()


def progress_bar(args: argparse.Namespace, label: str = "simulating") -> ProgressBar | None:
    """A bar on stderr when it is a terminal and stdout is not a JSON document."""
    return ProgressBar(sys.stderr, label) if sys.stderr.isatty() and not args.json else None


@contextmanager
def simulation_errors(bar: ProgressBar | None) -> Iterator[None]:
    """Run a simulation: a bad argument (``ValueError``) becomes a one-line CliError,
    an invalid config stays a ConfigError (exit 1), and the bar is cleared either way."""
    try:
        yield
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise CliError(str(exc)) from exc
    finally:
        if bar is not None:
            bar.close()


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

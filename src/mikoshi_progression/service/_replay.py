"""Rebuilding a state from its ledger, and comparing it with the stored one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..core.config import DEFAULT_CONFIG, ProgressionConfig
from ..core.daily import reset_daily_limits
from ..core.rules import (
    adjust_exp,
    apply_events,
    revoke_exp,
)
from ..core.state import ProgressState
from ..core.zones import change_timezone
from ..errors import StoreError
from ..stores.base import (
    EntryKind,
    LedgerEntry,
    ReplayRow,
)

__all__ = ["ReplayReport", "replay_ledger", "replay_report", "replay_rows_report"]


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """The result of rebuilding a user's state from their ledger.

    Attributes:
        state: The state the ledger leads to under the service's config.
        stored: The state the store holds.
        entries: How many ledger entries were replayed.
        foreign_fingerprints: Config fingerprints in the ledger that differ from
            the service's (entries decided under other rules).
        matches: Whether the replayed state equals the stored one, as the store's
            columns can hold it (see ``StoredFormStore``).
    """

    state: ProgressState
    stored: ProgressState
    entries: int
    foreign_fingerprints: tuple[str, ...]
    matches: bool


def replay_report(
    entries: Sequence[LedgerEntry],
    stored: ProgressState,
    config: ProgressionConfig,
    stored_form: Callable[[ProgressState], ProgressState] | None,
) -> ReplayReport:
    """The report of a replay of ``entries`` (a store's ``ledger``)."""
    return replay_rows_report(_rows_of(entries), stored, config, stored_form)


def replay_rows_report(
    rows: Sequence[ReplayRow],
    stored: ProgressState,
    config: ProgressionConfig,
    stored_form: Callable[[ProgressState], ProgressState] | None,
) -> ReplayReport:
    """The report of a replay of ``rows``, a
    :class:`~mikoshi_progression.stores.ReplayReader`'s: the same as of the ledger."""
    state = _fold(rows, config)
    comparable = state if stored_form is None else stored_form(state)
    foreign = sorted({row[4] for row in rows} - {config.fingerprint})
    return ReplayReport(state, stored, len(rows), tuple(foreign), comparable == stored)


def replay_ledger(
    entries: Sequence[LedgerEntry], config: ProgressionConfig = DEFAULT_CONFIG
) -> ProgressState:
    """Fold a user's ledger through the pure core, from their latest import.

    Runs of awards go through :func:`~mikoshi_progression.apply_events` (boosts,
    streaks and milestones decide again, by the entries' moments); a day entry reopens
    the day at its moment, a revocation takes back its EXP, an adjustment adds (or
    takes away) its delta as :func:`~mikoshi_progression.adjust_exp` does, a time-zone
    entry moves the user to its zone as :func:`~mikoshi_progression.change_timezone`
    does.
    """
    return _fold(_rows_of(entries), config)


def _rows_of(entries: Sequence[LedgerEntry]) -> list[ReplayRow]:
    return [
        (e.kind, e.at, e.action, e.exp_delta, e.config_fingerprint, e.state_after) for e in entries
    ]


_IMPORT, _AWARD, _REVOKE, _ADJUST, _DAY, _TIMEZONE = (
    EntryKind.IMPORT.value,
    EntryKind.AWARD.value,
    EntryKind.REVOKE.value,
    EntryKind.ADJUST.value,
    EntryKind.DAY.value,
    EntryKind.TIMEZONE.value,
)


def _fold(rows: Sequence[ReplayRow], config: ProgressionConfig) -> ProgressState:
    """:func:`replay_ledger` on rows: the one fold of both ways of reading a ledger."""
    start = 0
    state = ProgressState()
    for index, row in enumerate(rows):
        if row[0] == _IMPORT:
            start, state = index + 1, _needed(row[5], row)
    pending: list[tuple[datetime, str]] = []
    for row in rows[start:]:
        kind, at, action, exp_delta, _, state_after = row
        if kind == _AWARD:
            pending.append((at, action))
            continue
        if pending:
            state, _ = apply_events(state, pending, config)
            pending = []
        if kind == _REVOKE:
            state = revoke_exp(state, -exp_delta, config=config)
        elif kind == _ADJUST:
            state = adjust_exp(state, exp_delta, config=config)
        elif kind == _DAY:
            state = reset_daily_limits(state, now=at)
        elif kind == _TIMEZONE:
            zone = _needed(state_after, row).timezone
            state = change_timezone(state, zone, now=at, config=config)
        else:
            raise StoreError(f"the ledger entry of {at} is of kind {kind!r}, not one of {_KINDS}")
    if pending:
        state, _ = apply_events(state, pending, config)
    return state


_KINDS = ", ".join(kind.value for kind in EntryKind)


def _needed(state: ProgressState | None, row: ReplayRow) -> ProgressState:
    if state is None:
        raise StoreError(f"the {row[0]} entry of {row[1]} was read without its state_after")
    return state

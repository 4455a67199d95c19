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
from ..stores.base import (
    EntryKind,
    LedgerEntry,
)

__all__ = ["ReplayReport", "replay_ledger", "replay_report"]


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
    state = replay_ledger(entries, config)
    comparable = state if stored_form is None else stored_form(state)
    foreign = sorted({e.config_fingerprint for e in entries} - {config.fingerprint})
    return ReplayReport(state, stored, len(entries), tuple(foreign), comparable == stored)


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
    start = 0
    state = ProgressState()
    for index, entry in enumerate(entries):
        if entry.kind is EntryKind.IMPORT:
            start, state = index + 1, entry.state_after
    pending: list[tuple[datetime, str]] = []
    for entry in entries[start:]:
        if entry.kind is EntryKind.AWARD:
            pending.append((entry.at, entry.action))
            continue
        if pending:
            state, _ = apply_events(state, pending, config)
            pending = []
        if entry.kind is EntryKind.REVOKE:
            state = revoke_exp(state, -entry.exp_delta, config=config)
        elif entry.kind is EntryKind.ADJUST:
            state = adjust_exp(state, entry.exp_delta, config=config)
        elif entry.kind is EntryKind.DAY:
            state = reset_daily_limits(state, now=entry.at)
        elif entry.kind is EntryKind.TIMEZONE:
            zone = entry.state_after.timezone
            state = change_timezone(state, zone, now=entry.at, config=config)
    if pending:
        state, _ = apply_events(state, pending, config)
    return state

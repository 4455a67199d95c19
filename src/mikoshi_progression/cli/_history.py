"""A user's history of awards, as ``explain --history`` reads it: JSON lines or a JSON array
of ``{"at": ISO, "action": A}`` objects (``user_id`` optional), or a ledger export, whose
award entries are the history (from the user's latest import, which gives the state
they start from).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..core.state import ProgressState
from ..stores import EntryKind, LedgerEntry
from ._common import CliError, moment, read_json_records
from .ledger import by_user, read_ledger

__all__ = ["History", "HistoryEvent", "read_history"]


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One award of a history.

    Attributes:
        at: When it was made (aware).
        action: The action awarded.
        where: Its place in the file (``"line 3"``), for error messages.
    """

    at: datetime
    action: str
    where: str


@dataclass(frozen=True, slots=True)
class History:
    """The awards of one user, in order.

    Attributes:
        events: The awards, oldest first.
        user_id: Whose they are, if the file says.
        start: The state the history starts from (a ledger's latest import), or ``None``
            for a new user (or the state the caller gives).
        skipped: Ledger entries that are neither awards nor a plain new day (revocations,
            adjustments, manual resets), by kind and outcome: not part of the history.
    """

    events: tuple[HistoryEvent, ...]
    user_id: str | None = None
    start: ProgressState | None = None
    skipped: Mapping[str, int] = field(default_factory=dict)


def read_history(path: str, option: str, *, user: str | None = None) -> History:
    """The history in ``path`` (of ``user``, required when the file holds several users).

    Raises:
        CliError: the file cannot be read, a record is malformed, or the user is ambiguous
            or absent.
    """
    records = read_json_records(path, option)
    if any(isinstance(record, dict) and "kind" in record for _, record in records):
        return _ledger_history(read_ledger(path, option), path, option, user)
    events: dict[str | None, list[HistoryEvent]] = {}
    for where, record in records:
        prefix = f"{option} {path}: {where}"
        if not isinstance(record, dict):
            raise CliError(f'{prefix}: must be a JSON object {{"at": ISO, "action": A}}')
        action = record.get("action")
        at = record.get("at")
        if not isinstance(action, str):
            raise CliError(f"{prefix}: action must be an action name, got {action!r}")
        if not isinstance(at, str):
            raise CliError(f"{prefix}: at must be an ISO 8601 timestamp, got {at!r}")
        owner = record.get("user_id")
        if owner is not None and not isinstance(owner, str):
            raise CliError(f"{prefix}: user_id must be a string, got {owner!r}")
        event = HistoryEvent(moment(at, f"{prefix}: at"), action, where)
        events.setdefault(owner, []).append(event)
    chosen = _chosen_user(list(events), user, path, option)
    return History(tuple(events.get(chosen, ())), chosen)


def _chosen_user(users: list[str | None], user: str | None, path: str, option: str) -> str | None:
    if user is not None:
        if user not in users:
            raise CliError(f"--user: {user!r} has no awards in {option} {path}")
        return user
    named = [u for u in users if u is not None]
    if len(named) > 1 or (named and len(users) > 1):
        listed = ", ".join(named)
        raise CliError(f"{option} {path}: several users ({listed}): choose one with --user")
    return users[0] if users else None


def _ledger_history(
    entries: list[LedgerEntry], path: str, option: str, user: str | None
) -> History:
    users = by_user(entries)
    chosen = _chosen_user(list(users), user, path, option)
    if chosen is None:
        return History(())
    ledger = users[chosen]
    start = None
    first = 0
    for index, entry in enumerate(ledger):
        if entry.kind is EntryKind.IMPORT:
            start, first = entry.state_after, index + 1
    events: list[HistoryEvent] = []
    skipped: dict[str, int] = {}
    for entry in ledger[first:]:
        if entry.kind is EntryKind.AWARD:
            where = f"entry {entry.seq}" if entry.seq is not None else f"entry at {entry.at}"
            events.append(HistoryEvent(entry.at, entry.action, where))
        elif entry.kind is not EntryKind.DAY or entry.outcome:
            # A plain new day is opened again by the next award; anything else is not.
            name = f"{entry.kind} ({entry.outcome})" if entry.outcome else str(entry.kind)
            skipped[name] = skipped.get(name, 0) + 1
    return History(tuple(events), chosen, start, skipped)

"""Reading a ledger for a replay, shared by the SQL stores (:class:`.ReplayReader`).

A replay folds each entry's kind, moment, action and EXP delta, and collects the config
fingerprints; only an import (the state it adopts) and a time-zone move (the zone it
moved to) need the entry's ``state_after``. Reading whole :class:`.LedgerEntry` objects
decodes every entry's state and events, which costs several times the fold itself, so
the replay query selects those five columns and the state of those two kinds alone, and
only that state is decoded here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..core.state import ProgressState
from ..errors import ProgressionError, StoreError
from .base import EntryKind, ReplayRow

__all__ = ["REPLAY_COLUMNS", "replay_query", "replay_rows_from_db", "sqlite_replay_query"]

_STATEFUL_KINDS = (EntryKind.IMPORT.value, EntryKind.TIMEZONE.value)
REPLAY_COLUMNS = (
    "kind, at, action, exp_delta, config_fingerprint, "
    f"CASE WHEN kind IN ({', '.join(repr(k) for k in _STATEFUL_KINDS)}) THEN state_after END"
)
"""The ledger columns of a :data:`.ReplayRow`, in its order (the same in both dialects)."""


def sqlite_replay_query(ledger_table: str) -> str:
    """The SQLite store's replay query on its ledger table (one named parameter, ``user_id``)."""
    return replay_query(f'"{ledger_table}"', ":user_id")


def replay_query(ledger: str, user_id: str = "%s::text") -> str:
    """The replay query on ``ledger`` (a quoted, maybe qualified, name) for the user
    ``user_id`` names (PostgreSQL's positional parameter by default)."""
    return f"SELECT {REPLAY_COLUMNS} FROM {ledger} WHERE user_id = {user_id} ORDER BY seq"


def replay_rows_from_db(user_id: str, rows: list[Any], *, text_moments: bool) -> list[ReplayRow]:
    """The rows of a replay query as :data:`.ReplayRow` tuples.

    ``text_moments``: the moments are ISO 8601 text (SQLite), else datetimes already (then
    ``rows``, the driver's tuples, are returned, a state in place of its JSON). A state
    comes as JSON text or as a mapping (PostgreSQL's ``jsonb``).

    Raises:
        StoreError: a moment or a state is unreadable (the message names the user).
    """
    try:
        if text_moments:
            parse = datetime.fromisoformat
            return [
                (kind, parse(at), action, delta, fingerprint, None if raw is None else _state(raw))
                for kind, at, action, delta, fingerprint, raw in rows
            ]
        for index, (kind, at, action, delta, fingerprint, raw) in enumerate(rows):
            if raw is not None:  # the driver's tuples are kept, but for the few with a state
                rows[index] = (kind, at, action, delta, fingerprint, _state(raw))
        return rows
    except (ValueError, TypeError, RecursionError, ProgressionError) as exc:
        raise StoreError(f"the ledger of user {user_id!r} is unreadable: {exc}") from exc


def _state(raw: object) -> ProgressState:
    return ProgressState.from_dict(json.loads(raw) if isinstance(raw, str) else raw)  # type: ignore[arg-type]

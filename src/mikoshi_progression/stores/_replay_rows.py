"""Reading a ledger for a replay, shared by the SQL stores (:class:`.ReplayReader`).

A replay folds each entry's kind, moment, action and EXP delta, and collects the config
fingerprints; only an import (the state it adopts) and a time-zone move (the zone it
moved to) need the entry's ``state_after``. Reading whole :class:`.LedgerEntry` objects
decodes every entry's state and events, which costs several times the fold itself, so
the replay query selects those five columns and the state of those two kinds alone, and
only that state is decoded here. The moments come in UTC, where the core is fastest.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..core.state import ProgressState
from ..errors import ProgressionError, StoreError
from .base import EntryKind, ReplayRow

__all__ = [
    "postgres_replay_query",
    "replay_columns",
    "replay_rows_from_naive_utc",
    "replay_rows_from_text",
    "sqlite_replay_query",
]

_STATEFUL_KINDS = ", ".join(f"'{kind.value}'" for kind in (EntryKind.IMPORT, EntryKind.TIMEZONE))


def replay_columns(moment: str = "at") -> str:
    """The ledger columns of a :data:`.ReplayRow`, in its order, the moment as ``moment``."""
    return (
        f"kind, {moment}, action, exp_delta, config_fingerprint, "
        f"CASE WHEN kind IN ({_STATEFUL_KINDS}) THEN state_after END"
    )


def sqlite_replay_query(ledger_table: str) -> str:
    """The SQLite store's replay query on its ledger table (one named parameter, ``user_id``):
    the moments as stored, ISO 8601 text."""
    return f'SELECT {replay_columns()} FROM "{ledger_table}" WHERE user_id = :user_id ORDER BY seq'


def postgres_replay_query(ledger: str) -> str:
    """The PostgreSQL stores' replay query on ``ledger`` (a quoted, maybe qualified, name;
    one positional parameter, the user id). The moments come as UTC wall times: the driver
    would give them the session's time zone (``Etc/UTC`` is a ``ZoneInfo``), and the core
    decides days fastest for moments in :data:`datetime.UTC`."""
    columns = replay_columns("at AT TIME ZONE 'UTC'")
    return f"SELECT {columns} FROM {ledger} WHERE user_id = %s::text ORDER BY seq"


def replay_rows_from_text(user_id: str, rows: list[Any]) -> list[ReplayRow]:
    """The rows of the SQLite replay query as :data:`.ReplayRow` tuples: moments parsed, the
    states there are decoded from their JSON text.

    Raises:
        StoreError: a moment or a state is unreadable (the message names the user).
    """
    parse = datetime.fromisoformat
    try:
        return [
            (kind, parse(at), action, delta, fingerprint, None if raw is None else _state(raw))
            for kind, at, action, delta, fingerprint, raw in rows
        ]
    except (ValueError, TypeError, RecursionError, ProgressionError) as exc:
        raise _unreadable(user_id, exc) from exc


def replay_rows_from_naive_utc(user_id: str, rows: list[Any]) -> list[ReplayRow]:
    """The rows of the PostgreSQL replay query as :data:`.ReplayRow` tuples: the UTC wall
    times made aware, the states there are (``jsonb``, so mappings) made states.

    Raises:
        StoreError: a state is unreadable (the message names the user).
    """
    try:
        return [
            (
                kind,
                at.replace(tzinfo=UTC),
                action,
                delta,
                fingerprint,
                None if raw is None else _state(raw),
            )
            for kind, at, action, delta, fingerprint, raw in rows
        ]
    except (ValueError, TypeError, RecursionError, ProgressionError) as exc:
        raise _unreadable(user_id, exc) from exc


def _unreadable(user_id: str, exc: Exception) -> StoreError:
    return StoreError(f"the ledger of user {user_id!r} is unreadable: {exc}")


def _state(raw: object) -> ProgressState:
    return ProgressState.from_dict(json.loads(raw) if isinstance(raw, str) else raw)  # type: ignore[arg-type]

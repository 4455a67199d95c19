"""The SQLite store's transactions, and its rows as states and entries.

A transaction runs on a connection that holds the database's write lock (or, read-only,
on a snapshot); its ``write`` refuses what a file of schema version 1 cannot keep.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from ..core.state import ProgressState
from ..errors import ReadOnlyStoreError, SchemaOutdatedError, StoreError
from ._rows import (
    counts_to_json,
    entry_from_row,
    events_to_json,
    lever_values,
    refuse_levers,
    state_from_row,
)
from ._sqlite_driver import DUPLICATE, execute, wrap
from ._sqlite_sql import Statements
from .base import EntryKind, LedgerEntry, Snapshot, StaleVersionError

__all__ = [
    "ReadOnlyTransaction",
    "SQLiteTransaction",
    "TransactionOwner",
    "entry_of_row",
    "stored_state",
]


class TransactionOwner(Protocol):
    """What a transaction reads of the SQLite store it runs in: its statements, its
    path (for messages), and a check that the schema was migrated under it."""

    _sql: Statements
    path: str

    def _reinspect(self, conn: sqlite3.Connection) -> bool: ...


class SQLiteTransaction:
    """One user's transaction on a connection that holds the write lock."""

    def __init__(self, store: TransactionOwner, conn: sqlite3.Connection, user_id: str) -> None:
        self._store = store
        self._sql = store._sql
        self._conn = conn
        self._user_id = user_id

    def load(self, key: str | None = None) -> Snapshot:
        params = {"user_id": self._user_id}
        row = execute(self._conn, self._sql.load, params, doing="load a state").fetchone()
        award = revoke = None
        if key is not None:
            rows = execute(
                self._conn, self._sql.keyed, {**params, "key": key}, doing="look up a key"
            ).fetchall()
            for entry in map(entry_of_row, rows):
                if entry.kind is EntryKind.REVOKE:
                    revoke = entry
                else:
                    award = entry
        if row is None:
            return Snapshot(ProgressState(), None, keyed_award=award, keyed_revoke=revoke)
        *values, version, has_ledger = row
        state = stored_state(self._user_id, self._sql.state_columns, values)
        if not isinstance(version, int):  # a legacy row's REAL or text
            raise StoreError(
                f"the stored state of user {self._user_id!r} is unreadable: "
                f"its version is not an integer: {version!r}"
            )
        return Snapshot(
            state,
            version,
            exists=True,
            has_ledger=bool(has_ledger),
            keyed_award=award,
            keyed_revoke=revoke,
        )

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        if not self._sql.levers:
            self._check_storable(state, entries)
        params: dict[str, Any] = {
            "user_id": self._user_id,
            "exp": state.exp,
            "level": state.level,
            "daily_exp_gained": state.daily_exp_gained,
            "last_exp_reset_date": _iso(state.last_exp_reset_date),
            "daily_action_counts": counts_to_json(state.daily_action_counts),
            "last_chat_date": _iso(state.last_chat_date),
            **lever_values(state, as_text=True),
        }
        try:
            if version is None:
                self._conn.execute(self._sql.insert_state, params)
            elif isinstance(version, int) and not isinstance(version, bool):
                cursor = self._conn.execute(self._sql.update_state, {**params, "version": version})
                if cursor.rowcount != 1:
                    raise StaleVersionError(
                        f"user {self._user_id!r} changed since it was loaded (version {version})"
                    )
            else:
                raise TypeError(f"not a version of a SQLite store: {version!r}")
            if entries:
                self._conn.executemany(self._sql.insert_entry, map(_entry_params, entries))
        except sqlite3.IntegrityError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in DUPLICATE:
                raise wrap(exc, "write a state") from exc
            # The user's row appeared since the load, or a key is taken: reload.
            raise StaleVersionError(
                f"user {self._user_id!r} changed since it was loaded: {exc}"
            ) from exc
        except sqlite3.Error as exc:
            raise wrap(exc, "write a state") from exc

    def _check_storable(self, state: ProgressState, entries: Sequence[LedgerEntry]) -> None:
        """A file at schema version 1 holds no lever: refuse to lose one. If another
        process migrated the file meanwhile, the store switches to the current statements
        and the service loads again (the state was read without its lever columns)."""
        try:
            refuse_levers(
                self._user_id, state, entries, f"the SQLite database {self._store.path!r}"
            )
        except SchemaOutdatedError:
            if self._store._reinspect(self._conn):
                raise StaleVersionError(
                    f"the SQLite database {self._store.path!r} was migrated since user "
                    f"{self._user_id!r} was loaded: loading again"
                ) from None
            raise


class ReadOnlyTransaction(SQLiteTransaction):
    """A transaction of a read-only store: it loads, and refuses to write."""

    def write(self, state: ProgressState, version: object, entries: Sequence[LedgerEntry]) -> None:
        raise ReadOnlyStoreError(
            f"the SQLite store is read-only: user {self._user_id!r} cannot be written"
        )


def stored_state(user_id: str, columns: Sequence[str], values: Sequence[object]) -> ProgressState:
    """A stored row's state columns as a state, legacy values normalised (see ``_rows``)."""
    try:
        return state_from_row(**dict(zip(columns, values, strict=True)))
    except (ValueError, TypeError) as exc:
        raise StoreError(f"the stored state of user {user_id!r} is unreadable: {exc}") from exc


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _entry_params(entry: LedgerEntry) -> dict[str, object]:
    return {
        "user_id": entry.user_id,
        "kind": str(entry.kind),
        "action": entry.action,
        "exp_delta": entry.exp_delta,
        "level_before": entry.level_before,
        "level_after": entry.level_after,
        "idempotency_key": entry.key,
        "at": entry.at.isoformat(),
        "config_fingerprint": entry.config_fingerprint,
        "state_after": json.dumps(
            entry.state_after.to_dict(), sort_keys=True, separators=(",", ":")
        ),
        "outcome": entry.outcome,
        "actor": entry.actor,
        "target": entry.target,
        "reason": entry.reason,
        "events": events_to_json(entry.events),
    }


def entry_of_row(row: Sequence[Any]) -> LedgerEntry:
    user_id, *values = row  # user_id, seq, then the other ledger columns in order
    return entry_from_row(user_id, *values)

"""The SQLite store's batch transactions: many users' loads and writes under one write lock.

SQLite runs one writer at a time and each statement costs microseconds in-process, so a
batch is the single-user transaction's own statements, user after user, inside one
``BEGIN IMMEDIATE ... COMMIT``: one lock and one commit (one sync to disk) per batch
instead of one per award.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from ..errors import StoreError
from ._sqlite_driver import execute
from ._sqlite_tx import SQLiteTransaction, TransactionOwner, entry_of_row
from .base import EntryKind, LedgerEntry, Snapshot, UserWrite

__all__ = ["SQLiteBatch"]

_KEYED_KINDS = (EntryKind.AWARD, EntryKind.ADJUST, EntryKind.TIMEZONE)
"""The kinds of entry a key of an award names (a revocation repeats its award's key)."""


class SQLiteBatch:
    """Several users' transaction on a connection that holds the write lock."""

    def __init__(
        self, store: TransactionOwner, conn: sqlite3.Connection, user_ids: Collection[str]
    ) -> None:
        self._store = store
        self._conn = conn
        self._user_ids = frozenset(user_ids)

    def load_many(self, keys: Mapping[str, Collection[str]]) -> dict[str, Snapshot]:
        snapshots = {}
        keyed = self._store._sql.keyed
        for user_id, wanted in keys.items():
            self._check_held(user_id)
            snap = SQLiteTransaction(self._store, self._conn, user_id).load()
            found: dict[str, LedgerEntry] = {}
            for key in wanted:
                rows = execute(
                    self._conn, keyed, {"user_id": user_id, "key": key}, doing="look up a key"
                ).fetchall()
                for entry in map(entry_of_row, rows):
                    if entry.kind in _KEYED_KINDS:
                        found[key] = entry
            snapshots[user_id] = replace(snap, keyed_awards=found) if found else snap
        return snapshots

    def write_many(self, writes: Sequence[UserWrite]) -> None:
        for write in writes:
            self._check_held(write.user_id)
            SQLiteTransaction(self._store, self._conn, write.user_id).write(
                write.state, write.version, write.entries
            )

    def _check_held(self, user_id: str) -> None:
        if user_id not in self._user_ids:
            raise StoreError(f"user {user_id!r} is not one of this batch transaction's users")

"""The SQLite store's batch transactions: many users' loads and writes under one write lock.

SQLite runs one writer at a time and each statement costs microseconds in-process, so a
batch is the single-user transaction's own statements, user after user, inside one
``BEGIN IMMEDIATE ... COMMIT``: one lock and one commit (one sync to disk) per batch
instead of one per award. Each user's part is that user's
:class:`~._sqlite_tx.SQLiteTransaction` on the batch's connection, so the snapshot cache,
the version checks and what is remembered after the commit are the single award's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from types import TracebackType

from ..errors import StoreError
from ._sqlite_driver import execute, rollback, wrap
from ._sqlite_tx import SQLiteTransaction, TransactionOwner
from ._sqlite_write import Writer
from .base import LedgerEntry, Snapshot, UserWrite

__all__ = ["BatchScope", "SQLiteBatch"]


class SQLiteBatch:
    """Several users' transaction on a connection that holds the write lock (``BEGIN
    IMMEDIATE`` already run)."""

    def __init__(
        self, store: TransactionOwner, conn: sqlite3.Connection, user_ids: Collection[str]
    ) -> None:
        self._store = store
        self._conn = conn
        self._user_ids = frozenset(user_ids)
        self._users: dict[str, SQLiteTransaction] = {}

    def load_many(self, keys: Mapping[str, Collection[str]]) -> dict[str, Snapshot]:
        snapshots = {}
        for user_id, wanted in keys.items():
            tx = self._user(user_id)
            snap = tx.load()
            found: dict[str, LedgerEntry] = {}
            for key in wanted:
                award, _ = tx.keyed(key)
                if award is not None:
                    found[key] = award
            snapshots[user_id] = replace(snap, keyed_awards=found) if found else snap
        return snapshots

    def write_many(self, writes: Sequence[UserWrite]) -> None:
        for write in writes:
            self._user(write.user_id).write(write.state, write.version, write.entries)

    def before_commit(self) -> None:
        """Each user's guessed snapshot that nothing was written against, checked."""
        for tx in self._users.values():
            tx.before_commit()

    def committed(self) -> None:
        """Remember what each user's part committed, as a single transaction does."""
        for tx in self._users.values():
            tx.committed()

    def forget(self) -> None:
        """The batch rolled back: no user's cached snapshot is trusted any more."""
        cache = self._store._snapshots
        if cache is not None:
            for user_id in self._users:
                cache.forget(user_id)

    def _user(self, user_id: str) -> SQLiteTransaction:
        tx = self._users.get(user_id)
        if tx is None:
            if user_id not in self._user_ids:
                raise StoreError(f"user {user_id!r} is not one of this batch transaction's users")
            tx = self._users[user_id] = SQLiteTransaction(self._store, self._conn, user_id)
            tx._begun = True  # the batch holds the write lock already
        return tx


class BatchScope:
    """``with store.batch_transaction(users) as tx``: this process's turn to write and the
    database's write lock (``BEGIN IMMEDIATE``) from entry to ``COMMIT``; each user's
    guessed snapshot checked before the commit and remembered after it."""

    __slots__ = ("_batch", "_conn", "_store", "_user_ids")

    def __init__(self, store: Writer, user_ids: Collection[str]) -> None:
        self._store = store
        self._user_ids = user_ids

    def __enter__(self) -> SQLiteBatch:
        store = self._store
        conn = store._writer_turn()
        try:
            execute(conn, "BEGIN IMMEDIATE", doing="begin a transaction")
        except BaseException:
            store._writer_done(conn)
            raise
        self._conn = conn
        self._batch = SQLiteBatch(store, conn, self._user_ids)
        return self._batch

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, batch = self._conn, self._batch
        try:
            if exc is not None:
                rollback(conn)
                batch.forget()
                return
            try:
                batch.before_commit()
                conn.execute("COMMIT")
            except BaseException as error:
                rollback(conn)
                batch.forget()
                if isinstance(error, sqlite3.Error):
                    raise wrap(error, "commit") from error
                raise
            batch.committed()
        finally:
            self._store._writer_done(conn)

"""The SQLite store's write transaction: its turn, ``BEGIN IMMEDIATE``, commit or rollback.

A plain class rather than a generator context manager: it runs once per award, and
entering and leaving it is on every award's path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from ._sqlite_driver import rollback, wrap
from ._sqlite_tx import SQLiteTransaction, TransactionOwner

__all__ = ["WriteScope", "Writer"]


class Writer(TransactionOwner, Protocol):
    """The store as a write transaction uses it: a turn to write, on a connection."""

    def _writer_turn(self) -> sqlite3.Connection: ...

    def _writer_done(self, conn: sqlite3.Connection) -> None: ...


class WriteScope:
    """``with store.transaction(user_id) as tx``: this process's turn to write, and the
    database's write lock from ``BEGIN IMMEDIATE`` (the first statement that needs it) to
    ``COMMIT``.

    On a clean exit the transaction checks a guessed snapshot it wrote nothing against,
    commits, and then remembers what it committed; on an exception it rolls back (and
    raises :class:`StaleSnapshotError` instead if the exception came of a decision on an
    out-of-date guess).
    """

    __slots__ = ("_conn", "_make", "_store", "_tx", "_user_id")

    def __init__(
        self,
        store: Writer,
        user_id: str,
        make: Callable[[TransactionOwner, sqlite3.Connection, str], SQLiteTransaction],
    ) -> None:
        self._store = store
        self._user_id = user_id
        self._make = make
        self._conn: sqlite3.Connection | None = None
        self._tx: SQLiteTransaction | None = None

    def __enter__(self) -> SQLiteTransaction:
        # The database's lock is taken by the transaction's first statement that needs
        # it (see SQLiteTransaction._begin); this process's turn is taken here.
        store = self._store
        conn = store._writer_turn()
        try:
            self._tx = tx = self._make(store, conn, self._user_id)
        except BaseException:
            store._writer_done(conn)
            raise
        self._conn = conn
        return tx

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, tx = self._conn, self._tx
        assert conn is not None
        assert tx is not None
        try:
            if exc is not None:
                instead = tx.after_failure(exc)
                rollback(conn)
                if instead is not None:
                    raise instead from exc
                return
            try:
                tx.before_commit()
                if conn.in_transaction:
                    conn.execute("COMMIT")
            except sqlite3.Error as error:
                rollback(conn)
                cache = self._store._snapshots
                if cache is not None:
                    cache.forget(self._user_id)
                raise wrap(error, "commit") from error
            except BaseException:
                rollback(conn)
                raise
            tx.committed()
        finally:
            self._store._writer_done(conn)

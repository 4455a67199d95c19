"""The SQLite store's dealings with ``sqlite3``: every driver error as the library's
(also those met while fetching rows), and how a file is opened read-only safely."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any
from urllib.parse import quote

from ..errors import ReadOnlyStoreError, StoreError, StoreUnavailableError

__all__ = ["DUPLICATE", "execute", "read_only_uri", "rollback", "unchangeable", "wrap"]

# Primary result codes meaning "not reachable now, may work later": the lock wait
# timed out, the disk failed or is full, the file cannot be opened.
_UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_PROTOCOL,
    }
)
# Extended codes of a duplicate: the user's row, or an idempotency key, already exists.
DUPLICATE = frozenset({sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE})


def wrap(exc: sqlite3.Error, doing: str) -> StoreError:
    """The library's error for a driver error (raise it ``from exc``)."""
    code = getattr(exc, "sqlite_errorcode", None)
    message = f"SQLite could not {doing}: {exc}"
    if isinstance(code, int) and code & 0xFF in _UNAVAILABLE:
        return StoreUnavailableError(message)
    if isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_READONLY:
        return ReadOnlyStoreError(
            f"{message} (the database cannot be written here: open it with read_only=True "
            "to read it)"
        )
    return StoreError(message)


class _Cursor(sqlite3.Cursor):
    """A cursor whose fetches raise the library's errors, as its ``execute`` does.

    SQLite reads rows as they are fetched, so a corrupt page can fail a fetch
    long after ``execute`` returned.
    """

    doing = "read"

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise wrap(exc, self.doing) from exc

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(self.arraysize if size is None else size)
        except sqlite3.Error as exc:
            raise wrap(exc, self.doing) from exc

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise wrap(exc, self.doing) from exc

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise wrap(exc, self.doing) from exc


def execute(
    conn: sqlite3.Connection,
    sql: str,
    params: Mapping[str, object] | Sequence[object] = (),
    *,
    doing: str,
) -> sqlite3.Cursor:
    """Run ``sql``; a driver error, now or while fetching its rows, becomes the library's."""
    try:
        cursor = conn.cursor(_Cursor)
        cursor.doing = doing
        return cursor.execute(sql, params)
    except sqlite3.Error as exc:
        raise wrap(exc, doing) from exc


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open; a failure leaves the connection to be closed."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def read_only_uri(path: str) -> str:
    """The URI that opens ``path`` read-only: SQLite never creates or writes the file."""
    return "file:" + quote(os.path.abspath(path), safe="/") + "?mode=ro"


def unchangeable(path: str) -> bool:
    """Whether the database at ``path`` can be read as ``immutable``: nobody can change it.

    Every commit is in the file (no ``-wal``, ``-shm`` or ``-journal`` beside it:
    while any connection has a WAL database open, its ``-wal`` exists), and no
    process can write it short of the superuser or a ``chmod``: it sits on a
    read-only file system, or the file has no write permission for anyone.
    """
    if any(os.path.lexists(path + suffix) for suffix in ("-wal", "-shm", "-journal")):
        return False
    try:
        if hasattr(os, "statvfs") and os.statvfs(path).f_flag & os.ST_RDONLY:
            return True
        return not os.stat(path).st_mode & 0o222
    except OSError:
        return False

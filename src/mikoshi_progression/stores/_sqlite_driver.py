"""The SQLite store's dealings with ``sqlite3``: every driver error as the library's
(also those met while fetching rows), and how a file is opened read-only safely."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any
from urllib.parse import quote

from ..errors import InvalidArgumentError, ReadOnlyStoreError, StoreError, StoreUnavailableError

__all__ = [
    "DUPLICATE",
    "SYNCHRONOUS",
    "check_options",
    "checked_path",
    "connect_read_only",
    "execute",
    "read_only_uri",
    "rollback",
    "unchangeable",
    "wrap",
]

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


_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
# SQLite's busy timeout is a C int of milliseconds: about 24 days at most.
_MAX_TIMEOUT = 2_000_000


def checked_path(path: object) -> str:
    """``path`` as a string (``":memory:"`` for an empty one), if it can name a file."""
    try:
        text = os.fspath(path)  # type: ignore[call-overload]
    except TypeError:
        text = None
    if not isinstance(text, str) or "\0" in text:
        raise InvalidArgumentError("path", "a file path (str or os.PathLike) or ':memory:'", path)
    return text or ":memory:"


def check_options(
    *,
    timeout: object,
    table_prefix: object,
    synchronous: object,
    pool_size: object,
    snapshot_cache: object,
) -> None:
    """Refuse options that cannot work, before anything is opened."""
    if not isinstance(table_prefix, str) or not _PREFIX.match(table_prefix):
        raise InvalidArgumentError(
            "table_prefix",
            "letters, digits and underscores, not starting with a digit",
            table_prefix,
        )
    if not isinstance(synchronous, str) or synchronous.upper() not in SYNCHRONOUS:
        raise InvalidArgumentError("synchronous", f"one of {', '.join(SYNCHRONOUS)}", synchronous)
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not 0 <= timeout <= _MAX_TIMEOUT
    ):
        raise InvalidArgumentError(
            "timeout", f"a number of seconds from 0 to {_MAX_TIMEOUT:,}", timeout
        )
    if not isinstance(pool_size, int) or isinstance(pool_size, bool) or pool_size < 0:
        raise InvalidArgumentError("pool_size", "a non-negative integer", pool_size)
    cache = snapshot_cache
    if not isinstance(cache, int) or isinstance(cache, bool) or cache < 0:
        raise InvalidArgumentError(
            "snapshot_cache", "0 (off) or a positive number of users", snapshot_cache
        )


def connect_read_only(path: str, uri: str, timeout: float) -> tuple[sqlite3.Connection, str]:
    """A connection that can only read, and the URI that opened it (``uri``, or made
    ``immutable``): the journal mode is left as it is, no table made.

    ``mode=ro`` takes SQLite's usual shared locks, so the store reads safely beside
    writers in other processes. A database in WAL mode needs its ``-shm`` (and
    ``-wal``) file for that: SQLite creates it if it is missing and the directory
    is writable, and reads through an existing one even where it cannot write it.
    Where neither is possible (a WAL database in a read-only directory with no
    ``-shm``), the file is opened ``immutable=1``, which reads it without locks or
    WAL, but only when that is safe (see :func:`unchangeable`): every commit is
    in the file and nobody can change it. ``immutable`` on a file that can change
    would read torn pages when a writer checkpoints into it, and beside a ``-wal``
    holding commits would miss them; ``nolock`` has the first fault. Such a
    database is refused with StoreUnavailableError rather than read wrongly.
    """
    try:
        conn = sqlite3.connect(
            uri,
            uri=True,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise wrap(exc, f"open {path!r} read-only") from exc
    try:
        # The file is opened lazily: a first read tells whether it can be read.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.Error as exc:
        conn.close()
        code = getattr(exc, "sqlite_errorcode", 0) or 0
        # What a file that exists and is readable fails with when its -shm is missing.
        no_shm = code & 0xFF in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN)
        if not no_shm or not os.access(path, os.R_OK):
            raise wrap(exc, f"open {path!r} read-only") from exc
        if "&immutable=1" not in uri and unchangeable(path):
            return connect_read_only(path, uri + "&immutable=1", timeout)
        raise StoreUnavailableError(
            f"SQLite could not open {path!r} read-only: {exc}. A database in WAL "
            "mode is read through its -shm file, which is missing and cannot be created "
            "in its directory: make the directory writable, or, if nothing writes the "
            "database any more, make the file read-only for everyone (chmod a-w) with no "
            "-wal, -shm or -journal file beside it"
        ) from exc
    return conn, uri

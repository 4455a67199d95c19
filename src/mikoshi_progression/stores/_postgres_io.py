# Generated from _postgres_io_async.py by tools/async_to_sync.py: do not edit.
# Change _postgres_io_async.py, then run `python tools/async_to_sync.py`
# (tests/test_generated_code.py fails while this file is not what it generates).
"""The PostgreSQL store's dealings with psycopg that do I/O: opening its own pool, lending
a connection of it and taking it back as it was lent, fetching rows with the driver's
errors translated.

What needs no I/O (connection arguments, error translation) is in :mod:`._postgres_driver`,
shared by both stores.
"""

from __future__ import annotations

from typing import Any, Protocol
from weakref import WeakKeyDictionary

import psycopg
from psycopg import Connection, Cursor
from psycopg.rows import TupleRow, tuple_row
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from ..errors import StoreError, StoreUnavailableError
from ._postgres_driver import CHUNKED_STREAMS, STREAM_CHUNK, wrap

__all__ = ["Borrowed", "PoolOwner", "fetch_streamed", "fetchall", "open_pool", "settle"]

_IDLE = psycopg.pq.TransactionStatus.IDLE
_BROKEN = psycopg.pq.TransactionStatus.UNKNOWN

_CURSORS: WeakKeyDictionary[Connection[Any], Cursor[TupleRow]] = WeakKeyDictionary()
"""Each pooled connection's cursor for the award's statements, made on its first award.

``conn.execute`` makes a cursor per statement, a third of psycopg's client CPU for a
prepared one-row statement (``benchmarks/profile_postgres_award.py``); a connection is
lent to one borrower at a time, so its cursor is too. Dropped with the connection."""


def open_pool(
    dsn: str,
    min_size: int,
    max_size: int,
    timeout: float,
    kwargs: dict[str, Any],
) -> ConnectionPool[Connection[TupleRow]]:
    """An open pool of ``kwargs`` connections (see :func:`._postgres_driver.pool_kwargs`).

    Raises:
        StoreUnavailableError: the server cannot be reached, or the pool not filled in time.
    """
    # One direct attempt first: an unreachable server fails at once, with libpq's reason.
    try:
        probe = Connection.connect(dsn, **kwargs)
    except psycopg.Error as exc:
        raise StoreUnavailableError(f"cannot connect to PostgreSQL: {exc}") from exc
    probe.close()
    pool: ConnectionPool[Connection[TupleRow]] = ConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        kwargs=kwargs,
        open=False,
        timeout=timeout,
        name="mikoshi-progression",
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except BaseException as exc:  # a cancelled or interrupted opening too: no pool left open
        pool.close()
        if isinstance(exc, psycopg.Error):
            message = f"cannot open a PostgreSQL connection pool: {exc}"
            raise StoreUnavailableError(message) from exc
        raise
    return pool


def settle(conn: Connection[Any], autocommit: bool, row_factory: Any) -> None:
    """Leave a borrowed connection idle and as it was lent, before it goes back."""
    if row_factory is not tuple_row:
        conn.row_factory = row_factory
    status = conn.info.transaction_status
    if status == _IDLE:
        if not autocommit:
            conn.autocommit = False
        return
    if status == _BROKEN:
        return  # the pool discards it
    try:
        conn.execute("ROLLBACK")
        if not autocommit:
            conn.autocommit = False
    except psycopg.Error:
        pass  # the pool closes a connection it cannot reset


def fetchall(conn: Connection[Any], query: str, params: Any, doing: str) -> list[TupleRow]:
    """All the rows of ``query``; a driver error becomes the library's (:func:`wrap`)."""
    try:
        cursor = conn.execute(query, params)
        return cursor.fetchall()
    except psycopg.Error as exc:
        raise wrap(exc, doing) from exc


def fetch_streamed(conn: Connection[Any], query: str, params: Any, doing: str) -> list[TupleRow]:
    """All the rows of ``query`` in binary (no text to parse), streamed in chunks where
    libpq can (17 and later): one round trip, and the client never holds the whole result
    beside the rows made of it. A driver error becomes the library's (:func:`wrap`)."""
    try:
        cursor = conn.cursor(binary=True)
        if CHUNKED_STREAMS:
            stream = cursor.stream(query, params, size=STREAM_CHUNK)
            return list(stream)
        cursor.execute(query, params)
        return cursor.fetchall()
    except psycopg.Error as exc:
        raise wrap(exc, doing) from exc


class PoolOwner(Protocol):
    """What :class:`Borrowed` reads of the store it lends for, when it lends: the pool
    (``None`` until opened), whether the store was closed, and how long to wait."""

    @property
    def _pool(self) -> ConnectionPool[Any] | None: ...

    @property
    def _closed(self) -> bool: ...

    @property
    def _timeout(self) -> float: ...


class Borrowed:
    """A pooled connection, lent in autocommit mode with tuple rows, given back as it was."""

    __slots__ = ("_autocommit", "_pool", "_row_factory", "_store", "conn")

    def cursor(self) -> Cursor[TupleRow]:
        """The borrowed connection's own cursor, with tuple rows (kept for its next
        borrower: see ``_CURSORS``)."""
        conn = self.conn
        cursor = _CURSORS.get(conn)
        if cursor is None or cursor.closed:
            cursor = _CURSORS[conn] = conn.cursor(row_factory=tuple_row)
        return cursor

    def __init__(self, store: PoolOwner) -> None:
        self._store = store

    def __enter__(self) -> psycopg.Connection[Any]:
        store = self._store
        pool = store._pool
        if store._closed:
            raise StoreError("the PostgreSQL store is closed")
        if pool is None:
            raise StoreError(
                "the PostgreSQL store is not open: call store.open() first, or use "
                "with PostgresStore(...) as store"
            )
        try:
            conn: psycopg.Connection[Any] = pool.getconn(timeout=store._timeout)
        except PoolClosed as exc:
            raise StoreError("the PostgreSQL store's connection pool is closed") from exc
        except PoolTimeout as exc:
            raise StoreUnavailableError(
                f"no PostgreSQL connection available within {store._timeout:g} s "
                f"(pool of at most {pool.max_size}): {exc}"
            ) from exc
        except psycopg.Error as exc:
            raise wrap(exc, "connect") from exc
        self._pool = pool
        self.conn = conn
        self._autocommit = conn.autocommit
        self._row_factory = conn.row_factory
        try:
            if not self._autocommit:
                conn.autocommit = True
            if self._row_factory is not tuple_row:
                conn.row_factory = tuple_row
        except BaseException:
            self.__exit__()
            raise
        return conn

    def __exit__(self, *exc_info: object) -> None:
        conn = self.conn
        settle(conn, self._autocommit, self._row_factory)
        self._pool.putconn(conn)

"""The PostgreSQL store's dealings with psycopg: the pool, borrowed connections, and the
translation of every driver error into the library's (outage, conflict or failure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow, tuple_row
from psycopg_pool import ConnectionPool

from ..errors import StoreError, StoreUnavailableError
from .base import StaleVersionError

__all__ = ["BAD_VALUE_SQLSTATES", "fetchall", "open_pool", "settle", "wrap"]

_UNAVAILABLE_SQLSTATES = frozenset({"25006"})
"""Failures that a retry elsewhere can cure: read-only transaction (a failed-over primary)."""
_PERMANENT_SQLSTATES = frozenset({"55000", "55P02", "55P04"})
"""Operational errors that no retry cures (an object in the wrong state), beside class 54,
program limits exceeded (a statement or a value too large)."""
BAD_VALUE_SQLSTATES = frozenset({"22P02", "22003", "22007", "22008", "22021"})
"""A value the column's type cannot read: invalid text, out of range, bad encoding."""


def open_pool(
    dsn: str,
    min_size: int,
    max_size: int,
    timeout: float,
    connect_kwargs: Mapping[str, Any] | None,
) -> ConnectionPool[psycopg.Connection[TupleRow]]:
    try:
        given = conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        raise StoreError(f"malformed PostgreSQL connection string: {exc}") from exc
    kwargs: dict[str, Any] = {}
    if "connect_timeout" not in given:
        kwargs["connect_timeout"] = max(1, round(timeout))
    kwargs.update(connect_kwargs or {})
    kwargs["autocommit"] = True
    # One direct attempt first: an unreachable server fails at once, with libpq's reason.
    try:
        psycopg.connect(dsn, **kwargs).close()
    except psycopg.Error as exc:
        raise StoreUnavailableError(f"cannot connect to PostgreSQL: {exc}") from exc
    pool: ConnectionPool[psycopg.Connection[TupleRow]] = ConnectionPool(
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
    except psycopg.Error as exc:
        pool.close()
        raise StoreUnavailableError(f"cannot open a PostgreSQL connection pool: {exc}") from exc
    return pool


def settle(conn: psycopg.Connection[Any], autocommit: bool, row_factory: Any) -> None:
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


_IDLE = psycopg.pq.TransactionStatus.IDLE
_BROKEN = psycopg.pq.TransactionStatus.UNKNOWN


def fetchall(conn: psycopg.Connection[Any], query: str, params: Any, doing: str) -> list[TupleRow]:
    try:
        return conn.execute(query, params).fetchall()
    except psycopg.Error as exc:
        raise wrap(exc, doing) from exc


def wrap(exc: psycopg.Error, doing: str, *, writing: bool = False) -> StoreError:
    """The library's error for a driver error (the caller chains it with ``from``)."""
    message = f"PostgreSQL: cannot {doing}: {type(exc).__name__}: {exc}".rstrip()
    if len(message) > 500:  # a statement's parameters can be echoed back whole
        message = message[:497] + "..."
    sqlstate = exc.sqlstate or ""
    if sqlstate.startswith("40") or (writing and isinstance(exc, pg_errors.UniqueViolation)):
        return StaleVersionError(message)
    if sqlstate.startswith("54") or sqlstate in _PERMANENT_SQLSTATES:
        return StoreError(message)  # permanent: retrying the same statement fails again
    if isinstance(exc, psycopg.OperationalError) or sqlstate in _UNAVAILABLE_SQLSTATES:
        return StoreUnavailableError(message)
    if isinstance(exc, (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName)):
        return StoreError(f"{message} (run create_schema() first?)")
    return StoreError(message)

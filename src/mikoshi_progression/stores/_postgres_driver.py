"""The PostgreSQL stores' dealings with psycopg that do no I/O, shared by the sync and the
async store: the own pool's connection arguments, and the translation of every driver error
into the library's (outage, conflict or failure).

The dealings that do I/O (opening the pool, settling a borrowed connection, fetching rows)
are in :mod:`._postgres_io_async` and its generated sync twin :mod:`._postgres_io`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from ..errors import StoreError, StoreUnavailableError
from .base import StaleVersionError

__all__ = ["BAD_VALUE_SQLSTATES", "CHUNKED_STREAMS", "STREAM_CHUNK", "pool_kwargs", "wrap"]

_UNAVAILABLE_SQLSTATES = frozenset({"25006"})
"""Failures that a retry elsewhere can cure: read-only transaction (a failed-over primary)."""
_PERMANENT_SQLSTATES = frozenset({"55000", "55P02", "55P04"})
"""Operational errors that no retry cures (an object in the wrong state), beside class 54,
program limits exceeded (a statement or a value too large)."""
BAD_VALUE_SQLSTATES = frozenset({"22P02", "22003", "22007", "22008", "22021"})
"""A value the column's type cannot read: invalid text, out of range, bad encoding."""


def _chunked_streams() -> bool:
    try:
        from psycopg import capabilities  # psycopg 3.2 and later
    except ImportError:  # pragma: no cover - psycopg 3.1
        return False
    return capabilities.has_stream_chunked()


CHUNKED_STREAMS = _chunked_streams()
"""Whether ``cursor.stream(..., size=n)`` hands rows over n at a time (libpq 17 and later)."""
STREAM_CHUNK = 1_000
"""Rows per chunk of a streamed result: big enough that a chunk's overhead vanishes."""


def pool_kwargs(dsn: str, timeout: float, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The connection arguments of a store's own pool (checks ``dsn``'s syntax; no I/O).

    Raises:
        StoreError: ``dsn`` is not a connection string.
    """
    try:
        given = conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        raise StoreError(f"malformed PostgreSQL connection string: {exc}") from exc
    kwargs: dict[str, Any] = {}
    if "connect_timeout" not in given:
        kwargs["connect_timeout"] = max(1, round(timeout))
    kwargs.update(extra or {})
    kwargs["autocommit"] = True
    return kwargs


def wrap(exc: psycopg.Error, doing: str, *, writing: bool = False) -> StoreError:
    """The library's error for a driver error (the caller chains it with ``from``)."""
    message = f"PostgreSQL: cannot {doing}: {type(exc).__name__}: {exc}".rstrip()
    if len(message) > 500:  # a statement's parameters can be echoed back whole
        message = message[:497] + "..."
    sqlstate = exc.sqlstate or ""
    unique = isinstance(exc, pg_errors.UniqueViolation) or _citus_unique_violation(exc)
    if sqlstate.startswith("40") or (writing and unique):
        return StaleVersionError(message)
    if sqlstate.startswith("54") or sqlstate in _PERMANENT_SQLSTATES:
        return StoreError(message)  # permanent: retrying the same statement fails again
    if isinstance(exc, psycopg.OperationalError) or sqlstate in _UNAVAILABLE_SQLSTATES:
        return StoreUnavailableError(message)
    if isinstance(exc, (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName)):
        return StoreError(f"{message} (run create_schema() first?)")
    return StoreError(message)


def _citus_unique_violation(exc: psycopg.Error) -> bool:
    """A unique violation Citus reports without its SQLSTATE.

    The write's ledger rows reach the workers by ``COPY`` from the coordinator (Citus plans
    an ``INSERT ... SELECT`` from a CTE so), and Citus re-raises a failed ``COPY``'s message
    as an internal error (``XX000``, from its function ``ReportCopyError``): only the
    message says it was a unique violation (in the server's ``lc_messages`` language; in
    another, the write fails as a ``StoreError`` instead of losing a race).
    """
    diag = exc.diag
    return (
        exc.sqlstate == "XX000"
        and diag.source_function == "ReportCopyError"
        and "unique constraint" in (diag.message_primary or "")
    )

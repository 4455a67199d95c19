"""Persistence adapters behind one protocol, and ``open_store(url)`` to pick one.

- ``memory://``: an :class:`InMemoryStore` (one process; the reference for tests);
- ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or
  ``sqlite://:memory:``: a :class:`SQLiteStore`, the embedded default;
- ``postgresql://user@host/db``: a ``PostgresStore`` (needs the ``[postgres]`` extra,
  so it is imported from ``mikoshi_progression.stores.postgres``);
- a SQLAlchemy URL naming its driver (``postgresql+psycopg://...``,
  ``sqlite+pysqlite:///path.db``): a ``SQLAlchemyStore`` (the ``[sqlalchemy]`` extra,
  imported from ``mikoshi_progression.sqlalchemy``).

``await open_async_store(url)`` opens their async twins (:class:`AsyncInMemoryStore`,
:class:`AsyncSQLiteStore`, ``AsyncPostgresStore``) for
:class:`~mikoshi_progression.service.AsyncProgressionService`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import UnsupportedStoreError
from ._async_adapter import AsyncInMemoryStore, AsyncSQLiteStore
from ._feed import (
    CommittedEvent,
    EventFeedStore,
    EventsPage,
)
from ._snapshots import SnapshotCacheInfo
from .async_base import (
    AsyncBatchRunner,
    AsyncBatchStore,
    AsyncBatchTransaction,
    AsyncCanonicalIdStore,
    AsyncEventFeedStore,
    AsyncJoinableStore,
    AsyncMigratingStore,
    AsyncMonitoringStore,
    AsyncProgressStore,
    AsyncReplayReader,
    AsyncRequestKeyStore,
    AsyncSchemaStore,
    AsyncStateReader,
    AsyncStoreTransaction,
    AsyncTransactionRunner,
    JoinableStore,
)
from .base import (
    ADJUSTED,
    CLOCK_FAULT,
    MANUAL_RESET,
    SCHEMA_VERSION,
    SET,
    BatchStore,
    BatchTransaction,
    CanonicalIdStore,
    EntryKind,
    LedgerEntry,
    MigratingStore,
    MonitoringStore,
    ProgressStore,
    ReplayReader,
    ReplayRow,
    RequestKeyStore,
    SchemaReport,
    SchemaStore,
    Snapshot,
    StaleSnapshotError,
    StaleVersionError,
    StateReader,
    StoredFormStore,
    StoreTransaction,
    UserActivity,
    UserWrite,
)
from .memory import InMemoryStore
from .sqlite import SQLiteStore

__all__ = [
    "ADJUSTED",
    "CLOCK_FAULT",
    "MANUAL_RESET",
    "SCHEMA_VERSION",
    "SET",
    "AsyncBatchRunner",
    "AsyncBatchStore",
    "AsyncBatchTransaction",
    "AsyncCanonicalIdStore",
    "AsyncEventFeedStore",
    "AsyncInMemoryStore",
    "AsyncJoinableStore",
    "AsyncMigratingStore",
    "AsyncMonitoringStore",
    "AsyncProgressStore",
    "AsyncReplayReader",
    "AsyncRequestKeyStore",
    "AsyncSQLiteStore",
    "AsyncSchemaStore",
    "AsyncStateReader",
    "AsyncStoreTransaction",
    "AsyncTransactionRunner",
    "BatchStore",
    "BatchTransaction",
    "CanonicalIdStore",
    "CommittedEvent",
    "EntryKind",
    "EventFeedStore",
    "EventsPage",
    "InMemoryStore",
    "JoinableStore",
    "LedgerEntry",
    "MigratingStore",
    "MonitoringStore",
    "ProgressStore",
    "ReplayReader",
    "ReplayRow",
    "RequestKeyStore",
    "SQLiteStore",
    "SchemaReport",
    "SchemaStore",
    "Snapshot",
    "SnapshotCacheInfo",
    "StaleSnapshotError",
    "StaleVersionError",
    "StateReader",
    "StoreTransaction",
    "StoredFormStore",
    "UserActivity",
    "UserWrite",
    "open_async_store",
    "open_store",
]


def _scheme(url: object) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://") if isinstance(url, str) else ("", "", "")
    if not sep:
        raise UnsupportedStoreError(
            f"not a store URL: {url!r} (expected memory://, sqlite:///path.db or postgresql://...)"
        )
    if "+" in scheme:
        # The stores never import an integration: SQLAlchemy's URLs go to its own stores.
        raise UnsupportedStoreError(
            f"{url!r} is a SQLAlchemy URL: open it with "
            "mikoshi_progression.sqlalchemy.SQLAlchemyStore(url) (or AsyncSQLAlchemyStore), "
            "or use postgresql://... or sqlite:///... here"
        )
    return scheme.lower(), rest


async def open_async_store(url: str, **options: Any) -> AsyncProgressStore:
    """Build an async store from a URL, as :func:`open_store` builds a sync one.

    ``memory://`` gives an :class:`AsyncInMemoryStore`, ``sqlite:///path.db`` an
    :class:`AsyncSQLiteStore` (opened in a worker thread), ``postgresql://...`` an
    ``AsyncPostgresStore`` with its pool open. ``options`` go to the store.

    Raises:
        UnsupportedStoreError: the scheme is none of those.
    """
    scheme, rest = _scheme(url)
    if scheme == "memory":
        return AsyncInMemoryStore(**options)
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        return await asyncio.to_thread(AsyncSQLiteStore, path or ":memory:", **options)
    if scheme in ("postgresql", "postgres"):
        from .postgres_async import AsyncPostgresStore

        store = AsyncPostgresStore(url, **options)
        await store.open()
        return store
    raise UnsupportedStoreError(
        f"unsupported store scheme {scheme!r} in {url!r} "
        "(expected memory://, sqlite:///path.db or postgresql://...)"
    )


def open_store(url: str, **options: Any) -> ProgressStore:
    """Build a store from a URL: ``memory://``, ``sqlite:///path.db``, ``postgresql://...``.

    ``options`` go to the store's constructor: ``open_store("sqlite:///progress.db",
    read_only=True)`` opens a SQLite file read-only.

    Raises:
        UnsupportedStoreError: the scheme is none of those.
    """
    scheme, rest = _scheme(url)
    if scheme == "memory":
        return InMemoryStore(**options)
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        return SQLiteStore(path or ":memory:", **options)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore(url, **options)
    raise UnsupportedStoreError(
        f"unsupported store scheme {scheme!r} in {url!r} "
        "(expected memory://, sqlite:///path.db or postgresql://...)"
    )

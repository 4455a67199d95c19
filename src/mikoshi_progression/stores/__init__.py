"""Persistence adapters behind one protocol, and ``open_store(url)`` to pick one.

- ``memory://``: an :class:`InMemoryStore` (one process; the reference for tests);
- ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or
  ``sqlite://:memory:``: a :class:`SQLiteStore`, the embedded default;
- ``postgresql://user@host/db``: a ``PostgresStore`` (needs the ``[postgres]`` extra,
  so it is imported from ``mikoshi_progression.stores.postgres``).
"""

from __future__ import annotations

from typing import Any

from ..errors import UnsupportedStoreError
from ._snapshots import SnapshotCacheInfo
from .base import (
    CLOCK_FAULT,
    CanonicalIdStore,
    EntryKind,
    LedgerEntry,
    MonitoringStore,
    ProgressStore,
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
)
from .memory import InMemoryStore
from .sqlite import SQLiteStore

__all__ = [
    "CLOCK_FAULT",
    "CanonicalIdStore",
    "EntryKind",
    "InMemoryStore",
    "LedgerEntry",
    "MonitoringStore",
    "ProgressStore",
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
    "open_store",
]


def open_store(url: str, **options: Any) -> ProgressStore:
    """Build a store from a URL: ``memory://``, ``sqlite:///path.db``, ``postgresql://...``.

    ``options`` go to the store's constructor: ``open_store("sqlite:///progress.db",
    read_only=True)`` opens a SQLite file read-only.

    Raises:
        UnsupportedStoreError: the scheme is none of those.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise UnsupportedStoreError(
            f"not a store URL: {url!r} (expected memory://, sqlite:///path.db or postgresql://...)"
        )
    scheme = scheme.lower()
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

"""Persistence adapters behind one protocol, and ``open_store(url)`` to pick one.

``memory://`` gives an :class:`InMemoryStore`, ``sqlite:///path.db`` (or
``sqlite://:memory:``) a ``SQLiteStore``, ``postgresql://...`` a ``PostgresStore``
(needs the ``[postgres]`` extra).
"""

from __future__ import annotations

from typing import Any

from ..errors import UnsupportedStoreError
from .base import (
    EntryKind,
    LedgerEntry,
    MonitoringStore,
    ProgressStore,
    SchemaReport,
    SchemaStore,
    Snapshot,
    StaleVersionError,
    StoreTransaction,
    UserActivity,
)
from .memory import InMemoryStore

__all__ = [
    "EntryKind",
    "InMemoryStore",
    "LedgerEntry",
    "MonitoringStore",
    "ProgressStore",
    "SchemaReport",
    "SchemaStore",
    "Snapshot",
    "StaleVersionError",
    "StoreTransaction",
    "UserActivity",
    "open_store",
]


def open_store(url: str, **options: Any) -> ProgressStore:
    """Build a store from a URL: ``memory://``, ``sqlite:///path.db``, ``postgresql://...``.

    ``options`` go to the store's constructor.

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
        from .sqlite import SQLiteStore

        path = rest[1:] if rest.startswith("/") else rest
        return SQLiteStore(path or ":memory:", **options)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore(url, **options)
    raise UnsupportedStoreError(
        f"unsupported store scheme {scheme!r} in {url!r} "
        "(expected memory://, sqlite:///path.db or postgresql://...)"
    )

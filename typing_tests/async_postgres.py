"""Type-checked, never run: AsyncPostgresStore is an AsyncProgressStore, and PostgresStore
(generated from it) a ProgressStore, with the optional protocols each claims."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import UTC, datetime
from typing import Any, assert_type

from psycopg_pool import AsyncConnectionPool

from mikoshi_progression import ProgressState
from mikoshi_progression.stores import (
    CanonicalIdStore,
    LedgerEntry,
    MonitoringStore,
    ProgressStore,
    ReplayReader,
    ReplayRow,
    RequestKeyStore,
    SchemaReport,
    SchemaStore,
    Snapshot,
    SnapshotCacheInfo,
    StoredFormStore,
    StoreTransaction,
    UserActivity,
)
from mikoshi_progression.stores.async_base import (
    AsyncCanonicalIdStore,
    AsyncMonitoringStore,
    AsyncProgressStore,
    AsyncReplayReader,
    AsyncRequestKeyStore,
    AsyncSchemaStore,
    AsyncStoreTransaction,
)
from mikoshi_progression.stores.postgres import PostgresStore
from mikoshi_progression.stores.postgres_async import AsyncPostgresStore

now = datetime(2026, 1, 1, tzinfo=UTC)


def serve(store: AsyncProgressStore) -> None: ...


async def main(pool: AsyncConnectionPool[Any]) -> None:
    store = AsyncPostgresStore("postgresql://app@db/platform", schema="progression")
    await store.open()
    serve(store)
    protocol: AsyncProgressStore = store
    schema: AsyncSchemaStore = store
    ids: AsyncCanonicalIdStore = store
    keys: AsyncRequestKeyStore = store
    monitoring: AsyncMonitoringStore = store
    stored: StoredFormStore = store  # pure, so the sync protocol
    replay: AsyncReplayReader = store
    del protocol, schema, ids, keys, monitoring, stored, replay

    assert_type(store.transaction("u"), AbstractAsyncContextManager[AsyncStoreTransaction])
    async with store.transaction("u") as tx:
        assert_type(await tx.load(), Snapshot)
        assert_type(await tx.load("key"), Snapshot)
        await tx.write(ProgressState(), None, [])
    assert_type(await store.ledger("u"), list[LedgerEntry])
    assert_type(await store.replay_rows("u"), list[ReplayRow])
    assert_type(await store.check_schema(), SchemaReport)
    assert_type(await store.check_user_id("u"), str)
    assert_type(await store.claim_key("scope", "k", "request", now), str)
    assert_type(await store.users_at_daily_cap({1: 150}, now), list[UserActivity])
    assert_type(await store.most_active_users({1: 150}, now, limit=3), list[UserActivity])
    assert_type(store.stored_form(ProgressState()), ProgressState)
    assert_type(store.snapshot_cache_info(), SnapshotCacheInfo | None)
    await store.put_state("u", ProgressState())
    await store.create_schema()
    await store.drop_schema()
    await store.close()

    async with AsyncPostgresStore(pool, locking="row") as shared:
        assert_type(shared, AsyncPostgresStore)


def sync_twin() -> None:
    store = PostgresStore("postgresql://app@db/platform")
    protocol: ProgressStore = store
    schema: SchemaStore = store
    ids: CanonicalIdStore = store
    keys: RequestKeyStore = store
    monitoring: MonitoringStore = store
    replay: ReplayReader = store
    del protocol, schema, ids, keys, monitoring, replay
    assert_type(store.transaction("u"), AbstractContextManager[StoreTransaction])
    assert_type(store.ledger("u"), list[LedgerEntry])
    with PostgresStore("postgresql://app@db/platform") as opened:
        assert_type(opened, PostgresStore)

"""Replay through a store's replay rows (``ReplayReader``) against replay through its ledger.

The store contract (``check_replay_rows_match_the_ledger``) compares the two on generated
ledgers for every sync backend and, over the bridge, the async ones; here the async
service reads the async stores themselves, and a damaged ledger fails either way alike.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from mikoshi_progression.errors import StoreError
from mikoshi_progression.service import AsyncProgressionService, ProgressionService
from mikoshi_progression.stores import (
    AsyncProgressStore,
    AsyncReplayReader,
    AsyncSQLiteStore,
    AsyncStateReader,
    AsyncStoreTransaction,
    EntryKind,
    LedgerEntry,
    ReplayReader,
    SQLiteStore,
    StoredFormStore,
)
from mikoshi_progression.testing.store_contract import LEVERS, START, FakeClock
from mikoshi_progression.testing.store_contract.replay import LedgerOnly


class AsyncLedgerOnly:
    """An async store without its ``AsyncReplayReader``: replay reads its ledger."""

    def __init__(self, store: AsyncProgressStore) -> None:
        self._store = store
        if isinstance(store, AsyncStateReader):
            self.read_state = store.read_state
        if isinstance(store, StoredFormStore):
            self.stored_form = store.stored_form

    def transaction(self, user_id: str) -> AbstractAsyncContextManager[AsyncStoreTransaction]:
        return self._store.transaction(user_id)

    async def ledger(self, user_id: str) -> list[LedgerEntry]:
        return await self._store.ledger(user_id)

    async def create_schema(self) -> None:
        await self._store.create_schema()

    async def close(self) -> None:
        """The store stays open: it is the test's."""


async def _every_kind(store: AsyncProgressStore, user: str) -> AsyncProgressionService:
    """A ledger with every kind of entry, under two configs: awards with the levers' events,
    a day, a time-zone move, a revocation, adjustments, an import, awards after it."""
    clock = FakeClock(START - timedelta(hours=6))
    service = AsyncProgressionService(store, config=LEVERS, clock=clock)
    default_rules = AsyncProgressionService(store, clock=clock)
    await service.award(user, "create_character", key="k1")
    await service.award(user, "daily_chat")
    await default_rules.award(user, "create_scene")
    clock.advance(hours=20)
    await service.set_timezone(user, "Asia/Tokyo")
    await service.award(user, "forked", actor_id="a-fan")
    await service.revoke(user, "k1")
    await service.adjust(user, 40, reason="goodwill", operator="op-1")
    await service.set_exp(user, 300, reason="migrated balance", operator="op-2")
    async with store.transaction(user) as tx:
        snap = await tx.load()
        adopted = replace(snap.state, exp=120)
        imported = LedgerEntry(
            user_id=user,
            kind=EntryKind.IMPORT,
            action="",
            exp_delta=0,
            level_before=snap.state.level,
            level_after=adopted.level,
            key=None,
            at=clock(),
            config_fingerprint="legacy",
            state_after=adopted,
        )
        await tx.write(adopted, snap.version, [imported])
    clock.advance(hours=30)
    await service.award(user, "daily_chat")
    await service.set_timezone(user, None)
    await service.award(user, "create_scene")
    return service


async def _same_report_both_ways(store: AsyncProgressStore) -> None:
    assert isinstance(store, AsyncReplayReader)
    user = f"replay-{uuid.uuid4().hex[:8]}"
    service = await _every_kind(store, user)
    kinds = {entry.kind for entry in await store.ledger(user)}
    assert kinds == set(EntryKind), kinds
    fast = await service.replay(user)
    through_ledger = AsyncProgressionService(AsyncLedgerOnly(store), config=LEVERS)
    assert fast == await through_ledger.replay(user)
    assert fast.matches
    assert fast.entries == len(await store.ledger(user))
    default_rules = AsyncProgressionService(store).config.fingerprint
    assert fast.foreign_fingerprints == tuple(sorted([default_rules, "legacy"]))


@pytest.mark.sqlite
def test_async_sqlite_replay_reads_rows_and_reports_as_the_ledger(tmp_path: Path) -> None:
    async def run() -> None:
        store = AsyncSQLiteStore(tmp_path / "replay.db")
        try:
            await _same_report_both_ways(store)
        finally:
            await store.close()

    asyncio.run(run())


@pytest.mark.postgres
def test_async_postgres_replay_reads_rows_and_reports_as_the_ledger(postgres_dsn: str) -> None:
    from mikoshi_progression.stores.postgres_async import AsyncPostgresStore

    async def run() -> None:
        schema = f"mikoshi_test_replay_{uuid.uuid4().hex[:10]}"
        store = AsyncPostgresStore(postgres_dsn, schema=schema)
        await store.open()
        try:
            await _same_report_both_ways(store)
        finally:
            await store.drop_schema()
            await store.close()

    asyncio.run(run())


# --- a damaged ledger fails alike -------------------------------------------------------


def _damaged(path: Path, damage: str) -> tuple[ProgressionService, ProgressionService, str]:
    """A SQLite ledger of three entries, the last one then damaged by ``damage`` (SQL)."""
    store = SQLiteStore(path)
    service = ProgressionService(store, clock=FakeClock(START))
    user = "damaged"
    service.award(user, "create_scene")
    service.reset_daily(user, operator="op-1")
    with sqlite3.connect(path) as conn:
        conn.execute(damage, (user,))
    conn.close()
    return service, ProgressionService(LedgerOnly(store), clock=FakeClock(START)), user


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            "UPDATE mikoshi_ledger SET kind = 'bonus' WHERE user_id = ? AND kind = 'day'",
            "bonus",
        ),
        (
            "UPDATE mikoshi_ledger SET kind = 'import', state_after = '{\"exp\": -3}' "
            "WHERE user_id = ? AND kind = 'day'",
            "damaged",
        ),
        (
            "UPDATE mikoshi_ledger SET at = 'yesterday' WHERE user_id = ? AND kind = 'day'",
            "damaged",
        ),
    ],
    ids=["unknown kind", "invalid import state", "unreadable moment"],
)
def test_a_damaged_ledger_is_a_store_error_both_ways(
    tmp_path: Path, damage: str, message: str
) -> None:
    fast, through_ledger, user = _damaged(tmp_path / "damaged.db", damage)
    assert isinstance(fast.store, ReplayReader)
    for service in (fast, through_ledger):
        with pytest.raises(StoreError, match=message):
            service.replay(user)


@pytest.mark.sqlite
def test_replay_rows_decode_only_the_states_the_fold_reads(tmp_path: Path) -> None:
    """An award's state is never read for a replay (a damaged one does not matter); an
    import's and a time-zone move's are, as the ledger has them."""
    path = tmp_path / "states.db"
    store = SQLiteStore(path)
    clock = FakeClock(START)
    service = ProgressionService(store, config=LEVERS, clock=clock)
    service.award("u", "create_scene")
    service.set_timezone("u", "Asia/Tokyo")
    rows = store.replay_rows("u")
    ledger = store.ledger("u")
    assert [row[5] for row in rows] == [
        entry.state_after if entry.kind is EntryKind.TIMEZONE else None for entry in ledger
    ]
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE mikoshi_ledger SET state_after = '[]' WHERE kind = 'award'")
    conn.close()
    assert service.replay("u").matches
    with pytest.raises(StoreError):
        store.ledger("u")


@pytest.mark.postgres
def test_postgres_replay_rows_are_utc_whatever_the_sessions_zone(postgres_dsn: str) -> None:
    """A session in another zone reads the ledger's moments in that zone; the replay rows
    read them in UTC (where the core is fastest): the same instants, the same report."""
    from mikoshi_progression.stores.postgres import PostgresStore

    schema = f"mikoshi_test_replay_{uuid.uuid4().hex[:10]}"
    tokyo = {"options": "-c TimeZone=Asia/Tokyo"}
    store = PostgresStore(postgres_dsn, schema=schema, connect_kwargs=tokyo)
    try:
        clock = FakeClock(START)
        service = ProgressionService(store, config=LEVERS, clock=clock)
        for hours in (0, 5, 20, 30):
            clock.set(START + timedelta(hours=hours))
            service.award("u", "daily_chat")
            service.award("u", "create_scene")
        service.set_timezone("u", "America/New_York")
        ledger = store.ledger("u")
        rows = store.replay_rows("u")
        assert {entry.at.utcoffset() for entry in ledger} == {timedelta(hours=9)}
        assert {row[1].tzinfo for row in rows} == {UTC}
        assert [row[1] for row in rows] == [entry.at for entry in ledger]
        report = service.replay("u")
        through_ledger = ProgressionService(LedgerOnly(store), config=LEVERS, clock=clock)
        assert report == through_ledger.replay("u")
        assert report.matches
    finally:
        store.drop_schema()
        store.close()


@pytest.mark.postgres
def test_postgres_replay_rows_without_chunked_streams(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a libpq before 17 (no chunked streams) the rows are fetched at once: the same."""
    from mikoshi_progression.stores import _postgres_io
    from mikoshi_progression.stores.postgres import PostgresStore

    schema = f"mikoshi_test_replay_{uuid.uuid4().hex[:10]}"
    store = PostgresStore(postgres_dsn, schema=schema)
    try:
        clock = FakeClock(START)
        service = ProgressionService(store, config=LEVERS, clock=clock)
        for _ in range(3):
            service.award("u", "daily_chat")
            service.set_timezone("u", "Asia/Tokyo" if clock() == START else None)
            clock.advance(hours=26)
        streamed = store.replay_rows("u")
        monkeypatch.setattr(_postgres_io, "CHUNKED_STREAMS", not _postgres_io.CHUNKED_STREAMS)
        assert store.replay_rows("u") == streamed
        assert len(streamed) == len(store.ledger("u"))
        assert service.replay("u").matches
    finally:
        store.drop_schema()
        store.close()

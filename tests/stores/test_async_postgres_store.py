"""AsyncPostgresStore on a real server, driven directly from asyncio (anyio's pytest plugin).

The store is the source its sync twin is generated from (``tools/async_to_sync.py``), so
the sync suite already covers the shared code; these tests prove the asyncio shell itself:
opening and closing, loads and version-checked writes, keyed loads, the snapshot cache,
in place on an integer id column, many tasks on one user, connections killed under it.
The server is ``MIKOSHI_PG_DSN``; every test works in a schema of its own, dropped
afterwards. Without a server the tests skip, except under ``CI``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from mikoshi_progression import ProgressState
from mikoshi_progression.errors import (
    InvalidIdError,
    StoreError,
    StoreUnavailableError,
    UnknownUserError,
)
from mikoshi_progression.stores import (
    EntryKind,
    LedgerEntry,
    StaleSnapshotError,
    StaleVersionError,
)
from mikoshi_progression.stores.async_base import (
    AsyncCanonicalIdStore,
    AsyncMonitoringStore,
    AsyncRequestKeyStore,
    AsyncSchemaStore,
    AsyncStateReader,
)

if os.environ.get("CI"):
    import psycopg  # in CI a missing driver is a failure, never a skip
else:
    psycopg = pytest.importorskip("psycopg", reason="the [postgres] extra is not installed")
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from mikoshi_progression.stores._postgres_io_async import Borrowed
from mikoshi_progression.stores.postgres_async import AsyncPostgresStore

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MakeStore = Callable[..., Awaitable[AsyncPostgresStore]]


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def admin(postgres_dsn: str) -> Iterator[Any]:
    """A second, independent (sync) connection: sets tables up, inspects them, kills backends."""
    with psycopg.connect(postgres_dsn, autocommit=True, connect_timeout=3) as conn:
        yield conn


@pytest.fixture
def schema(admin: Any) -> Iterator[str]:
    """A fresh schema for one test, dropped with everything in it afterwards."""
    name = f"mikoshi_test_async_{uuid.uuid4().hex[:12]}"
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
async def make_store(postgres_dsn: str, schema: str) -> AsyncIterator[MakeStore]:
    """Builds and opens stores in the test's schema; closes them at the end."""
    stores: list[AsyncPostgresStore] = []

    async def make(**options: Any) -> AsyncPostgresStore:
        options.setdefault("schema", schema)
        store = AsyncPostgresStore(postgres_dsn, **options)
        stores.append(store)
        await store.open()
        return store

    yield make
    for store in stores:
        await store.close()


def award_entry(user_id: str, after: ProgressState, key: str | None = None) -> LedgerEntry:
    return LedgerEntry(
        user_id=user_id,
        kind=EntryKind.AWARD,
        action="tick",
        exp_delta=1,
        level_before=1,
        level_after=1,
        key=key,
        at=NOW,
        config_fingerprint="test",
        state_after=after,
        outcome="awarded",
    )


async def tick(store: AsyncPostgresStore, user_id: str, key: str | None = None) -> int:
    """One EXP, as a service would award it: load, decide, write; a lost race retries.

    Returns 1, or 0 when ``key`` was awarded already.
    """
    for _ in range(1000):
        try:
            async with store.transaction(user_id) as tx:
                loaded = await tx.load(key)
                if loaded.keyed_award is not None:
                    return 0
                after = ProgressState(exp=loaded.state.exp + 1)
                await tx.write(after, loaded.version, [award_entry(user_id, after, key)])
            return 1
        except StaleVersionError:
            await asyncio.sleep(0)
    raise AssertionError(f"{user_id}: never won a race")


async def read(store: AsyncPostgresStore, user_id: str) -> ProgressState:
    """A transaction that only loads."""
    async with store.transaction(user_id) as tx:
        return (await tx.load()).state


def stored_exp(admin: Any, schema: str, table: str, user_id: str, key: str = "user_id") -> Any:
    row = admin.execute(
        sql.SQL("SELECT exp FROM {} WHERE {} = %s").format(
            sql.Identifier(schema, table), sql.Identifier(key)
        ),
        [user_id],
    ).fetchone()
    return None if row is None else row[0]


# --- opening and closing ----------------------------------------------------------------


async def test_a_store_is_usable_once_open(postgres_dsn, schema):
    """Nothing happens at construction; open() is idempotent, also from tasks at once."""
    store = AsyncPostgresStore(postgres_dsn, schema=schema)
    with pytest.raises(StoreError, match=r"not open: call await store\.open\(\) first"):
        await store.ledger("u")
    await asyncio.gather(store.open(), store.open(), store.open())
    await store.open()
    assert await store.ledger("u") == []
    assert (await store.check_schema()).ok
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await store.ledger("u")
    with pytest.raises(StoreError, match="closed"):
        await store.open()


async def test_async_with_opens_and_closes(postgres_dsn, schema):
    async with AsyncPostgresStore(postgres_dsn, schema=schema) as store:
        assert await tick(store, "u") == 1
        assert repr(store).startswith("<AsyncPostgresStore own tables")
    with pytest.raises(StoreError, match="closed"):
        await store.ledger("u")


async def test_close_closes_the_own_pool(admin, make_store):
    """The store's own connections end with close()."""
    name = f"own-{uuid.uuid4().hex[:8]}"
    store = await make_store(min_size=2, max_size=2, connect_kwargs={"application_name": name})
    await tick(store, "u")
    count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
    assert admin.execute(count, [name]).fetchone()[0] == 2
    await store.close()
    deadline = time.monotonic() + 5
    while admin.execute(count, [name]).fetchone()[0] and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert admin.execute(count, [name]).fetchone() == (0,)


async def test_a_passed_pool_is_used_and_left_open(postgres_dsn, schema):
    """A caller's pool (not autocommit) works; close() leaves it open and as it was."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        postgres_dsn, min_size=1, max_size=2, open=False
    )
    await pool.open()
    try:
        store = AsyncPostgresStore(pool, schema=schema)
        await store.open()
        assert await tick(store, "u", key="k") == 1
        assert await tick(store, "u", key="k") == 0
        await store.close()
        assert not pool.closed
        async with pool.connection() as conn:
            assert conn.autocommit is False
            cursor = await conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(
                    sql.Identifier(schema, "progression_ledger")
                )
            )
            assert await cursor.fetchone() == (1,)
    finally:
        await pool.close()


async def test_opening_errors(postgres_dsn, schema):
    """Malformed at construction; unreachable, or a missing users table, on opening."""
    with pytest.raises(StoreError, match="malformed"):
        AsyncPostgresStore("host=127.0.0.1 port")
    with pytest.raises(ValueError, match="locking"):
        AsyncPostgresStore(postgres_dsn, locking="pessimistic")  # type: ignore[arg-type]
    unreachable = AsyncPostgresStore("postgresql://postgres@127.0.0.1:1/test", timeout=1)
    with pytest.raises(StoreUnavailableError) as caught:
        await unreachable.open()
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    missing = AsyncPostgresStore(postgres_dsn, schema=schema, users_table=f"{schema}.nobody")
    with pytest.raises(StoreError, match="no table"):
        await missing.open()
    with pytest.raises(StoreError, match="no table"):  # not opened: it tries again
        await missing.open()
    with pytest.raises(StoreError, match="not open"):
        await missing.ledger("u")
    await missing.close()


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02])
async def test_a_cancelled_opening_leaves_no_connection_and_can_be_retried(
    admin, postgres_dsn, schema, delay
):
    name = f"cancelled-{uuid.uuid4().hex[:8]}"
    store = AsyncPostgresStore(
        postgres_dsn, schema=schema, min_size=2, connect_kwargs={"application_name": name}
    )
    try:
        await asyncio.wait_for(store.open(), delay)
    except TimeoutError:
        count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        deadline = time.monotonic() + 5
        while admin.execute(count, [name]).fetchone()[0] and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert admin.execute(count, [name]).fetchone() == (0,)
        await store.open()
    else:
        # This machine opened the pool within the delay: nothing was cancelled at this
        # point of the opening, and the store is open as asked.
        assert delay, "an opening given no time at all must be cancelled"
    try:
        assert await tick(store, "u") == 1
    finally:
        await store.close()


async def test_missing_tables_are_a_store_error(make_store, schema):
    store = await make_store(schema=f"{schema}_missing", create=False)
    with pytest.raises(StoreError, match="create_schema") as missing:
        await tick(store, "u")
    assert not isinstance(missing.value, StoreUnavailableError)


# --- loads, writes, versions ----------------------------------------------------------------


async def test_load_write_and_a_lost_race(make_store):
    """Of two transactions that loaded the same version, the second write is stale."""
    store = await make_store(snapshot_cache=0)
    async with store.transaction("u") as tx:
        loaded = await tx.load()
        assert (loaded.exists, loaded.version, loaded.state) == (False, None, ProgressState())
        await tx.write(ProgressState(exp=1), loaded.version, [])

    async def lose_the_race() -> None:
        async with store.transaction("u") as first:
            loaded = await first.load()
            async with store.transaction("u") as second:
                await second.write(ProgressState(exp=2), (await second.load()).version, [])
            await first.write(ProgressState(exp=99), loaded.version, [])

    with pytest.raises(StaleVersionError) as lost:
        await lose_the_race()
    assert not isinstance(lost.value, StaleSnapshotError)
    assert await read(store, "u") == ProgressState(exp=2)


async def test_a_transaction_writes_at_most_once_and_an_error_writes_nothing(make_store):
    store = await make_store()

    async def write_twice() -> None:
        async with store.transaction("u") as tx:
            loaded = await tx.load()
            await tx.write(ProgressState(exp=1), loaded.version, [])
            await tx.write(ProgressState(exp=2), loaded.version, [])

    async def fail_after_writing() -> None:
        async with store.transaction("u") as tx:
            loaded = await tx.load()
            await tx.write(ProgressState(exp=3), loaded.version, [])
            raise RuntimeError("the caller failed")

    with pytest.raises(StoreError, match="at most once"):
        await write_twice()
    with pytest.raises(RuntimeError):
        await fail_after_writing()
    async with store.transaction("u") as tx:
        assert not (await tx.load()).exists


async def test_keyed_loads_show_the_keys_entries(make_store):
    store = await make_store()
    assert await tick(store, "u", key="k1") == 1
    assert await tick(store, "u") == 1
    async with store.transaction("u") as tx:
        keyed = await tx.load("k1")
    assert keyed.keyed_award is not None
    assert (keyed.keyed_award.key, keyed.keyed_award.seq) == ("k1", 1)
    assert keyed.keyed_revoke is None
    assert keyed.has_ledger
    assert keyed.state.exp == 2
    async with store.transaction("u") as tx:
        assert (await tx.load("k2")).keyed_award is None
    ledger = await store.ledger("u")
    assert [(e.seq, e.key, e.state_after.exp) for e in ledger] == [(1, "k1", 1), (2, None, 2)]
    assert ledger[0] == award_entry("u", ProgressState(exp=1), "k1")


async def test_row_locking_releases_the_row_when_a_transaction_fails(make_store):
    store = await make_store(locking="row")
    await tick(store, "u")

    async def fail_holding_the_lock() -> None:
        async with store.transaction("u") as tx:
            await tx.load()  # SELECT ... FOR UPDATE in a transaction
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError):
        await fail_holding_the_lock()
    with anyio.fail_after(5):  # the lock is gone: another transaction goes through at once
        assert await tick(store, "u") == 1
    assert (await read(store, "u")).exp == 2  # a read only: committed, not left open
    assert await tick(store, "u") == 1


# --- the snapshot cache -------------------------------------------------------------------


def counting_pool(dsn: str, sent: list[str]) -> AsyncConnectionPool[Any]:
    """A pool whose connections record the first word of every statement they send
    (through ``conn.execute`` or a cursor of theirs, as the award's statements go)."""

    class CountingCursor(psycopg.AsyncCursor[Any]):
        async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            sent.append(str(query).split(None, 1)[0])
            return await super().execute(query, params, **kwargs)

    return AsyncConnectionPool(
        dsn, kwargs={"cursor_factory": CountingCursor}, min_size=1, max_size=2, open=False
    )


async def test_snapshot_cache_guesses_and_is_checked(postgres_dsn, schema, admin):
    """One statement per award while the cached snapshot is current; a stale guess is
    refused by the write, reloaded, and that user is not guessed for a while."""
    sent: list[str] = []
    pool = counting_pool(postgres_dsn, sent)
    await pool.open()
    try:
        async with AsyncPostgresStore(pool, schema=schema) as store:
            await tick(store, "u")
            sent.clear()
            await tick(store, "u")
            assert sent == ["WITH"]  # the version-checked write and its ledger row
            admin.execute(
                sql.SQL("UPDATE {} SET exp = 100 WHERE user_id = 'u'").format(
                    sql.Identifier(schema, "progression_state")
                )
            )
            sent.clear()
            guessed: list[int] = []

            async def write_on_the_guess() -> None:
                async with store.transaction("u") as tx:
                    loaded = await tx.load()
                    guessed.append(loaded.state.exp)
                    await tx.write(ProgressState(exp=3), loaded.version, [])

            with pytest.raises(StaleSnapshotError):
                await write_on_the_guess()
            assert guessed == [2]
            assert sent == ["WITH"]
            sent.clear()
            await tick(store, "u")
            assert sent == ["SELECT", "WITH"]  # not guessed after a wrong guess
            info = store.snapshot_cache_info()
            assert info is not None
            assert (info.guesses, info.wrong) == (2, 1)
            assert stored_exp(admin, schema, "progression_state", "u") == 101

            # A transaction that writes nothing re-reads the version of a guess.
            await tick(store, "v")
            admin.execute(
                sql.SQL("UPDATE {} SET exp = 7 WHERE user_id = 'v'").format(
                    sql.Identifier(schema, "progression_state")
                )
            )
            with pytest.raises(StaleSnapshotError):
                await read(store, "v")
    finally:
        await pool.close()


async def test_snapshot_cache_off(make_store):
    store = await make_store(snapshot_cache=0)
    await tick(store, "u")
    assert store.snapshot_cache_info() is None


# --- in place ----------------------------------------------------------------------------


async def test_in_place_with_an_integer_id_column(admin, schema, make_store):
    """The platform's integer ids: compared as such, one spelling, kept as text."""
    members = sql.Identifier(schema, "members")
    admin.execute(
        sql.SQL(
            "CREATE TABLE {} (id integer PRIMARY KEY, name text, level integer DEFAULT 1, "
            "exp integer DEFAULT 0, last_chat_date date, daily_exp_gained integer DEFAULT 0, "
            "last_exp_reset_date timestamptz, daily_action_counts jsonb DEFAULT '{{}}')"
        ).format(members)
    )
    admin.execute(sql.SQL("INSERT INTO {} (id, name) VALUES (42, 'kept')").format(members))
    store = await make_store(users_table=f"{schema}.members")
    assert isinstance(store, AsyncCanonicalIdStore)
    assert await tick(store, "42", key="k") == 1
    assert await tick(store, "42") == 1
    assert stored_exp(admin, schema, "members", 42, key="id") == 2
    assert admin.execute(sql.SQL("SELECT name FROM {}").format(members)).fetchone() == ("kept",)
    assert [e.user_id for e in await store.ledger("42")] == ["42", "42"]
    assert await store.check_user_id("42") == "42"
    for spelling in ("042", "+42", "42.0"):
        canonical = "'42'" if spelling != "42.0" else "in its canonical spelling"
        with pytest.raises(InvalidIdError, match=canonical):
            await store.check_user_id(spelling)
        with pytest.raises(InvalidIdError):
            await store.ledger(spelling)
        with pytest.raises(InvalidIdError):
            await read(store, spelling)
    with pytest.raises(UnknownUserError, match="no such user"):
        await tick(store, "43")
    with pytest.raises(UnknownUserError):
        await store.put_state("43", ProgressState(exp=1))
    chat = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    assert store.stored_form(ProgressState(last_chat_date=chat)).last_chat_date == midnight
    report = await store.check_schema()
    assert report.behind, report  # the levers' columns: only migrate() alters members
    await store.migrate()
    report = await store.check_schema()
    assert report.ok, report


async def test_counter_versions_are_refused_in_place(postgres_dsn, schema):
    with pytest.raises(ValueError, match="'counter' needs the library's own tables"):
        AsyncPostgresStore(postgres_dsn, users_table=f"{schema}.users", version_token="counter")


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locking", "cache"), [("optimistic", 0), ("row", 0), ("adaptive", 0), ("adaptive", 100)]
)
async def test_many_tasks_on_one_user_lose_nothing(admin, schema, make_store, locking, cache):
    """Tasks awarding to one user at once, on a pool smaller than them: nothing lost."""
    store = await make_store(locking=locking, snapshot_cache=cache, max_size=4)
    tasks, each = 12, 8

    async def work(worker: int) -> int:
        return sum([await tick(store, "hot") for _ in range(each)])

    with anyio.fail_after(60):
        added = await asyncio.gather(*(work(w) for w in range(tasks)))
    assert sum(added) == tasks * each
    assert stored_exp(admin, schema, "progression_state", "hot") == tasks * each
    ledger = await store.ledger("hot")
    assert [e.seq for e in ledger] == list(range(1, tasks * each + 1))
    assert [e.state_after.exp for e in ledger] == list(range(1, tasks * each + 1))


async def test_one_key_from_many_tasks_awards_once(make_store):
    store = await make_store(max_size=4)
    with anyio.fail_after(30):
        added = await asyncio.gather(*(tick(store, "u", key="same") for _ in range(10)))
    assert sorted(added) == [0] * 9 + [1]
    assert [e.key for e in await store.ledger("u")] == ["same"]


async def test_version_tokens_counter(make_store, admin, schema):
    store = await make_store(version_token="counter")
    for _ in range(3):
        await tick(store, "u")
    version = admin.execute(
        sql.SQL("SELECT version FROM {} WHERE user_id = 'u'").format(
            sql.Identifier(schema, "progression_state")
        )
    ).fetchone()
    assert version == (3,)


# --- faults --------------------------------------------------------------------------------


def kill_backends(admin: Any, application_name: str) -> None:
    """Terminate the store's server processes, as an operator (or a crash) would."""
    pids = [
        pid
        for (pid,) in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name]
        )
    ]
    assert pids, f"no backend named {application_name}"
    for pid in pids:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]
        ).fetchone()
        if left == (0,):
            return
        time.sleep(0.01)
    raise AssertionError(f"backends {pids} survived pg_terminate_backend")


@pytest.mark.parametrize("locking", ["optimistic", "row"])
async def test_a_killed_connection_is_store_unavailable(admin, schema, make_store, locking):
    """A backend killed between load and commit: StoreUnavailableError, nothing written,
    and the pool replaces the connection for the next transaction."""
    name = f"victim-{uuid.uuid4().hex[:8]}"
    store = await make_store(
        locking=locking,
        min_size=1,
        max_size=1,
        snapshot_cache=0,
        connect_kwargs={"application_name": name},
    )
    await tick(store, "victim")

    async def killed_before_the_write() -> None:
        async with store.transaction("victim") as tx:
            loaded = await tx.load()
            kill_backends(admin, name)
            await tx.write(ProgressState(exp=99), loaded.version, [])

    with pytest.raises(StoreUnavailableError) as caught:
        await killed_before_the_write()
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert stored_exp(admin, schema, "progression_state", "victim") == 1
    assert await tick(store, "victim") == 1
    assert [e.state_after.exp for e in await store.ledger("victim")] == [1, 2]


async def test_a_killed_idle_connection_fails_one_call_only(admin, make_store):
    name = f"idle-{uuid.uuid4().hex[:8]}"
    store = await make_store(min_size=1, max_size=1, connect_kwargs={"application_name": name})
    await tick(store, "u")
    kill_backends(admin, name)
    with pytest.raises(StoreUnavailableError):
        await store.ledger("u")
    assert len(await store.ledger("u")) == 1


async def test_an_exhausted_pool_is_store_unavailable(make_store):
    store = await make_store(min_size=1, max_size=1, timeout=0.2)
    async with store.transaction("u") as tx:
        await tx.load()
        with pytest.raises(StoreUnavailableError, match="no PostgreSQL connection available"):
            await store.ledger("u")


# --- optional capabilities ------------------------------------------------------------------


async def test_optional_capabilities(make_store):
    """Monitoring, request keys, raw states, schema checks: the async protocols."""
    store = await make_store()
    assert isinstance(store, AsyncSchemaStore)
    assert isinstance(store, AsyncRequestKeyStore)
    assert isinstance(store, AsyncMonitoringStore)
    assert not isinstance(store, AsyncStateReader)  # like PostgresStore: no read_state

    assert await store.claim_key("caller", "k", "request-1", NOW) == "request-1"
    assert await store.claim_key("caller", "k", "request-2", NOW) == "request-1"
    results = await asyncio.gather(
        *(store.claim_key("caller", "k2", f"r{i}", NOW) for i in range(6))
    )
    assert len(set(results)) == 1

    day = NOW.replace(hour=0, minute=0)
    await store.put_state(
        "capped", ProgressState(level=1, daily_exp_gained=150, last_exp_reset_date=NOW)
    )
    await store.put_state(
        "busy", ProgressState(level=1, daily_exp_gained=90, last_exp_reset_date=NOW)
    )
    await store.put_state(
        "old", ProgressState(daily_exp_gained=500, last_exp_reset_date=day - timedelta(1))
    )
    caps = {1: 150}
    at_cap = await store.users_at_daily_cap(caps, day)
    assert [(a.user_id, a.daily_exp_cap) for a in at_cap] == [("capped", 150)]
    active = await store.most_active_users(caps, day, limit=5)
    assert [(a.user_id, a.daily_exp_gained) for a in active] == [("capped", 150), ("busy", 90)]
    with pytest.raises(ValueError, match="caps"):
        await store.users_at_daily_cap({}, day)

    await store.create_schema()  # idempotent
    assert (await store.check_schema()).ok
    await store.drop_schema()
    report = await store.check_schema()
    assert "progression_ledger" in " ".join(report.missing_tables)


# --- prepared statements and the connection's cursor -----------------------------------------


async def prepared_statements(store: AsyncPostgresStore) -> list[str]:
    """The first words of the statements prepared on the store's (one) connection."""
    async with store._connection() as conn:
        cursor = await conn.execute("SELECT statement FROM pg_prepared_statements")
        rows = await cursor.fetchall()
    return sorted(str(statement).split(None, 1)[0] for (statement,) in rows)


@pytest.mark.parametrize("threshold", ["default", None])
async def test_award_statements_are_prepared_through_one_cursor(
    postgres_dsn, schema, admin, threshold
):
    """As in the sync store: the load and the writes are prepared on first use (nothing is
    with ``prepare_threshold=None``), through the cursor the connection keeps."""
    connect = {} if threshold == "default" else {"prepare_threshold": None}
    async with AsyncPostgresStore(
        postgres_dsn,
        schema=schema,
        min_size=1,
        max_size=1,
        snapshot_cache=0,
        connect_kwargs=connect,
    ) as store:
        assert [await tick(store, "u") for _ in range(3)] == [1, 1, 1]
        expected = ["SELECT", "WITH", "WITH"] if threshold == "default" else []
        assert await prepared_statements(store) == expected
        first, second = Borrowed(store), Borrowed(store)
        async with first:
            cursor = first.cursor()
        async with second:
            assert second.cursor() is cursor
        assert stored_exp(admin, schema, "progression_state", "u") == 3

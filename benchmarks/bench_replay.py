"""``service.replay`` per ledger entry on SQLite and PostgreSQL, beside its ceilings.

Run:  python benchmarks/bench_replay.py [--entries 100000] [--rounds 5] [--dsn URL]
      [--config levers|default] [--no-postgres] [--no-fallback] [--no-async] [--memory]

One user's ledger of ``--entries`` entries is made in memory by the service (an import
first, then a dozen award attempts a day with the limits and the cap biting, so a day
entry a day; a keyed award revoked, an operator's adjustment and a time-zone move now and
then), and copied into a SQLite file and a PostgreSQL schema (dropped at the end). Each
round then times, in turn (interleaved round by round, the order rotating):

- ``service.replay`` through each store (its ``ReplayReader``), sync and async;
- the same through the ledger (``ledger``, every entry decoded whole): the path of a
  store without the capability, and of these stores before it;
- the ceilings: the core's fold of the same entries in memory (``replay_ledger``), and
  the bare driver fetching the rows ``replay_rows`` reads (``sqlite3``'s ``fetchall``;
  psycopg streaming in binary, as the store does).

Printed: medians in us per entry, each as a ratio to the core's fold in the same run, and
the load average before and after; with ``--memory``, the peak memory one sync replay
allocates (``tracemalloc``, once after the rounds). The benchmark's own copy of the ledger
is frozen out of the garbage collector (``gc.freeze``) before the rounds, as a server holds
no such copy. A measurement, never a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    ExitStack,
    contextmanager,
)
from datetime import timedelta
from pathlib import Path
from typing import Any

from mikoshi_progression import ProgressState
from mikoshi_progression.core.config import DEFAULT_CONFIG, ProgressionConfig
from mikoshi_progression.service import AsyncProgressionService, ProgressionService
from mikoshi_progression.service._replay import replay_ledger
from mikoshi_progression.stores import (
    AsyncSQLiteStore,
    EntryKind,
    InMemoryStore,
    LedgerEntry,
    ProgressStore,
    SQLiteStore,
    StoreTransaction,
)
from mikoshi_progression.stores._replay_rows import postgres_replay_query, sqlite_replay_query
from mikoshi_progression.testing.store_contract import LEVERS, START, FakeClock

DEFAULT_DSN = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
USER = "replayed"
DAY = (
    ("daily_chat", None),
    ("create_character", "key"),
    ("character_liked", "a-fan"),
    ("create_scene", None),
    ("character_liked", "a-fan"),
    ("forked", "a-fan"),
    ("create_persona", None),
    ("create_character", "key"),
    ("character_liked", "a-fan"),
    ("create_scene", None),
    ("paid_char_sold", "a-buyer"),
    ("character_liked", "a-fan"),
)
"""A day's award attempts (an actor for creator awards; ``key``: a keyed award)."""
ZONES = ("Asia/Tokyo", "America/New_York", None)
CHUNK = 10_000
"""Entries copied per transaction."""


def load_average() -> str:
    return "load average " + ", ".join(f"{load:.2f}" for load in os.getloadavg())


def make_ledger(count: int, config: ProgressionConfig) -> tuple[list[LedgerEntry], ProgressState]:
    """``count`` entries of one user's ledger, made by the service on the memory store."""
    store = InMemoryStore()
    clock = FakeClock(START - timedelta(hours=6))
    service = ProgressionService(store, config=config, clock=clock)
    legacy = ProgressState(exp=40, level=1, last_exp_reset_date=clock())
    with store.transaction(USER) as tx:
        version = tx.load().version
        entry = LedgerEntry(
            user_id=USER,
            kind=EntryKind.IMPORT,
            action="",
            exp_delta=0,
            level_before=1,
            level_after=1,
            key=None,
            at=clock(),
            config_fingerprint="legacy",
            state_after=legacy,
        )
        tx.write(legacy, version, [entry])
    made, day = 1, 0
    while made < count:
        keys = []
        for slot, (action, extra) in enumerate(DAY):
            key = f"d{day}-{slot}" if extra == "key" else None
            actor = extra if extra not in (None, "key") else None
            result = service.award(USER, action, key=key, actor_id=actor)
            if result.success and key:
                keys.append(key)
            clock.advance(minutes=50)
        if day % 40 == 7 and keys:
            service.revoke(USER, keys[0])
        if day % 40 == 19:
            service.adjust(USER, 25, reason="goodwill", operator="op-1")
        if day % 90 == 30:
            service.set_timezone(USER, ZONES[day // 90 % len(ZONES)])
        clock.advance(hours=24 - 50 * len(DAY) / 60)
        day += 1
        made = len(store.ledger(USER))
    entries = store.ledger(USER)[:count]
    return entries, entries[-1].state_after


def copy_into(store: ProgressStore, entries: list[LedgerEntry]) -> None:
    for start in range(0, len(entries), CHUNK):
        chunk = entries[start : start + CHUNK]
        with store.transaction(USER) as tx:
            tx.write(chunk[-1].state_after, tx.load().version, chunk)


class LedgerOnly:
    """A store read through ``ledger`` only: replay as a store without ``ReplayReader``."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def transaction(self, user_id: str) -> AbstractContextManager[StoreTransaction]:
        return self._store.transaction(user_id)  # type: ignore[no-any-return]

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        return self._store.ledger(user_id)  # type: ignore[no-any-return]

    def create_schema(self) -> None: ...

    def close(self) -> None: ...


class AsyncLedgerOnly(LedgerOnly):
    def transaction(self, user_id: str) -> AbstractAsyncContextManager[Any]:  # type: ignore[override]
        return self._store.transaction(user_id)  # type: ignore[no-any-return]

    async def ledger(self, user_id: str) -> list[LedgerEntry]:  # type: ignore[override]
        return await self._store.ledger(user_id)  # type: ignore[no-any-return]


def timed(call: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    return run


def checked(service: Any, loop: asyncio.AbstractEventLoop | None = None) -> Callable[[], object]:
    """``service.replay(USER)``, which must match the stored state (else the run stops)."""

    def replay() -> object:
        report = (
            service.replay(USER) if loop is None else loop.run_until_complete(service.replay(USER))
        )
        if not report.matches:
            raise SystemExit(f"replay does not match: {report.state} != {report.stored}")
        return report

    return replay


@contextmanager
def postgres(
    dsn: str, entries: list[LedgerEntry], config: ProgressionConfig
) -> Iterator[dict[str, Callable[[], float]]]:
    import psycopg

    from mikoshi_progression.stores.postgres import PostgresStore
    from mikoshi_progression.stores.postgres_async import AsyncPostgresStore

    schema = f"bench_replay_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, schema=schema, table_prefix="bench_")
    loop = asyncio.new_event_loop()
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        store.create_schema()
        copy_into(store, entries)
        async_store = AsyncPostgresStore(
            dsn, schema=schema, table_prefix="bench_", min_size=1, max_size=2
        )
        loop.run_until_complete(async_store.open())
        query = postgres_replay_query(f'"{schema}"."bench_ledger"')

        def fetch() -> object:
            return list(conn.cursor(binary=True).stream(query, (USER,), size=1_000))

        yield {
            "postgres replay": timed(checked(ProgressionService(store, config=config))),
            "postgres async replay": timed(
                checked(AsyncProgressionService(async_store, config=config), loop)
            ),
            "postgres replay through the ledger": timed(
                checked(ProgressionService(LedgerOnly(store), config=config))  # type: ignore[arg-type]
            ),
            "postgres driver fetch": timed(fetch),
        }
        loop.run_until_complete(async_store.close())
    finally:
        store.drop_schema()
        store.close()
        conn.close()
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--config", choices=("levers", "default"), default="levers")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-fallback", action="store_true", help="skip the ledger path")
    parser.add_argument("--no-async", action="store_true")
    parser.add_argument("--memory", action="store_true", help="trace one replay's peak memory")
    args = parser.parse_args()
    config = LEVERS if args.config == "levers" else DEFAULT_CONFIG
    print(f"before: {load_average()}")
    started = time.perf_counter()
    entries, _ = make_ledger(args.entries, config)
    kinds = {kind: sum(e.kind is kind for e in entries) for kind in EntryKind}
    print(
        f"ledger of {len(entries):,} entries ({args.config} rules; "
        + ", ".join(f"{n:,} {kind.value}" for kind, n in kinds.items())
        + f"), made in {time.perf_counter() - started:.1f} s"
    )
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        path = Path(folder) / "replay.db"
        store = SQLiteStore(path)
        copy_into(store, entries)
        loop = asyncio.new_event_loop()
        async_store = AsyncSQLiteStore(path)
        raw = sqlite3.connect(path)
        query = sqlite_replay_query(store.table_prefix + "ledger")
        contenders = {
            "core fold (replay_ledger, in memory)": timed(lambda: replay_ledger(entries, config)),
            "sqlite replay": timed(checked(ProgressionService(store, config=config))),
            "sqlite async replay": timed(
                checked(AsyncProgressionService(async_store, config=config), loop)
            ),
            "sqlite replay through the ledger": timed(
                checked(ProgressionService(LedgerOnly(store), config=config))  # type: ignore[arg-type]
            ),
            "sqlite driver fetch": timed(lambda: raw.execute(query, {"user_id": USER}).fetchall()),
        }
        if not args.no_postgres:
            contenders.update(stack.enter_context(postgres(args.dsn, entries, config)))
        if args.no_fallback:
            contenders = {k: v for k, v in contenders.items() if "through" not in k}
        if args.no_async:
            contenders = {k: v for k, v in contenders.items() if "async" not in k}
        gc.collect()
        gc.freeze()  # the benchmark's own copy of the ledger: no contender's collections walk it
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for round_ in range(args.rounds):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(contenders[name]())
        peaks: dict[str, int] = {}
        for name in names if args.memory else ():
            if "replay" in name and "async" not in name:  # one replay, its allocations traced
                tracemalloc.start()
                contenders[name]()
                peaks[name] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
        loop.run_until_complete(async_store.close())
        loop.close()
        raw.close()
        store.close()
    medians = {name: statistics.median(times) for name, times in samples.items()}
    fold = medians["core fold (replay_ledger, in memory)"]
    n = len(entries)
    print(
        f"\n{args.rounds} rounds, interleaved; medians in us per entry, as a ratio to the core's "
        "fold, and beyond it"
    )
    for name, median in medians.items():
        beyond = (median - fold) / n * 1e6
        print(f"  {name:40} {median / n * 1e6:7.2f} us  {median / fold:5.2f}x  {beyond:+7.2f} us")
    if peaks:
        print("peak memory allocated during one replay (tracemalloc, after the rounds):")
        for name, peak in peaks.items():
            print(f"  {name:40} {peak / 1e6:7.1f} MB")
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()

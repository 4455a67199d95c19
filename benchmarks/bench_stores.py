"""Awards per second through every store, beside two ceilings measured in the same run.

Run:  python benchmarks/bench_stores.py [--quick] [--dsn URL] [--seconds 2] [--rounds 3]
      [--workers 1,4,8] [--stores memory,sqlite,postgres,sqlalchemy]
      [--modes threads,processes]
      [--workloads distinct,hot,spread,batch,users-1k,users-1m]
      [--locking adaptive,adaptive+nocache,optimistic+nocache,row] [--no-async]

``--locking`` lists the PostgresStore variants to run: a locking mode, with the
store's default snapshot cache or, with ``+nocache``, ``snapshot_cache=0``;
``--quick`` runs one round of 1 s cells with the default store and its
uncached twin only. The DSN defaults to ``MIKOSHI_PG_DSN``; without a reachable server
the PostgreSQL rows and both ceilings are left out.

Every award goes through ``ProgressionService`` (load, decide in the pure core,
version-checked write with its ledger rows), with 1, 4 and 8 concurrent workers,
as threads sharing one store and as separate processes with a store each, on
distinct users (one per worker) and on one hot user; ``--workloads`` adds
"spread", every award to a random one of 1,000 users, where a user's awards
come from every worker (the snapshot cache's worst case across processes; its
ceilings are the distinct ones). "users-1k" and "users-1m" send every award to a
random one of 1,000 or 1,000,000 users created beforehand in the store's own table
(one ``INSERT ... SELECT generate_series``), PostgreSQL stores only, interleaved with
each other round by round: how the rate holds when users outnumber the snapshot
cache. "batch" has each worker send ``award_many`` batches of 1,000 keyed requests,
one to each of its own 1,000 users, counted in awards (against pgbench's single-row
``UPDATE`` by as many clients). On one hot user, the threads of a process combine
their awards (``ProgressionService(combine=True)``, the default). Beside them, in the
same run, two ceilings of the database itself: pgbench's single-row ``UPDATE`` (its C
client, ``-c N -j N -M prepared``, in the rounds of both modes) and the same ``UPDATE``
sent through psycopg by the same workers. The
throughput config has one action worth 1 EXP, no limit and a huge cap, so no award
is rejected; after each cell every user's ``exp`` and
``daily_exp_gained`` must equal the sum of the ``exp_added`` its workers were
told (no lost update). A last check per store runs 8 workers against a real cap
on one user and requires the cap to be reached exactly (no overshoot).

``sqlalchemy (postgres)`` is ``SQLAlchemyStore`` on a ``postgresql+psycopg`` engine (its
own transactions: row-locked loads). The async stores (``memory async``, ``sqlite async``,
``postgres (adaptive) async``, ``sqlalchemy (postgres) async``, opened by
``open_async_store`` or as ``AsyncSQLAlchemyStore``) run in the threads columns as N
tasks on one event loop awaiting ``AsyncProgressionService``, interleaved round by round
with the threaded cells, and are compared with the threaded store at the same N.

This is a measurement, never a test: nothing here asserts a speed. Numbers on a
shared machine are noisy (commits wait for the disk): compare columns of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mikoshi_progression import ActionRule, Level, Outcome, ProgressionConfig
from mikoshi_progression.errors import ConcurrencyError
from mikoshi_progression.service import AsyncProgressionService, AwardRequest, ProgressionService
from mikoshi_progression.stores import (
    AsyncInMemoryStore,
    AsyncProgressStore,
    ProgressStore,
    open_async_store,
    open_store,
)

DEFAULT_DSN = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")

THROUGHPUT = ProgressionConfig(
    levels=(Level(1, "Only", "", 0),),
    actions={"tick": ActionRule(1)},
    daily_exp_caps={1: 10**15},
)
"""One action, 1 EXP, no daily limit, a cap never reached: every award succeeds."""

CAP = 1000
CAPPED = ProgressionConfig(
    levels=(Level(1, "Only", "", 0),),
    actions={"gift": ActionRule(7)},
    daily_exp_caps={1: CAP},
)
"""The overshoot check: 7 EXP a gift, cap 1,000 (the last gift is partial)."""

CONFIGS = {"throughput": THROUGHPUT, "capped": CAPPED}
"""Configs by name: a config does not pickle, a worker process looks it up."""

SPREAD_USERS = 1_000
"""The "spread" workload: every worker awards to a random one of this many users."""

POPULATIONS = {"users-1k": 1_000, "users-1m": 1_000_000}
"""The workloads on users created beforehand (PostgreSQL only): how many users each has."""

POPULATION_WARMUP = 2.0
"""Seconds of warm-up before a population's cell is measured: each cell opens a new store,
so that its snapshot cache meets most of 1,000 users before the count starts (at 1,000,000
it meets a few of them either way)."""


@dataclass(frozen=True)
class Population:
    """``size`` users named ``prefix0`` to ``prefix<size - 1>``, created before the run.

    Sent to workers instead of a million names; ``pick`` draws one at random."""

    prefix: str
    size: int

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < self.size:
            raise IndexError(index)
        return f"{self.prefix}{index}"


NAIVE = "read-modify-write, no lock"
"""The platform's own pattern (see ``naive_loop``): fast enough, and wrong under contention."""

MAX_ATTEMPTS = 10_000  # a benchmark measures contention; it should not give up under it


# --- what one worker does ---------------------------------------------------------------


@dataclass
class Tally:
    """What one worker did inside the measured window."""

    count: int = 0
    elapsed: float = 0.0
    failures: int = 0
    added: dict[str, int] = field(default_factory=dict)


def _wait_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def timed_loop(
    step: Callable[[], bool], tally: Tally, start_at: float, warmup: float, seconds: float
) -> Tally:
    """Run ``step`` as fast as possible from ``start_at`` for ``warmup + seconds``.

    ``step`` says whether it did its work; only those after the warm-up are counted.
    """
    _wait_until(start_at)
    measuring_from = time.perf_counter() + warmup
    stop = measuring_from + seconds
    while True:
        now = time.perf_counter()
        if now >= stop:
            break
        if step() and now >= measuring_from:
            tally.count += 1
    tally.elapsed = seconds
    return tally


def award_loop(
    service: ProgressionService,
    users: Sequence[str],
    start_at: float,
    warmup: float,
    seconds: float,
) -> Tally:
    """Award ``tick`` as fast as possible to ``users`` (one, or a random one of many)."""
    tally = Tally()
    pick = random.Random().choice  # a Population too: its names are made as drawn
    single = users[0] if len(users) == 1 else None
    added = tally.added

    def award() -> bool:
        user = single or pick(users)
        try:
            exp_added = service.award(user, "tick").exp_added
        except ConcurrencyError:
            tally.failures += 1
            return False
        added[user] = added.get(user, 0) + exp_added
        return True

    return timed_loop(award, tally, start_at, warmup, seconds)


BATCH_SIZE = 1_000
"""The "batch" workload: each worker sends ``award_many`` batches of this many keyed
requests, one to each of its own users."""


def batch_loop(
    service: ProgressionService,
    users: Sequence[str],
    start_at: float,
    warmup: float,
    seconds: float,
) -> Tally:
    """``award_many`` of one keyed ``tick`` to each of ``users``, batch after batch; counts
    awards (a batch's requests), and only batches that began after the warm-up."""
    tally = Tally()
    added = tally.added
    sent = iter(range(1 << 62))
    _wait_until(start_at)
    measuring_from = time.perf_counter() + warmup
    stop = measuring_from + seconds
    while True:
        began = time.perf_counter()
        if began >= stop:
            break
        batch = next(sent)
        requests = [AwardRequest(user, "tick", key=f"b{batch}") for user in users]
        result = service.award_many(requests)
        for request, award in zip(requests, result.results, strict=True):
            if award is not None:
                added[request.user_id] = added.get(request.user_id, 0) + award.exp_added
        if began >= measuring_from:
            tally.count += len(requests)
    tally.elapsed = max(seconds, time.perf_counter() - measuring_from)
    return tally


async def async_award_loop(
    service: AsyncProgressionService,
    users: Sequence[str],
    start_at: float,
    warmup: float,
    seconds: float,
) -> Tally:
    """``award_loop`` as a task: awaits each award (an async store's cells)."""
    tally = Tally()
    pick = random.Random().choice
    single = users[0] if len(users) == 1 else None
    added = tally.added
    await asyncio.sleep(max(0.0, start_at - time.time()))
    measuring_from = time.perf_counter() + warmup
    stop = measuring_from + seconds
    while True:
        now = time.perf_counter()
        if now >= stop:
            break
        user = single or pick(users)
        try:
            exp_added = (await service.award(user, "tick")).exp_added
        except ConcurrencyError:
            tally.failures += 1
            continue
        added[user] = added.get(user, 0) + exp_added
        if now >= measuring_from:
            tally.count += 1
    tally.elapsed = seconds
    return tally


def update_loop(
    dsn: str, table: str, row_id: int, start_at: float, warmup: float, seconds: float
) -> Tally:
    """The ceiling: the same single-row UPDATE, one statement (and commit) per call."""
    import psycopg

    statement = f"UPDATE {table} SET n = n + 1 WHERE id = %s"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement, (row_id,), prepare=True)

        def update() -> bool:
            conn.execute(statement, (row_id,), prepare=True)
            return True

        return timed_loop(update, Tally(), start_at, warmup, seconds)


def naive_loop(
    dsn: str, table: str, row_id: int, start_at: float, warmup: float, seconds: float
) -> Tally:
    """The platform's pattern: read the row, add in Python, write it back; no lock, no check.

    One transaction per request, as an ORM session makes it (``BEGIN``, ``SELECT``,
    ``UPDATE``, ``COMMIT``), but through raw psycopg, so faster than an ORM.
    ``added`` holds every increment made, warm-up included, to compare with the row.
    """
    import psycopg

    tally = Tally()
    read = f"SELECT n FROM {table} WHERE id = %s"
    write = f"UPDATE {table} SET n = %s WHERE id = %s"
    key = str(row_id)
    tally.added[key] = 0
    with psycopg.connect(dsn) as conn:

        def read_modify_write() -> bool:
            row = conn.execute(read, (row_id,), prepare=True).fetchone()
            assert row is not None
            conn.execute(write, (row[0] + 1, row_id), prepare=True)
            conn.commit()
            tally.added[key] += 1
            return True

        return timed_loop(read_modify_write, tally, start_at, warmup, seconds)


def sqlite_bare_loop(
    path: str,
    synchronous: str,
    user: str,
    start_at: float,
    warmup: float,
    seconds: float,
    turn: threading.Lock | None = None,
) -> Tally:
    """The SQLite ceiling: an award's writes with no library around them.

    On a file with the store's own tables and indexes, one transaction per call:
    ``BEGIN IMMEDIATE``, an ``UPDATE`` of the user's state row, an ``INSERT`` of one
    ledger row as wide as an award's (its ``seq`` computed in the statement, as the
    store does), ``COMMIT``. Threads take turns on ``turn`` (as the store's threads
    do on its own lock, instead of polling SQLite's); processes wait on SQLite's lock.
    """
    import sqlite3

    conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(
        "INSERT INTO mikoshi_progress (user_id, exp, daily_exp_gained, version) "
        "VALUES (?, 0, 0, 1) ON CONFLICT (user_id) DO NOTHING",
        (user,),
    )
    update = (
        "UPDATE mikoshi_progress SET exp = exp + 1, daily_exp_gained = daily_exp_gained + 1, "
        "daily_action_counts = ?2, version = version + 1 WHERE user_id = ?1"
    )
    insert = (
        "INSERT INTO mikoshi_ledger (user_id, seq, kind, action, exp_delta, level_before, "
        "level_after, idempotency_key, at, config_fingerprint, state_after, outcome) VALUES "
        "(?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM mikoshi_ledger WHERE user_id = ?1), "
        "'award', 'tick', 1, 1, 1, NULL, ?2, ?3, ?4, 'awarded')"
    )
    moment = "2026-01-01T00:00:00.000000+00:00"
    state = (
        '{"daily_action_counts":{"tick":100000},"daily_exp_gained":100000,"exp":100000,'
        f'"last_chat_date":null,"last_exp_reset_date":"{moment}","level":1}}'
    )
    row = (user, moment, THROUGHPUT.fingerprint, state)
    counts = (user, '{"tick":100000}')
    lock = turn or contextlib.nullcontext()

    def write() -> bool:
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(update, counts)
            conn.execute(insert, row)
            conn.execute("COMMIT")
        return True

    try:
        return timed_loop(write, Tally(), start_at, warmup, seconds)
    finally:
        conn.close()


ROW_LOOPS: dict[str, Callable[..., Tally]] = {
    "update": update_loop,
    "naive": naive_loop,
    "sqlite_bare": sqlite_bare_loop,
}
"""The loops that work on a row of the ceiling tables, by the name a worker is sent."""


def capped_loop(service: ProgressionService, user: str, start_at: float) -> Tally:
    """Give gifts until the cap says no; report what was added."""
    tally = Tally()
    _wait_until(start_at)
    total = 0
    while True:
        result = service.award(user, "gift")
        if result.outcome is Outcome.DAILY_CAP:
            break
        total += result.exp_added
        tally.count += 1
    tally.added[user] = total
    return tally


# --- stores -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreSpec:
    """How to open one store, in this process or in another."""

    label: str
    url: str
    options: tuple[tuple[str, Any], ...] = ()
    processes: bool = True
    asynchronous: bool = False
    """The async twin (``open_async_store``), driven by tasks on one event loop."""

    def _options(self, connections: int) -> dict[str, Any]:
        options = dict(self.options)
        if self.url.startswith("postgresql://"):  # SQLAlchemy's engine keeps its own pool
            options.update(min_size=min(connections, 2), max_size=connections)
        return options

    def open(self, connections: int) -> ProgressStore:
        if "+" in self.url.partition("://")[0]:  # a SQLAlchemy URL
            from mikoshi_progression.sqlalchemy import SQLAlchemyStore

            return SQLAlchemyStore(self.url, **self._options(connections))
        return open_store(self.url, **self._options(connections))

    async def open_async(self, connections: int) -> AsyncProgressStore:
        """The async twin (the same pool sizes)."""
        if "+" in self.url.partition("://")[0]:
            from mikoshi_progression.sqlalchemy import AsyncSQLAlchemyStore

            store = AsyncSQLAlchemyStore(self.url, **self._options(connections))
            await store.open()
            return store
        return await open_async_store(self.url, **self._options(connections))


def _process_main(tasks: Any, replies: Any) -> None:
    """A long-lived worker process: runs one task at a time, until told to stop."""
    while True:
        task = tasks.get()
        if task is None:
            return
        kind, args = task
        try:
            if kind == "ping":
                replies.put(("ok", Tally()))
                continue
            if kind in ROW_LOOPS:
                replies.put(("ok", ROW_LOOPS[kind](*args)))
                continue
            spec, config, user, start_at, warmup, seconds = args
            store = spec.open(1)
            try:
                service = ProgressionService(
                    store, config=CONFIGS[config], max_attempts=MAX_ATTEMPTS
                )
                if kind == "award":
                    replies.put(("ok", award_loop(service, user, start_at, warmup, seconds)))
                elif kind == "batch":
                    replies.put(("ok", batch_loop(service, user, start_at, warmup, seconds)))
                else:
                    replies.put(("ok", capped_loop(service, user, start_at)))
            finally:
                store.close()
        except BaseException:
            replies.put(("error", traceback.format_exc()))


class ProcessPool:
    """``size`` spawned workers, reused by every cell (start-up is never measured)."""

    def __init__(self, size: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.replies = context.Queue()
        self.tasks = [context.Queue() for _ in range(size)]
        self.workers = [
            context.Process(target=_process_main, args=(q, self.replies), daemon=True)
            for q in self.tasks
        ]
        for worker in self.workers:
            worker.start()
        self.run([("ping", ())] * size)  # every worker imported and ready

    def run(self, jobs: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Tally]:
        for task_queue, job in zip(self.tasks, jobs, strict=False):
            task_queue.put(job)
        answers = [self.replies.get(timeout=600) for _ in jobs]
        errors = [detail for status, detail in answers if status != "ok"]
        if errors:
            raise RuntimeError("a worker process failed:\n" + errors[0])
        return [tally for _, tally in answers]

    def close(self) -> None:
        for task_queue in self.tasks:
            task_queue.put(None)
        for worker in self.workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
                worker.join()
        self.replies.close()


def run_threads(work: Callable[[int], Tally], workers: int) -> list[Tally]:
    results: list[Tally | None] = [None] * workers
    errors: list[str] = []

    def target(index: int) -> None:
        try:
            results[index] = work(index)
        except BaseException:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=target, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError("a worker thread failed:\n" + errors[0])
    return [r for r in results if r is not None]


# --- cells ------------------------------------------------------------------------------


@dataclass
class Cell:
    rate: float | None = None
    ok: bool = True
    failures: int = 0
    note: str = ""


@dataclass
class Bench:
    dsn: str
    seconds: float
    warmup: float
    pool: ProcessPool | None
    ceiling_table: str = ""
    schema: str = ""
    problems: list[str] = field(default_factory=list)
    given: dict[str, int] = field(default_factory=dict)
    """The populations' users: EXP told to workers over the whole run (they share users)."""
    naive_lost: dict[tuple[str, str, int], list[tuple[int, int]]] = field(default_factory=dict)

    def start_at(self) -> float:
        return time.time() + 0.3

    def users(self, workload: str, workers: int) -> list[Sequence[str]]:
        """The users each worker awards to."""
        run = uuid.uuid4().hex[:8]
        if workload in POPULATIONS:
            return [Population(f"{workload}-", POPULATIONS[workload])] * workers
        if workload == "hot":
            return [(f"{run}-hot",)] * workers
        if workload == "spread":
            shared = tuple(f"{run}-s{i}" for i in range(SPREAD_USERS))
            return [shared] * workers
        if workload == "batch":
            return [tuple(f"{run}-w{i}-{j}" for j in range(BATCH_SIZE)) for i in range(workers)]
        return [(f"{run}-w{i}",) for i in range(workers)]

    def awards(self, spec: StoreSpec, mode: str, workload: str, workers: int) -> Cell:
        if workload in POPULATIONS and not spec.url.startswith("postgresql://"):
            return Cell(note="PostgreSQL only")
        if workload == "batch" and spec.asynchronous:
            return Cell(note="sync award_many only")
        users = self.users(workload, workers)
        start_at = self.start_at()
        where = f"{spec.label} {mode} {workload} x{workers}"
        warmup = max(self.warmup, POPULATION_WARMUP) if workload in POPULATIONS else self.warmup
        if spec.asynchronous:  # N tasks on one event loop, in the threads columns
            tallies, ok = asyncio.run(self._task_awards(spec, users, start_at, warmup, where))
        elif mode == "threads":
            store = spec.open(workers)
            try:
                service = ProgressionService(store, config=THROUGHPUT, max_attempts=MAX_ATTEMPTS)
                loop = batch_loop if workload == "batch" else award_loop
                tallies = run_threads(
                    lambda i: loop(service, users[i], start_at, warmup, self.seconds),
                    workers,
                )
                ok = self._no_lost_update(store, tallies, where)
            finally:
                store.close()
        else:
            assert self.pool is not None
            args = [(spec, "throughput", u, start_at, warmup, self.seconds) for u in users]
            kind = "batch" if workload == "batch" else "award"
            tallies = self.pool.run([(kind, a) for a in args])
            store = spec.open(1)
            try:
                ok = self._no_lost_update(store, tallies, where)
            finally:
                store.close()
        cell = _cell(tallies)
        cell.ok = ok
        return cell

    async def _task_awards(
        self,
        spec: StoreSpec,
        users: list[Sequence[str]],
        start_at: float,
        warmup: float,
        where: str,
    ) -> tuple[list[Tally], bool]:
        """``len(users)`` tasks on one event loop, each awaiting its awards."""
        store = await spec.open_async(len(users))
        try:
            service = AsyncProgressionService(store, config=THROUGHPUT, max_attempts=MAX_ATTEMPTS)
            tallies = await asyncio.gather(
                *(async_award_loop(service, u, start_at, warmup, self.seconds) for u in users)
            )
            if isinstance(store, AsyncInMemoryStore):  # its data lives in this store only
                return list(tallies), self._no_lost_update(store.sync, tallies, where)
        finally:
            await store.close()
        check = spec.open(1)
        try:
            return list(tallies), self._no_lost_update(check, tallies, where)
        finally:
            check.close()

    def _no_lost_update(self, store: ProgressStore, tallies: Sequence[Tally], where: str) -> bool:
        """Every user's exp and daily gained equal the sum of what its workers were told."""
        told: dict[str, int] = {}
        for tally in tallies:
            for user, added in tally.added.items():
                told[user] = told.get(user, 0) + added
        if any(user.startswith(tuple(POPULATIONS)) for user in told):
            return self._populations_intact(told, where)
        service = ProgressionService(store, config=THROUGHPUT)
        for user, added in told.items():
            state = service.state(user)
            if not state.exp == state.daily_exp_gained == added:
                self.problems.append(
                    f"{where}: {user} holds exp={state.exp} "
                    f"gained={state.daily_exp_gained}, workers were told {added}"
                )
                return False
        return True

    def _populations_intact(self, told: dict[str, int], where: str) -> bool:
        """``_no_lost_update`` for users of a population, shared by every cell of the run:
        each holds what all cells told their workers (one query, not a load per user)."""
        import psycopg
        from psycopg import sql

        for user, added in told.items():
            self.given[user] = self.given.get(user, 0) + added
        query = sql.SQL(
            "SELECT user_id, exp, daily_exp_gained FROM {} WHERE user_id = ANY(%s)"
        ).format(sql.Identifier(self.schema, "progression_state"))
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(query, (list(told),)).fetchall()
        held = {user: (exp, gained) for user, exp, gained in rows}
        for user in told:
            expected = self.given[user]
            if held.get(user) != (expected, expected):
                self.problems.append(
                    f"{where}: {user} holds (exp, gained)={held.get(user)}, "
                    f"workers were told {expected}"
                )
                return False
        return True

    def updates(self, mode: str, workload: str, workers: int) -> Cell:
        return _cell(self._row_loops("update", self.ceiling_table, mode, workload, workers))

    def naive(self, mode: str, workload: str, workers: int) -> Cell:
        """The platform's unlocked read-modify-write, and how many of its updates it lost."""
        import psycopg

        table = self.ceiling_table.replace(".ceiling", ".naive")
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"UPDATE {table} SET n = 0")
        tallies = self._row_loops("naive", table, mode, workload, workers)
        told = sum(sum(t.added.values()) for t in tallies)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute(f"SELECT sum(n) FROM {table}").fetchone()
        stored = int(row[0]) if row and row[0] is not None else 0
        cell = _cell(tallies)
        cell.ok = stored == told
        self.naive_lost.setdefault((mode, workload, workers), []).append((told - stored, told))
        return cell

    def _row_loops(
        self, kind: str, table: str, mode: str, workload: str, workers: int
    ) -> list[Tally]:
        """``kind``'s loop (``ROW_LOOPS``) by every worker, on one row or a row each."""
        # ("spread" and the populations run against the distinct rows' ceilings)
        rows = [0] * workers if workload == "hot" else list(range(1, workers + 1))
        start_at = self.start_at()
        args = [(self.dsn, table, r, start_at, self.warmup, self.seconds) for r in rows]
        if mode == "threads":
            loop = ROW_LOOPS[kind]
            return run_threads(lambda i: loop(*args[i]), workers)
        assert self.pool is not None
        return self.pool.run([(kind, a) for a in args])

    def sqlite_bare(
        self, path: str, synchronous: str, mode: str, workload: str, workers: int
    ) -> Cell:
        """The SQLite ceiling (``sqlite_bare_loop``) by every worker, as the stores' cells."""
        users = [u[0] for u in self.users(workload, workers)]
        start_at = self.start_at()
        args = [(path, synchronous, u, start_at, self.warmup, self.seconds) for u in users]
        if mode == "threads":
            turn = threading.Lock()
            return _cell(run_threads(lambda i: sqlite_bare_loop(*args[i], turn), workers))
        assert self.pool is not None
        return _cell(self.pool.run([("sqlite_bare", a) for a in args]))

    def pgbench(self, workload: str, workers: int) -> Cell:
        binary = shutil.which("pgbench")
        if binary is None:
            return Cell(note="pgbench not installed")
        target = "0" if workload == "hot" else ":client_id + 1"
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write(f"UPDATE {self.ceiling_table} SET n = n + 1 WHERE id = {target};\n")
        try:
            duration = max(1, round(self.seconds + self.warmup))
            command = [binary, "-n", "-M", "prepared", "-f", script.name]
            command += ["-c", str(workers), "-j", str(workers)]
            command += ["-T", str(duration), self.dsn]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        finally:
            os.unlink(script.name)
        match = re.search(r"tps = ([0-9.]+)", done.stdout)
        if done.returncode != 0 or match is None:
            self.problems.append(f"pgbench failed: {done.stderr.strip() or done.stdout.strip()}")
            return Cell(ok=False)
        return Cell(rate=float(match.group(1)))

    def capped(self, spec: StoreSpec, mode: str, workers: int) -> str:
        """8 workers against a real cap on one user: the cap must be reached exactly."""
        user = f"{uuid.uuid4().hex[:8]}-capped"
        start_at = self.start_at()
        if mode == "threads":
            store = spec.open(workers)
            try:
                service = ProgressionService(store, config=CAPPED, max_attempts=MAX_ATTEMPTS)
                tallies = run_threads(lambda i: capped_loop(service, user, start_at), workers)
                state = service.state(user)
            finally:
                store.close()
        else:
            assert self.pool is not None
            job = ("capped", (spec, "capped", user, start_at, 0.0, 0.0))
            tallies = self.pool.run([job] * workers)
            store = spec.open(1)
            try:
                state = ProgressionService(store, config=CAPPED).state(user)
            finally:
                store.close()
        told = sum(t.added[user] for t in tallies)
        ok = state.exp == state.daily_exp_gained == told == CAP
        verdict = "ok" if ok else "OVERSHOOT/LOST"
        return (
            f"{spec.label:<24} {mode:<9} {workers} workers: gained {state.daily_exp_gained}, "
            f"told {told}, cap {CAP}, {sum(t.count for t in tallies)} awards: {verdict}"
        )


def _median(cells: Sequence[Cell]) -> Cell:
    """One figure for the rounds of a cell: the median rate."""
    rates = [c.rate for c in cells if c.rate is not None]
    return Cell(
        rate=statistics.median(rates) if rates else None,
        ok=all(c.ok for c in cells),
        failures=sum(c.failures for c in cells),
    )


def _cell(tallies: Sequence[Tally]) -> Cell:
    seconds = max(t.elapsed for t in tallies)
    return Cell(
        rate=sum(t.count for t in tallies) / seconds,
        failures=sum(t.failures for t in tallies),
    )


# --- PostgreSQL set-up ------------------------------------------------------------------


@contextmanager
def postgres_schema(dsn: str) -> Iterator[tuple[str, str] | None]:
    """A schema for this run with the ceiling table; ``None`` if the server is unreachable."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        yield None
        return
    try:
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable at {dsn}: {exc}".strip(), file=sys.stderr)
        yield None
        return
    schema = f"bench_stores_{os.getpid()}"
    table = f"{schema}.ceiling"
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            admin.execute(
                sql.SQL("CREATE TABLE {} (id integer PRIMARY KEY, n bigint NOT NULL)").format(
                    sql.Identifier(schema, "ceiling")
                )
            )
            admin.execute(
                sql.SQL("INSERT INTO {} SELECT g, 0 FROM generate_series(0, 64) AS g").format(
                    sql.Identifier(schema, "ceiling")
                )
            )
            admin.execute(
                sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
                    sql.Identifier(schema, "naive"), sql.Identifier(schema, "ceiling")
                )
            )
            yield schema, table
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def create_populations(dsn: str, schema: str, workloads: Sequence[str]) -> None:
    """Create the users of each population workload in the store's own state table, in one
    ``INSERT ... SELECT generate_series`` each (a new user's defaults: level 1, no EXP)."""
    import psycopg
    from psycopg import sql

    table = sql.Identifier(schema, "progression_state")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for workload in workloads:
            if workload not in POPULATIONS:
                continue
            began = time.perf_counter()
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (user_id) SELECT %s || g FROM generate_series(0, %s) AS g"
                ).format(table),
                (f"{workload}-", POPULATIONS[workload] - 1),
            )
            print(
                f"{workload}: {POPULATIONS[workload]:,} users created in "
                f"{time.perf_counter() - began:.1f} s"
            )
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(table))


def server_version(dsn: str) -> str:
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        sync = conn.execute("SHOW synchronous_commit").fetchone()
    return f"PostgreSQL {row[0] if row else '?'} (synchronous_commit={sync[0] if sync else '?'})"


# --- the run ----------------------------------------------------------------------------


def _fmt(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    if cell.rate is None:
        return "n/a"
    mark = "" if cell.ok else "!"
    if cell.failures:
        mark += "*"
    return f"{cell.rate:,.0f}{mark}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 s per cell, one round, the default store only"
    )
    parser.add_argument("--rounds", type=int, default=None, help="rounds per cell (median)")
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds per cell")
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--stores", default="memory,sqlite,postgres,sqlalchemy")
    parser.add_argument("--locking", default=None, help="PostgresStore locking modes to run")
    parser.add_argument("--modes", default="threads,processes")
    parser.add_argument(
        "--sqlite-synchronous",
        default="FULL",
        help="SQLiteStore synchronous modes to run, each beside a bare sqlite3 loop "
        "(FULL, the default, is labelled 'sqlite'; others 'sqlite (NORMAL)')",
    )
    parser.add_argument(
        "--no-async",
        action="store_true",
        help="leave out the async stores (their rows run as tasks, in the threads columns)",
    )
    parser.add_argument(
        "--workloads",
        default="distinct,hot",
        help="distinct (a user per worker), hot (one user), spread (a random one of 1,000), "
        "users-1k / users-1m (a random one of 1,000 / 1,000,000 users created beforehand)",
    )
    args = parser.parse_args(argv)

    seconds = args.seconds or (1.0 if args.quick else 2.0)
    rounds = args.rounds or (1 if args.quick else 3)
    warmup = min(0.5, seconds / 4)
    workers_list = [int(w) for w in args.workers.split(",")]
    stores = args.stores.split(",")
    modes = args.modes.split(",")
    workloads = args.workloads.split(",")
    for workload in workloads:
        if workload not in ("distinct", "hot", "spread", "batch", *POPULATIONS):
            parser.error(f"unknown workload {workload!r}")
    default_variants = (
        "adaptive,adaptive+nocache"
        if args.quick
        else "adaptive,adaptive+nocache,optimistic+nocache,row"
    )
    lockings = (args.locking or default_variants).split(",")

    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {sys.platform}")
    print(f"before: {_load_average()}")
    with tempfile.TemporaryDirectory() as tmp, postgres_schema(args.dsn) as pg:
        specs: list[StoreSpec] = []
        if "memory" in stores:
            specs.append(StoreSpec("memory", "memory://", processes=False))
        bare_files: dict[str, str] = {}  # the bare sqlite3 ceiling's file, by synchronous
        if "sqlite" in stores:
            for synchronous in args.sqlite_synchronous.upper().split(","):
                label = "sqlite" if synchronous == "FULL" else f"sqlite ({synchronous})"
                name = synchronous.lower()
                specs.append(
                    StoreSpec(
                        label, f"sqlite:///{tmp}/bench-{name}.db", (("synchronous", synchronous),)
                    )
                )
                bare_files[synchronous] = f"{tmp}/bare-{name}.db"
                open_store(f"sqlite:///{bare_files[synchronous]}").close()  # the store's tables
        if "postgres" in stores and pg is not None:
            schema, _ = pg
            print(server_version(args.dsn))
            for variant in lockings:
                locking, _, extra = variant.partition("+")
                options: tuple[tuple[str, Any], ...] = (("schema", schema), ("locking", locking))
                if extra == "nocache":
                    options += (("snapshot_cache", 0),)
                elif extra:
                    parser.error(f"unknown PostgresStore variant {variant!r}")
                specs.append(StoreSpec(f"postgres ({variant})", args.dsn, options))
            if "sqlalchemy" in stores:
                sqlalchemy_url = args.dsn.replace("postgresql://", "postgresql+psycopg://", 1)
                specs.append(
                    StoreSpec("sqlalchemy (postgres)", sqlalchemy_url, (("schema", schema),))
                )
        if not args.no_async:
            specs += [
                StoreSpec(
                    f"{spec.label} async",
                    spec.url,
                    spec.options,
                    processes=False,
                    asynchronous=True,
                )
                for spec in list(specs)
                if spec.label
                in ("memory", "sqlite", "postgres (adaptive)", "sqlalchemy (postgres)")
            ]
        print(
            f"{seconds:g} s measured per cell after {warmup:g} s warm-up; "
            f"median of {rounds} interleaved round(s)\n"
        )

        pool = ProcessPool(max(workers_list)) if "processes" in modes else None
        bench = Bench(args.dsn, seconds, warmup, pool, pg[1] if pg else "", pg[0] if pg else "")
        runs: dict[tuple[str, str, str, int], list[Cell]] = {}
        capped: list[str] = []
        try:
            for spec in specs:  # create schemas once, outside the measurements
                spec.open(1).close()
            if pg is not None and any(s.url.startswith("postgresql://") for s in specs):
                create_populations(args.dsn, pg[0], workloads)
            for mode in modes:
                for workers in workers_list:
                    # Rounds interleave the ceilings with the stores, and the workloads
                    # with each other, so that a machine getting slower or faster
                    # affects all of them alike.
                    for _ in range(rounds):
                        for workload in workloads:
                            if pg is not None and workload not in POPULATIONS:
                                if workload != "batch":  # its ceiling is pgbench's alone
                                    key = ("UPDATE via psycopg", mode, workload, workers)
                                    runs.setdefault(key, []).append(
                                        bench.updates(mode, workload, workers)
                                    )
                                    key = (NAIVE, mode, workload, workers)
                                    runs.setdefault(key, []).append(
                                        bench.naive(mode, workload, workers)
                                    )
                                key = ("UPDATE via pgbench (C)", mode, workload, workers)
                                runs.setdefault(key, []).append(bench.pgbench(workload, workers))
                            for synchronous, path in bare_files.items():
                                key = (_bare_label(synchronous), mode, workload, workers)
                                runs.setdefault(key, []).append(
                                    bench.sqlite_bare(path, synchronous, mode, workload, workers)
                                )
                            for spec in specs:
                                if mode == "processes" and not spec.processes:
                                    continue
                                key = (spec.label, mode, workload, workers)
                                runs.setdefault(key, []).append(
                                    bench.awards(spec, mode, workload, workers)
                                )
                    print(f"  done: {mode}, {workers} workers, {_load_average()}", file=sys.stderr)
            top = max(workers_list)
            for spec in specs:
                for mode in modes:
                    if (mode == "processes" and not spec.processes) or spec.asynchronous:
                        continue
                    capped.append(bench.capped(spec, mode, top))
        finally:
            if pool is not None:
                pool.close()
            postgres = [s for s in specs if s.url.startswith("postgresql://")]
            if pg is not None and postgres:
                with _quiet():
                    store = postgres[0].open(1)
                    store.drop_schema()  # type: ignore[attr-defined]
                    store.close()

    table = {key: _median(cells) for key, cells in runs.items()}
    rows = [s.label for s in specs] + [_bare_label(sync) for sync in bare_files]
    if pg is not None:
        rows += [NAIVE, "UPDATE via psycopg", "UPDATE via pgbench (C)"]
    width = 28
    head = f"{'awards/s':<{width}} {'users':<9}"
    for mode in modes:
        head += "".join(f"{f'{mode[:4]} x{w}':>11}" for w in workers_list)
    print(head)
    print("-" * len(head))
    for label in rows:
        for workload in workloads:
            line = f"{label:<{width}} {workload:<9}"
            for mode in modes:
                for w in workers_list:
                    line += f"{_fmt(table.get((label, mode, workload, w))):>11}"
            print(line)
    print("\n'!' a user's exp (a row's n) differed from what its workers were told (lost update);")
    print(
        "'*' some awards gave up (ConcurrencyError); 'UPDATE via pgbench (C)' runs "
        "-c N -j N -M prepared."
    )

    if pg is not None:
        top = max(workers_list)
        print(
            f"\nPostgreSQL awards at {top} workers on distinct users, against the psycopg UPDATE:"
        )
        for spec in specs:
            if not spec.url.startswith("postgres"):
                continue
            for mode in modes:
                award = table.get((spec.label, mode, "distinct", top))
                ceiling = table.get(("UPDATE via psycopg", mode, "distinct", top))
                if award and ceiling and award.rate and ceiling.rate:
                    share = award.rate / ceiling.rate
                    print(
                        f"  {spec.label:<28} {mode:<9} {award.rate:8,.0f} / {ceiling.rate:8,.0f}"
                        f" = {share:4.0%}"
                    )
        print(
            f"\nPostgreSQL awards at {top} workers on distinct users, against pgbench's "
            "-M prepared UPDATE (target 0.5x; per round, then of the medians):"
        )
        for spec in specs:
            if not spec.url.startswith("postgres"):
                continue
            for mode in modes:
                print(_against(runs, spec.label, mode, "distinct", top, 0.5))
        if "hot" in workloads:
            print(
                f"\nPostgreSQL awards at {top} workers on one hot user, against pgbench's "
                "-M prepared UPDATE of one row (target 1.0x; per round, then of the medians):"
            )
            for spec in specs:
                if spec.url.startswith("postgres"):
                    for mode in modes:
                        print(_against(runs, spec.label, mode, "hot", top, 1.0))
        if "batch" in workloads:
            print(
                f"\nPostgreSQL award_many (batches of {BATCH_SIZE:,} over {BATCH_SIZE:,} users), "
                "in awards/s, against pgbench's -M prepared single-row UPDATE by as many "
                "clients (target 3.0x; per round, then of the medians):"
            )
            for spec in specs:
                if spec.url.startswith("postgres") and not spec.asynchronous:
                    for mode in modes:
                        for w in workers_list:
                            print(f"  x{w}" + _against(runs, spec.label, mode, "batch", w, 3.0))
        populations = [w for w in workloads if w in POPULATIONS]
        if len(populations) == 2:
            small, large = sorted(populations, key=POPULATIONS.__getitem__)
            print(
                f"\nPostgreSQL awards at {top} workers, {large} against {small} "
                "(target 0.9x; per round, then of the medians):"
            )
            for spec in specs:
                if not spec.url.startswith("postgres") or spec.asynchronous:
                    continue
                for mode in modes:
                    print(_against(runs, spec.label, mode, (large, small), top, 0.9))
    if bare_files:
        print(
            "\nSQLite awards against the bare sqlite3 loop doing the same writes "
            f"(target: at least 50%; {_load_average()}):"
        )
        for synchronous in bare_files:
            label = "sqlite" if synchronous == "FULL" else f"sqlite ({synchronous})"
            for mode in modes:
                for workload in workloads:
                    for w in workers_list:
                        award = table.get((label, mode, workload, w))
                        ceiling = table.get((_bare_label(synchronous), mode, workload, w))
                        if award and ceiling and award.rate and ceiling.rate:
                            share = award.rate / ceiling.rate
                            verdict = "meets" if share >= 0.5 else "BELOW"
                            print(
                                f"  {label:<17} {mode:<9} {workload:<9} x{w}: "
                                f"{award.rate:8,.0f} / {ceiling.rate:8,.0f} = {share:4.0%}"
                                f"  ({verdict} the 50% target)"
                            )
    if "threads" in modes:
        top = max(workers_list)
        print(f"\nAsync stores ({top} tasks on one event loop) against {top} threads:")
        for spec in specs:
            if not spec.asynchronous:
                continue
            threaded = spec.label.removesuffix(" async")
            for workload in workloads:
                tasks = table.get((spec.label, "threads", workload, top))
                threads = table.get((threaded, "threads", workload, top))
                if tasks and threads and tasks.rate and threads.rate:
                    print(
                        f"  {threaded:<28} {workload:<9} {tasks.rate:8,.0f} / "
                        f"{threads.rate:8,.0f} = {tasks.rate / threads.rate:5.2f}x"
                    )
    print(f"\nOvershoot check (one user, {max(workers_list)} workers, cap {CAP}, 7 EXP a gift):")
    for line in capped:
        print(f"  {line}")
    if bench.naive_lost:
        print(f"\n{NAIVE} (the platform's pattern), updates lost of those made:")
        for (mode, workload, workers), outcomes in bench.naive_lost.items():
            lost_updates = sum(lost for lost, _ in outcomes)
            made = sum(told for _, told in outcomes)
            print(f"  {mode:<9} {workload:<9} x{workers}: {lost_updates:,} of {made:,}")
    lost = bench.problems
    print(
        "\nNo lost update in any store's cell."
        if not lost
        else "\nPROBLEMS:\n  " + "\n  ".join(lost)
    )
    print(f"after: {_load_average()}")


def _bare_label(synchronous: str) -> str:
    return f"bare sqlite3 ({synchronous})"


def _against(
    runs: dict[tuple[str, str, str, int], list[Cell]],
    label: str,
    mode: str,
    workload: str | tuple[str, str],
    workers: int,
    target: float,
) -> str:
    """A store's cell against its ceiling: pgbench's on ``workload``, or, for a pair of
    workloads, the same store's cell on the second; round by round and of the medians."""
    if isinstance(workload, tuple):
        mine, theirs = (
            runs.get((label, mode, workload[0], workers)),
            runs.get((label, mode, workload[1], workers)),
        )
    else:
        mine = runs.get((label, mode, workload, workers))
        theirs = runs.get(("UPDATE via pgbench (C)", mode, workload, workers))
    if not mine or not theirs:
        return f"  {label:<28} {mode:<9} -"
    shares = [a.rate / b.rate for a, b in zip(mine, theirs, strict=False) if a.rate and b.rate]
    award, ceiling = _median(mine).rate, _median(theirs).rate
    if not shares or not award or not ceiling:
        return f"  {label:<28} {mode:<9} -"
    share = award / ceiling
    verdict = "meets" if share >= target else "BELOW"
    rounds = ", ".join(f"{x:.2f}" for x in shares)
    return (
        f"  {label:<28} {mode:<9} {award:8,.0f} / {ceiling:8,.0f} = {share:.2f}x "
        f"({verdict} {target}x; rounds {rounds})"
    )


def _load_average() -> str:
    try:
        return "load average " + ", ".join(f"{load:.2f}" for load in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "load average unknown"


@contextmanager
def _quiet() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        print(f"clean-up failed: {exc}", file=sys.stderr)


if __name__ == "__main__":
    main()

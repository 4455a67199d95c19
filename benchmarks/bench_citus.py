"""Awards per second through a Citus coordinator, beside plain PostgreSQL, in one run.

Run:  python benchmarks/bench_citus.py [--pg-dsn URL] [--citus-dsn URL] [--workers 8]
      [--seconds 3] [--rounds 5] [--shards 32]

The DSNs default to ``MIKOSHI_PG_DSN`` and ``MIKOSHI_CITUS_DSN`` (the cluster of
``../shared/citus/cluster.sh start``: a coordinator and two workers on this machine).
On each server, a schema of its own holds the store's tables, on Citus made by
``create_schema(distributed=True)`` (state and ledger distributed by ``user_id`` and
co-located, ``--shards`` shards each), and a ceiling table of 65 rows (on Citus distributed
by its key). Both stores use ``version_token="counter"`` (what Citus needs), so that the
two differ only in where the rows live.

Each round runs four cells, one after the other, with ``--workers`` threads on distinct
users (one each): ``ProgressionService.award`` through ``PostgresStore`` on PostgreSQL,
the same on Citus, and on each server the ceiling, a prepared single-row ``UPDATE`` per
call through psycopg by the same threads. The rounds interleave the cells (the order
rotates each round), and the figures are medians over rounds, with the ratios taken
within each round, then their median. After each store cell, every user's EXP must equal
the sum of what its awards were told (no lost update). The load average is printed
before and after every round.

This is a measurement, never a test: nothing here asserts a speed. All three Citus nodes,
PostgreSQL and the clients share the machine's cores: compare ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stores import (
    MAX_ATTEMPTS,
    THROUGHPUT,
    Tally,
    _load_average,
    award_loop,
    run_threads,
    update_loop,
)

from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores.postgres import PostgresStore

PG_DSN = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CITUS_DSN = os.environ.get("MIKOSHI_CITUS_DSN", "postgresql://postgres@127.0.0.1:9700/postgres")
WARMUP = 0.5


@contextmanager
def server(dsn: str, *, citus: bool, shards: int, workers: int) -> Iterator[tuple[str, str]]:
    """``(store schema, ceiling table)`` on ``dsn``, dropped at the end."""
    import psycopg

    schema = f"bench_citus_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    options = {"connect_kwargs": {"options": f"-c citus.shard_count={shards}"}} if citus else {}
    with PostgresStore(
        dsn, schema=schema, create=False, version_token="counter", **options
    ) as store:
        store.create_schema(distributed=citus)
    table = f"{schema}.ceiling"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, n bigint NOT NULL)")
        if citus:
            admin.execute(f"SET citus.shard_count = {shards}")
            admin.execute(f"SELECT create_distributed_table('{table}', 'id')")
        admin.execute(f"INSERT INTO {table} SELECT g, 0 FROM generate_series(0, 64) AS g")
        try:
            yield schema, table
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def store_cell(dsn: str, schema: str, workers: int, seconds: float) -> float:
    """Awards per second of ``workers`` threads on distinct users; checks no lost update."""
    run = uuid.uuid4().hex[:8]
    with PostgresStore(
        dsn, schema=schema, version_token="counter", min_size=workers, max_size=workers
    ) as store:
        service = ProgressionService(store, config=THROUGHPUT, max_attempts=MAX_ATTEMPTS)
        start_at = time.time() + 0.3
        tallies = run_threads(
            lambda i: award_loop(service, (f"{run}-{i}",), start_at, WARMUP, seconds), workers
        )
        for tally in tallies:
            for user, told in tally.added.items():
                stored = service.state(user).exp
                if stored != told:
                    raise SystemExit(f"lost update on {dsn}: {user} told {told}, has {stored}")
    return sum(t.count for t in tallies) / seconds


def update_cell(dsn: str, table: str, workers: int, seconds: float) -> float:
    """The ceiling: the same threads, each a prepared single-row UPDATE per call."""
    start_at = time.time() + 0.3
    tallies: list[Tally] = run_threads(
        lambda i: update_loop(dsn, table, i, start_at, WARMUP, seconds), workers
    )
    return sum(t.count for t in tallies) / seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-dsn", default=PG_DSN)
    parser.add_argument("--citus-dsn", default=CITUS_DSN)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shards", type=int, default=32, help="shards per distributed table")
    args = parser.parse_args(argv)
    workers, seconds = args.workers, args.seconds
    print(
        f"{workers} threads, distinct users, {seconds:g} s cells, {args.rounds} rounds, "
        f"{args.shards} shards; {_load_average()}"
    )
    with (
        server(args.pg_dsn, citus=False, shards=args.shards, workers=workers) as (pg, pg_table),
        server(args.citus_dsn, citus=True, shards=args.shards, workers=workers) as (
            citus,
            citus_table,
        ),
    ):
        cells: dict[str, Callable[[], float]] = {
            "PostgreSQL store": lambda: store_cell(args.pg_dsn, pg, workers, seconds),
            "Citus store": lambda: store_cell(args.citus_dsn, citus, workers, seconds),
            "PostgreSQL UPDATE": lambda: update_cell(args.pg_dsn, pg_table, workers, seconds),
            "Citus UPDATE": lambda: update_cell(args.citus_dsn, citus_table, workers, seconds),
        }
        names = list(cells)
        rates: dict[str, list[float]] = {name: [] for name in names}
        for number in range(args.rounds):
            order = names[number % len(names) :] + names[: number % len(names)]
            for name in order:
                rates[name].append(cells[name]())
            shown = ", ".join(f"{name} {rates[name][-1]:,.0f}" for name in names)
            print(f"round {number + 1}: {shown}; {_load_average()}")
    print()
    for name in names:
        print(f"{name:<18} {statistics.median(rates[name]):>8,.0f} awards or updates/s (median)")

    def ratio(top: str, bottom: str) -> str:
        per_round = [a / b for a, b in zip(rates[top], rates[bottom], strict=True)]
        return f"{statistics.median(per_round):.2f}x"

    print()
    print(f"Citus store / PostgreSQL store:      {ratio('Citus store', 'PostgreSQL store')}")
    print(f"Citus UPDATE / PostgreSQL UPDATE:    {ratio('Citus UPDATE', 'PostgreSQL UPDATE')}")
    print(f"PostgreSQL store / PostgreSQL UPDATE: {ratio('PostgreSQL store', 'PostgreSQL UPDATE')}")
    print(f"Citus store / Citus UPDATE:          {ratio('Citus store', 'Citus UPDATE')}")
    print("No lost update in any store cell.")
    print(f"after: {_load_average()}")


if __name__ == "__main__":
    main()

"""Client CPU of one PostgreSQL award, beside a bare prepared UPDATE, one client, one thread.

Run:  python benchmarks/profile_postgres_award.py [--dsn URL] [--awards 3000] [--rounds 5]
      [--baseline-src PATH] [--profile 30]

Where ``bench_stores.py`` measures throughput, this says where one award's client CPU
goes. Each round times, in turn and by ``time.thread_time()`` (CPU of this thread only:
psycopg_pool's own threads are left out), then by the wall clock:

- ``award (cached)``: ``ProgressionService.award`` on one user with the snapshot cache
  on: one round trip, the write (the unkeyed award's common case);
- ``award (uncached)``: the same on a store with ``snapshot_cache=0``: two round trips,
  the load and the write (every award at a million users);
- ``UPDATE via psycopg``: ``conn.execute`` of a prepared one-row ``UPDATE``, the floor of
  any statement sent through psycopg.

Last, the memory the snapshot cache holds per user it remembers (``tracemalloc``).

``--baseline-src`` runs the same rounds with another checkout's ``src`` (say ``git archive
main src | tar -x -C /tmp/base``) in a child process, taking turns round by round, so
that a change is measured against what it changes in one run. ``--profile N`` then prints
cProfile's N costliest functions of one contender (``--profiled``), by CPU time.

A measurement, never a test: figures on a shared machine move with its load (printed
before and after); compare the columns of one run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

DEFAULT_DSN = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CONTENDERS = ("award (cached)", "award (uncached)", "UPDATE via psycopg")


class Client:
    """The three contenders, ready to run, on a schema of their own."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        from mikoshi_progression import ActionRule, Level, ProgressionConfig
        from mikoshi_progression.service import ProgressionService
        from mikoshi_progression.stores import open_store

        config = ProgressionConfig(
            levels=(Level(1, "Only", "", 0),),
            actions={"tick": ActionRule(1)},
            daily_exp_caps={1: 10**15},
        )
        self.schema = f"profile_award_{os.getpid()}"
        self.cached = open_store(dsn, schema=self.schema, min_size=1, max_size=1)
        self.uncached = open_store(
            dsn, schema=self.schema, min_size=1, max_size=1, snapshot_cache=0
        )
        self.user = f"{uuid.uuid4().hex[:8]}-profile"
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute(f"CREATE TABLE {self.schema}.ceiling (id integer PRIMARY KEY, n bigint)")
        self.conn.execute(f"INSERT INTO {self.schema}.ceiling VALUES (1, 0)")
        update = f"UPDATE {self.schema}.ceiling SET n = n + 1 WHERE id = %s"
        on_cached = ProgressionService(self.cached, config=config, max_attempts=1000)
        on_uncached = ProgressionService(self.uncached, config=config, max_attempts=1000)
        # A user each: a write by the other store would make the cache stop guessing.
        user, conn = self.user, self.conn
        self.steps: dict[str, Callable[[], object]] = {
            "award (cached)": lambda: on_cached.award(user, "tick"),
            "award (uncached)": lambda: on_uncached.award(f"{user}-2", "tick"),
            "UPDATE via psycopg": lambda: conn.execute(update, (1,), prepare=True),
        }

    def round(self, awards: int) -> dict[str, tuple[float, float]]:
        """Each contender ``awards`` times: (CPU, wall) microseconds per call."""
        times: dict[str, tuple[float, float]] = {}
        for name, step in self.steps.items():
            for _ in range(50):
                step()
            cpu, wall = time.thread_time(), time.perf_counter()
            for _ in range(awards):
                step()
            times[name] = (
                1e6 * (time.thread_time() - cpu) / awards,
                1e6 * (time.perf_counter() - wall) / awards,
            )
        return times

    def profile(self, awards: int, top: int, contender: str) -> None:
        step = self.steps[contender]
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        for _ in range(awards):
            step()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)

    def close(self) -> None:
        # The ceiling's table first: the store drops only its own tables, then the schema
        # if it is empty (it was left behind, with the table, run after run).
        self.conn.execute(f"DROP TABLE IF EXISTS {self.schema}.ceiling")
        self.conn.close()
        self.cached.drop_schema()  # type: ignore[attr-defined]
        self.cached.close()
        self.uncached.close()


def cache_bytes_per_user(users: int = 20_000) -> float:
    """Memory a snapshot cache holds per user, by ``tracemalloc``: states as a load
    decodes them (two daily counts, no lever), their datetimes shared."""
    import tracemalloc
    from datetime import UTC, datetime

    from mikoshi_progression.stores._rows import state_from_row
    from mikoshi_progression.stores._snapshots import SnapshotCache
    from mikoshi_progression.stores.base import Snapshot

    now = datetime.now(UTC)
    tracemalloc.start()
    try:
        cache = SnapshotCache(users)
        for i in range(users):
            state = state_from_row(
                exp=i,
                level=1,
                daily_exp_gained=i,
                last_exp_reset_date=now,
                daily_action_counts={"tick": i % 50, "chat": 3},
                last_chat_date=now,
            )
            cache.remember(f"user-{i:07d}", Snapshot(state, str(10**6 + i), True, True))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return held / users


def _child(dsn: str, awards: int) -> None:
    """``--serve``: one round per line read on stdin, its times as JSON on stdout."""
    client = Client(dsn)
    try:
        for _ in sys.stdin:
            print(json.dumps(client.round(awards)), flush=True)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--awards", type=int, default=3000, help="calls per contender a round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-src", default=None, help="another checkout's src directory")
    parser.add_argument("--profile", type=int, default=0, help="print cProfile's top N")
    parser.add_argument(
        "--profiled", default=CONTENDERS[0], choices=CONTENDERS, help="what --profile profiles"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _child(args.dsn, args.awards)
        return

    print(f"before: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    client = Client(args.dsn)
    baseline = None
    if args.baseline_src:
        env = dict(os.environ, PYTHONPATH=os.path.abspath(args.baseline_src))
        command = [sys.executable, __file__, "--serve", "--dsn", args.dsn]
        command += ["--awards", str(args.awards)]
        baseline = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
    runs: dict[str, list[tuple[float, float]]] = {}
    try:
        for _ in range(args.rounds):
            for name, times in client.round(args.awards).items():
                runs.setdefault(f"this checkout: {name}", []).append(times)
            if baseline is not None:
                assert baseline.stdin is not None
                assert baseline.stdout is not None
                baseline.stdin.write("go\n")
                baseline.stdin.flush()
                for name, times in json.loads(baseline.stdout.readline()).items():
                    runs.setdefault(f"baseline: {name}", []).append(tuple(times))
        if args.profile:
            client.profile(args.awards, args.profile, args.profiled)
    finally:
        client.close()
        if baseline is not None:
            assert baseline.stdin is not None
            baseline.stdin.close()
            baseline.wait(timeout=60)
    print(f"\n{args.awards} calls per contender and round, median of {args.rounds} rounds")
    print(f"{'contender':<40} {'CPU us':>8} {'wall us':>8}")
    for name, times in sorted(runs.items()):
        cpu = statistics.median(t[0] for t in times)
        wall = statistics.median(t[1] for t in times)
        print(f"{name:<40} {cpu:8.1f} {wall:8.1f}")
    print(f"after: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"snapshot cache: about {cache_bytes_per_user():,.0f} bytes per user remembered")


if __name__ == "__main__":
    main()

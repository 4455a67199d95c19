"""Pytest wiring of the store contract: a ``store_factory`` per backend, memory first.

- ``memory``: the reference, no marker.
- ``sqlite``: a fresh file under ``tmp_path`` per test (marker ``sqlite``).
- ``postgres``: a fresh schema per test, named after this run and dropped after the
  test, on ``MIKOSHI_PG_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``)
  (marker ``postgres``); ``postgres-counter`` is the same with
  ``version_token="counter"``. Skipped with a one-line reason when psycopg or the server
  is missing, except when ``CI`` is set: then that is a failure.
- ``citus``: the same on a Citus coordinator (``MIKOSHI_CITUS_DSN``, default
  ``postgresql://postgres@127.0.0.1:9700/postgres``, the cluster of
  ``../shared/citus/cluster.sh start``), the tables made by
  ``create_schema(distributed=True)`` (state and ledger distributed by ``user_id`` and
  co-located), ``version_token="counter"``, 4 shards per table (marker ``citus``); skipped or
  failed like PostgreSQL when the cluster is not there.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

from mikoshi_progression.stores import (
    AsyncInMemoryStore,
    AsyncSQLiteStore,
    InMemoryStore,
    ProgressStore,
    open_store,
)
from mikoshi_progression.stores.sqlite import SQLiteStore
from mikoshi_progression.testing.bridge import BlockingStore, open_blocking
from mikoshi_progression.testing.store_contract import StoreFactory

PG_DSN = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CITUS_DSN = os.environ.get("MIKOSHI_CITUS_DSN", "postgresql://postgres@127.0.0.1:9700/postgres")
CITUS_OPTIONS: dict[str, Any] = {
    "version_token": "counter",
    "create": False,
    # Few shards: creating a distributed table makes one shard per count, per test.
    "connect_kwargs": {"options": "-c citus.shard_count=4"},
}
"""How the ``citus`` backend opens its stores (``create_schema(distributed=True)`` makes
the tables, not the opening)."""
RUN_ID = secrets.token_hex(4)
"""Names this test run's PostgreSQL schemas (``mikoshi_test_<run>_<n>``)."""
_schema_numbers = itertools.count(1)

BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("async-memory", id="async-memory"),
    pytest.param("sqlite", id="sqlite", marks=pytest.mark.sqlite),
    pytest.param("async-sqlite", id="async-sqlite", marks=pytest.mark.sqlite),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("postgres-counter", id="postgres-counter", marks=pytest.mark.postgres),
    pytest.param("async-postgres", id="async-postgres", marks=pytest.mark.postgres),
    pytest.param("citus", id="citus", marks=pytest.mark.citus),
]


@pytest.fixture(params=BACKENDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Reaches one backend's data, empty at the start of the test; closes what it opened."""
    if request.param == "memory":
        backend = _memory_factory()
    elif request.param == "async-memory":
        backend = _async_memory_factory()
    elif request.param == "sqlite":
        backend = _sqlite_factory(tmp_path / "progress.db")
    elif request.param == "async-sqlite":
        backend = _sqlite_factory(tmp_path / "progress.db", asynchronous=True)
    elif request.param == "citus":
        backend = _postgres_factory(
            request.getfixturevalue("citus_dsn"), CITUS_OPTIONS, distributed=True
        )
    else:
        options = {"version_token": "counter"} if request.param == "postgres-counter" else {}
        backend = _postgres_factory(
            request.getfixturevalue("postgres_dsn"),
            options,
            asynchronous=request.param == "async-postgres",
        )
    with backend as factory:
        yield factory


@pytest.fixture
def store(store_factory: StoreFactory) -> ProgressStore:
    """A store of the backend under test (closed by ``store_factory``)."""
    return store_factory()


# --- memory and SQLite ------------------------------------------------------------------


@contextmanager
def _memory_factory() -> Iterator[StoreFactory]:
    store = InMemoryStore()
    try:
        yield StoreFactory("memory", lambda: store)
    finally:
        store.close()


@contextmanager
def _async_memory_factory() -> Iterator[StoreFactory]:
    """The async in-memory store, driven through the bridge (tasks on one event loop)."""
    store = BlockingStore(AsyncInMemoryStore)
    try:
        yield StoreFactory("async-memory", lambda: store)
    finally:
        store.close()


@contextmanager
def _sqlite_factory(path: Path, *, asynchronous: bool = False) -> Iterator[StoreFactory]:
    """SQLiteStore, or AsyncSQLiteStore through the bridge (and in other processes too)."""
    opened: list[ProgressStore] = []

    def open_() -> ProgressStore:
        store: ProgressStore = (
            BlockingStore(lambda: AsyncSQLiteStore(path)) if asynchronous else SQLiteStore(path)
        )
        opened.append(store)
        return store

    with SQLiteStore(path) as reference:  # creates the schema; names the tables
        (table, _), url = reference.tables, reference.url

    def seed_row(user_id: str, row: Mapping[str, object]) -> None:
        columns = ", ".join(("user_id", *row))
        marks = ", ".join("?" * (len(row) + 1))
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute(
                f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', (user_id, *row.values())
            )

    open_()
    try:
        yield StoreFactory(
            "async-sqlite" if asynchronous else "sqlite",
            open_,
            url=url,
            reopen=open_blocking if asynchronous else open_store,
            seed_row=seed_row,
        )
    finally:
        for store in opened:
            store.close()


# --- PostgreSQL -------------------------------------------------------------------------


def _redacted(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _unavailable(reason: str, what: str = "PostgreSQL") -> NoReturn:
    """Skip on a developer's machine; fail in CI, where PostgreSQL (and Citus) must be there."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """The DSN of a reachable server (probed once per run); drops this run's leftovers."""
    try:
        importlib.import_module("mikoshi_progression.stores.postgres")
        import psycopg
    except ImportError as exc:
        _unavailable(f"PostgresStore cannot be imported ({exc}); install the [postgres] extra")
    try:
        with psycopg.connect(PG_DSN, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _unavailable(f"no PostgreSQL at {_redacted(PG_DSN)} ({first_line})")
    yield PG_DSN
    _drop_run_schemas(PG_DSN)


@pytest.fixture(scope="session")
def citus_dsn() -> Iterator[str]:
    """The DSN of a reachable Citus coordinator (probed once per run); drops this run's
    leftovers."""
    try:
        importlib.import_module("mikoshi_progression.stores.postgres")
        import psycopg
    except ImportError as exc:
        _unavailable(f"PostgresStore cannot be imported ({exc}); install the [postgres] extra")
    try:
        with psycopg.connect(CITUS_DSN, connect_timeout=3, autocommit=True) as conn:
            found = conn.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'citus'"
            ).fetchone()
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _unavailable(
            f"no Citus coordinator at {_redacted(CITUS_DSN)} ({first_line}); start one with "
            "../shared/citus/cluster.sh start",
            "Citus",
        )
    if not found or not found[0]:
        _unavailable(f"{_redacted(CITUS_DSN)} has no citus extension", "Citus")
    yield CITUS_DSN
    _drop_run_schemas(CITUS_DSN)


def _drop_run_schemas(dsn: str) -> None:
    """Drop the schemas this test run left at ``dsn``."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, connect_timeout=3, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)",
            (f"mikoshi_test_{RUN_ID}_",),
        ).fetchall()
        for (name,) in rows:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@contextmanager
def _postgres_factory(
    dsn: str,
    options: Mapping[str, Any],
    *,
    asynchronous: bool = False,
    distributed: bool = False,
) -> Iterator[StoreFactory]:
    """PostgresStore, or AsyncPostgresStore through the bridge (in other processes too);
    ``distributed``: its tables distributed on Citus."""
    schema = f"mikoshi_test_{RUN_ID}_{next(_schema_numbers)}"
    opened: list[ProgressStore] = []
    reopen = open_blocking if asynchronous else open_store

    def open_() -> ProgressStore:
        store = reopen(dsn, schema=schema, **options)
        opened.append(store)
        return store

    first = open_()
    try:
        if distributed:
            first.create_schema(distributed=True)
        else:
            first.create_schema()
        yield StoreFactory(
            "citus" if distributed else "async-postgres" if asynchronous else "postgres",
            open_,
            url=dsn,
            options={"schema": schema, **options},
            reopen=reopen,
            seed_row=lambda user_id, row: _seed_postgres_row(dsn, schema, user_id, row),
        )
    finally:
        for store in opened[1:]:
            store.close()
        try:
            drop: Callable[[], Any] | None = getattr(first, "drop_schema", None)
            if drop is not None:
                drop()  # else the session's teardown drops it
        finally:
            first.close()


def _seed_postgres_row(dsn: str, schema: str, user_id: str, row: Mapping[str, object]) -> None:
    """Insert a raw row into the store's state table, found by its ``daily_action_counts``.

    A ``None`` for a column that cannot hold NULL is left to the column's default,
    which is what the store reads a NULL as.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        found = conn.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = %s AND column_name = 'daily_action_counts'",
            (schema,),
        ).fetchall()
        assert len(found) == 1, f"no single state table in schema {schema}: {found}"
        table = found[0][0]
        qualified = sql.Identifier(schema, table)
        key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (qualified.as_string(conn),),
        ).fetchall()
        assert len(key) == 1, f"{schema}.{table} has no single-column primary key: {key}"
        types = {
            name: (data_type, nullable == "YES")
            for name, data_type, nullable in conn.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                (schema, table),
            ).fetchall()
        }
        values = {
            column: value for column, value in row.items() if value is not None or types[column][1]
        }
        placeholders = [
            sql.SQL("CAST({} AS {})").format(sql.Placeholder(), sql.SQL(types[c][0]))
            for c in values
        ]
        conn.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                qualified,
                sql.SQL(", ").join(sql.Identifier(c) for c in (key[0][0], *values)),
                sql.SQL(", ").join([sql.Placeholder(), *placeholders]),
            ),
            (user_id, *(None if v is None else str(v) for v in values.values())),
        )

"""Pytest wiring of the SQLAlchemy store tests (a plugin: ``pytest_plugins = ["sqla_support"]``).

Fixtures: ``sqla_backend`` (``sqlite`` or ``postgres``), ``sqla_engine`` on an empty
database of it, ``sqla_factory`` (the store contract's factory) and ``pg_url``:

- ``sqlite``: a fresh file under ``tmp_path`` per test, ``sqlite+pysqlite:///...``
  (marker ``sqlite``);
- ``postgres``: a fresh schema per test on ``MIKOSHI_PG_DSN`` through
  ``postgresql+psycopg://`` (marker ``postgres``), dropped after the test. Skipped
  with a one-line reason when the server is missing, except when ``CI`` is set: then
  that is a failure (as in ``tests/stores/conftest.py``).

This directory has no ``__init__.py`` on purpose: ``tests/`` is on ``sys.path``, and a
package named ``sqlalchemy`` there would hide the real one. Nor has it a ``conftest.py``:
without a package, it would be imported as module ``conftest`` in place of
``tests/conftest.py``, whose classes the unprivileged children pickle by that name.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from mikoshi_progression.sqlalchemy import SQLAlchemyStore
from mikoshi_progression.testing.store_contract import StoreFactory
from stores.conftest import PG_DSN, RUN_ID, _redacted, _seed_postgres_row, _unavailable

PG_URL = PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1).replace(
    "postgres://", "postgresql+psycopg://", 1
)
SCHEMA_PREFIX = f"mikoshi_sqla_{RUN_ID}_"
_numbers = itertools.count(1)

BACKENDS = [
    pytest.param("sqlite", id="sqlite", marks=pytest.mark.sqlite),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def fresh_schema() -> str:
    """A schema name no other test uses (dropped at the end of the session)."""
    return f"{SCHEMA_PREFIX}{next(_numbers)}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The SQLAlchemy URL of a reachable server (probed once); drops this run's schemas."""
    engine = create_engine(PG_URL, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _unavailable(f"no PostgreSQL at {_redacted(PG_DSN)} ({first})")
    try:
        yield PG_URL
    finally:
        with engine.begin() as conn:
            names = conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :p)"),
                {"p": SCHEMA_PREFIX},
            ).scalars()
            for name in list(names):
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def sqla_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sqla_engine(
    sqla_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Engine]:
    """An engine on an empty database of the backend under test (PostgreSQL: its
    ``search_path`` is a fresh schema of its own, so unqualified names land there)."""
    if sqla_backend == "sqlite":
        made = create_engine(f"sqlite+pysqlite:///{tmp_path / 'app.db'}")
    else:
        url = request.getfixturevalue("pg_url")
        schema = fresh_schema()
        maker = create_engine(url)
        with maker.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        maker.dispose()
        made = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def sqla_factory(
    sqla_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StoreFactory]:
    """Reaches one backend's data through ``SQLAlchemyStore``, empty at the start."""
    if sqla_backend == "sqlite":
        made = _sqlite_factory(tmp_path / "progress.db")
    else:
        made = _postgres_factory(request.getfixturevalue("pg_url"))
    with made as factory:
        yield factory


@contextmanager
def _sqlite_factory(path: Path) -> Iterator[StoreFactory]:
    url = f"sqlite+pysqlite:///{path}"
    opened: list[SQLAlchemyStore] = []

    def open_() -> SQLAlchemyStore:
        store = SQLAlchemyStore(url)
        opened.append(store)
        return store

    open_()  # creates the schema
    try:
        yield StoreFactory(
            "sqlalchemy-sqlite", open_, url=url, reopen=SQLAlchemyStore, seed_row=sqlite_seed(path)
        )
    finally:
        for store in opened:
            store.close()


_NULLABLE = frozenset({"last_chat_date", "last_exp_reset_date"})
"""State columns that hold NULL; a NULL for the others is left to the column's default."""


def sqlite_seed(path: Path) -> Callable[[str, Mapping[str, object]], None]:
    """The contract's ``seed_row``: a raw row in the SQLite file's ``progression_state``."""

    def seed_row(user_id: str, row: Mapping[str, object]) -> None:
        values = {c: v for c, v in row.items() if v is not None or c in _NULLABLE}
        columns = ", ".join(("user_id", *values))
        marks = ", ".join("?" * (len(values) + 1))
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute(
                f'INSERT INTO "progression_state" ({columns}) VALUES ({marks})',
                (user_id, *values.values()),
            )

    return seed_row


def postgres_seed(schema: str) -> Callable[[str, Mapping[str, object]], None]:
    """The contract's ``seed_row``: a raw row in the schema's state table."""
    return lambda user_id, row: _seed_postgres_row(PG_DSN, schema, user_id, row)


@contextmanager
def _postgres_factory(url: str) -> Iterator[StoreFactory]:
    schema = fresh_schema()
    opened: list[SQLAlchemyStore] = []

    def open_() -> SQLAlchemyStore:
        store = SQLAlchemyStore(url, schema=schema)
        opened.append(store)
        return store

    open_()
    try:
        yield StoreFactory(
            "sqlalchemy-postgres",
            open_,
            url=url,
            options={"schema": schema},
            reopen=SQLAlchemyStore,
            seed_row=postgres_seed(schema),
        )
    finally:
        for store in opened:
            store.close()

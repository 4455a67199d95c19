"""The library's tables as SQLAlchemy MetaData are the tables ``PostgresStore`` creates.

Both ways: what ``metadata.create_all()`` makes passes ``PostgresStore.check_schema()``
and serves ``PostgresStore`` and ``SQLAlchemyStore``; and the MetaData compares clean with
Alembic's ``compare_metadata`` against what ``PostgresStore.create_schema()`` makes.

Differences ignored, as harmless:

- none today. :data:`PENDING_LEDGER_COLUMNS` would list a ledger column the MetaData has
  before ``PostgresStore`` creates it (``reason`` was one, until main had it).
- CHECK constraints are not compared by Alembic: the ``kind`` check carries the name
  ``PostgresStore`` and the migrations give it (``<prefix>ledger_kinds``), which
  :func:`test_kind_check_is_named_as_postgres_store_names_it` checks.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqla_support import fresh_schema, pg_url  # noqa: F401 (fixtures)
from sqlalchemy import MetaData, create_engine, inspect, text

from mikoshi_progression.service import ProgressionService
from mikoshi_progression.sqlalchemy import (
    LEDGER_KINDS,
    SQLAlchemyStore,
    progression_metadata,
    progression_tables,
)
from mikoshi_progression.stores import EntryKind
from mikoshi_progression.stores._postgres_sql import LEDGER_COLUMNS
from mikoshi_progression.stores.postgres import PostgresStore

PENDING_LEDGER_COLUMNS = frozenset({"reason"} - set(LEDGER_COLUMNS))
"""Ledger columns of the MetaData that this branch's PostgresStore does not create yet."""


def test_tables_and_names() -> None:
    tables = progression_tables(schema="game")
    assert [t.fullname for t in tables.own] == [
        "game.progression_state",
        "game.progression_ledger",
        "game.progression_request_keys",
        "game.progression_migrations",
    ]
    assert {i.name for i in tables.ledger.indexes} == {
        "progression_ledger_key",
        "progression_ledger_feed",
    }
    assert set(LEDGER_KINDS) >= {kind.value for kind in EntryKind}
    in_place = progression_tables(users_table="platform.users", id_column="uid")
    assert in_place.state is None
    assert in_place.users is not None
    assert in_place.users.fullname == "platform.users"
    assert "platform.users" not in in_place.metadata.tables


def test_tables_go_into_the_applications_metadata() -> None:
    app = MetaData()
    progression_tables(app)
    assert sorted(app.tables) == [
        "progression_ledger",
        "progression_migrations",
        "progression_request_keys",
        "progression_state",
    ]
    with pytest.raises(ValueError, match="described twice"):
        progression_tables(app)


def test_sqlite_create_all_makes_a_schema_the_store_accepts(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    progression_metadata().create_all(engine)
    store = SQLAlchemyStore(engine, create=False)
    assert store.check_schema().ok
    assert ProgressionService(store).award("u1", "create_scene").exp_added == 15
    store.close()
    engine.dispose()


@pytest.mark.postgres
def test_create_all_serves_postgres_store(pg_url: str) -> None:
    """Tables made by ``create_all`` pass PostgresStore's check, and both stores use them."""
    schema = fresh_schema()
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        progression_metadata(schema=schema).create_all(conn)
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with PostgresStore(dsn, schema=schema, create=False) as pg:
            assert pg.check_schema().ok
            ProgressionService(pg).award("u1", "create_scene")
        with SQLAlchemyStore(engine, schema=schema, create=False) as store:
            assert store.check_schema().ok
            service = ProgressionService(store)
            service.award("u1", "create_character")
            assert service.state("u1").exp == 45
            assert [e.seq for e in service.ledger("u1")] == [1, 2, 3]
            assert service.replay("u1").matches
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_metadata_compares_clean_with_postgres_store_tables(pg_url: str) -> None:
    """Alembic autogenerate finds nothing to do on what PostgresStore.create_schema made."""
    schema = fresh_schema()
    engine = create_engine(pg_url)
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    PostgresStore(dsn, schema=schema).close()
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_schemas": True,
                    "include_name": lambda name, kind, _: kind != "schema" or name == schema,
                },
            )
            diffs = compare_metadata(context, progression_metadata(schema=schema))
        pending = [
            d
            for d in diffs
            if d[0] == "add_column"
            and d[2] == "progression_ledger"
            and d[3].name in PENDING_LEDGER_COLUMNS
        ]
        assert [d for d in diffs if d not in pending] == []
        assert len(pending) == len(PENDING_LEDGER_COLUMNS)
        # The store adds what PostgresStore lacks, and then both agree.
        with SQLAlchemyStore(engine, schema=schema) as store:
            assert store.check_schema().ok
        columns = {c["name"] for c in inspect(engine).get_columns("progression_ledger", schema)}
        assert columns >= PENDING_LEDGER_COLUMNS
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_kind_check_is_named_as_postgres_store_names_it(pg_url: str) -> None:
    schema = fresh_schema()
    engine = create_engine(pg_url)
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    PostgresStore(dsn, schema=schema).close()
    try:
        checks = inspect(engine).get_check_constraints("progression_ledger", schema=schema)
        made = {c["name"] for c in checks}
        described = {
            c.name
            for c in progression_tables(schema=schema).ledger.constraints
            if c.name and "kind" in str(getattr(c, "sqltext", ""))
        }
        assert described == {"progression_ledger_kinds"}
        assert described <= made
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_check_schema_names_what_is_missing(pg_url: str) -> None:
    schema = fresh_schema()
    engine = create_engine(pg_url)
    try:
        with SQLAlchemyStore(engine, schema=schema) as store:
            with engine.begin() as conn:
                conn.execute(text(f'DROP INDEX "{schema}".progression_ledger_key'))
                conn.execute(text(f'ALTER TABLE "{schema}".progression_ledger DROP COLUMN actor'))
                conn.execute(text(f'DROP TABLE "{schema}".progression_request_keys'))
            report = store.check_schema()
        assert report.missing_tables == (f"{schema}.progression_request_keys",)
        assert report.missing_columns == (f"{schema}.progression_ledger.actor",)
        assert report.missing_indexes == (f"{schema}.progression_ledger (user_id, kind, key)",)
    finally:
        engine.dispose()

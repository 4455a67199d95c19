"""The library's own tables on Citus: ``create_schema(distributed=True)``, what
``check_schema`` reports of tables placed otherwise, and the version token Citus needs.

Citus's own view of the tables (``citus_tables``) is the judge here, not the store's query.
The store contract and the store state machine run on distributed tables in
``test_store_contract.py`` and ``test_store_machine_backends.py`` (backend ``citus``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mikoshi_progression.cli import ExitCode, main
from mikoshi_progression.errors import InvalidArgumentError
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores.postgres import PostgresStore
from mikoshi_progression.stores.postgres_async import AsyncPostgresStore

from .conftest import CITUS_OPTIONS

pytestmark = pytest.mark.citus


@pytest.fixture
def schema(citus_dsn: str) -> Iterator[str]:
    import psycopg

    name = f"mikoshi_citus_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(citus_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def placed(dsn: str, schema: str) -> dict[str, tuple[str, str, int]]:
    """``table: (type, distribution column, co-location id)`` as Citus lists its tables."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname::text, t.citus_table_type, t.distribution_column, t.colocation_id "
            "FROM citus_tables AS t JOIN pg_class AS c ON c.oid = t.table_name "
            "WHERE c.relnamespace = to_regnamespace(%s)",
            (schema,),
        ).fetchall()
    return {name: (kind, column, group) for name, kind, column, group in rows}


def run_sql(dsn: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def test_create_schema_distributes_the_own_tables_co_located(citus_dsn, schema):
    """State and ledger by user_id in one co-location group, request keys by key, the
    migrations a reference table; a second call changes nothing and the check is clean."""
    with PostgresStore(citus_dsn, schema=schema, **CITUS_OPTIONS) as store:
        store.create_schema(distributed=True)
        first = placed(citus_dsn, schema)
        store.create_schema(distributed=True)
        assert placed(citus_dsn, schema) == first
        report = store.check_schema()
    state = first["progression_state"]
    assert state[:2] == ("distributed", "user_id")
    assert first["progression_ledger"] == state
    assert first["progression_request_keys"][:2] == ("distributed", "key")
    assert first["progression_migrations"][:2] == ("reference", "<none>")
    assert report.ok, report
    assert (report.not_distributed, report.not_colocated) == ((), ())


def test_local_tables_are_reported_then_distributed_with_their_rows(citus_dsn, schema):
    """Tables a plain opening made on the coordinator are reported; create_schema with
    distributed=True moves them, rows and all, into shards."""
    with PostgresStore(citus_dsn, schema=schema, version_token="counter") as store:
        service = ProgressionService(store)
        before = service.award("u1", "create_character")
        report = store.check_schema()
        assert not report.ok
        assert report.not_distributed == (
            f"{schema}.progression_state (distributed by user_id)",
            f"{schema}.progression_ledger (distributed by user_id)",
            f"{schema}.progression_request_keys (distributed by key)",
            f"{schema}.progression_migrations (a reference table)",
        )
        store.create_schema(distributed=True)
        assert store.check_schema().ok
        after = service.award("u1", "create_character")
        assert after.state.exp == before.state.exp + after.exp_added
        assert [e.seq for e in store.ledger("u1")] == [1, 2, 3]
    assert placed(citus_dsn, schema)["progression_state"][:2] == ("distributed", "user_id")


def test_a_ledger_not_co_located_with_the_state_is_reported(citus_dsn, schema):
    """A ledger distributed by user_id in a group of its own: one user's rows may live on
    two workers; the check names it, and create_schema leaves it for the operator."""
    with PostgresStore(citus_dsn, schema=schema, **CITUS_OPTIONS) as store:
        store.create_schema()
        run_sql(
            citus_dsn,
            f"SELECT create_distributed_table('{schema}.progression_state', 'user_id')",
            f"SELECT create_distributed_table('{schema}.progression_ledger', 'user_id', "
            "colocate_with => 'none')",
        )
        store.create_schema(distributed=True)  # places the other two, leaves these
        report = store.check_schema()
    assert report.not_distributed == ()
    assert report.not_colocated == (
        f"{schema}.progression_ledger (co-located with {schema}.progression_state)",
    )
    assert not report.ok


def test_a_table_distributed_by_another_column_is_reported(citus_dsn, schema):
    """Request keys distributed by scope (one gateway's claims on one worker) are reported.
    (The state and the ledger cannot be: each of their unique keys holds user_id and no
    other column they share, and Citus refuses a distribution column a unique key lacks.)"""
    with PostgresStore(citus_dsn, schema=schema, **CITUS_OPTIONS) as store:
        store.create_schema()
        run_sql(
            citus_dsn,
            f"SELECT create_distributed_table('{schema}.progression_request_keys', 'scope')",
        )
        store.create_schema(distributed=True)
        report = store.check_schema()
    assert report.not_distributed == (f"{schema}.progression_request_keys (distributed by key)",)
    assert report.not_colocated == ()
    assert not report.ok


def test_xmin_is_refused_on_a_distributed_state_table(citus_dsn, schema):
    """The default version token is refused, naming the option and the value it needs; a
    store with xmin cannot distribute the tables either, and then changes nothing."""
    with PostgresStore(citus_dsn, schema=schema, create=False) as xmin_store:
        with pytest.raises(InvalidArgumentError) as refused:
            xmin_store.create_schema(distributed=True)
        assert refused.value.field == "version_token"
        assert placed(citus_dsn, schema) == {}
    with PostgresStore(citus_dsn, schema=schema, **CITUS_OPTIONS) as store:
        store.create_schema(distributed=True)
    with pytest.raises(InvalidArgumentError) as refused:
        PostgresStore(citus_dsn, schema=schema)
    assert refused.value.field == "version_token"
    assert "'counter' on Citus" in str(refused.value)


def test_the_async_store_distributes_too(citus_dsn, schema):
    async def distribute() -> list[Any]:
        async with AsyncPostgresStore(citus_dsn, schema=schema, **CITUS_OPTIONS) as store:
            await store.create_schema(distributed=True)
            report = await store.check_schema()
            return [report.ok, report.not_distributed]

    assert asyncio.run(distribute()) == [True, ()]
    assert placed(citus_dsn, schema)["progression_ledger"][:2] == ("distributed", "user_id")


def test_cli_schema_init_distributed_then_check(citus_dsn, schema, capsys):
    """``schema init --distributed`` distributes; ``schema check`` needs no token to read,
    but the store opens with counter (xmin is refused on the distributed tables)."""
    store = ["--store", citus_dsn, "--pg-schema", schema]
    assert main(["schema", "init", "--distributed", *store]) == ExitCode.OK
    assert placed(citus_dsn, schema)["progression_state"][:2] == ("distributed", "user_id")
    assert main(["schema", "check", *store, "--version-token", "counter"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "OK:" in out


def test_cli_schema_check_reports_local_tables(citus_dsn, schema, capsys):
    """On Citus, tables left on the coordinator are incomplete: init and check say so."""
    store = ["--store", citus_dsn, "--pg-schema", schema]
    assert main(["schema", "init", *store]) == ExitCode.INVALID
    assert "not distributed" in capsys.readouterr().out
    assert main(["schema", "check", *store]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert f"not distributed: {schema}.progression_state (distributed by user_id)" in out
    assert "schema init --distributed" in out


@pytest.mark.postgres
def test_distributed_needs_citus_and_own_tables(postgres_dsn, citus_dsn, schema):
    """On plain PostgreSQL, or in place, distributed=True is refused, naming the option."""
    with PostgresStore(postgres_dsn, schema=schema, version_token="counter") as plain:
        with pytest.raises(InvalidArgumentError) as refused:
            plain.create_schema(distributed=True)
        plain.drop_schema()
    assert refused.value.field == "distributed"
    assert "citus extension" in str(refused.value)
    run_sql(citus_dsn, f"CREATE SCHEMA {schema}", f"CREATE TABLE {schema}.users (id text)")
    in_place = PostgresStore(citus_dsn, users_table=f"{schema}.users", schema=schema)
    with in_place, pytest.raises(InvalidArgumentError) as refused:
        in_place.create_schema(distributed=True)
    assert refused.value.field == "distributed"
    assert "in place" in str(refused.value)

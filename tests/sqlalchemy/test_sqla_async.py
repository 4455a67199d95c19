"""``AsyncSQLAlchemyStore`` on ``sqlite+aiosqlite`` and ``postgresql+psycopg`` (async).

The store contract is synchronous, so it runs over the test kit's ``BlockingStore``, the
sync face of an async store whose coroutines all run on one event loop in a thread of
their own (as an async application's would). ``within=`` is tested natively, with an
``AsyncSession`` and ``AsyncProgressionService``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqla_support import (  # noqa: F401 (fixtures)
    PG_URL,
    fresh_schema,
    pg_url,
    postgres_seed,
    sqla_backend,
    sqlite_seed,
)
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from mikoshi_progression import DEFAULT_CONFIG
from mikoshi_progression.core.state import ProgressState
from mikoshi_progression.errors import InvalidArgumentError
from mikoshi_progression.service import AsyncProgressionService
from mikoshi_progression.sqlalchemy import AsyncSQLAlchemyStore, SQLAlchemyStore
from mikoshi_progression.testing import store_contract as contract
from mikoshi_progression.testing.bridge import BlockingStore
from mikoshi_progression.testing.machine import run_store_machine
from mikoshi_progression.testing.store_contract import NotApplicable, StoreFactory

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _async_url(sqla_backend: str, request: pytest.FixtureRequest, path: Path) -> str:
    if sqla_backend == "sqlite":
        return f"sqlite+aiosqlite:///{path}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def async_factory(
    sqla_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StoreFactory]:
    """The contract's factory over ``Blocking(AsyncSQLAlchemyStore(...))``; other processes
    reach the same data through the sync store (``SQLAlchemyStore`` of the sync URL)."""
    path = tmp_path / "progress.db"
    url = _async_url(sqla_backend, request, path)
    options = {} if sqla_backend == "sqlite" else {"schema": fresh_schema()}
    opened: list[BlockingStore] = []

    def open_() -> BlockingStore:
        store = BlockingStore(lambda: AsyncSQLAlchemyStore(url, **options))
        opened.append(store)
        return store

    open_().create_schema()
    if sqla_backend == "sqlite":
        sync_url, seed = f"sqlite+pysqlite:///{path}", sqlite_seed(path)
    else:
        sync_url, seed = PG_URL, postgres_seed(options["schema"])
    try:
        yield StoreFactory(
            f"sqlalchemy-async-{sqla_backend}",
            open_,
            url=sync_url,
            options=options,
            reopen=SQLAlchemyStore,
            seed_row=seed,
        )
    finally:
        for store in opened:
            store.close()


@pytest.mark.parametrize("check", contract.CHECKS.values(), ids=list(contract.CHECKS))
def test_async_contract(check: Callable[[StoreFactory], None], async_factory: StoreFactory) -> None:
    """Every check of the store contract, through the async store."""
    try:
        check(async_factory)
    except NotApplicable as exc:
        pytest.skip(str(exc))


def test_async_store_passes_the_store_machine(
    sqla_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from hypothesis import settings

    numbers = iter(range(1000))

    def fresh() -> BlockingStore:
        n = next(numbers)
        url = _async_url(sqla_backend, request, tmp_path / f"m{n}.db")
        options = {} if sqla_backend == "sqlite" else {"schema": fresh_schema()}
        return BlockingStore(lambda: AsyncSQLAlchemyStore(url, **options))

    run_store_machine(
        fresh,
        config=DEFAULT_CONFIG,
        settings=settings(max_examples=8, stateful_step_count=20, deadline=None),
    )


# --- join, natively ----------------------------------------------------------------------

app = MetaData()
characters = Table(
    "characters",
    app,
    Column("id", Integer, primary_key=True),
    Column("owner", Text, nullable=False),
)


async def _award(store: AsyncSQLAlchemyStore, within: Any, user_id: str) -> int:
    service = AsyncProgressionService(store, clock=lambda: NOW)
    result = await service.award(user_id, "create_scene", key="k-" + user_id, within=within)
    return result.exp_added


async def _join_scenario(engine: AsyncEngine, schema: str | None) -> None:
    options = {} if schema is None else {"schema": schema}
    store = AsyncSQLAlchemyStore(engine, **options)
    async with engine.begin() as conn:
        if schema is not None:
            await conn.execute(text(f'SET search_path TO "{schema}"'))
        await store.create_schema()
        await conn.run_sync(lambda c: app.create_all(c))

    async def names() -> list[str]:
        async with engine.connect() as conn:
            if schema is not None:
                await conn.execute(text(f'SET search_path TO "{schema}"'))
            return list(await conn.scalars(select(characters.c.owner).order_by(characters.c.id)))

    async with AsyncSession(engine) as session:
        if schema is not None:
            await session.execute(text(f'SET search_path TO "{schema}"'))
        await session.execute(insert(characters).values(owner="kept"))
        assert await _award(store, session, "kept") == 15
        await session.commit()
    async with AsyncSession(engine) as session:
        if schema is not None:
            await session.execute(text(f'SET search_path TO "{schema}"'))
        await session.execute(insert(characters).values(owner="dropped"))
        await _award(store, session, "dropped")
        await session.rollback()
    async with engine.connect() as conn:  # an AsyncConnection works as within too
        if schema is not None:
            await conn.execute(text(f'SET search_path TO "{schema}"'))
        await conn.execute(insert(characters).values(owner="conn"))
        await _award(store, conn, "conn")
        await conn.commit()
    assert await names() == ["kept", "conn"]
    assert (await store.read_state("kept")).exp == 15
    assert (await store.read_state("dropped")) == ProgressState()
    assert await store.ledger("dropped") == []
    with pytest.raises(InvalidArgumentError, match="within"):
        store.join(object(), "u1")
    await store.close()


def test_async_join_commits_and_rolls_back_with_the_caller(
    sqla_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _async_url(sqla_backend, request, tmp_path / "app.db")
    schema = None if sqla_backend == "sqlite" else fresh_schema()

    async def main() -> None:
        engine = create_async_engine(url)
        try:
            if schema is not None:
                async with engine.begin() as conn:
                    await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await _join_scenario(engine, schema)
        finally:
            await engine.dispose()

    asyncio.run(main())


@pytest.mark.sqlite
def test_sqlalchemy_urls_go_to_the_sqlalchemy_stores(tmp_path: Path) -> None:
    """``open_store`` and ``open_async_store`` refuse a URL naming a driver and say which
    store opens it (the stores never import the integration); that store opens it."""
    from mikoshi_progression.errors import UnsupportedStoreError
    from mikoshi_progression.stores import open_async_store, open_store

    url = f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"
    with pytest.raises(UnsupportedStoreError, match="SQLAlchemyStore"):
        open_store(f"sqlite+pysqlite:///{tmp_path / 'driver.db'}")

    async def main() -> None:
        with pytest.raises(UnsupportedStoreError, match="AsyncSQLAlchemyStore"):
            await open_async_store(url)
        async with AsyncSQLAlchemyStore(url) as store:
            service = AsyncProgressionService(store, clock=lambda: NOW)
            assert (await service.award("u1", "create_scene", key="k")).exp_added == 15
            assert (await service.award("u1", "create_scene", key="k")).exp_added == 15
            assert (await service.state("u1")).exp == 15

    asyncio.run(main())

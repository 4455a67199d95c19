"""AsyncProgressionService.award_many on the async stores: what the sync service makes of
the same requests on the reference store, every result and every ledger entry.

The sync service's batches are proven by the store contract and the store machine
(``tests/stores``); the async one shares its decisions and differs in the I/O: a batch
transaction awaited on AsyncPostgresStore, a whole chunk in one hop to the worker on the
stores over a sync one.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mikoshi_progression.service import AsyncProgressionService, AwardRequest, ProgressionService
from mikoshi_progression.stores import (
    AsyncBatchRunner,
    AsyncBatchStore,
    AsyncInMemoryStore,
    AsyncProgressStore,
    AsyncSQLiteStore,
    InMemoryStore,
)
from mikoshi_progression.testing.clock import FakeClock
from mikoshi_progression.testing.store_contract import START


def requests() -> list[AwardRequest]:
    late = START.replace(hour=23, minute=40)
    made = [
        AwardRequest(
            f"u{n % 3}",
            ("create_character", "character_liked", "daily_chat")[n % 3],
            at=late + timedelta(minutes=n),
            key=f"k{n}" if n % 2 else None,
            actor_id="fan" if n % 3 == 1 else None,
        )
        for n in range(40)
    ]
    made.append(made[1])  # a repeat
    made.append(AwardRequest("u1", "create_scene", at=late, key="k1"))  # another request
    return made


def shape(service_ledger: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (e.kind, e.action, e.exp_delta, e.key, e.at, e.state_after, e.outcome, e.events)
        for e in service_ledger
    ]


def _postgres(request: pytest.FixtureRequest, tmp: Path) -> AsyncProgressStore:
    from mikoshi_progression.stores.postgres_async import AsyncPostgresStore

    dsn = request.getfixturevalue("postgres_dsn")
    schema = f"mikoshi_test_batches_{secrets.token_hex(4)}"
    store = AsyncPostgresStore(dsn, schema=schema)

    async def drop() -> None:
        fresh = AsyncPostgresStore(dsn, schema=schema, create=False)
        await fresh.open()
        await fresh.drop_schema()
        await fresh.close()

    request.addfinalizer(lambda: asyncio.run(drop()))
    return store


STORES: dict[str, Callable[[pytest.FixtureRequest, Path], AsyncProgressStore]] = {
    "async-memory": lambda request, tmp: AsyncInMemoryStore(),
    "async-sqlite": lambda request, tmp: AsyncSQLiteStore(tmp / "batches.db"),
    "async-postgres": _postgres,
}


@pytest.mark.parametrize(
    "kind",
    [
        "async-memory",
        pytest.param("async-sqlite", marks=pytest.mark.sqlite),
        pytest.param("async-postgres", marks=pytest.mark.postgres),
    ],
)
def test_async_award_many_makes_what_the_sync_service_makes(kind, request, tmp_path):
    store = STORES[kind](request, tmp_path)
    assert isinstance(store, (AsyncBatchRunner, AsyncBatchStore))
    reference = ProgressionService(InMemoryStore(), clock=FakeClock(START + timedelta(days=2)))
    expected = reference.award_many(requests(), chunk_size=7)
    expected_again = reference.award_many(requests(), chunk_size=7)

    async def run() -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
        if hasattr(store, "open"):
            await store.open()
        try:
            service = AsyncProgressionService(store, clock=FakeClock(START + timedelta(days=2)))
            batch = await service.award_many(requests(), chunk_size=7)
            again = await service.award_many(requests(), chunk_size=7)  # keyed: repeats
            users = {f"u{n}" for n in range(3)}
            ledgers = {user: await service.ledger(user) for user in users}
            states = {user: await service.state(user) for user in users}
            for user in users:
                assert (await service.replay(user)).matches
            return batch, again, ledgers, states
        finally:
            await store.close()

    batch, again, ledgers, states = asyncio.run(run())
    for got, want in ((batch, expected), (again, expected_again)):
        assert [r.to_dict() if r else None for r in got.results] == [
            r.to_dict() if r else None for r in want.results
        ]
        assert got.repeated == want.repeated
    assert any(again.repeated)
    assert set(batch.errors) == set(expected.errors) == {41}
    for user, ledger in ledgers.items():
        assert shape(ledger) == shape(reference.ledger(user))
        assert states[user] == reference.state(user)


@pytest.mark.parametrize(
    "kind",
    [
        "async-memory",
        pytest.param("async-sqlite", marks=pytest.mark.sqlite),
        pytest.param("async-postgres", marks=pytest.mark.postgres),
    ],
)
def test_async_tasks_awarding_one_user_are_combined_and_each_told_its_own_result(
    kind, request, tmp_path
):
    store = STORES[kind](request, tmp_path)

    async def run() -> None:
        if hasattr(store, "open"):
            await store.open()
        try:
            service = AsyncProgressionService(store, clock=FakeClock(START))
            combined: list[int] = []
            combiner = service._combiner
            assert combiner is not None
            together = combiner._together

            async def counted(requests: Any) -> Any:
                combined.append(len(requests))
                return await together(requests)

            combiner._together = counted
            keys = [f"like-{n % 30}" for n in range(60)]  # every key sent twice
            results = await asyncio.gather(
                *(service.award("hot", "character_liked", key=k, actor_id="fan") for k in keys)
            )
            # The memory store never yields to the loop: each task's award runs to its end
            # before the next one starts, and there is nothing to combine.
            assert combined or kind == "async-memory", "no award was combined with another"
            told: dict[str, set[tuple[int, int]]] = {}
            for key, result in zip(keys, results, strict=True):
                told.setdefault(key, set()).add((result.exp_added, result.state.exp))
            assert all(len(answers) == 1 for answers in told.values()), told
            ledger = await service.ledger("hot")
            awarded = [e.key for e in ledger if e.key]
            assert len(awarded) == len(set(awarded)) == 20  # character_liked: 20 a day
            state = await service.state("hot")
            assert state.exp == sum(e.exp_delta for e in ledger)
            assert (await service.replay("hot")).matches
        finally:
            await store.close()

    asyncio.run(run())

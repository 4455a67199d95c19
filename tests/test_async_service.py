"""AsyncProgressionService: the sync service's decisions, awaited, on the async stores."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flaky_stores import AsyncFlaky, AsyncFlakyTransactionsOnly
from mikoshi_progression import DEFAULT_CONFIG, ProgressionConfig
from mikoshi_progression.errors import (
    ConcurrencyError,
    IdempotencyError,
    InvalidArgumentError,
    StoreUnavailableError,
)
from mikoshi_progression.service import AsyncProgressionService, ProgressionService
from mikoshi_progression.stores import (
    AsyncInMemoryStore,
    AsyncSQLiteStore,
    InMemoryStore,
    StaleVersionError,
    open_async_store,
)
from mikoshi_progression.testing.clock import FakeClock
from mikoshi_progression.testing.store_contract import START

OPEN = ProgressionConfig.from_dict(
    {
        "levels": [
            {"number": 1, "name": "One", "exp_required": 0, "unlock": "-"},
            {"number": 2, "name": "Two", "exp_required": 1000, "unlock": "-"},
        ],
        "actions": {"tick": {"exp": 1}},
        "daily_exp_caps": {"1": 10**9, "2": 10**9},
    }
)
"""One action worth 1 EXP, no limit, a cap never reached: every award must land."""

_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("award"),
            st.sampled_from([*DEFAULT_CONFIG.actions, "nope"]),
            st.sampled_from([None, "k1", "k2"]),
        ),
        st.tuples(st.just("revoke"), st.sampled_from(["k1", "k2", "k9"])),
        st.tuples(
            st.just("adjust"),
            st.integers(-200, 200).filter(bool),
            st.sampled_from([None, "k1", "a1"]),
        ),
        st.tuples(st.just("set_exp"), st.integers(0, 900)),
        st.tuples(st.just("reset")),
        st.tuples(st.just("limits")),
        st.tuples(
            st.just("zone"),
            st.sampled_from([None, "Asia/Tokyo", "America/New_York", "Nowhere/Zone"]),
            st.sampled_from([None, "z1"]),
        ),
        st.tuples(st.just("events"), st.integers(1, 5)),
        st.tuples(st.just("advance"), st.integers(1, 30)),
    ),
    max_size=25,
)


def _sync_call(service: ProgressionService, operation: tuple[Any, ...]) -> Any:
    match operation:
        case ("award", action, key):
            rule = DEFAULT_CONFIG.actions.get(action)
            actor = "fan" if rule is not None and rule.creator_award else None
            return service.award("u", action, key=key, actor_id=actor)
        case ("revoke", key):
            return service.revoke("u", key)
        case ("adjust", delta, key):
            return service.adjust("u", delta, reason="why", operator="op", key=key)
        case ("set_exp", exp):
            return service.set_exp("u", exp, reason="why", operator="op")
        case ("reset",):
            return service.reset_daily("u", reason="why", operator="op")
        case ("limits",):
            return service.limits("u")
        case ("zone", zone, key):
            return service.set_timezone("u", zone, key=key)
        case ("events", limit):
            return service.events(limit=limit)
    raise AssertionError(operation)


async def _async_call(service: AsyncProgressionService, operation: tuple[Any, ...]) -> Any:
    match operation:
        case ("award", action, key):
            rule = DEFAULT_CONFIG.actions.get(action)
            actor = "fan" if rule is not None and rule.creator_award else None
            return await service.award("u", action, key=key, actor_id=actor)
        case ("revoke", key):
            return await service.revoke("u", key)
        case ("adjust", delta, key):
            return await service.adjust("u", delta, reason="why", operator="op", key=key)
        case ("set_exp", exp):
            return await service.set_exp("u", exp, reason="why", operator="op")
        case ("reset",):
            return await service.reset_daily("u", reason="why", operator="op")
        case ("limits",):
            return await service.limits("u")
        case ("zone", zone, key):
            return await service.set_timezone("u", zone, key=key)
        case ("events", limit):
            return await service.events(limit=limit)
    raise AssertionError(operation)


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except (IdempotencyError, InvalidArgumentError) as exc:
        return ("error", type(exc).__name__, str(exc))


@settings(max_examples=40, deadline=None)
@given(operations=_OPERATIONS)
def test_async_service_decides_as_the_sync_one(operations: list[tuple[Any, ...]]) -> None:
    """Any sequence of commands (time-zone moves and reads of the events feed too) gives the
    same results, errors, states and ledgers in the sync service on the memory store and
    the async one on the async memory store."""
    clock = FakeClock(START)
    sync = ProgressionService(InMemoryStore(), clock=clock)
    expected = []
    for operation in operations:
        if operation[0] == "advance":
            clock.advance(hours=operation[1])
            continue
        expected.append(_outcome(lambda op=operation: _sync_call(sync, op)))

    async def run() -> tuple[list[Any], Any, Any]:
        clock = FakeClock(START)
        service = AsyncProgressionService(AsyncInMemoryStore(), clock=clock)
        seen = []
        for operation in operations:
            if operation[0] == "advance":
                clock.advance(hours=operation[1])
                continue
            try:
                seen.append(("ok", await _async_call(service, operation)))
            except (IdempotencyError, InvalidArgumentError) as exc:
                seen.append(("error", type(exc).__name__, str(exc)))
        return seen, await service.ledger("u"), await service.replay("u")

    seen, ledger, report = asyncio.run(run())
    assert seen == expected
    assert [e.to_dict() for e in ledger] == [e.to_dict() for e in sync.ledger("u")]
    assert report.matches


@pytest.mark.parametrize("backend", ["memory", pytest.param("sqlite", marks=pytest.mark.sqlite)])
def test_many_tasks_on_one_user_lose_nothing(backend: str, tmp_path: Path) -> None:
    """200 tasks awarding one user at once, half of them keyed twice: every award lands once."""

    async def run() -> None:
        store = await open_async_store(
            "memory://" if backend == "memory" else f"sqlite:///{tmp_path / 'hot.db'}"
        )
        service = AsyncProgressionService(store, config=OPEN, clock=FakeClock(START))
        try:
            calls = [service.award("hot", "tick") for _ in range(100)]
            calls += [service.award("hot", "tick", key=f"k{n % 50}") for n in range(100)]
            results = await asyncio.gather(*calls)
            assert all(r.exp_added == 1 for r in results)
            state = await service.state("hot")
            assert state.exp == 150
            ledger = await service.ledger("hot")
            assert [e.seq for e in ledger] == list(range(1, len(ledger) + 1))
            assert (await service.replay("hot")).matches
        finally:
            await store.close()

    asyncio.run(run())


@pytest.mark.sqlite
def test_cancelled_tasks_leave_the_sqlite_store_usable(tmp_path: Path) -> None:
    """Tasks cancelled mid-transaction never leave SQLite's write lock held or a
    transaction half-written: later awards land and replay matches."""

    async def run() -> None:
        store = AsyncSQLiteStore(tmp_path / "cancel.db")
        service = AsyncProgressionService(store, config=OPEN, clock=FakeClock(START))
        try:
            for round_ in range(5):
                tasks = [asyncio.create_task(service.award("u", "tick")) for _ in range(20)]
                await asyncio.sleep(0.001 * round_)
                for task in tasks[::2]:
                    task.cancel()
                done = await asyncio.gather(*tasks, return_exceptions=True)
                assert all(
                    isinstance(r, asyncio.CancelledError) or r.exp_added == 1 for r in done
                ), done
            landed = len([e for e in await service.ledger("u") if e.kind == "award"])
            result = await asyncio.wait_for(service.award("u", "tick"), timeout=10)
            assert result.exp_added == 1
            assert (await service.state("u")).exp == landed + 1
            assert (await service.replay("u")).matches
        finally:
            await store.close()

    asyncio.run(run())


def test_within_needs_a_joinable_store() -> None:
    """``within=`` on a store that cannot join the caller's transaction is refused."""
    sync = ProgressionService(InMemoryStore())
    with pytest.raises(InvalidArgumentError, match="JoinableStore") as caught:
        sync.award("u", "daily_chat", within=object())
    assert caught.value.field == "within"

    async def run() -> None:
        service = AsyncProgressionService(AsyncInMemoryStore())
        with pytest.raises(InvalidArgumentError, match="AsyncJoinableStore"):
            await service.award("u", "daily_chat", within=object())

    asyncio.run(run())


def _flaky(kind: Any) -> Any:
    """Makes ``kind(*errors)`` from counts of conflicts and faults."""

    def make(conflicts: int = 0, faults: int = 0) -> Any:
        return kind(
            *(StaleVersionError("raced") for _ in range(conflicts)),
            *(StoreUnavailableError("down") for _ in range(faults)),
        )

    return make


@pytest.mark.parametrize(
    "flaky", [_flaky(AsyncFlaky), _flaky(AsyncFlakyTransactionsOnly)], ids=["runner", "steps"]
)
def test_async_retries_as_the_sync_service(caplog: pytest.LogCaptureFixture, flaky: Any) -> None:
    """Conflicts are retried (logged at INFO); a fault is retried only for keyed awards
    (logged at WARNING); too many conflicts are a ConcurrencyError: whether the store runs
    whole transactions or the service awaits each step."""

    async def run() -> None:
        caplog.set_level(logging.INFO, logger="mikoshi_progression")
        service = AsyncProgressionService(flaky(conflicts=2), clock=FakeClock(START))
        assert (await service.award("u", "daily_chat")).success
        conflicts = [r for r in caplog.records if r.levelno == logging.INFO]
        assert len(conflicts) == 2
        assert conflicts[0].mikoshi_operation == "award"  # type: ignore[attr-defined]
        assert conflicts[0].mikoshi_user_id == "u"  # type: ignore[attr-defined]

        caplog.clear()
        service = AsyncProgressionService(flaky(faults=1), clock=FakeClock(START))
        with pytest.raises(StoreUnavailableError):
            await service.award("u", "daily_chat")
        assert (await service.award("u", "daily_chat", key="k")).success
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings, caplog.records

        service = AsyncProgressionService(flaky(conflicts=9), max_attempts=3)
        with pytest.raises(ConcurrencyError):
            await service.award("u", "daily_chat")

    asyncio.run(run())


def test_open_async_store_refuses_unknown_schemes() -> None:
    """Unknown schemes and non-URLs are the library's own error, as for open_store."""
    from mikoshi_progression.errors import UnsupportedStoreError

    for url in ("redis://x", "progress.db"):
        with pytest.raises(UnsupportedStoreError), suppress(RuntimeError):
            asyncio.run(open_async_store(url))


@pytest.mark.sqlite
def test_the_sqlite_worker_runs_in_the_tasks_context(tmp_path: Path) -> None:
    """A context variable set in the task (a tracing span, a request id) is set in the
    store's worker thread while it runs the task's transaction."""
    import contextvars

    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
    seen: list[str] = []

    class Watching(AsyncSQLiteStore):
        def _attempt(self, user_id: str, attempt: Any) -> Any:
            seen.append(request_id.get())
            return super()._attempt(user_id, attempt)

    async def main() -> None:
        store = Watching(tmp_path / "context.db")
        try:
            service = AsyncProgressionService(store, clock=FakeClock(START))

            async def award(name: str) -> None:
                request_id.set(name)
                await service.award(name, "daily_chat")

            await asyncio.gather(award("r1"), award("r2"))
        finally:
            await store.close()

    asyncio.run(main())
    assert sorted(seen) == ["r1", "r2"]

"""The asynchronous service's batches: ``award_many`` awaited, chunk by chunk.

The decisions and the chunks' steps are :mod:`._batch`'s, shared with the sync service
(:mod:`._batch_sync`); only the I/O is awaited: each batch load and write (or, on an async
store over a sync one, the whole chunk in one hop to its worker), and the backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from ..core.results import AwardResult
from ..errors import StoreError, StoreUnavailableError
from ..stores.async_base import AsyncBatchRunner, AsyncBatchStore, AsyncBatchTransaction
from ..stores.base import StaleVersionError
from ._batch import (
    BatchResult,
    ChunkSteps,
    Collector,
    Decided,
    LoadMany,
    Planned,
    chunk_attempts,
    chunk_steps,
    chunks,
    group_by_user,
)
from ._batch_sync import drive_chunk
from ._retries import Attempts
from ._steps import Decisions

__all__ = ["drive_chunk_async", "run_batch_async", "run_chunk_async"]


async def drive_chunk_async(tx: AsyncBatchTransaction, steps: ChunkSteps) -> list[Decided]:
    """Run a chunk's steps on an async batch transaction."""
    try:
        request = next(steps)
        while True:
            if type(request) is LoadMany:
                request = steps.send(await tx.load_many(request.keys))
            else:
                await tx.write_many(request.writes)  # type: ignore[union-attr]
                request = steps.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def run_chunk_async(
    store: AsyncBatchStore | AsyncBatchRunner,
    decisions: Decisions,
    chunk: Sequence[Planned],
    *,
    max_attempts: int,
) -> list[Decided]:
    """A chunk in one batch transaction, tried again as ``chunk_attempts`` says."""
    attempts: Attempts | None = None
    users = list(group_by_user(chunk))
    while True:
        try:
            if isinstance(store, AsyncBatchRunner):
                return await store.run_in_batch(
                    users, lambda tx: drive_chunk(tx, chunk_steps(decisions, chunk))
                )
            async with store.batch_transaction(users) as tx:
                return await drive_chunk_async(tx, chunk_steps(decisions, chunk))
        except (StaleVersionError, StoreUnavailableError) as exc:
            if attempts is None:
                attempts = chunk_attempts(chunk, max_attempts)
            delay = attempts.failed(exc)
        # Even a zero delay yields to the loop, so a retry never starves other tasks.
        await asyncio.sleep(delay)


async def run_batch_async(
    planned: Sequence[Planned],
    run: Callable[[Sequence[Planned]], Awaitable[list[Decided]]],
    chunk_size: int,
    heard: Callable[[Planned, AwardResult], None] | None,
) -> BatchResult:
    """Run ``planned`` chunk by chunk with ``run``, as the sync ``run_batch`` does."""
    collector = Collector(planned, heard)
    for start, chunk in chunks(planned, chunk_size):
        try:
            decided = await run(chunk)
        except StoreError as exc:
            raise collector.failed(start, len(chunk), exc) from exc
        collector.add(decided)
    return collector.result()

"""Checks of concurrent writers: threads and processes on one hot user."""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ...core.config import DEFAULT_CONFIG
from ...core.results import Outcome
from ...service import ProgressionService
from ...stores import (
    EntryKind,
    ProgressStore,
)
from ._support import (
    START,
    NotApplicable,
    StoreFactory,
    _run_threads,
    _service,
    _user,
)

# --- a hot user: many awards at once ----------------------------------------------------

_HOT_ACTIONS = (
    "paid_char_sold",
    "create_character",
    "character_liked",
    "daily_chat",
    "create_scene",
    "forked",
    "create_persona",
)
_Outcomes = list[tuple[str, str, int]]


def _award_hot(service: ProgressionService, user_id: str, number: int) -> tuple[str, str, int]:
    """Award the ``number``-th action of the hot mix; return (action, outcome, exp_added)."""
    action = _HOT_ACTIONS[number % len(_HOT_ACTIONS)]
    creator = service.config.actions[action].creator_award
    result = service.award(user_id, action, actor_id="a-fan" if creator else None)
    return action, str(result.outcome), result.exp_added


def _assert_consistent(service: ProgressionService, user_id: str, outcomes: _Outcomes) -> None:
    """The stored state is exactly the sum of what the callers were told, within every limit."""
    config = service.config
    state = service.state(user_id)
    awarded = [(a, n) for a, o, n in outcomes if o in (Outcome.AWARDED, Outcome.PARTIAL)]
    assert state.exp == sum(n for _, n in awarded), (state, outcomes)
    gained = sum(n for a, n in awarded if not config.actions[a].cap_exempt)
    assert state.daily_exp_gained == gained, (state, outcomes)
    assert dict(state.daily_action_counts) == dict(Counter(a for a, _ in awarded)), state
    assert state.daily_exp_gained <= config.cap_for_level(state.level), state
    for action, count in state.daily_action_counts.items():
        limit = config.actions[action].daily_limit
        assert limit is None or count <= limit, (action, count, limit)
    awards = [e for e in service.ledger(user_id) if e.kind is EntryKind.AWARD]
    assert sorted((e.action, e.exp_delta) for e in awards) == sorted(awarded)
    assert service.replay(user_id).matches


def check_threads_no_lost_update(
    factory: StoreFactory, *, threads: int = 8, awards_each: int = 6
) -> None:
    """Threads awarding to one user at once: no lost update, no cap or limit overshoot."""
    service = _service(factory())
    user = _user("hot")
    batches = _run_threads(
        threads,
        lambda n: [_award_hot(service, user, n + i * threads) for i in range(awards_each)],
    )
    _assert_consistent(service, user, [o for batch in batches for o in batch])
    state = service.state(user)
    assert state.daily_exp_gained == DEFAULT_CONFIG.cap_for_level(state.level)


def _award_in_process(
    reopen: Callable[..., ProgressStore],
    url: str,
    options: Mapping[str, Any],
    user_id: str,
    now: datetime,
    numbers: Sequence[int],
    barrier: Any,
    replies: Any,
) -> None:
    """A spawned worker: open the store by URL, wait for the others, award, report."""
    try:
        store = reopen(url, **options)
        try:
            service = ProgressionService(store, clock=lambda: now)
            barrier.wait(timeout=60)
            replies.put(("ok", [_award_hot(service, user_id, n) for n in numbers]))
        finally:
            store.close()
    except BaseException:
        barrier.abort()
        replies.put(("error", traceback.format_exc()))


def _collect(replies: Any, workers: Sequence[Any], timeout: float = 120) -> list[Any]:
    """One reply per worker; fails fast if the workers died without replying."""
    answers: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(answers) < len(workers):
        try:
            answers.append(replies.get(timeout=0.2))
            continue
        except queue.Empty:
            pass
        if not any(w.is_alive() for w in workers):
            try:
                answers.append(replies.get(timeout=2))
                continue
            except queue.Empty:
                codes = [w.exitcode for w in workers]
                raise AssertionError(f"worker processes exited without replying: {codes}") from None
        if time.monotonic() > deadline:
            raise AssertionError(f"worker processes did not reply within {timeout} s")
    return answers


def check_processes_no_lost_update(
    factory: StoreFactory, *, processes: int = 3, awards_each: int = 8
) -> None:
    """Separate processes awarding to one user at once: no lost update, no overshoot."""
    if factory.url is None:
        raise NotApplicable(f"{factory.name} data cannot be shared between processes")
    service = _service(factory())
    user = _user("hot-proc")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    replies = context.Queue()
    workers = [
        context.Process(
            target=_award_in_process,
            args=(
                factory.reopen,
                factory.url,
                dict(factory.options),
                user,
                START,
                [p + i * processes for i in range(awards_each)],
                barrier,
                replies,
            ),
            daemon=True,
        )
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        answers = _collect(replies, workers)
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
                worker.join()
            worker.close()
        replies.close()
        replies.join_thread()
    failures = [detail for status, detail in answers if status != "ok"]
    assert not failures, failures[0]
    _assert_consistent(service, user, [o for _, batch in answers for o in batch])

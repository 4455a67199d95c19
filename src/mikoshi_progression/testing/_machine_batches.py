"""The store machine's batch rules: ``award_many`` and concurrent awards to one user.

Both are checked against the reference sending the same requests one by one, which is
what they promise to equal:

- ``award_many``: the batch on the store under test, each request alone on the
  reference, in the order given (a request with a moment of its own is sent with the
  clock set to that moment); every result, every refusal, and then (by the machine's
  invariants) every state, ledger and event must agree.
- concurrent awards: several threads award one user at once on the store under test
  (where the service combines them into one transaction); the reference then sends the
  same awards one by one, in the order the store under test decided them (its ledger's
  order, refused ones where they saw the state). Equal results in that order prove that
  the combined awards were decided one after another, none lost, none twice, no cap
  passed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import rule

from ..core.results import AwardResult
from ..errors import IdempotencyError, ProgressionError
from ..service import AwardRequest, ProgressionService
from ..stores.base import ProgressStore
from ._machine_checks import same_award
from .clock import FakeClock

__all__ = ["BatchRules"]

_BATCH_KEYS = st.one_of(st.none(), st.sampled_from(("b1", "b2", "b3", "k1", "k2")))
_BACK = st.one_of(st.none(), st.integers(0, 3 * 3600))
"""How long before now a backfilled request happened (``None``: now)."""


class BatchRules:
    """Rules for a :class:`~mikoshi_progression.testing.machine.StoreMachine` (a mixin)."""

    clock: FakeClock
    subject: ProgressionService
    reference: ProgressionService
    users: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    config: Any
    keyed_awards: set[tuple[str, str]]
    _touched: set[str]
    _subject_store: ProgressStore
    _bursts: int

    @rule(
        data=st.data(),
        size=st.integers(1, 12),
        chunk_size=st.sampled_from((1, 2, 5, 1000)),
    )
    def award_many(self, data: st.DataObject, size: int, chunk_size: int) -> None:
        """A batch of requests (some keyed, some backfilled) against the same requests
        sent one by one to the reference."""
        actions = (*sorted(self.config.actions), "no_such_action")
        requests = []
        for _ in range(size):
            user, actor = data.draw(st.sampled_from(self.pairs))
            back = data.draw(_BACK)
            requests.append(
                AwardRequest(
                    user,
                    data.draw(st.sampled_from(actions)),
                    at=None if back is None else self.clock() - timedelta(seconds=back),
                    key=data.draw(_BATCH_KEYS),
                    actor_id=actor,
                )
            )
        what = f"award_many({requests!r}, chunk_size={chunk_size})"
        try:
            batch = self.subject.award_many(requests, chunk_size=chunk_size)
        except ProgressionError as exc:
            raise AssertionError(f"{what} raised {exc!r}") from exc
        now = self.clock()
        for position, request in enumerate(requests):
            one = f"{what}, request {position}"
            if request.at is not None:
                self.clock.set(request.at)
            try:
                expected: AwardResult | IdempotencyError = self.reference.award(
                    request.user_id, request.action, key=request.key, actor_id=request.actor_id
                )
            except IdempotencyError as refused:
                expected = refused
            finally:
                self.clock.set(now)
            self._touched.add(request.user_id)
            actual = batch.results[position]
            if isinstance(expected, IdempotencyError):
                if position not in batch.errors:
                    raise AssertionError(
                        f"{one}: the reference refused it ({expected}), not the batch"
                    )
                continue
            if actual is None:
                raise AssertionError(f"{one}: the batch refused it ({batch.errors[position]})")
            same_award(one, actual, expected)
            if request.key is not None and actual.success:
                self.keyed_awards.add((request.user_id, request.key))

    @rule(
        data=st.data(),
        threads=st.integers(2, 4),
        per_thread=st.integers(1, 3),
    )
    def award_concurrently(self, data: st.DataObject, threads: int, per_thread: int) -> None:
        """Threads award one user at once (combined); the reference replays them in the
        order the store under test decided them."""
        user = data.draw(st.sampled_from(self.users))
        self._bursts = burst = getattr(self, "_bursts", 0) + 1
        actors = [actor for recipient, actor in self.pairs if recipient == user]
        # One action for the whole burst: then the state it leaves is the same whatever
        # order the threads ran in (with several, which one a cap cut would depend on
        # it), so the steps hypothesis draws next never depend on the threads' timing.
        action = data.draw(st.sampled_from(sorted(self.config.actions)))
        plans = [
            [
                (
                    action,
                    f"c{burst}-{thread}-{n}" if data.draw(st.booleans()) else None,
                    data.draw(st.sampled_from(actors)),
                )
                for n in range(per_thread)
            ]
            for thread in range(threads)
        ]
        done: list[tuple[str, str | None, str, AwardResult]] = []
        failures: list[BaseException] = []
        lock = threading.Lock()
        start = threading.Barrier(threads)

        def work(plan: Sequence[tuple[str, str | None, str]]) -> None:
            start.wait()
            for action, key, actor in plan:
                try:
                    result = self.subject.award(user, action, key=key, actor_id=actor)
                except BaseException as exc:  # reported below, after every thread ended
                    with lock:
                        failures.append(exc)
                    return
                with lock:
                    done.append((action, key, actor, result))

        _run_threads([partial(work, plan) for plan in plans])
        if failures:
            raise AssertionError(f"concurrent awards to {user!r} failed: {failures[0]!r}")
        self._touched.add(user)
        ledger_order = {
            entry.state_after: number
            for number, entry in enumerate(self._subject_store.ledger(user))
        }
        # The order the store under test decided them in: an award by the ledger entry that
        # holds the state it left, a refused one right after the entry holding the state
        # it saw (before the burst's first entry if it saw none of them).
        done.sort(
            key=lambda item: (ledger_order.get(item[3].state, -1), 0 if item[3].success else 1)
        )
        for action, key, actor, actual in done:
            what = f"award({user!r}, {action!r}, key={key!r}, actor_id={actor!r}) in threads"
            expected = self.reference.award(user, action, key=key, actor_id=actor)
            # Not added to ``keyed_awards``: which of them succeed depends on the threads'
            # timing, and hypothesis needs the steps it draws to depend on its draws only.
            same_award(what, actual, expected)


def _run_threads(work: Sequence[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=job) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

"""Checks of the ledger: every field round-trips, and replay explains the state."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ...core.config import DEFAULT_CONFIG
from ...core.state import ProgressState
from ...errors import IdempotencyError, InvalidArgumentError
from ...service import ProgressionService
from ...stores import EntryKind
from ..clock import FakeClock
from ._support import (
    _DROPPING,
    START,
    StoreFactory,
    _assert_positions,
    _entry,
    _generated,
    _service,
    _user,
)

# --- ledger and replay ------------------------------------------------------------------

_KEYS = ("k1", "k2", "k3")
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("award"),
            st.sampled_from([*DEFAULT_CONFIG.actions, "chat_used_50"]),
            st.sampled_from([None, None, *_KEYS]),
        ),
        st.tuples(st.just("revoke"), st.sampled_from([*_KEYS, "k-never"])),
        st.tuples(st.just("reset")),
        st.tuples(st.just("limits")),
        st.tuples(
            st.just("adjust"),
            st.integers(min_value=-400, max_value=400).filter(bool),
            st.sampled_from([None, *_KEYS]),
        ),
        st.tuples(st.just("set_exp"), st.integers(min_value=0, max_value=2_000)),
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=30)),
    ),
    min_size=3,
    max_size=30,
)


def _operate(
    service: ProgressionService, clock: FakeClock, user: str, operation: tuple[Any, ...]
) -> None:
    match operation:
        case ("award", action, key):
            rule = service.config.actions.get(action)
            actor = "a-fan" if rule is not None and rule.creator_award else None
            with suppress(IdempotencyError):
                service.award(user, action, key=key, actor_id=actor)
        case ("revoke", key):
            with suppress(IdempotencyError):  # the key made an adjustment
                service.revoke(user, key)
        case ("reset",):
            service.reset_daily(user, reason="support ticket", operator="op-1")
        case ("adjust", delta, key):
            with suppress(IdempotencyError, InvalidArgumentError):  # reused key, EXP below 0
                service.adjust(user, delta, reason="goodwill", operator="op-1", key=key)
        case ("set_exp", exp):
            service.set_exp(user, exp, reason="migrated balance", operator="op-2")
        case ("limits",):
            service.limits(user)
        case ("advance", hours):
            clock.advance(hours=hours)


def check_replay_matches(factory: StoreFactory, *, max_examples: int = 20) -> None:
    """Replaying the ledger of any sequence of awards, revocations, resets and operators'
    adjustments gives the state."""
    store = factory()

    @_generated(max_examples)
    @given(operations=_OPERATIONS, can_drop=st.booleans())
    def replay_matches(operations: list[tuple[Any, ...]], can_drop: bool) -> None:
        clock = FakeClock(START)
        service = _service(store, clock, _DROPPING if can_drop else DEFAULT_CONFIG)
        user = _user("replay")
        for operation in operations:
            _operate(service, clock, user, operation)
        report = service.replay(user)
        assert report.matches, (report.state, report.stored)
        _assert_positions(service.ledger(user))

    replay_matches()


def check_ledger_entries_round_trip(factory: StoreFactory) -> None:
    """Every field of a ledger entry comes back as written, oldest first, with ``seq`` set."""
    store = factory()
    user = _user("ユーザー'\"")
    zone = timezone(timedelta(hours=-7))
    state = ProgressState(
        exp=135,
        level=2,
        daily_exp_gained=55,
        last_exp_reset_date=datetime(2026, 3, 2, 0, 0, 0, 1, tzinfo=zone),
        daily_action_counts={"create_scene": 1, "chat_used_50": 3},
        last_chat_date=datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
    )
    entries = [
        _entry(user, EntryKind.IMPORT, None, action="", exp_delta=0, state_after=ProgressState()),
        _entry(
            user,
            EntryKind.AWARD,
            "k'; DROP TABLE x; --",
            exp_delta=15,
            level_before=1,
            level_after=2,
            at=datetime(2026, 3, 2, 8, 1, 2, 345678, tzinfo=zone),
            state_after=state,
            outcome="partial",
        ),
        _entry(
            user,
            EntryKind.ADJUST,
            "adj-1",
            action="",
            exp_delta=-20,
            level_before=2,
            level_after=2,
            state_after=replace(state, exp=115),
            outcome="adjusted",
            actor="support-7",
            reason="refund: order #1182 charged twice — ユーザー",
        ),
    ]
    with store.transaction(user) as tx:
        tx.write(state, tx.load().version, entries)
    stored = store.ledger(user)
    assert stored == entries
    assert stored[1].at.microsecond == 345678
    _assert_positions(stored)

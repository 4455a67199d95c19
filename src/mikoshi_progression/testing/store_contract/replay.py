"""Checks of a store's replay reading (:class:`~mikoshi_progression.stores.ReplayReader`):
its rows are the ledger's, and the service's replay reports what the ledger's would."""

from __future__ import annotations

from contextlib import AbstractContextManager, suppress
from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ...core.config import DEFAULT_CONFIG
from ...core.state import ProgressState
from ...errors import IdempotencyError, InvalidArgumentError
from ...service import ProgressionService
from ...stores import (
    EntryKind,
    LedgerEntry,
    ProgressStore,
    ReplayReader,
    StateReader,
    StoredFormStore,
    StoreTransaction,
)
from ..clock import FakeClock
from ._support import (
    LEVERS,
    START,
    NotApplicable,
    StoreFactory,
    _entry,
    _generated,
    _service,
    _user,
)

_ZONES = (None, "Asia/Tokyo", "America/New_York", "Pacific/Kiritimati")
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("award"),
            st.sampled_from(["daily_chat", "create_character", "create_scene", "forked"]),
            st.sampled_from([None, None, "k1", "k2"]),
        ),
        st.tuples(st.just("award under the default rules"), st.sampled_from(["create_scene"])),
        st.tuples(st.just("zone"), st.sampled_from(_ZONES)),
        st.tuples(st.just("revoke"), st.sampled_from(["k1", "k2"])),
        st.tuples(st.just("adjust"), st.integers(min_value=-50, max_value=200).filter(bool)),
        st.tuples(st.just("set_exp"), st.integers(min_value=0, max_value=2_000)),
        st.tuples(st.just("reset")),
        st.tuples(st.just("limits")),
        st.tuples(st.just("import"), st.integers(min_value=0, max_value=500)),
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=40)),
    ),
    min_size=4,
    max_size=30,
)
"""Every kind of entry: imports, days, awards (with the levers' events, and under a second
config's fingerprint), revocations, adjustments, set EXP, time-zone moves."""


class LedgerOnly:
    """A store without its :class:`~mikoshi_progression.stores.ReplayReader`: a service
    over it replays what ``ledger`` reads (its lock-free reads and stored form kept)."""

    def __init__(self, store: ProgressStore) -> None:
        self._store = store
        if isinstance(store, StoredFormStore):
            self.stored_form = store.stored_form
        if isinstance(store, StateReader):
            self.read_state = store.read_state

    def transaction(self, user_id: str) -> AbstractContextManager[StoreTransaction]:
        return self._store.transaction(user_id)

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        return self._store.ledger(user_id)

    def create_schema(self) -> None:
        self._store.create_schema()

    def close(self) -> None:
        """The store stays open: it is the check's."""


def _import(store: ProgressStore, clock: FakeClock, user: str, exp: int) -> None:
    """Adopt a state as-is with an import entry, as a store meeting a legacy row does: a
    time zone and a streak kept, EXP and the day's counts taken from the row."""
    with store.transaction(user) as tx:
        snap = tx.load()
        adopted = replace(
            snap.state,
            exp=exp,
            daily_exp_gained=min(exp, snap.state.daily_exp_gained),
            levers=replace(snap.state.levers, streak=2, best_streak=3),
        )
        entry = _entry(
            user,
            EntryKind.IMPORT,
            None,
            action="",
            exp_delta=0,
            at=clock(),
            config_fingerprint="legacy-import",
            state_after=adopted,
        )
        tx.write(adopted, snap.version, [entry])


def _operate(
    store: ProgressStore,
    services: tuple[ProgressionService, ProgressionService],
    clock: FakeClock,
    user: str,
    op: tuple[Any, ...],
) -> None:
    service, default_rules = services
    match op:
        case ("award", action, key):
            actor = "a-fan" if action == "forked" else None
            with suppress(IdempotencyError):
                service.award(user, action, key=key, actor_id=actor)
        case ("award under the default rules", action):
            default_rules.award(user, action)
        case ("zone", zone):
            service.set_timezone(user, zone)
        case ("revoke", key):
            with suppress(IdempotencyError):
                service.revoke(user, key)
        case ("adjust", delta):
            with suppress(InvalidArgumentError):  # below 0
                service.adjust(user, delta, reason="goodwill", operator="op-1")
        case ("set_exp", exp):
            service.set_exp(user, exp, reason="migrated balance", operator="op-2")
        case ("reset",):
            service.reset_daily(user, operator="op-1")
        case ("limits",):
            service.limits(user)
        case ("import", exp):
            _import(store, clock, user, exp)
        case ("advance", hours):
            clock.advance(hours=hours)


def check_replay_rows_match_the_ledger(factory: StoreFactory, *, max_examples: int = 15) -> None:
    """A store's replay rows are its ledger's entries (kind, moment, action, delta,
    fingerprint; the state of imports and time-zone moves), and a replay read through them
    reports exactly what one read through the ledger does, on ledgers of every kind."""
    store = factory()
    if not isinstance(store, ReplayReader):
        raise NotApplicable(f"{type(store).__name__} reads no replay rows (ReplayReader)")
    reader = store

    @_generated(max_examples)
    @given(operations=_OPERATIONS)
    def same_report(operations: list[tuple[Any, ...]]) -> None:
        clock = FakeClock(START - timedelta(hours=6))
        service = _service(store, clock, LEVERS)
        services = (service, _service(store, clock, DEFAULT_CONFIG))
        user = _user("replay-rows")
        for operation in operations:
            _operate(store, services, clock, user, operation)
        ledger = store.ledger(user)
        rows = list(reader.replay_rows(user))
        assert len(rows) == len(ledger), (len(rows), len(ledger))
        for row, entry in zip(rows, ledger, strict=True):
            kind, at, action, exp_delta, fingerprint, state_after = row
            read = (entry.kind, entry.at, entry.action, entry.exp_delta, entry.config_fingerprint)
            assert (kind, at, action, exp_delta, fingerprint) == read, (row, entry)
            assert at.utcoffset() is not None, row  # aware, in whatever zone
            if kind in (EntryKind.IMPORT, EntryKind.TIMEZONE):
                assert isinstance(state_after, ProgressState), row
                assert state_after == entry.state_after, (state_after, entry.state_after)
        report = service.replay(user)
        assert report == _service(LedgerOnly(store), clock, LEVERS).replay(user)
        assert report.entries == len(ledger)

    same_report()

"""The SQLite store's fast award path: its snapshot cache, checked by the version-checked
write under the write lock, and the state's JSON built without the generic encoder.

Two ``SQLiteStore`` objects on one file are what two processes see: each has its own
connections and its own cache, and neither hears of the other's writes.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mikoshi_progression import ActionRule, Level, Outcome, ProgressionConfig
from mikoshi_progression.core.state import ProgressState
from mikoshi_progression.errors import IdempotencyError
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import EntryKind, LedgerEntry, StaleVersionError
from mikoshi_progression.stores._state_json import counts_json, state_json
from mikoshi_progression.stores.sqlite import SQLiteStore
from mikoshi_progression.testing.clock import FakeClock
from mikoshi_progression.testing.store_contract import START
from mikoshi_progression.testing.strategies import moments, states

pytestmark = pytest.mark.sqlite

GIFTS = ProgressionConfig(
    levels=(Level(1, "Only", "", 0),),
    actions={"gift": ActionRule(7)},
    daily_exp_caps={1: 10},
)
"""7 EXP a gift, a cap of 10: the second gift is partial, the third refused."""
TICKS = ProgressionConfig(
    levels=(Level(1, "Only", "", 0),),
    actions={"tick": ActionRule(1)},
    daily_exp_caps={1: 10**9},
)
"""1 EXP a tick, no limit, a cap never reached."""


@pytest.fixture
def path(tmp_path):
    return tmp_path / "progress.db"


@pytest.fixture
def two(path):
    """Two stores on one file: two processes' view of it."""
    with SQLiteStore(path) as first, SQLiteStore(path) as second:
        yield first, second


def service(store, config=None):
    if config is None:
        return ProgressionService(store, clock=FakeClock(START))
    return ProgressionService(store, config=config, clock=FakeClock(START))


def statements_of(store):
    """The SQL the store's writer connection runs from now on."""
    seen: list[str] = []
    with store.transaction("warm-up") as tx:  # the writer connection exists from here
        tx.load()
    store._writing.set_trace_callback(seen.append)
    return seen


def fresh_load(path, user):
    """The user's snapshot as a store with no cache reads it from the file."""
    with SQLiteStore(path, snapshot_cache=0) as store, store.transaction(user) as tx:
        return tx.load()


# --- the cache ------------------------------------------------------------------------------


def test_a_second_award_starts_from_the_cached_snapshot(path):
    """After an award, the next one reads no state row: the cached state is checked by the
    version in the UPDATE, and both awards land."""
    with SQLiteStore(path) as store:
        awards = service(store)
        awards.award("u", "create_character")
        seen = statements_of(store)
        second = awards.award("u", "create_scene")
        info = store.snapshot_cache_info()
        assert second.outcome is Outcome.AWARDED
        assert not [s for s in seen if s.startswith("SELECT") and "progress" in s]
        assert any(s.startswith("UPDATE") for s in seen)
        assert info is not None
        assert info.guesses >= 1
        assert info.wrong == 0
        assert awards.state("u").exp == 30 + second.exp_added
        assert awards.replay("u").matches


def test_a_stale_cache_is_refused_by_the_version_and_the_award_is_made_again(two, path):
    """Another store (process) writes the user behind this one's cache: the guessed write
    updates nothing, the service loads again from the file, and no award is lost."""
    first, second = two
    one, other = service(first, TICKS), service(second, TICKS)
    one.award("u", "tick")
    other.award("u", "tick")
    other.award("u", "tick")
    result = one.award("u", "tick")
    assert result.outcome is Outcome.AWARDED
    info = first.snapshot_cache_info()
    assert info is not None
    assert info.wrong == 1
    state = fresh_load(path, "u").state
    assert state.exp == 4
    assert state.daily_action_counts == {"tick": 4}
    assert one.replay("u").matches


def test_a_refusal_decided_on_a_stale_guess_is_decided_again(two):
    """The cache says the user is at the cap, but another process reset their day: the
    refusal writes nothing, the version check before the commit finds the row moved, and
    the award is decided again on the stored state."""
    first, second = two
    one, other = service(first, GIFTS), service(second, GIFTS)
    assert [one.award("u", "gift").exp_added for _ in range(3)] == [7, 3, 0]
    other.reset_daily("u", reason="support ticket", operator="ops")
    result = one.award("u", "gift")
    assert result.outcome is Outcome.AWARDED
    assert result.exp_added == 7
    assert one.state("u").daily_exp_gained == 7


def test_an_error_decided_on_a_stale_guess_is_decided_again(two):
    """A deduction that the stale cached EXP cannot cover is not refused when the stored
    EXP can: the failed decision is checked against the version and made again."""
    first, second = two
    one, other = service(first), service(second)
    earned = one.award("u", "create_character").exp_added
    other.adjust("u", 100, reason="migration", operator="ops")
    entry = one.adjust("u", -(earned + 50), reason="correction", operator="ops")
    assert entry.exp_delta == -(earned + 50)
    assert one.state("u").exp == 50
    assert one.replay("u").matches


def test_a_refusal_on_a_current_guess_stays_a_refusal(path):
    """The version check that follows a refusal passes when nothing changed: the first
    answer is kept, from the cache."""
    with SQLiteStore(path) as store:
        gifts = service(store, GIFTS)
        assert [gifts.award("u", "gift").outcome for _ in range(3)][-1] is Outcome.DAILY_CAP
        info = store.snapshot_cache_info()
        assert info is not None
        assert info.wrong == 0


def test_a_cached_load_leaves_the_database_lock_to_other_processes(path):
    """A load served from the cache takes no lock: another process can write until this
    transaction writes (or looks a key up, which is done under the lock)."""
    with SQLiteStore(path) as store, closing(sqlite3.connect(path, timeout=0)) as other:
        other.isolation_level = None
        service(store).award("u", "create_character")

        def other_can_write() -> bool:
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return False
            other.execute("ROLLBACK")
            return True

        with store.transaction("u") as tx:
            tx.load()
            assert other_can_write()
        with store.transaction("u") as tx:
            tx.load(key="k")
            assert not other_can_write()
        with store.transaction("never-seen") as tx:
            tx.load()
            assert not other_can_write()


# --- keys --------------------------------------------------------------------------------


def test_a_keyed_award_on_a_cached_snapshot_still_looks_its_key_up(two):
    """A retry with the key returns the first result, another request with it is refused,
    and a key an operator used is refused for an award (the unique index alone would take
    it: its kind differs), from this store's cache as from the other store."""
    first, second = two
    one, other = service(first), service(second)
    made = one.award("u", "create_character", key="req-1")
    again = one.award("u", "create_character", key="req-1")
    elsewhere = other.award("u", "create_character", key="req-1")
    assert made.exp_added == again.exp_added == elsewhere.exp_added == 30
    with pytest.raises(IdempotencyError):
        one.award("u", "create_scene", key="req-1")
    one.adjust("u", 5, reason="bonus", operator="ops", key="req-2")
    with pytest.raises(IdempotencyError):
        one.award("u", "create_scene", key="req-2")
    assert [e.kind for e in one.ledger("u")] == [EntryKind.DAY, EntryKind.AWARD, EntryKind.ADJUST]
    assert one.state("u").exp == 35
    assert one.replay("u").matches


def test_a_duplicate_key_is_refused_by_the_unique_index_on_a_guessed_write(path):
    """A write that bypasses the key lookup and appends an award with a used key, on a
    cached snapshot, is refused whole by the ledger's unique index: nothing is kept and
    the next award works."""
    with SQLiteStore(path) as store:
        awards = service(store)
        first = awards.award("u", "create_character", key="k")
        (entry,) = [e for e in awards.ledger("u") if e.key == "k"]

        def write_again():
            with store.transaction("u") as tx:
                snap = tx.load()
                state = ProgressState(exp=snap.state.exp + 1, daily_exp_gained=1)
                tx.write(state, snap.version, [_entry("u", state, key="k", at=entry.at)])

        with pytest.raises(StaleVersionError):
            write_again()
        info = store.snapshot_cache_info()
        assert info is not None
        assert info.guesses >= 1  # the refused write was made on a cached snapshot
        assert awards.state("u").exp == first.exp_added
        assert len(awards.ledger("u")) == 2
        assert awards.award("u", "create_scene").outcome is Outcome.AWARDED
        assert awards.replay("u").matches


# --- what is remembered ------------------------------------------------------------------


def test_a_count_of_zero_is_not_remembered(path):
    """A count of 0 reads back as no count: such a state is not kept as a guess."""
    with SQLiteStore(path) as store:
        state = ProgressState(
            exp=5, last_exp_reset_date=START, daily_action_counts={"create_scene": 0}
        )
        with store.transaction("u") as tx:
            tx.write(state, tx.load().version, [_entry("u", state)])
        info = store.snapshot_cache_info()
        assert info is not None
        assert info.users == 0
        assert fresh_load(path, "u").state.daily_action_counts == {}


def test_no_cache_for_a_read_only_store_or_when_turned_off(path):
    with SQLiteStore(path) as store:
        service(store).award("u", "create_scene")
    with SQLiteStore(path, read_only=True) as reader:
        assert reader.snapshot_cache_info() is None
    with SQLiteStore(path, snapshot_cache=0) as store:
        assert store.snapshot_cache_info() is None
        assert service(store).award("u", "create_scene").outcome is Outcome.AWARDED


_settings = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_settings
@given(state=st.deferred(lambda: lever_states()))
def test_the_cached_state_is_the_state_a_load_reads(path, state):
    """Whatever a transaction writes, the snapshot it remembers equals what a store
    without a cache loads from the file, and the ledger entry reads back as written."""
    user = f"u-{uuid.uuid4().hex[:8]}"
    with SQLiteStore(path) as store:
        with store.transaction(user) as tx:
            tx.write(state, tx.load().version, [_entry(user, state)])
        with store.transaction(user) as tx:
            cached = tx.load()
        info = store.snapshot_cache_info()
        assert info is not None
        loaded = fresh_load(path, user)
        counts = [*state.daily_action_counts.values(), *state.lifetime_counts.values()]
        # Remembered unless a count of 0 (read back as none): then served from it.
        assert info.guesses == (0 if 0 in counts else 1)
        assert cached == loaded
        nonzero = replace(  # a count of 0 is no count: the store keeps none
            state,
            daily_action_counts={a: n for a, n in state.daily_action_counts.items() if n},
            levers=replace(state.levers, lifetime_counts=dict(state.lifetime_counts)),
        )
        assert loaded.state == nonzero
        (entry,) = store.ledger(user)
        assert entry.state_after == state


# --- the encoder --------------------------------------------------------------------------

NAMES = st.text(min_size=1, max_size=12) | st.sampled_from(
    ("tick", "日本語", "naïve", 'quote"d', "back\\slash", "tab\there", "emoji🎉", "\x00nul")
)


@st.composite
def lever_states(draw):
    """States of every shape: the platform's fields, then any mix of lever fields."""
    base = draw(states())
    counts = draw(st.dictionaries(NAMES, st.integers(0, 10**12), max_size=4))
    streak = draw(st.integers(0, 400))
    levers = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "timezone": st.sampled_from(("Asia/Tokyo", "America/New_York", "UTC")),
                "day_extended_until": moments(),
                "best_streak": st.integers(streak, 1000),
                "last_streak_day": st.dates(date(2020, 1, 1), date(2030, 1, 1)),
                "streak_freezes": st.integers(0, 5),
                "milestones": st.frozensets(NAMES, max_size=4),
                "lifetime_counts": st.dictionaries(NAMES, st.integers(1, 10**9), max_size=3),
            },
        )
    )
    if "best_streak" in levers or draw(st.booleans()):
        levers["streak"] = streak
        levers.setdefault("best_streak", streak)
    return ProgressState(
        exp=base.exp,
        level=base.level,
        daily_exp_gained=base.daily_exp_gained,
        last_exp_reset_date=base.last_exp_reset_date,
        daily_action_counts=counts if base.last_exp_reset_date else {},
        last_chat_date=base.last_chat_date,
        **levers,
    )


@settings(max_examples=300, deadline=None)
@given(state=lever_states())
def test_state_json_is_what_json_dumps_writes(state):
    """The text readers and comparisons see is byte for byte the generic encoder's."""
    expected = json.dumps(state.to_dict(), sort_keys=True, separators=(",", ":"))
    assert state_json(state) == expected
    counts = counts_json(state.daily_action_counts)
    assert counts == json.dumps(
        dict(state.daily_action_counts), sort_keys=True, separators=(",", ":")
    )
    assert state_json(state, counts) == expected


def test_state_json_of_chosen_states():
    """A few shapes spelled out: a new user, non-ASCII names, an offset other than UTC."""
    tokyo = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC).astimezone(
        timezone(timedelta(hours=9))
    )
    shapes = [
        ProgressState(),
        ProgressState(
            exp=12,
            daily_exp_gained=12,
            last_exp_reset_date=tokyo,
            daily_action_counts={"ä": 1, "a": 2, "日本": 3},
            last_chat_date=tokyo + timedelta(hours=9),
        ),
        ProgressState(
            exp=1,
            milestones=frozenset({"ß", "z"}),
            timezone="Asia/Tokyo",
            streak=2,
            best_streak=2,
            lifetime_counts={"x": 1},
        ),
    ]
    for state in shapes:
        assert state_json(state) == json.dumps(
            state.to_dict(), sort_keys=True, separators=(",", ":")
        )


def _entry(user, state, *, key=None, at=START):
    return LedgerEntry(
        user_id=user,
        kind=EntryKind.AWARD,
        action="create_scene",
        exp_delta=1,
        level_before=1,
        level_after=state.level,
        key=key,
        at=at,
        config_fingerprint="test",
        state_after=state,
        outcome="awarded",
    )

"""Regressions of the trust issue, item by item, where no other test file is their home.

Each test names the item of the issue it reproduces ("Trust: no self-award, no double
award and no frozen day through identities, keys or clocks"). Store-level guarantees are
in the store contract (``mikoshi_progression.testing.store_contract``), router-level ones
in ``test_fastapi.py``, in-place PostgreSQL ones in ``test_postgres_store.py``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mikoshi_progression import (
    DEFAULT_CONFIG,
    ConfigError,
    ConfigFileError,
    DayBoundary,
    InvalidArgumentError,
    InvalidIdError,
    InvalidMomentError,
    ProgressionConfig,
    ProgressionError,
    ProgressState,
    SelfAwardError,
    StateError,
    apply_events,
    award_exp_with_limits,
    config_problems,
    is_clock_fault,
    is_new_day,
    load_config,
    next_reset_at,
    revoke_exp,
)
from mikoshi_progression.core.days import EARLIEST_MOMENT, LATEST_MOMENT
from mikoshi_progression.core.state import MAX_COUNT
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import InMemoryStore, LedgerEntry, open_store
from mikoshi_progression.stores.sqlite import SQLiteStore

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


# --- 5. every failure is a ProgressionError ---------------------------------------------


def _calls() -> dict[str, Callable[[], object]]:
    service = ProgressionService(InMemoryStore(), clock=lambda: NOW)
    state = ProgressState()
    return {
        "naive now": lambda: award_exp_with_limits(state, "daily_chat", now=datetime(2026, 1, 1)),
        "now not a datetime": lambda: award_exp_with_limits(state, "daily_chat", now="today"),  # type: ignore[arg-type]
        "now in year 9999": lambda: award_exp_with_limits(
            state, "daily_chat", now=datetime(9999, 12, 31, tzinfo=UTC)
        ),
        "naive event": lambda: apply_events(state, [(datetime(2026, 1, 1), "daily_chat")]),
        "unhashable action": lambda: award_exp_with_limits(state, ["x"], now=NOW),  # type: ignore[arg-type]
        "unhashable event action": lambda: apply_events(state, [(NOW, ["x"])]),  # type: ignore[list-item]
        "action not a string": lambda: service.award("u", 7),  # type: ignore[arg-type]
        "negative revoke": lambda: revoke_exp(state, -1),
        "state past 2**63": lambda: ProgressState(exp=2**63),
        "state in year 9999": lambda: ProgressState(
            last_exp_reset_date=datetime(9999, 1, 1, tzinfo=UTC)
        ),
        "unknown zone": lambda: DayBoundary("Mars/Olympus_Mons"),
        "hour 24": lambda: DayBoundary("UTC", 24),
        "unhashable user id": lambda: service.award(["u"], "daily_chat"),  # type: ignore[arg-type]
        "integer user id": lambda: service.award(42, "daily_chat"),  # type: ignore[arg-type]
        "lone surrogate id": lambda: service.award("\udc80", "daily_chat"),
        "lone surrogate key": lambda: service.award("u", "daily_chat", key="\udc80"),
        "megabyte key": lambda: service.award("u", "daily_chat", key="k" * 2**20),
        "empty actor": lambda: service.award("u", "character_liked", actor_id=""),
        "integer actor": lambda: service.award("u", "forked", actor_id=7),  # type: ignore[arg-type]
        "max_attempts 0": lambda: ProgressionService(InMemoryStore(), max_attempts=0),
        "unknown store url": lambda: open_store("ftp://x"),
        "ledger record without fields": lambda: LedgerEntry.from_dict({"user_id": "u"}),
        "ledger record not a mapping": lambda: LedgerEntry.from_dict([1]),  # type: ignore[arg-type]
        "state from a list": lambda: ProgressState.from_dict([1]),  # type: ignore[arg-type]
        "config from a list": lambda: ProgressionConfig.from_dict([1]),  # type: ignore[arg-type]
    }


@pytest.mark.parametrize("name", sorted(_calls()))
def test_every_bad_input_raises_a_progression_error(name):
    """Item 5: each of these once raised a bare ValueError, TypeError, OverflowError or
    UnicodeEncodeError; now one ``except ProgressionError`` catches them all."""
    with pytest.raises(ProgressionError):
        _calls()[name]()


def test_argument_errors_name_the_field_and_keep_the_builtin_bases():
    """An argument error says which argument and what it must be, and is still the
    ValueError and TypeError that code written against the builtins catches."""
    with pytest.raises(InvalidIdError) as caught:
        ProgressionService(InMemoryStore()).award(42, "daily_chat")  # type: ignore[arg-type]
    assert caught.value.field == "user_id"
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TypeError)
    assert "must be a string" in str(caught.value)
    with pytest.raises(InvalidMomentError) as moment:
        ProgressionService(InMemoryStore(), clock=lambda: datetime(2026, 1, 1)).award(
            "u", "daily_chat"
        )
    assert moment.value.field == "clock()"


def test_a_naive_clock_stores_nothing():
    """Item 5: a clock that returns naive moments is refused before anything is stored."""
    store = InMemoryStore()
    service = ProgressionService(store, clock=lambda: datetime(2026, 1, 1, 9))
    for call in (
        lambda: service.award("u", "daily_chat"),
        lambda: service.limits("u"),
        lambda: service.reset_daily("u"),
    ):
        with pytest.raises(InvalidMomentError):
            call()
    assert ProgressionService(store).ledger("u") == []


def test_an_award_past_64_bits_is_refused_and_stores_nothing(tmp_path):
    """Item 5: EXP that would pass 2**63 - 1 (what SQLite and PostgreSQL hold) is a typed
    error raised by the core before the store is asked to write."""
    for store in (InMemoryStore(), SQLiteStore(tmp_path / "big.db")):
        with store.transaction("whale") as tx:
            tx.write(ProgressState(exp=MAX_COUNT - 5), tx.load().version, [])
        service = ProgressionService(store, clock=lambda: NOW)
        with pytest.raises(StateError, match="2\\*\\*63"):
            service.award("whale", "paid_char_sold", actor_id="buyer")
        assert service.state("whale").exp == MAX_COUNT - 5
        assert service.ledger("whale") == []
        store.close()


def test_a_deeply_nested_config_file_is_a_config_file_error(tmp_path):
    """Item 5: a JSON config nested 100,000 deep once raised RecursionError."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ConfigFileError, match="nested too deeply"):
        load_config(path)


# --- 9. smaller ---------------------------------------------------------------------------


def test_level_keys_have_one_spelling():
    """Item 9: cap keys "01" and "1" were both accepted, the later silently winning."""
    data = DEFAULT_CONFIG.to_dict()
    data["daily_exp_caps"] = {"1": 150, "01": 999}
    assert config_problems(data) == [
        'daily_exp_caps.01: keys must be level numbers written without leading zeros ("1", '
        "\"2\"...), got '01'"
    ]
    data["daily_exp_caps"] = {1: 150, "1": 999}
    assert config_problems(data) == ["daily_exp_caps.1: level 1 has two caps (keys 1 and '1')"]
    with pytest.raises(ConfigError):
        ProgressionConfig.from_dict(data)


def test_an_empty_actor_is_no_actor_at_all():
    """Item 9: an empty actor_id passed the creator check; now it is refused as an id."""
    service = ProgressionService(InMemoryStore(), clock=lambda: NOW)
    with pytest.raises(InvalidIdError, match="actor_id"):
        service.award("creator", "character_liked", actor_id="")
    with pytest.raises(SelfAwardError):
        service.award("creator", "character_liked")
    assert service.ledger("creator") == []


# --- 4. clocks far ahead ------------------------------------------------------------------


def test_limits_for_a_row_stamped_in_9999_answer(tmp_path):
    """Item 4: a stored reset near year 9999 made limits() raise OverflowError after the
    award was stored; now the row reads as "no day yet" and limits answer."""
    path = tmp_path / "p.db"
    store = SQLiteStore(path)
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO mikoshi_progress (user_id, exp, level, daily_exp_gained, "
            "last_exp_reset_date, daily_action_counts) VALUES "
            "('u', 10, 1, 150, '9999-12-31T23:00:00+00:00', '{}')"
        )
    service = ProgressionService(store, clock=lambda: NOW)
    limits = service.limits("u")
    assert limits["remaining_exp"] == 150
    assert limits["resets_at"] == "2026-03-03T00:00:00+00:00"
    assert service.award("u", "daily_chat").exp_added == 20
    store.close()


def test_max_clock_skew_is_a_validated_setting():
    """Item 4: the tolerance is configurable, at least a minute and never over 48 hours."""
    data = DEFAULT_CONFIG.to_dict()
    for bad in (0, 2881, 1.5, "4h", True):
        data["max_clock_skew_minutes"] = bad
        assert [p.split(":")[0] for p in config_problems(data)] == ["max_clock_skew_minutes"]
    data["max_clock_skew_minutes"] = 60
    config = ProgressionConfig.from_dict(data)
    assert config.max_clock_skew == timedelta(hours=1)
    assert config.fingerprint != DEFAULT_CONFIG.fingerprint


def test_the_default_tolerance_keeps_old_fingerprints():
    """Adding the setting at its default changes no config's fingerprint, so ledgers
    written before it still replay without foreign fingerprints."""
    data = DEFAULT_CONFIG.to_dict()
    del data["max_clock_skew_minutes"]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert DEFAULT_CONFIG.fingerprint == hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --- 7. the platform's third creator award --------------------------------------------------


def test_a_sale_needs_a_buyer_who_is_not_the_creator():
    """Item 7: paid_char_sold pays the creator of the sold character, like the platform's
    route: without a buyer, or bought by its own creator, it pays nothing."""
    assert DEFAULT_CONFIG.actions["paid_char_sold"].creator_award
    service = ProgressionService(InMemoryStore(), clock=lambda: NOW)
    with pytest.raises(SelfAwardError):
        service.award("creator", "paid_char_sold")
    with pytest.raises(SelfAwardError):
        service.award("creator", "paid_char_sold", actor_id="creator")
    sold: Any = service.award("creator", "paid_char_sold", actor_id="buyer", key="order-1")
    assert sold.exp_added == 50
    (entry,) = [e for e in service.ledger("creator") if e.action == "paid_char_sold"]
    assert entry.actor == "buyer"


def test_example_config_file_is_the_platforms(tmp_path: Path) -> None:
    """examples/mikoshi.toml follows: its paid_char_sold is a creator award too."""
    config = load_config(Path(__file__).resolve().parents[1] / "examples" / "mikoshi.toml")
    assert config.actions["paid_char_sold"].creator_award
    assert config == DEFAULT_CONFIG


def test_argument_error_type():
    """InvalidArgumentError is the base of id and moment errors."""
    assert issubclass(InvalidIdError, InvalidArgumentError)
    assert issubclass(InvalidMomentError, InvalidArgumentError)


# --- 4. the ends of time, in every zone ---------------------------------------------------

_OUTSIDE = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1899, 12, 31, 23, 59, tzinfo=UTC),
    datetime(9000, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
]
_ZONES = ["UTC", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def _zoned(zone: str) -> ProgressionConfig:
    data = DEFAULT_CONFIG.to_dict()
    data["reset_timezone"], data["reset_hour"] = zone, 4
    return ProgressionConfig.from_dict(data)


@pytest.mark.parametrize("zone", _ZONES)
@pytest.mark.parametrize("now", _OUTSIDE, ids=lambda m: m.isoformat()[:10])
def test_moments_outside_the_supported_years_are_refused_never_overflowed(zone, now):
    """Item 4: at the ends of datetime's range a time-zone shift overflows; every entry
    point refuses such a moment with InvalidMomentError instead, for a new user and for
    one with a day open, in zones east and west of UTC."""
    config = _zoned(zone)
    opened = award_exp_with_limits(ProgressState(), "create_scene", now=NOW, config=config).state
    for state in (ProgressState(), opened):
        for action in ("create_scene", "daily_chat", "no_such_action"):
            with pytest.raises(InvalidMomentError):
                award_exp_with_limits(state, action, now=now, config=config)
            with pytest.raises(InvalidMomentError):
                apply_events(state, [(NOW, "create_scene"), (now, action)], config)
        with pytest.raises(InvalidMomentError):
            is_new_day(state, now=now, config=config)
        with pytest.raises(InvalidMomentError):
            next_reset_at(state, now=now, config=config)


@pytest.mark.parametrize("zone", _ZONES)
def test_the_first_and_last_supported_instants_award_and_reset(zone):
    """The range's own ends award, and their resets_at is reckoned without overflow."""
    config = _zoned(zone)
    for now in (EARLIEST_MOMENT, LATEST_MOMENT):
        result = award_exp_with_limits(ProgressState(), "daily_chat", now=now, config=config)
        assert result.exp_added == 20
        assert result.resets_at > now
        assert ProgressState.from_dict(result.state.to_dict()) == result.state


def test_a_moment_just_past_the_range_never_enters_a_state():
    """A moment past the last supported instant may still be the same day as a stored one
    (east of UTC), but it never becomes a state's moment: a chat stamped with it, like a
    day opened at it, is refused."""
    config = _zoned("Pacific/Kiritimati")
    last = datetime(8999, 12, 31, 20, tzinfo=UTC)
    state = award_exp_with_limits(ProgressState(), "create_scene", now=last, config=config).state
    beyond = datetime(9000, 1, 1, 9, tzinfo=UTC)  # still 1 January 9000 in Kiritimati
    assert award_exp_with_limits(state, "create_scene", now=beyond, config=config).success
    with pytest.raises(InvalidMomentError):
        award_exp_with_limits(state, "daily_chat", now=beyond, config=config)
    with pytest.raises(InvalidMomentError):
        apply_events(state, [(beyond, "daily_chat")], config)


def test_a_config_built_from_plain_mappings_works():
    """Levels and rules given to ProgressionConfig as plain mappings (validated like the
    rest) are built into Level and ActionRule, not left to fail later with AttributeError."""
    config = ProgressionConfig(
        levels=[{"number": 1, "name": "One", "unlock": "", "exp_required": 0}],  # type: ignore[list-item]
        actions={"post": {"exp": 5, "daily_limit": 2}},  # type: ignore[dict-item]
        daily_exp_caps={1: 100},
    )
    assert award_exp_with_limits(ProgressState(), "post", now=NOW, config=config).exp_added == 5
    assert config == ProgressionConfig.from_dict(config.to_dict())


def test_is_clock_fault_refuses_a_naive_now_even_without_a_day():
    """Like every day function, is_clock_fault checks now before anything else."""
    with pytest.raises(InvalidMomentError):
        is_clock_fault(ProgressState(), now=datetime(2026, 1, 1))

"""ProgressState: validation, immutability, hashing, dict round trip."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, tzinfo
from types import MappingProxyType

import pytest

from mikoshi_progression import EMPTY_COUNTS, ProgressState, StateError
from mikoshi_progression.core._frozen import trusted_factory
from mikoshi_progression.core.rules import _build_state
from mikoshi_progression.core.state import NO_LEVERS, LeverState

NOW = datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=UTC)


def test_new_user_is_the_default_state():
    """ProgressState() is a brand-new user: level 1, nothing earned, no day opened."""
    state = ProgressState()
    assert (state.exp, state.level, state.daily_exp_gained) == (0, 1, 0)
    assert state.last_exp_reset_date is None
    assert state.last_chat_date is None
    assert state.daily_action_counts == {}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"exp": -1}, "exp"),
        ({"daily_exp_gained": -5}, "daily_exp_gained"),
        ({"level": 0}, "level"),
        ({"level": True}, "level"),
        ({"exp": 1.5}, "exp"),
        ({"last_exp_reset_date": datetime(2026, 1, 1)}, "last_exp_reset_date"),
        ({"last_chat_date": datetime(2026, 1, 1)}, "last_chat_date"),
        ({"last_chat_date": date(2026, 1, 1)}, "last_chat_date"),
        ({"daily_action_counts": {"forked": "2"}}, "daily_action_counts['forked']"),
        ({"daily_action_counts": {"forked": -1}}, "daily_action_counts['forked']"),
        ({"daily_action_counts": [("forked", 1)]}, "daily_action_counts"),
        ({"daily_action_counts": {3: 1}}, "daily_action_counts"),
    ],
)
def test_impossible_values_raise_state_error_naming_the_field(fields, field):
    """Negative numbers, naive datetimes and non-int counts are refused by name."""
    with pytest.raises(StateError) as info:
        ProgressState(**fields)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_counts_are_an_immutable_copy():
    """Any mapping is accepted and kept as a read-only copy."""
    counts = {"forked": 2}
    state = ProgressState(daily_action_counts=counts)
    counts["forked"] = 99
    assert state.daily_action_counts == {"forked": 2}
    assert isinstance(state.daily_action_counts, MappingProxyType)
    with pytest.raises(TypeError):
        state.daily_action_counts["forked"] = 3  # type: ignore[index]
    with pytest.raises(AttributeError):
        state.exp = 10  # type: ignore[misc]


def test_equal_states_hash_equal():
    """States are values: usable in sets and as dict keys."""
    a = ProgressState(exp=5, daily_action_counts={"a": 1, "b": 2}, last_exp_reset_date=NOW)
    b = ProgressState(exp=5, daily_action_counts={"b": 2, "a": 1}, last_exp_reset_date=NOW)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, ProgressState()}) == 2


def test_dict_round_trip():
    """to_dict is JSON-ready and from_dict reads it back exactly."""
    state = ProgressState(
        exp=321,
        level=3,
        daily_exp_gained=40,
        last_exp_reset_date=NOW,
        daily_action_counts={"forked": 4},
        last_chat_date=NOW,
    )
    data = state.to_dict()
    assert data["last_exp_reset_date"] == "2026-02-03T04:05:06.000789+00:00"
    assert ProgressState.from_dict(data) == state


def test_from_dict_rejects_unknown_fields_and_bad_timestamps():
    """A typo in a state export is named, not ignored."""
    with pytest.raises(StateError, match="unknown field"):
        ProgressState.from_dict({"xp": 3})
    with pytest.raises(StateError, match="not an ISO 8601"):
        ProgressState.from_dict({"last_chat_date": "yesterday"})


def test_trusted_builders_equal_the_public_constructor():
    """The core's fast builders make ordinary, frozen instances equal to validated ones."""
    built = _build_state(7, 1, 7, NOW, MappingProxyType({"forked": 1}), None, NO_LEVERS)
    public = ProgressState(
        exp=7, daily_exp_gained=7, last_exp_reset_date=NOW, daily_action_counts={"forked": 1}
    )
    assert type(built) is ProgressState
    assert built == public
    assert hash(built) == hash(public)
    with pytest.raises(AttributeError):
        built.exp = 8  # type: ignore[misc]
    assert repr(built) == repr(public)


def test_trusted_factory_refuses_classes_without_slots():
    """The shortcut is only for slotted dataclasses."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Loose:
        x: int

    with pytest.raises((TypeError, AttributeError)):
        trusted_factory(Loose)


def test_empty_counts_is_shared_and_read_only():
    """The empty counts of a fresh day cannot be mutated by anyone."""
    assert ProgressState().daily_action_counts is EMPTY_COUNTS
    with pytest.raises(TypeError):
        EMPTY_COUNTS["x"] = 1  # type: ignore[index]


class NoOffset(tzinfo):
    """A tzinfo without an offset: as naive as no tzinfo at all."""

    def utcoffset(self, dt):
        return None


COUNT = "must be a non-negative integer of at most 2**63 - 1, got"
LEVEL = "must be an integer from 1 to 2,147,483,647, got"
NAIVE = "must be timezone-aware, got naive 2026-01-01T00:00:00 (attach a tzinfo)"
YEARS = "must lie in the years 1900 to 8999 (UTC), got"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"exp": 2**63}, "exp", f"{COUNT} int 9223372036854775808"),
        ({"daily_exp_gained": True}, "daily_exp_gained", f"{COUNT} bool True"),
        ({"level": 2**31}, "level", f"{LEVEL} int 2147483648"),
        ({"level": "2"}, "level", f"{LEVEL} str '2'"),
        (
            {"daily_action_counts": [("forked", 1)]},
            "daily_action_counts",
            "must be a mapping of action -> count, got list",
        ),
        (
            {"daily_action_counts": {3: 1}},
            "daily_action_counts",
            "action names must be strings, got 3",
        ),
        (
            {"daily_action_counts": {"forked": 2**63}},
            "daily_action_counts['forked']",
            f"{COUNT} int 9223372036854775808",
        ),
        (
            {"last_chat_date": "2026-01-01"},
            "last_chat_date",
            "must be an aware datetime or None, got str '2026-01-01'",
        ),
        ({"last_exp_reset_date": datetime(2026, 1, 1)}, "last_exp_reset_date", NAIVE),
        (
            {"last_exp_reset_date": datetime(2026, 1, 1, tzinfo=NoOffset())},
            "last_exp_reset_date",
            NAIVE,
        ),
        (
            {"last_chat_date": datetime(1899, 12, 31, tzinfo=UTC)},
            "last_chat_date",
            f"{YEARS} 1899-12-31T00:00:00+00:00",
        ),
        (
            {"last_exp_reset_date": datetime(9000, 1, 1, tzinfo=UTC)},
            "last_exp_reset_date",
            f"{YEARS} 9000-01-01T00:00:00+00:00",
        ),
    ],
)
def test_each_refusal_names_the_field_the_rule_and_the_value(fields, field, message):
    """A bad state is refused with a message that says which field, which bound and what came."""
    with pytest.raises(StateError) as info:
        ProgressState(**fields)
    assert str(info.value) == f"{field}: {message}"
    assert info.value.field == field


def test_the_largest_values_a_store_holds_are_taken():
    """EXP and counts up to 2**63 - 1, levels up to 2**31 - 1, moments in 1900 and 8999."""
    state = ProgressState(
        exp=2**63 - 1,
        level=2**31 - 1,
        daily_exp_gained=2**63 - 1,
        last_exp_reset_date=datetime(1900, 1, 1, tzinfo=UTC),
        daily_action_counts={"forked": 2**63 - 1, "daily_chat": 0},
        last_chat_date=datetime(8999, 12, 31, 23, 59, 59, tzinfo=UTC),
    )
    assert state.exp == 2**63 - 1
    assert ProgressState.from_dict(state.to_dict()) == state


def test_different_states_hash_differently():
    """The hash follows the fields, so states spread over a dict's buckets."""
    hashes = {
        hash(ProgressState()),
        hash(ProgressState(exp=1)),
        hash(ProgressState(level=2)),
        hash(ProgressState(daily_exp_gained=1)),
        hash(ProgressState(last_exp_reset_date=NOW)),
        hash(ProgressState(last_exp_reset_date=NOW, last_chat_date=NOW)),
    }
    assert len(hashes) == 6


def test_from_dict_names_what_it_refuses():
    """A non-mapping, an unknown field and a bad timestamp are refused with their names."""
    with pytest.raises(StateError) as info:
        ProgressState.from_dict([("exp", 1)])  # type: ignore[arg-type]
    assert str(info.value) == "state: must be a mapping of field -> value, got list [('exp', 1)]"
    assert info.value.field == "state"
    with pytest.raises(StateError) as info:
        ProgressState.from_dict({"exp": 1, 7: 2})
    assert info.value.field == "7"
    assert str(info.value) == (
        "7: unknown field (expected one of: best_streak, daily_action_counts, daily_exp_gained, "
        "day_extended_until, exp, last_chat_date, last_exp_reset_date, last_streak_day, level, "
        "lifetime_counts, milestones, streak, streak_freezes, timezone)"
    )
    with pytest.raises(StateError) as info:
        ProgressState.from_dict({"last_exp_reset_date": "2026-13-01"})
    assert info.value.field == "last_exp_reset_date"
    assert str(info.value) == "last_exp_reset_date: not an ISO 8601 datetime: str '2026-13-01'"


def test_from_dict_fills_missing_fields_and_takes_datetimes_as_they_are():
    """Absent fields are a new user's; datetime values need no parsing."""
    assert ProgressState.from_dict({}) == ProgressState()
    state = ProgressState.from_dict({"exp": 5, "last_chat_date": NOW})
    assert state == ProgressState(exp=5, last_chat_date=NOW)
    assert ProgressState.from_dict({"last_chat_date": None}) == ProgressState()


def test_a_state_no_lever_touched_shares_the_one_empty_lever_value():
    """States without lever fields hold NO_LEVERS itself (what keeps them on the seed's
    path); lever fields given one by one, or through dataclasses.replace, are read back as
    attributes, and equal states hash alike however they were built."""
    assert ProgressState().levers is NO_LEVERS
    assert ProgressState(streak=0, timezone=None).levers is NO_LEVERS
    assert ProgressState(levers=LeverState()).levers is NO_LEVERS
    state = ProgressState(exp=5, timezone="Asia/Tokyo", streak=2, best_streak=2)
    assert (state.timezone, state.streak, state.levers.best_streak) == ("Asia/Tokyo", 2, 2)
    again = replace(state, streak=1)
    assert (again.streak, again.best_streak, again.exp) == (1, 2, 5)
    assert replace(again, streak=2) == state
    assert hash(replace(again, streak=2)) == hash(state)
    assert repr(state) == (
        "ProgressState(exp=5, level=1, daily_exp_gained=0, last_exp_reset_date=None, "
        "daily_action_counts=mappingproxy({}), last_chat_date=None, timezone='Asia/Tokyo', "
        "streak=2, best_streak=2)"
    )
    with pytest.raises(StateError, match="levers"):
        ProgressState(levers={"streak": 1})  # type: ignore[arg-type]

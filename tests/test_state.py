"""ProgressState: validation, immutability, hashing, dict round trip."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import MappingProxyType

import pytest

from mikoshi_progression import EMPTY_COUNTS, ProgressState, StateError
from mikoshi_progression._frozen import trusted_factory
from mikoshi_progression.rules import _build_state

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
    built = _build_state(7, 1, 7, NOW, MappingProxyType({"forked": 1}), None)
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

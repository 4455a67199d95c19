"""Ids at the boundary: one canonical spelling per person, and the creator-award actor rule."""

from __future__ import annotations

import pytest

from mikoshi_progression import DEFAULT_CONFIG, ActionRule, ProgressionConfig, SelfAwardError
from mikoshi_progression.core.identity import MAX_ID_LENGTH, check_id, check_optional_id
from mikoshi_progression.core.rules import check_actor
from mikoshi_progression.errors import InvalidArgumentError, InvalidIdError, describe_value

PRINTABLE = "a printable string of 1 to 255 characters"


class Tagged(str):
    """A str subclass, as an ORM or a framework may hand one over."""


def refused(value, field="user_id"):
    """The InvalidIdError that check_id raises for ``value``."""
    with pytest.raises(InvalidIdError) as info:
        check_id(value, field)
    assert info.value.field == field
    return info.value


@pytest.mark.parametrize(
    "value",
    ["u", "user-42", "42", "a b", "x" * MAX_ID_LENGTH, "é", "名前", "ü" * MAX_ID_LENGTH, "~!"],
)
def test_canonical_ids_come_back_unchanged(value):
    """Printable NFC strings of 1 to 255 characters without edge spaces are taken as they are."""
    assert check_id(value) == value
    assert type(check_id(value)) is str


def test_the_default_field_is_user_id():
    """Without a field name the error speaks of user_id."""
    with pytest.raises(InvalidIdError) as info:
        check_id(42)
    assert info.value.field == "user_id"
    assert str(info.value).startswith("user_id: ")


def test_a_str_subclass_comes_back_as_a_plain_str():
    """A subclass is read as its text, so no caller-defined __eq__ or __hash__ reaches a store."""
    for text in ("abc", "é"):
        checked = check_id(Tagged(text))
        assert type(checked) is str
        assert checked == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "actor_id: must be a string (convert integer ids with str(), as '42'), got int 42"),
        (None, "actor_id: must be a string, got NoneType None"),
        (b"42", "actor_id: must be a string, got bytes b'42'"),
        (4.0, "actor_id: must be a string, got float 4.0"),
    ],
)
def test_non_strings_are_refused_with_a_hint_for_integers(value, message):
    """42 and "42" must not be two people: only strings are ids, an int is told to use str()."""
    error = refused(value, "actor_id")
    assert str(error) == message
    assert error.expected.startswith("a string")
    assert isinstance(error, InvalidArgumentError)
    assert isinstance(error, ValueError)
    assert isinstance(error, TypeError)


def test_empty_and_too_long_ids_are_refused_with_their_length():
    """An id has 1 to 255 characters; the message says which bound was broken."""
    assert str(refused("")) == f"user_id: must be {PRINTABLE} (it is empty)"
    assert str(refused(Tagged(""))) == f"user_id: must be {PRINTABLE} (it is empty)"
    error = refused("k" * (MAX_ID_LENGTH + 1), "idempotency_key")
    assert str(error).startswith(f"idempotency_key: must be {PRINTABLE} (it has 256), got str 'k")
    long_unicode = refused("é" * 1000)
    assert f"{PRINTABLE} (it has 1,000)" in str(long_unicode)
    assert long_unicode.expected == f"{PRINTABLE} (it has 1,000)"


@pytest.mark.parametrize(
    ("value", "code_point"),
    [
        ("a\x00b", "U+0000"),
        ("\tabc", "U+0009"),
        ("abc\n", "U+000A"),
        ("a\u200bb", "U+200B"),
        ("é\u00a0x", "U+00A0"),
        ("x\ud800", "U+D800"),
        ("\U000f0000", "U+F0000"),
    ],
)
def test_unprintable_characters_are_refused_by_code_point(value, code_point):
    """Control, format, separator, surrogate and private-use characters are named in the error."""
    error = refused(value)
    assert error.expected == f"{PRINTABLE} (it holds the unprintable character {code_point})"
    assert str(error) == f"user_id: must be {error.expected}, got {describe_value(value)}"


@pytest.mark.parametrize("value", [" a", "a ", " ", "  b  ", " é", "é "])
def test_spaces_at_either_end_are_refused(value):
    """ " alice" and "alice" would look like one person: edge spaces are refused, not stripped."""
    error = refused(value, "target")
    assert error.expected == f"{PRINTABLE} without spaces at either end"
    assert str(error) == f"target: must be {error.expected}, got str {value!r}"


def test_ids_not_in_nfc_are_refused_naming_the_nfc_spelling():
    """An é spelled with a combining accent is refused, and the error shows the NFC form."""
    error = refused("caf" + "e\u0301", "actor_id")
    assert (
        str(error) == "actor_id: must be in Unicode normal form NFC, 'caf\\xe9' not 'cafe\\u0301'"
    )
    assert check_id("caf\u00e9") == "caf\u00e9"


def test_check_optional_id_passes_none_and_checks_the_rest():
    """None means absent; anything else is checked under the given field name."""
    assert check_optional_id(None, "actor_id") is None
    assert check_optional_id("bob", "actor_id") == "bob"
    assert type(check_optional_id(Tagged("bob"), "actor_id")) is str
    with pytest.raises(InvalidIdError) as info:
        check_optional_id(7, "actor_id")
    assert info.value.field == "actor_id"


@pytest.mark.parametrize("action", ["character_liked", "forked", "paid_char_sold"])
def test_a_creator_award_needs_another_user_as_actor(action):
    """A like, a fork or a sale pays the creator only for what someone else did."""
    assert check_actor(action, recipient="alice", actor="bob") is None
    with pytest.raises(SelfAwardError) as info:
        check_actor(action, recipient="alice", actor=None)
    assert str(info.value) == (
        f"{action} is awarded to a creator for what another user did: "
        "pass actor_id, the user who acted"
    )
    with pytest.raises(SelfAwardError) as info:
        check_actor(action, recipient="alice", actor="alice")
    assert str(info.value) == f"{action} cannot be awarded to its own actor ('alice')"
    assert isinstance(info.value, PermissionError)


@pytest.mark.parametrize("action", ["daily_chat", "create_character", "no_such_action"])
def test_other_actions_need_no_actor(action):
    """An action that is no creator award (or unknown) passes with or without an actor."""
    assert check_actor(action, recipient="alice", actor=None) is None
    assert check_actor(action, recipient="alice", actor="alice") is None


def test_check_actor_follows_the_configs_creator_awards():
    """Which actions are creator awards is the config's to say."""
    config = ProgressionConfig(
        levels=DEFAULT_CONFIG.levels,
        actions={"tip": ActionRule(5, creator_award=True), "forked": ActionRule(10)},
        daily_exp_caps={1: 150},
    )
    with pytest.raises(SelfAwardError):
        check_actor("tip", recipient="alice", actor="alice", config=config)
    assert check_actor("forked", recipient="alice", actor="alice", config=config) is None


@pytest.mark.parametrize("action", ["forked", "daily_chat"])
def test_check_actor_refuses_non_canonical_ids_before_comparing(action):
    """42 and "42", or two spellings of é, are refused rather than taken for two people."""
    with pytest.raises(InvalidIdError) as info:
        check_actor(action, recipient=42, actor="42")  # type: ignore[arg-type]
    assert info.value.field == "user_id"
    with pytest.raises(InvalidIdError) as info:
        check_actor(action, recipient="\u00e9", actor="e\u0301")
    assert info.value.field == "actor_id"
    with pytest.raises(InvalidIdError) as info:
        check_actor(action, recipient="alice", actor=" alice")
    assert info.value.field == "actor_id"

"""Identifiers at the public boundary: user ids, actor ids, idempotency keys, targets.

One person must have one identity everywhere: in the self-award check, in every
store and in every key namespace. A user id ``42`` and ``"42"`` are the same row
to a SQL store but two users to a dictionary, and ``"é"`` can be spelled with one
code point or two. So the library takes ids only as strings, and only in one
canonical spelling, which it then compares exactly:

- a ``str`` (anything else, an ``int`` included, is refused: convert integer ids
  with ``str()`` where they come from, so that ``"42"`` is the one spelling);
- 1 to :data:`MAX_ID_LENGTH` characters;
- printable (``str.isprintable``): no control, format, surrogate or private-use
  characters and no separator but the plain space, so no ``NUL`` that a database
  column cannot hold, no lone surrogate that cannot be encoded, no invisible
  character that makes two ids look alike;
- no space at either end;
- in Unicode normal form NFC (the form keyboards and most systems produce).

A spelling that breaks a rule raises :class:`~mikoshi_progression.errors.InvalidIdError`
naming the argument and the rule; nothing is ever silently rewritten. Idempotency keys
and targets follow the same rules, so that a key is the same key in every store.
"""

from __future__ import annotations

import unicodedata

from ..errors import InvalidArgumentError, InvalidIdError

__all__ = ["MAX_ID_LENGTH", "MAX_REASON_LENGTH", "check_id", "check_optional_id", "check_reason"]

MAX_ID_LENGTH = 255
"""The longest id, key or target the library takes, in characters (Stripe's key limit).

Two of them and a ledger kind always fit one PostgreSQL index entry."""

_EXPECTED = f"a printable string of 1 to {MAX_ID_LENGTH} characters"


def check_id(value: object, field: str = "user_id") -> str:
    """Return ``value`` as a plain ``str`` if it is a canonical id, else raise.

    >>> check_id("user-42")
    'user-42'
    >>> check_id(42, "actor_id")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mikoshi_progression.errors.InvalidIdError: actor_id: must be a string (convert ...), got int 42

    Raises:
        InvalidIdError: ``value`` is not a string, or not canonical (the message
            names ``field`` and the rule it breaks).
    """
    # The common case (short printable ASCII) in a few attribute checks: this runs on
    # every award, several times.
    if (
        type(value) is str
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isascii()
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
    ):
        return value
    return _checked_slowly(value, field)


def check_optional_id(value: object, field: str) -> str | None:
    """:func:`check_id` for an argument that may be ``None`` (absent)."""
    return None if value is None else check_id(value, field)


MAX_REASON_LENGTH = 1000
"""The longest reason an operator may give for an adjustment, in characters."""


def check_reason(value: object, *, optional: bool = False) -> str | None:
    """Return ``value`` if it is an operator's reason: 1 to 1,000 printable characters
    (spaces inside, none at either end), else raise ``InvalidArgumentError`` (field
    ``reason``). ``None`` passes only when ``optional``.

    >>> check_reason("refund: order 1182 charged twice")
    'refund: order 1182 charged twice'
    """
    if value is None and optional:
        return None
    expected = f"a printable text of 1 to {MAX_REASON_LENGTH} characters saying why"
    if not isinstance(value, str) or not 0 < len(value) <= MAX_REASON_LENGTH:
        raise InvalidArgumentError("reason", expected, value)
    text = str.__str__(value)
    if not text.isprintable() or text != text.strip():
        raise InvalidArgumentError(
            "reason", f"{expected}, without control characters or spaces at either end", text
        )
    return text


def _checked_slowly(value: object, field: str) -> str:
    if not isinstance(value, str):
        hint = (
            f" (convert integer ids with str(), as {str(value)!r})"
            if isinstance(value, int)
            else ""
        )
        raise InvalidIdError(field, f"a string{hint}", value)
    text = str.__str__(value)  # a plain str, whatever subclass was passed
    if not text:
        raise InvalidIdError(field, f"{_EXPECTED} (it is empty)")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidIdError(field, f"{_EXPECTED} (it has {len(text):,})", text)
    if not text.isprintable():
        bad = next(c for c in text if not c.isprintable())
        raise InvalidIdError(
            field, f"{_EXPECTED} (it holds the unprintable character U+{ord(bad):04X})", text
        )
    if text[0] == " " or text[-1] == " ":
        raise InvalidIdError(field, f"{_EXPECTED} without spaces at either end", text)
    if not unicodedata.is_normalized("NFC", text):
        nfc = unicodedata.normalize("NFC", text)
        raise InvalidIdError(field, f"in Unicode normal form NFC, {nfc!a} not {text!a}")
    return text

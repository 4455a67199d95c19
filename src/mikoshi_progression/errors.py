"""Every exception the library raises, under one base class.

Catch :class:`ProgressionError` to handle anything of ours; catch a subclass to
handle one kind of problem. Errors that describe bad input also derive from the
built-in class a caller would expect (``ValueError``, ``LookupError``), so code
written against the standard library keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

__all__ = [
    "BatchError",
    "ConcurrencyError",
    "ConfigError",
    "ConfigFileError",
    "CreatorUserNotFound",
    "IdempotencyError",
    "InvalidArgumentError",
    "InvalidIdError",
    "InvalidMomentError",
    "ProgressionError",
    "ReadOnlyStoreError",
    "SchemaOutdatedError",
    "SelfAwardError",
    "StateError",
    "StoreError",
    "StoreUnavailableError",
    "UnknownFeatureError",
    "UnknownUserError",
    "UnsupportedStoreError",
]


class ProgressionError(Exception):
    """Base class of every error raised by mikoshi-progression."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean a, b?)`` with up to three names of ``known`` close to ``name``,
    for the end of an error message; empty when none is close.

    >>> did_you_mean("exp_per_dya", ["exp_per_day", "cap_hit_rate"])
    ' (did you mean exp_per_day?)'
    """
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def describe_value(value: object, limit: int = 60) -> str:
    """``value`` for an error message: its type and a ``repr`` cut to about ``limit`` characters.

    A message must stay readable and small whatever a caller passed (a 1 MB key, a
    string of control characters), so long values are cut and their length given.

    >>> describe_value(42)
    'int 42'
    >>> describe_value("k" * 1000, limit=12)
    "str 'kkkkkkkk'... (1,000 characters)"
    >>> from datetime import datetime, timezone
    >>> describe_value(datetime(9999, 12, 31, tzinfo=timezone.utc))
    'datetime 9999-12-31T00:00:00+00:00'
    """
    if isinstance(value, datetime):  # a moment reads best as ISO 8601
        return f"{type(value).__name__} {value.isoformat()}"
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    if len(text) > limit:
        size = f" ({len(value):,} characters)" if isinstance(value, str) else ""
        text = f"{text[: limit - 3]}'...{size}" if isinstance(value, str) else f"{text[:limit]}..."
    return f"{type(value).__name__} {text}"


class InvalidArgumentError(ProgressionError, ValueError, TypeError):
    """An argument the library cannot take: of the wrong type, form or range.

    It derives from both ``ValueError`` and ``TypeError`` (as numpy's ``AxisError``
    derives from ``ValueError`` and ``IndexError``), so code that caught the built-in
    error Python would raise keeps working.

    Attributes:
        field: The argument at fault (``"user_id"``, ``"now"``, ``"timeout"``...).
        expected: What it must be, in words.
    """

    field: str
    expected: str

    def __init__(self, field: str, expected: str, value: object = ...) -> None:
        self.field = field
        self.expected = expected
        got = "" if value is ... else f", got {describe_value(value)}"
        super().__init__(f"{field}: must be {expected}{got}")


class InvalidIdError(InvalidArgumentError):
    """A user id, actor id, idempotency key or target that the library cannot take.

    Ids are printable strings of 1 to 255 characters in one canonical spelling (see
    :func:`~mikoshi_progression.check_id`); a store in place on a table whose id
    column is not text also refuses the spellings its column would read as another
    (``"05"`` for the integer 5).
    """


class InvalidMomentError(InvalidArgumentError):
    """A moment that is naive, not a datetime, or outside the years the library supports."""


class ConfigError(ProgressionError, ValueError):
    """A configuration is invalid.

    Attributes:
        problems: Every problem found, each as ``"<location>: <what is wrong>"``
            (for example ``"levels[3].exp_required: must be greater than
            levels[2] (300), got 250"``). Validation never stops at the first.
        source: Where the configuration came from (a file path), if known.
    """

    problems: tuple[str, ...]
    source: str | None

    def __init__(self, problems: Iterable[str], *, source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''}{where}"
        super().__init__(header + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class ConfigFileError(ConfigError):
    """A config file could not be used at all: missing, unreadable, malformed or of an
    unsupported kind (as opposed to a well-formed file describing invalid rules).
    """


class StateError(ProgressionError, ValueError):
    """A user state holds a value no user can have (negative EXP, a naive datetime...).

    Attributes:
        field: The name of the offending field.
    """

    field: str

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class UnknownFeatureError(ProgressionError, LookupError):
    """A feature name that the configuration does not list."""


class StoreError(ProgressionError):
    """A persistence store failed; the driver's own exception is the ``__cause__``."""


class ConcurrencyError(StoreError):
    """An award kept conflicting with concurrent writers and the retry budget ran out."""


class UnknownUserError(StoreError, LookupError):
    """A store that works in place on the platform's ``users`` table has no row for the user.

    Such a store never creates users: the platform does.
    """


class StoreUnavailableError(StoreError):
    """The store could not be reached, or the connection broke mid-operation.

    A write interrupted this way may or may not have been applied: retry it only
    with the same idempotency key (the service does so by itself for keyed calls).
    """


class ReadOnlyStoreError(StoreError):
    """A write was asked of a store opened read-only, or of a database that cannot be written.

    Nothing was changed. Reads of the same store keep working.
    """


class SchemaOutdatedError(StoreError):
    """The database's schema is older than what a write needs; nothing was written.

    A database made by an earlier release keeps working for everything its tables can
    hold (a config without designer levers). Asked to keep what only a later schema
    holds (a user's time zone, streak, milestones or lifetime counts, the events of a
    boost or milestone, the events feed), a store raises this instead of dropping it.
    ``mikoshi-progression schema migrate --store URL`` (or ``store.migrate()``) brings
    the schema up to date.

    Attributes:
        field: What could not be kept (``"streak"``, ``"events"``...).
    """

    field: str

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class UnsupportedStoreError(StoreError, ValueError):
    """``open_store`` was given a URL whose scheme no store handles."""


class BatchError(StoreError):
    """A store failure stopped a batch of awards (``award_many``) part of the way.

    A batch commits in transactions of many requests; this says, by the requests'
    positions in the batch, which transactions committed, which one failed in a way that
    leaves its outcome unknown, and which were never sent. Keyed requests can simply be
    sent again: those that landed are then repeated, not awarded twice. The store's
    error is the ``__cause__``.

    Attributes:
        landed: Positions of the requests whose transaction committed.
        unknown: Positions of the requests whose transaction may or may not have
            committed (the connection failed around the commit).
        not_sent: Positions of the requests that were never tried.
        results: The result of each landed request, by position (``None`` for one
            refused, as ``BatchResult.errors`` says).
    """

    landed: tuple[int, ...]
    unknown: tuple[int, ...]
    not_sent: tuple[int, ...]
    results: dict[int, Any]

    def __init__(
        self,
        message: str,
        *,
        landed: tuple[int, ...],
        unknown: tuple[int, ...],
        not_sent: tuple[int, ...],
        results: dict[int, Any],
    ) -> None:
        self.landed = landed
        self.unknown = unknown
        self.not_sent = not_sent
        self.results = results
        super().__init__(message)


class IdempotencyError(ProgressionError, ValueError):
    """An idempotency key was reused for a different request; nothing was stored.

    Attributes:
        key: The key, if known.
    """

    key: str | None

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(message)


class SelfAwardError(ProgressionError, PermissionError):
    """A creator award was claimed by its own creator, or without saying who acted."""


class CreatorUserNotFound(ProgressionError, LookupError):
    """A creator award's target names a creator who has no user row.

    Raised by an integrator's creator lookup; the HTTP router answers 404
    ``{"detail": "Creator user not found"}``, as the platform did, instead of
    awarding EXP to a user who does not exist.

    Attributes:
        creator_id: The creator id the target names, if known.
    """

    creator_id: str | None

    def __init__(self, creator_id: str | None = None) -> None:
        self.creator_id = creator_id
        message = "Creator user not found"
        super().__init__(message if creator_id is None else f"{message}: {creator_id!r}")

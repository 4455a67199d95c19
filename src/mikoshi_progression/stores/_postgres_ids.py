"""In place on the platform's ``users``: the one spelling of an id its column keeps.

An ``integer`` or ``uuid`` id column finds row 5 for ``"5"``, ``"05"`` and ``"+5"``.
The store takes only the column's own spelling; these helpers find it in Python for
the types they know, and say when the database must be asked.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

__all__ = ["CAST_IN_SQL", "TEXT_TYPES", "IdType", "canonical_id"]

TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "name"})
"""Id column types whose every canonical string is its own spelling."""
_INTEGER_BITS = {"int2": 16, "int4": 32, "int8": 64}
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
CAST_IN_SQL = object()
"""What :func:`canonical_id` answers for a type it cannot spell in Python."""


@dataclass(frozen=True, slots=True)
class IdType:
    """In place: the id column's base type name (``int8``) and declared type (``bigint``)."""

    base: str
    declared: str


def canonical_id(base: str, user_id: str) -> object:
    """The column's own spelling of ``user_id``, ``None`` if it cannot hold it, or
    :data:`CAST_IN_SQL`."""
    bits = _INTEGER_BITS.get(base)
    if bits is not None:
        if _INTEGER_TEXT.fullmatch(user_id) is None:
            return None
        number = int(user_id)
        return str(number) if -(2 ** (bits - 1)) <= number < 2 ** (bits - 1) else None
    if base == "uuid":
        try:
            return str(uuid.UUID(user_id))
        except ValueError:
            return None
    return CAST_IN_SQL

"""Small checks shared by the config's validators, so every section words a problem alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from .state import MAX_COUNT

__all__ = ["count_problem", "got", "is_int", "key_problems"]


def is_int(value: object) -> TypeGuard[int]:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def got(value: object) -> str:
    return f"got {value!r}"


def count_problem(
    where: str, value: object, expected: str = "a non-negative integer", least: int = 0
) -> str | None:
    """The problem with a count (an integer from ``least`` to :data:`MAX_COUNT`), if any."""
    if not is_int(value) or value < least:
        return f"{where}: must be {expected}, {got(value)}"
    if value > MAX_COUNT:
        return f"{where}: must be at most 2**63 - 1 (what a 64-bit column holds), {got(value)}"
    return None


def key_problems(
    data: Mapping[str, Any], allowed: Sequence[str], required: Sequence[str], where: str
) -> list[str]:
    """Unknown keys of ``data`` and missing required ones, each located by ``where``."""
    problems = [
        f"{where}{key}: unknown key (expected one of: {', '.join(allowed)})"
        for key in data
        if key not in allowed
    ]
    problems += [f"{where}{key}: missing" for key in required if key not in data]
    return problems

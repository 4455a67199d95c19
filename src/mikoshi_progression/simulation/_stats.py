"""The few statistics a report takes: nearest-rank percentiles and rounded ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["nearest_rank", "rank_index", "ratio", "summary"]


def rank_index(percent: float, total: int) -> int:
    """The index, in ``total`` sorted values, of their nearest-rank ``percent`` percentile.

    >>> rank_index(50, 10), rank_index(10, 3), rank_index(90, 1)
    (4, 0, 0)
    """
    return max(1, math.ceil(percent / 100 * total)) - 1


def nearest_rank(ordered: Sequence[float], percent: float, total: int | None = None) -> Any:
    """The nearest-rank percentile of ``ordered`` among ``total`` values.

    Values beyond ``len(ordered)`` (players who never got there) are unbounded:
    a percentile that falls among them is ``None``.

    >>> nearest_rank([3, 5, 9], 50), nearest_rank([3, 5, 9], 50, total=10)
    (5, None)
    """
    total = len(ordered) if total is None else total
    if total == 0:
        return None
    index = rank_index(percent, total)
    return ordered[index] if index < len(ordered) else None


def ratio(part: int, whole: int) -> float:
    """``part / whole`` rounded to six places (0.0 when ``whole`` is 0)."""
    return round(part / whole, 6) if whole else 0.0


def summary(ordered: Sequence[int]) -> dict[str, float | int | None]:
    """Mean, min, 10th/25th/50th/75th/90th percentile and max of sorted ``ordered``
    (each ``None`` when it is empty)."""
    return {
        "mean": round(sum(ordered) / len(ordered), 2) if ordered else None,
        "min": ordered[0] if ordered else None,
        "p10": nearest_rank(ordered, 10),
        "p25": nearest_rank(ordered, 25),
        "median": nearest_rank(ordered, 50),
        "p75": nearest_rank(ordered, 75),
        "p90": nearest_rank(ordered, 90),
        "max": ordered[-1] if ordered else None,
    }

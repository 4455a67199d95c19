"""Levels as seen from outside: which level EXP buys, progress toward the next, unlocks."""

from __future__ import annotations

from typing import Any

from ..errors import UnknownFeatureError
from .config import DEFAULT_CONFIG, ProgressionConfig

__all__ = ["can_perform_action", "level_for_exp", "level_progress", "levels_view"]


def level_for_exp(exp: int, config: ProgressionConfig = DEFAULT_CONFIG) -> int:
    """The level reached with ``exp`` total EXP.

    >>> level_for_exp(0), level_for_exp(99), level_for_exp(100), level_for_exp(10**6)
    (1, 1, 2, 6)
    """
    return config.level_for_exp(exp)


def level_progress(
    exp: int, config: ProgressionConfig = DEFAULT_CONFIG, *, level: int | None = None
) -> dict[str, Any]:
    """The platform's progress object for a user with ``exp`` total EXP.

    ``current_level_exp`` is the EXP earned since the current level's threshold,
    ``exp_needed_for_next`` the width of the current level (next threshold minus
    this one), ``exp_to_next_level`` what is still missing, and
    ``progress_percentage`` their ratio in percent, rounded to 0.1. At the last
    level the percentage is 100.0 and both "next" figures are 0.

    ``level`` overrides the level computed from ``exp``: after a revoked award a
    user may keep a level their EXP no longer reaches (see
    ``ProgressionConfig.levels_can_drop``); progress is then 0 until EXP is back.

    >>> p = level_progress(130)
    >>> p["current_level"], p["exp_to_next_level"], p["progress_percentage"]
    (2, 170, 15.0)
    """
    current = config.level_for_exp(exp) if level is None else min(level, config.max_level)
    info = config.level(current)
    is_max = current >= config.max_level
    into_level = max(0, exp - info.exp_required)
    if is_max:
        width = 0
        to_next = 0
        percentage = 100.0
    else:
        width = config.level(current + 1).exp_required - info.exp_required
        to_next = max(0, width - into_level)
        percentage = round(min(into_level, width) / width * 100, 1)
    return {
        "current_level": current,
        "level_name": info.name,
        "total_exp": exp,
        "current_level_exp": into_level,
        "exp_needed_for_next": width,
        "exp_to_next_level": to_next,
        "progress_percentage": percentage,
        "is_max_level": is_max,
    }


def can_perform_action(
    level: int, feature: str, config: ProgressionConfig = DEFAULT_CONFIG
) -> bool:
    """Whether a user at ``level`` has unlocked ``feature``.

    >>> can_perform_action(1, "fork"), can_perform_action(2, "fork")
    (False, True)

    Raises:
        UnknownFeatureError: ``feature`` is not in ``config.features``.
    """
    try:
        required = config.features[feature]
    except KeyError:
        known = ", ".join(sorted(config.features)) or "(none)"
        raise UnknownFeatureError(
            f"unknown feature {feature!r} (known features: {known})"
        ) from None
    return level >= required


def levels_view(config: ProgressionConfig = DEFAULT_CONFIG) -> dict[str, dict[str, Any]]:
    """The body of ``GET /api/levels``: the level table keyed by level number as a string.

    >>> levels_view()["2"]
    {'name': 'Creator', 'unlock': 'Fork, private chars', 'exp_required': 100}
    """
    return {
        str(level.number): {
            "name": level.name,
            "unlock": level.unlock,
            "exp_required": level.exp_required,
        }
        for level in config.levels
    }

"""A state's JSON text, built for its known shape instead of by the generic encoder.

An award writes a state twice as JSON (the row's counts, the ledger entry's
``state_after``): ``json.dumps(state.to_dict(), sort_keys=True, separators=(",", ":"))``
builds a dict, sorts it and walks it generically, which costs more than the database's
own work for that entry. The functions here return exactly the same text (the tests
compare them with ``json.dumps`` on varied states, levers and non-ASCII names included),
so readers and anything comparing the text see no difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

# The C encoder json.dumps itself uses for strings (ensure_ascii=True): quotes included.
from json.encoder import encode_basestring_ascii as _quoted

from ..core.state import NO_LEVERS, ProgressState

__all__ = ["counts_json", "iso", "state_json"]

_last_moment: tuple[datetime | None, str | None] = (None, None)
"""The last moment written and its text: a user's day opens once and is written with
every award of that day, so most calls ask for the moment they asked for last."""


def iso(moment: datetime | None) -> str | None:
    """``moment.isoformat()`` (``None`` for ``None``), remembering the last one by identity
    (a datetime never changes, so the same object always gives the same text)."""
    global _last_moment
    if moment is None:
        return None
    last, text = _last_moment  # one read of a tuple: safe beside other threads
    if last is moment and text is not None:
        return text
    text = moment.isoformat()
    _last_moment = (moment, text)
    return text


def counts_json(counts: Mapping[str, int]) -> str:
    """``json.dumps(dict(counts), sort_keys=True, separators=(",", ":"))``."""
    if not counts:
        return "{}"
    if len(counts) == 1:
        ((action, count),) = counts.items()
        return "{" + _quoted(action) + ":" + int.__repr__(count) + "}"
    return (
        "{"
        + ",".join(
            _quoted(action) + ":" + int.__repr__(count) for action, count in sorted(counts.items())
        )
        + "}"
    )


def _moment_json(moment: datetime | None) -> str:
    # An ISO 8601 text holds digits, '-', ':', 'T', '+' and '.' only: nothing to escape.
    return "null" if moment is None else '"' + moment.isoformat() + '"'


def state_json(state: ProgressState, counts: str | None = None) -> str:
    """``json.dumps(state.to_dict(), sort_keys=True, separators=(",", ":"))``.

    ``counts``: the state's :func:`counts_json`, when the caller has it already.
    """
    if counts is None:
        counts = counts_json(state.daily_action_counts)
    reset = state.last_exp_reset_date
    chat = state.last_chat_date
    reset_text = "null" if reset is None else '"' + (iso(reset) or "") + '"'
    chat_text = "null" if chat is None else '"' + chat.isoformat() + '"'
    levers = state.levers
    if levers is NO_LEVERS:
        return (
            '{"daily_action_counts":'
            + counts
            + ',"daily_exp_gained":'
            + int.__repr__(state.daily_exp_gained)
            + ',"exp":'
            + int.__repr__(state.exp)
            + ',"last_chat_date":'
            + chat_text
            + ',"last_exp_reset_date":'
            + reset_text
            + ',"level":'
            + int.__repr__(state.level)
            + "}"
        )
    # The keys of to_dict in sorted order; a lever field only where it differs from a
    # new user's, as to_dict writes it.
    parts = []
    if levers.best_streak:
        parts.append('"best_streak":' + int.__repr__(levers.best_streak))
    parts.append('"daily_action_counts":' + counts)
    parts.append('"daily_exp_gained":' + int.__repr__(state.daily_exp_gained))
    if levers.day_extended_until is not None:
        parts.append('"day_extended_until":' + _moment_json(levers.day_extended_until))
    parts.append('"exp":' + int.__repr__(state.exp))
    parts.append('"last_chat_date":' + chat_text)
    parts.append('"last_exp_reset_date":' + reset_text)
    if levers.last_streak_day is not None:
        parts.append('"last_streak_day":"' + levers.last_streak_day.isoformat() + '"')
    parts.append('"level":' + int.__repr__(state.level))
    if levers.lifetime_counts:
        parts.append('"lifetime_counts":' + counts_json(levers.lifetime_counts))
    if levers.milestones:
        parts.append('"milestones":[' + ",".join(map(_quoted, sorted(levers.milestones))) + "]")
    if levers.streak:
        parts.append('"streak":' + int.__repr__(levers.streak))
    if levers.streak_freezes:
        parts.append('"streak_freezes":' + int.__repr__(levers.streak_freezes))
    if levers.timezone is not None:
        parts.append('"timezone":' + _quoted(levers.timezone))
    return "{" + ",".join(parts) + "}"

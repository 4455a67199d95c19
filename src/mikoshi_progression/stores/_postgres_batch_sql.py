"""The PostgreSQL store's batch statements: many users' loads and writes in a few statements.

A batch (``award_many``, a hot user's combined awards) runs in one transaction on the
library's own tables at the current schema:

1. ``lock``: every state row of the batch's users, ``FOR UPDATE`` in ``user_id`` order (two
   batches lock in the same order, so they never wait for each other in a circle), with
   its version and its last ledger ``seq``;
2. ``keyed``: the ledger entries of the awards made with the batch's keys, by (user, key);
3. ``update`` and ``insert``: every user's new state from arrays (``unnest``), the
   version checked and bumped, and new users inserted;
4. ``ledger``: every ledger row from arrays, numbered after each user's last ``seq``.

Parameters are arrays, one element per row, so each statement is the same text whatever
the batch's size and is prepared once per connection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import sql

from ..core.state import ProgressState
from ._postgres_sql import PROGRESS_COLUMNS, Names, render
from ._rows import (
    ENTRY_FIELDS,
    LEVER_COLUMNS,
    counts_to_json,
    events_to_json,
    milestones_to_json,
)
from .base import LedgerEntry, UserWrite

__all__ = ["STATE_LOADED", "BatchStatements", "batch_arrays"]

_STATE_ARRAYS = (
    ("level", "integer"),
    ("exp", "bigint"),
    ("daily_exp_gained", "bigint"),
    ("last_exp_reset_date", "timestamptz"),
    ("daily_action_counts", "jsonb"),
    ("last_chat_date", "timestamptz"),
    ("timezone", "text"),
    ("day_extended_until", "timestamptz"),
    ("streak", "bigint"),
    ("best_streak", "bigint"),
    ("last_streak_day", "date"),
    ("streak_freezes", "bigint"),
    ("milestones", "jsonb"),
    ("lifetime_counts", "jsonb"),
)
"""The state columns a batch writes, with their types (JSON travels as text)."""
STATE_WRITTEN = tuple(name for name, _ in _STATE_ARRAYS)

_LEDGER_ARRAYS = (
    ("user_id", "text"),
    ("seq", "bigint"),
    ("kind", "text"),
    ("action", "text"),
    ("exp_delta", "bigint"),
    ("level_before", "integer"),
    ("level_after", "integer"),
    ("key", "text"),
    ("at", "timestamptz"),
    ("config_fingerprint", "text"),
    ("state_after", "jsonb"),
    ("outcome", "text"),
    ("actor", "text"),
    ("target", "text"),
    ("reason", "text"),
    ("events", "jsonb"),
)
LEDGER_WRITTEN = tuple(name for name, _ in _LEDGER_ARRAYS)
assert LEDGER_WRITTEN[2:] == ENTRY_FIELDS, "the batch writes every ledger field"

_LOADED = (*PROGRESS_COLUMNS, *LEVER_COLUMNS)
STATE_LOADED = _LOADED
"""The state columns ``lock`` returns after ``user_id``, before the version and ``seq``."""


def _arrays(columns: tuple[tuple[str, str], ...]) -> sql.Composable:
    """``unnest(%(c)s::type[], ...) AS v (c, ...)``: one row per element. JSON is sent as
    text arrays and cast, so that each element is one JSON document."""
    sent = sql.SQL(", ").join(
        sql.SQL("%({})s::{}[]").format(sql.SQL(name), sql.SQL("text" if kind == "jsonb" else kind))
        for name, kind in columns
    )
    names = sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
    return sql.SQL("unnest({sent}) AS v ({names})").format(sent=sent, names=names)


def _value(name: str, kind: str) -> sql.Composable:
    column = sql.Identifier("v", name)
    return sql.SQL("{}::jsonb").format(column) if kind == "jsonb" else column


class BatchStatements:
    """The batch statements of a store's own tables (see the module docs).

    Args:
        names: The store's names.
        counter: The version is the ``version`` column, not ``xmin``.
    """

    def __init__(self, names: Names, *, counter: bool) -> None:
        n = names
        token = sql.SQL("s.version::text" if counter else "s.xmin::text")
        loaded = sql.SQL(", ").join(sql.Identifier("s", c) for c in _LOADED)
        self.lock = render(
            sql.SQL(
                "SELECT s.user_id, {loaded}, {token}, s.seq FROM {state} AS s "
                "WHERE s.user_id = ANY(%(users)s::text[]) ORDER BY s.user_id FOR UPDATE"
            ).format(loaded=loaded, token=token, state=n.state)
        )
        entry = sql.SQL(", ").join(sql.Identifier("l", c) for c in (*ENTRY_FIELDS, "seq"))
        self.keyed = render(
            sql.SQL(
                "SELECT l.user_id, {entry} FROM {ledger} AS l "
                "JOIN unnest(%(users)s::text[], %(keys)s::text[]) AS k (user_id, key) "
                "ON l.user_id = k.user_id AND l.key = k.key "
                "AND l.kind IN ('award', 'adjust', 'timezone')"
            ).format(entry=entry, ledger=n.ledger)
        )
        state_arrays = (("user_id", "text"), *_STATE_ARRAYS)
        assign = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(name), _value(name, kind))
            for name, kind in _STATE_ARRAYS
        )
        check = sql.SQL(
            "s.version = v.version::bigint" if counter else "s.xmin = v.version::text::xid"
        )
        self.update = render(
            sql.SQL(
                "UPDATE {state} AS s SET {assign}, version = s.version + 1, seq = v.seq "
                "FROM {arrays} WHERE s.user_id = v.user_id AND {check} "
                "RETURNING s.user_id, {token}"
            ).format(
                state=n.state,
                assign=assign,
                arrays=_arrays((*state_arrays, ("version", "text"), ("seq", "bigint"))),
                check=check,
                token=token,
            )
        )
        columns = sql.SQL(", ").join(sql.Identifier(name) for name, _ in state_arrays)
        values = sql.SQL(", ").join(_value(name, kind) for name, kind in state_arrays)
        self.insert = render(
            sql.SQL(
                "INSERT INTO {state} AS s ({columns}, version, seq) "
                "SELECT {values}, 1, v.seq FROM {arrays} "
                "ON CONFLICT (user_id) DO NOTHING RETURNING s.user_id, {token}"
            ).format(
                state=n.state,
                columns=columns,
                values=values,
                arrays=_arrays((*state_arrays, ("seq", "bigint"))),
                token=token,
            )
        )
        ledger_columns = sql.SQL(", ").join(sql.Identifier(name) for name in LEDGER_WRITTEN)
        ledger_values = sql.SQL(", ").join(_value(name, kind) for name, kind in _LEDGER_ARRAYS)
        self.ledger = render(
            sql.SQL(
                "INSERT INTO {ledger} ({columns}, txid) "
                "SELECT {values}, pg_current_xact_id()::text::bigint FROM {arrays}"
            ).format(
                ledger=n.ledger,
                columns=ledger_columns,
                values=ledger_values,
                arrays=_arrays(_LEDGER_ARRAYS),
            )
        )


def batch_arrays(
    writes: Sequence[UserWrite], seqs: Mapping[str, int]
) -> tuple[dict[str, list[Any]], dict[str, list[Any]], dict[str, list[Any]]]:
    """The array parameters of the update (users with a row), the insert (new users) and
    the ledger rows."""
    old: dict[str, list[Any]] = {name: [] for name in (*_STATE_PARAMS, "version", "seq")}
    new: dict[str, list[Any]] = {name: [] for name in (*_STATE_PARAMS, "seq")}
    ledger: dict[str, list[Any]] = {name: [] for name in _LEDGER_PARAMS}
    for user_id, state, version, entries in writes:
        base = seqs[user_id]
        side = new if version is None else old
        for name, value in zip(_STATE_PARAMS, _state_values(user_id, state), strict=True):
            side[name].append(value)
        side["seq"].append(base + len(entries))
        if version is not None:
            old["version"].append(str(version))
        for number, entry in enumerate(entries, base + 1):
            for name, value in zip(_LEDGER_PARAMS, _entry_values(entry, number), strict=True):
                ledger[name].append(value)
    return old, new, ledger


_STATE_PARAMS = ("user_id", *STATE_WRITTEN)
_LEDGER_PARAMS = LEDGER_WRITTEN


def _state_values(user_id: str, state: ProgressState) -> tuple[Any, ...]:
    return (
        user_id,
        state.level,
        state.exp,
        state.daily_exp_gained,
        state.last_exp_reset_date,
        counts_to_json(state.daily_action_counts),
        state.last_chat_date,
        state.timezone,
        state.day_extended_until,
        state.streak,
        state.best_streak,
        state.last_streak_day,
        state.streak_freezes,
        milestones_to_json(state.milestones),
        counts_to_json(state.lifetime_counts),
    )


def _entry_values(entry: LedgerEntry, seq: int) -> tuple[Any, ...]:
    return (
        entry.user_id,
        seq,
        str(entry.kind),
        entry.action,
        entry.exp_delta,
        entry.level_before,
        entry.level_after,
        entry.key,
        entry.at,
        entry.config_fingerprint,
        json.dumps(entry.state_after.to_dict(), separators=(",", ":")),
        entry.outcome,
        entry.actor,
        entry.target,
        entry.reason,
        events_to_json(entry.events),
    )

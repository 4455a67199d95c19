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
from datetime import date
from typing import Any

from psycopg import sql

from ..core.state import ProgressState
from ._postgres_sql import PROGRESS_COLUMNS, Names, render
from ._rows import ENTRY_FIELDS, LEVER_COLUMNS, entry_from_columns
from .base import LedgerEntry, UserWrite

__all__ = ["STATE_LOADED", "BatchStatements", "batch_rows", "keyed_by_user", "one_rows"]

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
_JSON_COLUMNS = frozenset(name for name, kind in _STATE_ARRAYS if kind == "jsonb")
STATE_LOADED = _LOADED
"""The state columns ``lock`` returns after ``user_id``, before the version and ``seq``."""


def _records(columns: tuple[tuple[str, str], ...]) -> sql.Composable:
    """``json_to_recordset(%(rows)s::json) AS v (c type, ...)``: one row per object of the
    JSON array parameter ``rows`` (one ``json.dumps`` per statement, parsed by the server)."""
    names = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in columns
    )
    return sql.SQL("json_to_recordset(%(rows)s::json) AS v ({names})").format(names=names)


def _value(name: str, kind: str) -> sql.Composable:
    return sql.Identifier("v", name)


class BatchStatements:
    """The batch statements of a store's own tables (see the module docs).

    Args:
        names: The store's names.
        counter: The version is the ``version`` column, not ``xmin``.
    """

    def __init__(self, names: Names, *, counter: bool) -> None:
        n = names
        token = sql.SQL("s.version::text" if counter else "s.xmin::text")
        # JSON columns come as text: a state the store remembers at the same version is
        # not decoded at all, and the others are decoded by the state's own reader.
        loaded = sql.SQL(", ").join(
            sql.SQL("{}::text" if c in _JSON_COLUMNS else "{}").format(sql.Identifier("s", c))
            for c in _LOADED
        )
        self.lock = render(
            sql.SQL(
                "SELECT s.user_id, {loaded}, {token}, s.seq FROM {state} AS s "
                "WHERE s.user_id = ANY(ARRAY(SELECT json_array_elements_text(%(users)s::json))) "
                "ORDER BY s.user_id FOR UPDATE"
            ).format(loaded=loaded, token=token, state=n.state)
        )
        entry = sql.SQL(", ").join(sql.Identifier("l", c) for c in (*ENTRY_FIELDS, "seq"))
        self.keyed = render(
            sql.SQL(
                # A probe of the ledger's key index per key, however long the user's
                # ledger: OFFSET 0 keeps the planner from turning the LATERAL subquery
                # into a join (planned blind, the keys being a function's rows, it would
                # scan the whole ledger).
                "SELECT l.user_id, {entry} "
                "FROM json_to_recordset(%(keys)s::json) AS k (user_id text, key text) "
                "CROSS JOIN LATERAL (SELECT * FROM {ledger} AS e WHERE e.user_id = k.user_id "
                "AND e.kind IN ('award', 'adjust', 'timezone') AND e.key = k.key OFFSET 0) AS l"
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
                arrays=_records((*state_arrays, ("version", "text"), ("seq", "bigint"))),
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
                arrays=_records((*state_arrays, ("seq", "bigint"))),
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
                arrays=_records(_LEDGER_ARRAYS),
            )
        )

        # Per user, for Citus: a statement that names one user_id is routed to the one
        # worker holding that user's shard (a multi-shard FOR UPDATE is refused there).
        # The batch pipelines them: still one round trip for each of its three steps.
        self.lock_one = render(
            sql.SQL(
                "SELECT s.user_id, {loaded}, {token}, s.seq FROM {state} AS s "
                "WHERE s.user_id = %(user)s::text FOR UPDATE"
            ).format(loaded=loaded, token=token, state=n.state)
        )
        self.keyed_one = render(
            sql.SQL(
                "SELECT l.user_id, {entry} FROM {ledger} AS l WHERE l.user_id = %(user)s::text "
                "AND l.key = %(key)s::text AND l.kind IN ('award', 'adjust', 'timezone')"
            ).format(entry=entry, ledger=n.ledger)
        )
        one = sql.SQL(", ").join(
            sql.SQL("{} = %({})s::{}").format(sql.Identifier(name), sql.SQL(name), sql.SQL(kind))
            for name, kind in _STATE_ARRAYS
        )
        self.update_one = render(
            sql.SQL(
                "UPDATE {state} AS s SET {one}, version = s.version + 1, seq = %(seq)s::bigint "
                "WHERE s.user_id = %(user_id)s::text AND {check} RETURNING s.user_id, {token}"
            ).format(
                state=n.state,
                one=one,
                check=sql.SQL(
                    "s.version = %(version)s::bigint" if counter else "s.xmin = %(version)s::xid"
                ),
                token=token,
            )
        )
        placeholders = sql.SQL(", ").join(
            sql.SQL("%({})s::{}").format(sql.SQL(name), sql.SQL(kind))
            for name, kind in state_arrays
        )
        self.insert_one = render(
            sql.SQL(
                "INSERT INTO {state} AS s ({columns}, version, seq) "
                "VALUES ({placeholders}, 1, %(seq)s::bigint) "
                "ON CONFLICT (user_id) DO NOTHING RETURNING s.user_id, {token}"
            ).format(state=n.state, columns=columns, placeholders=placeholders, token=token)
        )
        self.ledger_one = render(
            sql.SQL(
                "INSERT INTO {ledger} ({columns}, txid) "
                "VALUES ({placeholders}, pg_current_xact_id()::text::bigint)"
            ).format(
                ledger=n.ledger,
                columns=ledger_columns,
                placeholders=sql.SQL(", ").join(
                    sql.SQL("%({})s::{}").format(sql.SQL(name), sql.SQL(kind))
                    for name, kind in _LEDGER_ARRAYS
                ),
            )
        )


def batch_rows(writes: Sequence[UserWrite], seqs: Mapping[str, int]) -> tuple[str, str, str]:
    """The ``rows`` parameters (JSON arrays of objects) of the update (users with a row),
    the insert (new users) and the ledger rows; ``"[]"`` where there is none."""
    old: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    for user_id, state, version, entries in writes:
        base = seqs[user_id]
        row = _state_row(user_id, state)
        row["seq"] = base + len(entries)
        if version is None:
            new.append(row)
        else:
            row["version"] = str(version)
            old.append(row)
        ledger += (_entry_row(entry, number) for number, entry in enumerate(entries, base + 1))
    return _json(old), _json(new), _json(ledger)


def _iso(value: date | None) -> str | None:
    """A moment or a day as ISO 8601 text (what ``timestamptz`` and ``date`` read)."""
    return None if value is None else value.isoformat()


def one_rows(
    writes: Sequence[UserWrite], seqs: Mapping[str, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The parameters of the per-user statements (Citus): one dict per updated user,
    inserted user and ledger row, JSON columns as text."""
    old: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    for user_id, state, version, entries in writes:
        base = seqs[user_id]
        row = _as_parameters(_state_row(user_id, state))
        row["seq"] = base + len(entries)
        if version is None:
            new.append(row)
        else:
            row["version"] = str(version)
            old.append(row)
        ledger += (
            _as_parameters(_entry_row(entry, number))
            for number, entry in enumerate(entries, base + 1)
        )
    return old, new, ledger


def _as_parameters(row: dict[str, Any]) -> dict[str, Any]:
    for name in _JSON_PARAMETERS:
        if name in row and row[name] is not None:
            row[name] = json.dumps(row[name], separators=(",", ":"))
    return row


_JSON_PARAMETERS = ("daily_action_counts", "milestones", "lifetime_counts", "state_after", "events")


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, separators=(",", ":"))


def _state_row(user_id: str, state: ProgressState) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "level": state.level,
        "exp": state.exp,
        "daily_exp_gained": state.daily_exp_gained,
        "last_exp_reset_date": _iso(state.last_exp_reset_date),
        "daily_action_counts": dict(state.daily_action_counts),
        "last_chat_date": _iso(state.last_chat_date),
        "timezone": state.timezone,
        "day_extended_until": _iso(state.day_extended_until),
        "streak": state.streak,
        "best_streak": state.best_streak,
        "last_streak_day": _iso(state.last_streak_day),
        "streak_freezes": state.streak_freezes,
        "milestones": sorted(state.milestones),
        "lifetime_counts": dict(state.lifetime_counts),
    }


def _entry_row(entry: LedgerEntry, seq: int) -> dict[str, Any]:
    return {
        "user_id": entry.user_id,
        "seq": seq,
        "kind": str(entry.kind),
        "action": entry.action,
        "exp_delta": entry.exp_delta,
        "level_before": entry.level_before,
        "level_after": entry.level_after,
        "key": entry.key,
        "at": _iso(entry.at),
        "config_fingerprint": entry.config_fingerprint,
        "state_after": entry.state_after.to_dict(),
        "outcome": entry.outcome,
        "actor": entry.actor,
        "target": entry.target,
        "reason": entry.reason,
        "events": [event.to_dict() for event in entry.events] or None,
    }


def keyed_by_user(rows: Sequence[Sequence[Any]]) -> dict[str, dict[str, LedgerEntry]]:
    """The rows of ``keyed`` (or ``keyed_one``) as each user's entries by key."""
    found: dict[str, dict[str, LedgerEntry]] = {}
    for user_id, *values in rows:
        entry = entry_from_columns(user_id, values)
        if entry.key is not None:
            found.setdefault(user_id, {})[entry.key] = entry
    return found

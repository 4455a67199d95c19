"""The PostgreSQL store's names and statements, rendered once per store.

Everything here is text: quoted identifiers of the tables a store uses (checked
against PostgreSQL's 63-byte limit, so two tables can never collide), and every
statement it runs, with the version check and the ledger write; the schema's DDL is
:mod:`._postgres_schema`'s. The stores (:mod:`~mikoshi_progression.stores.postgres_async`
and its generated sync twin :mod:`~mikoshi_progression.stores.postgres`) run them.

Statements come in two sets: those of the current schema, and those of tables an
earlier release made (schema version 1: no lever columns, no ledger ``events``), which
a store runs until the tables are migrated.
"""

from __future__ import annotations

from psycopg import sql

from ..errors import InvalidArgumentError
from ._rows import ENTRY_FIELDS, LEGACY_ENTRY_FIELDS, LEVER_COLUMNS

__all__ = [
    "ADDED_LEDGER_COLUMNS",
    "ENTRY_COLUMNS",
    "KINDS",
    "LEDGER_COLUMNS",
    "LEGACY_ENTRY_COLUMNS",
    "PROGRESS_COLUMNS",
    "REQUEST_KEY_COLUMNS",
    "STATE_COLUMNS",
    "Names",
    "Statements",
    "render",
]

PROGRESS_COLUMNS = (
    "level",
    "exp",
    "last_chat_date",
    "daily_exp_gained",
    "last_exp_reset_date",
    "daily_action_counts",
)
"""The platform's progression columns of ``users``, as its migrations create them."""

STATE_COLUMNS = ("user_id", *PROGRESS_COLUMNS, *LEVER_COLUMNS, "version", "seq")
LEDGER_COLUMNS = ("user_id", "seq", *ENTRY_FIELDS, "txid")
"""The ledger's columns; ``txid`` (the writing transaction's id) orders the events feed."""
REQUEST_KEY_COLUMNS = ("scope", "key", "request", "at")
MIGRATION_COLUMNS = ("version", "description", "applied_at")
# The ledger columns read back into a LedgerEntry, in this order.
ENTRY_COLUMNS = (*ENTRY_FIELDS, "seq")
LEGACY_ENTRY_COLUMNS = (*LEGACY_ENTRY_FIELDS, "seq")
ADDED_LEDGER_COLUMNS = ("actor", "target", "reason")
"""Ledger columns added after the first release: opening a store adds them to old tables."""


class Names:
    """Quoted identifiers of the tables a store uses, and their names in reports."""

    def __init__(
        self, schema: str | None, users_table: str | None, id_column: str, prefix: str
    ) -> None:
        _check_identifiers(schema, users_table, id_column, prefix)

        def qualified(name: str) -> sql.Identifier:
            return sql.Identifier(schema, name) if schema else sql.Identifier(name)

        self.schema = sql.Identifier(schema) if schema else None
        self.state = qualified(f"{prefix}state")
        self.ledger = qualified(f"{prefix}ledger")
        self.request_keys = qualified(f"{prefix}{_LONGEST_TABLE_SUFFIX}")
        self.migrations = qualified(f"{prefix}migrations")
        self.ledger_key_index = sql.Identifier(f"{prefix}ledger_key")
        self.ledger_feed_index = sql.Identifier(f"{prefix}ledger_feed")
        self.ledger_kind_check = sql.Identifier(f"{prefix}ledger_kinds")
        self.state_day_index = sql.Identifier(f"{prefix}state_day")
        self.users = sql.Identifier(*users_table.split(".")) if users_table else None
        self.id_column = sql.Identifier(id_column)
        self.users_label = users_table or ""
        self._id_name = id_column
        self._schema_name = schema
        self._prefix = prefix

    @property
    def prefix(self) -> str:
        """The tables' prefix."""
        return self._prefix

    @property
    def schema_text(self) -> str | None:
        """The schema's name as given (``None``: the search path)."""
        return self._schema_name

    def label(self, table: str) -> str:
        return f"{self._schema_name}.{table}" if self._schema_name else table

    def unique_keys(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """``(regclass text, label, columns)`` of every unique key the store relies on."""
        ledger = (render(self.ledger), self.label(f"{self._prefix}ledger"))
        if self.users is not None:
            first = (render(self.users), self.users_label, (self._id_name,))
        else:
            first = (render(self.state), self.label(f"{self._prefix}state"), ("user_id",))
        keys = (render(self.request_keys), self.label(f"{self._prefix}{_LONGEST_TABLE_SUFFIX}"))
        return [
            first,
            (*ledger, ("user_id", "seq")),
            (*ledger, ("user_id", "kind", "key")),
            (*keys, ("scope", "key")),
        ]

    def index_regclass(self, suffix: str) -> str:
        """The regclass text of the store's index ``<prefix><suffix>`` (in its tables' schema)."""
        name = self._prefix + suffix
        schema = self._schema_name
        return render(sql.Identifier(schema, name) if schema else sql.Identifier(name))

    def required_columns(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """``(regclass text, label, columns)`` of every table the store needs; the
        platform's ``users`` first when in place."""
        ledger = (render(self.ledger), self.label(f"{self._prefix}ledger"), LEDGER_COLUMNS)
        keys = (
            render(self.request_keys),
            self.label(f"{self._prefix}{_LONGEST_TABLE_SUFFIX}"),
            REQUEST_KEY_COLUMNS,
        )
        migrations = (
            render(self.migrations),
            self.label(f"{self._prefix}migrations"),
            MIGRATION_COLUMNS,
        )
        if self.users is not None:
            users = (
                render(self.users),
                self.users_label,
                (self._id_name, *PROGRESS_COLUMNS, *LEVER_COLUMNS),
            )
            return [users, ledger, keys, migrations]
        state = (render(self.state), self.label(f"{self._prefix}state"), STATE_COLUMNS)
        return [state, ledger, keys, migrations]


_IDENTIFIER_BYTES = 63
"""PostgreSQL's longest identifier (NAMEDATALEN - 1): longer names are silently cut."""
_LONGEST_TABLE_SUFFIX = "request_keys"
"""The longest name the store appends to ``table_prefix``."""


def _check_identifiers(
    schema: object, users_table: object, id_column: object, prefix: object
) -> None:
    """Refuse names PostgreSQL would cut to 63 bytes (two tables could then collide), and
    names with ``%``, which psycopg would read as a placeholder in the statements."""

    def check(field: str, name: object, room: int = _IDENTIFIER_BYTES) -> None:
        if not isinstance(name, str) or not name or len(name.encode()) > room:
            raise InvalidArgumentError(
                field, f"a name of 1 to {room} bytes (PostgreSQL cuts longer names)", name
            )
        if "%" in name:
            raise InvalidArgumentError(field, "a name without '%'", name)

    if schema is not None:
        check("schema", schema)
    if users_table is not None:
        parts = users_table.split(".") if isinstance(users_table, str) else [users_table]
        if len(parts) > 2:
            raise InvalidArgumentError("users_table", "a table name, or schema.table", users_table)
        for part in parts:
            check("users_table", part)
    check("id_column", id_column)
    if not isinstance(prefix, str) or len(prefix.encode()) > _IDENTIFIER_BYTES - len(
        _LONGEST_TABLE_SUFFIX
    ):
        room = _IDENTIFIER_BYTES - len(_LONGEST_TABLE_SUFFIX)
        raise InvalidArgumentError(
            "table_prefix",
            f"at most {room} bytes, so that '<prefix>{_LONGEST_TABLE_SUFFIX}' fits "
            f"PostgreSQL's {_IDENTIFIER_BYTES}-byte names",
            prefix,
        )
    if "%" in prefix:
        raise InvalidArgumentError("table_prefix", "a prefix without '%'", prefix)


KINDS = "('import', 'day', 'award', 'revoke', 'adjust', 'timezone')"
"""The ledger's kinds (``EntryKind``), as its CHECK constraint lists them."""


def render(composable: sql.Composable) -> str:
    """A composed statement as a plain string (built once, executed many times)."""
    return composable.as_string(None)


_LEDGER_TYPES = (
    "kind text, action text, exp_delta bigint, level_before integer, level_after integer, "
    "key text, at timestamptz, config_fingerprint text, state_after jsonb, outcome text, "
    "actor text, target text, reason text"
)
_LOAD_COLUMNS = (
    "level, exp, last_chat_date, daily_exp_gained, last_exp_reset_date, daily_action_counts"
)
_LEVER_LOAD = "".join(
    f", s.{c}::text" if c in ("milestones", "lifetime_counts") else f", s.{c}"
    for c in LEVER_COLUMNS
)
"""The lever columns a load reads; the library's own JSON columns as text, which the loader
reads at once when it is ``[]`` or ``{}`` (most users'), where psycopg would parse it."""
_LEVER_PARAMS = (
    ("timezone", "%(tz)s::text"),
    ("day_extended_until", "%(extended)s::timestamptz"),
    ("streak", "%(streak)s::bigint"),
    ("best_streak", "%(best)s::bigint"),
    ("last_streak_day", "%(streak_day)s::date"),
    ("streak_freezes", "%(freezes)s::bigint"),
    ("milestones", "%(milestones)s::jsonb"),
    ("lifetime_counts", "%(lifetime)s::jsonb"),
)
_TXID = "pg_current_xact_id()::text::bigint"
"""The writing transaction's id (a 64-bit ``xid8``, as a bigint): the feed's order."""


class Statements:
    """Every statement a store runs but its DDL, rendered once at construction.

    ``load[keyed, locked]``: the state row with version and "has a ledger" (no
    row for an unknown user); keyed, always one row, with the key's award and
    revocation joined. ``write[new_user, single_entry]``: the version-checked
    write and its ledger rows in one statement, ``None`` where the layout never
    writes (in place, no user is ever inserted).

    Args:
        names: The store's names.
        counter: The version of an own-table row is its ``version`` column, not ``xmin``.
        levers: The statements of the current schema; ``False``: of version-1 tables (the
            state's platform columns only, a ledger without ``events`` and ``txid``).

    Attributes:
        lever_width: How many lever columns a load reads after the first nine.
        entry_columns: The ledger columns read back into an entry.
    """

    def __init__(self, names: Names, *, counter: bool, levers: bool = True) -> None:
        n = names
        self.levers = levers
        # The version of an own-table row: its xmin, or (``counter``) its version column.
        token = sql.SQL("s.version::text" if counter else "s.xmin::text")
        check = sql.SQL(
            "s.version = %(version)s::bigint" if counter else "s.xmin = %(version)s::xid"
        )
        ledger_names = ("user_id", "seq", *(ENTRY_FIELDS if levers else LEGACY_ENTRY_FIELDS))
        if levers:
            ledger_names += ("txid",)
        ledger_cols = sql.SQL(", ").join(sql.Identifier(c) for c in ledger_names)
        self.entry_columns = entry_columns = ENTRY_COLUMNS if levers else LEGACY_ENTRY_COLUMNS
        lever_load = _LEVER_LOAD if levers else ""
        self.lever_width = len(LEVER_COLUMNS) if levers else 0
        self.requires_row = n.users is not None  # in place, a missing row is an error
        # ``%(uid)s`` is compared with the platform's id column, of whatever type it has;
        # ``%(user)s::text`` is the library's own user_id.

        # --- load ------------------------------------------------------------------
        def load(keyed: bool, locked: bool) -> str:
            if n.users is not None:
                source = sql.SQL(
                    _LOAD_COLUMNS + ", s.xmin::text, "
                    "EXISTS (SELECT FROM {ledger} WHERE user_id = %(user)s::text), "
                    "s.{id}::text" + lever_load + " FROM {users} AS s WHERE s.{id} = %(uid)s"
                ).format(ledger=n.ledger, users=n.users, id=n.id_column)
            else:
                source = sql.SQL(
                    _LOAD_COLUMNS + ", {token}, seq > 0, s.user_id" + lever_load + " "
                    "FROM {state} AS s WHERE user_id = %(user)s::text"
                ).format(token=token, state=n.state)
            query = sql.SQL("SELECT ") + source
            if locked:
                query += sql.SQL(" FOR UPDATE OF s")
            if not keyed:
                return render(query)
            entry = sql.SQL(", ").join(
                sql.Identifier(alias, c) for alias in ("a", "r") for c in entry_columns
            )
            return render(
                sql.SQL(
                    "SELECT s.*, {entry} FROM (VALUES (1)) AS one (x) "
                    "LEFT JOIN ({query}) AS s ON true "
                    "LEFT JOIN {ledger} AS a ON a.user_id = %(user)s::text "
                    "AND a.kind IN ('award', 'adjust', 'timezone') "
                    "AND a.key = %(key)s::text "
                    "LEFT JOIN {ledger} AS r ON r.user_id = %(user)s::text "
                    "AND r.kind = 'revoke' AND r.key = %(key)s::text"
                ).format(entry=entry, query=query, ledger=n.ledger)
            )

        self.load = {(k, lk): load(k, lk) for k in (False, True) for lk in (False, True)}
        # A row-locked keyed load reads the key's entries in a statement of its own, after
        # the lock: under READ COMMITTED a locked row that another transaction changed
        # meanwhile is read as that transaction left it, but the rest of the statement
        # keeps the snapshot taken before the wait, which misses that transaction's ledger
        # rows. A second statement takes a new snapshot, which holds them.
        key_entry = sql.SQL(", ").join(
            sql.Identifier(alias, c) for alias in ("a", "r") for c in entry_columns
        )
        self.keyed_entries = render(
            sql.SQL(
                "SELECT {entry} FROM (VALUES (1)) AS one (x) "
                "LEFT JOIN {ledger} AS a ON a.user_id = %(user)s::text "
                "AND a.kind IN ('award', 'adjust', 'timezone') AND a.key = %(key)s::text "
                "LEFT JOIN {ledger} AS r ON r.user_id = %(user)s::text "
                "AND r.kind = 'revoke' AND r.key = %(key)s::text"
            ).format(entry=key_entry, ledger=n.ledger)
        )

        # --- write -----------------------------------------------------------------
        # The ledger rows follow ``base``, the user's last ledger seq, and are
        # written only if the state row was: ``FROM w``.
        feed_values = ", %(e_events)s::jsonb, " + _TXID if levers else ""
        single = sql.SQL(
            "INSERT INTO {ledger} ({cols}) SELECT %(user)s::text, w.base + 1, "
            "%(e_kind)s::text, %(e_action)s::text, %(e_delta)s::bigint, "
            "%(e_before)s::integer, %(e_after)s::integer, %(e_key)s::text, "
            "%(e_at)s::timestamptz, %(e_fingerprint)s::text, %(e_state)s::jsonb, "
            "%(e_outcome)s::text, %(e_actor)s::text, %(e_target)s::text, %(e_reason)s::text"
            + feed_values
            + " FROM w"
        ).format(ledger=n.ledger, cols=ledger_cols)
        many = sql.SQL(
            "INSERT INTO {ledger} ({cols}) SELECT %(user)s::text, w.base + e.i, e.kind, "
            "e.action, e.exp_delta, e.level_before, e.level_after, e.key, e.at, "
            "e.config_fingerprint, e.state_after, e.outcome, e.actor, e.target, e.reason"
            + (", e.events, " + _TXID if levers else "")
            + " FROM w CROSS JOIN jsonb_to_recordset(%(entries)s::jsonb) AS e(i bigint, "
            + _LEDGER_TYPES
            + (", events jsonb" if levers else "")
            + ")"
        ).format(ledger=n.ledger, cols=ledger_cols)

        lever_assign = "".join(f", {c} = {p}" for c, p in _LEVER_PARAMS) if levers else ""
        assign = (
            "level = %(level)s::integer, exp = %(exp)s::bigint, "
            "daily_exp_gained = %(gained)s::bigint, "
            "last_exp_reset_date = %(reset)s::timestamptz, "
            "daily_action_counts = %(counts)s::jsonb, "
        )
        new_user: sql.Composable | None
        if n.users is not None:
            assignments = sql.SQL(
                assign
                + "last_chat_date = (%(chat)s::timestamptz AT TIME ZONE 'UTC')::date"
                + lever_assign
            )
            existing = sql.SQL(
                "UPDATE {users} AS s SET {assign} "
                "WHERE s.{id} = %(uid)s AND s.xmin = %(version)s::xid "
                "RETURNING (SELECT COALESCE(max(seq), 0) FROM {ledger} "
                "WHERE user_id = %(user)s::text) AS base, s.xmin::text AS version"
            ).format(users=n.users, assign=assignments, id=n.id_column, ledger=n.ledger)
            new_user = None
            self.put_state = render(
                sql.SQL(
                    "UPDATE {users} AS s SET {assign} WHERE s.{id} = %(uid)s RETURNING 1"
                ).format(users=n.users, assign=assignments, id=n.id_column)
            )
        else:
            assignments = sql.SQL(assign + "last_chat_date = %(chat)s::timestamptz" + lever_assign)
            existing = sql.SQL(
                "UPDATE {state} AS s SET {assign}, version = s.version + 1, "
                "seq = s.seq + %(n)s::integer "
                "WHERE s.user_id = %(user)s::text AND {check} "
                "RETURNING s.seq - %(n)s::integer AS base, {token} AS version"
            ).format(state=n.state, assign=assignments, check=check, token=token)
            lever_names = "".join(f", {c}" for c, _ in _LEVER_PARAMS) if levers else ""
            lever_values = "".join(f"{p}, " for _, p in _LEVER_PARAMS) if levers else ""
            values = sql.SQL(
                "INSERT INTO {state} (user_id, level, exp, daily_exp_gained, "
                "last_exp_reset_date, daily_action_counts, last_chat_date" + lever_names + ", "
                "version, seq) VALUES (%(user)s::text, %(level)s::integer, %(exp)s::bigint, "
                "%(gained)s::bigint, %(reset)s::timestamptz, %(counts)s::jsonb, "
                "%(chat)s::timestamptz, " + lever_values + "1, "
            ).format(state=n.state)
            new_user = values + sql.SQL(
                "%(n)s::integer) ON CONFLICT (user_id) DO NOTHING "
                "RETURNING 0::bigint AS base, {token} AS version"
            ).format(token=sql.SQL("version::text" if counter else "xmin::text"))
            self.put_state = render(
                values
                + sql.SQL(
                    "0) ON CONFLICT (user_id) DO UPDATE SET {assign}, "
                    "version = {state}.version + 1 RETURNING 1"
                ).format(assign=assignments, state=n.state)
            )

        def write(first: sql.Composable | None, rows: sql.Composable) -> str | None:
            if first is None:
                return None
            return render(
                sql.SQL("WITH w AS ({first}), l AS ({rows}) SELECT w.version FROM w").format(
                    first=first, rows=rows
                )
            )

        self.write = {
            (False, True): write(existing, single),
            (False, False): write(existing, many),
            (True, True): write(new_user, single),
            (True, False): write(new_user, many),
        }

        # --- reads -----------------------------------------------------------------
        entry_cols = sql.SQL(", ").join(sql.Identifier(c) for c in entry_columns)
        self.ledger = render(
            sql.SQL("SELECT {cols} FROM {ledger} WHERE user_id = %s::text ORDER BY seq").format(
                cols=entry_cols, ledger=n.ledger
            )
        )
        # The events feed: entries with events after the cursor, in (txid, user_id, seq)
        # order, but only of transactions older than every one still running: a smaller
        # txid that commits late is never passed (see ``events`` of the stores). The horizon
        # is a scalar subquery so that Citus takes it once, on the coordinator, whose
        # transaction ids the txid column holds, not on each worker.
        self.feed = render(
            sql.SQL(
                "SELECT txid, user_id, {cols} FROM {ledger} "
                "WHERE events IS NOT NULL AND txid IS NOT NULL "
                "AND (txid, user_id, seq) > (%(txid)s::bigint, %(user)s::text, %(seq)s::bigint) "
                "AND txid < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint) "
                "ORDER BY txid, user_id, seq LIMIT %(limit)s::bigint"
            ).format(cols=entry_cols, ledger=n.ledger)
        )

        # Monitoring: legacy NULLs read as the loader reads them (level 1, 0 gained).
        table, uid = (
            (n.users, n.id_column) if n.users is not None else (n.state, sql.SQL("user_id"))
        )
        activity = sql.SQL(
            "WITH caps (level, cap) AS (SELECT * FROM unnest(%(levels)s::int[], %(caps)s::int[])), "
            "u AS (SELECT {uid}::text AS user_id, GREATEST(COALESCE(level, 1), 1) AS level, "
            "GREATEST(COALESCE(daily_exp_gained, 0), 0) AS gained, daily_action_counts "
            "FROM {table} WHERE last_exp_reset_date >= %(since)s::timestamptz) "
            "SELECT u.user_id, u.level, u.gained, COALESCE(caps.cap, %(last)s::int) AS cap, "
            "u.daily_action_counts FROM u LEFT JOIN caps ON caps.level = u.level "
        ).format(uid=uid, table=table)
        order = sql.SQL("ORDER BY u.gained DESC, u.user_id LIMIT %(limit)s::bigint")
        self.at_cap = render(
            activity + sql.SQL("WHERE u.gained >= COALESCE(caps.cap, %(last)s::int) ") + order
        )
        self.most_active = render(activity + order)

        self.id_type = render(
            sql.SQL(
                "SELECT to_regclass(%(t)s) IS NOT NULL, "
                "(SELECT b.typname::text FROM pg_attribute AS a "
                "JOIN pg_type AS t ON t.oid = a.atttypid "
                "JOIN pg_type AS b ON b.oid = CASE t.typtype WHEN 'd' THEN t.typbasetype "
                "ELSE t.oid END "
                "WHERE a.attrelid = to_regclass(%(t)s) AND a.attname = %(c)s "
                "AND a.attnum > 0 AND NOT a.attisdropped), "
                "(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a "
                "WHERE a.attrelid = to_regclass(%(t)s) AND a.attname = %(c)s "
                "AND a.attnum > 0 AND NOT a.attisdropped)"
            )
        )
        self.unique_indexes = render(
            sql.SQL(
                "SELECT t.name, array(SELECT a.attname::text "
                "FROM unnest(i.indkey::int2[]) AS k (attnum) JOIN pg_attribute AS a "
                "ON a.attrelid = i.indrelid AND a.attnum = k.attnum) "
                "FROM unnest(%s::text[]) AS t (name) JOIN pg_index AS i "
                "ON i.indrelid = to_regclass(t.name) AND i.indisunique AND i.indisvalid"
            )
        )
        self.columns = render(
            sql.SQL(
                "SELECT t.name, a.attname FROM unnest(%s::text[]) AS t (name) "
                "LEFT JOIN pg_attribute AS a ON a.attrelid = to_regclass(t.name) "
                "AND a.attnum > 0 AND NOT a.attisdropped"
            )
        )
        in_place = n.users is not None
        self.drop_tables = render(
            sql.SQL("DROP TABLE IF EXISTS {}").format(
                sql.SQL(", ").join(
                    [n.ledger, n.request_keys, n.migrations]
                    if in_place
                    else [n.ledger, n.request_keys, n.migrations, n.state]
                )
            )
        )
        self.claim = render(
            sql.SQL(
                "INSERT INTO {keys} (scope, key, request, at) VALUES (%(scope)s::text, "
                "%(key)s::text, %(request)s::text, %(at)s::timestamptz) "
                "ON CONFLICT (scope, key) DO NOTHING RETURNING request"
            ).format(keys=n.request_keys)
        )
        self.claimed = render(
            sql.SQL(
                "SELECT request FROM {keys} WHERE scope = %(scope)s::text AND key = %(key)s::text"
            ).format(keys=n.request_keys)
        )
        self.drop_schema = (
            None
            if n.schema is None
            else render(sql.SQL("DROP SCHEMA IF EXISTS {}").format(n.schema))
        )

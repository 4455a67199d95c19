"""The PostgreSQL store's names and statements, rendered once per store.

Everything here is text: quoted identifiers of the tables a store uses (checked
against PostgreSQL's 63-byte limit, so two tables can never collide), and every
statement it runs, with the version check, the ledger write and the schema's DDL.
The stores (:mod:`~mikoshi_progression.stores.postgres_async` and its generated sync twin
:mod:`~mikoshi_progression.stores.postgres`) run them.
"""

from __future__ import annotations

from psycopg import sql

from ..errors import InvalidArgumentError
from ._rows import ENTRY_FIELDS

__all__ = [
    "ADDED_LEDGER_COLUMNS",
    "ENTRY_COLUMNS",
    "LEDGER_COLUMNS",
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

STATE_COLUMNS = ("user_id", *PROGRESS_COLUMNS, "version", "seq")
LEDGER_COLUMNS = ("user_id", "seq", *ENTRY_FIELDS)
REQUEST_KEY_COLUMNS = ("scope", "key", "request", "at")
# The ledger columns read back into a LedgerEntry, in this order.
ENTRY_COLUMNS = (*LEDGER_COLUMNS[2:], "seq")
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
        self.ledger_key_index = sql.Identifier(f"{prefix}ledger_key")
        self.ledger_kind_check = sql.Identifier(f"{prefix}ledger_kinds")
        self.state_day_index = sql.Identifier(f"{prefix}state_day")
        self.users = sql.Identifier(*users_table.split(".")) if users_table else None
        self.id_column = sql.Identifier(id_column)
        self.users_label = users_table or ""
        self._id_name = id_column
        self._schema_name = schema
        self._prefix = prefix

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

    def required_columns(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """``(regclass text, label, columns)`` of every table the store needs; the
        platform's ``users`` first when in place."""
        ledger = (render(self.ledger), self.label(f"{self._prefix}ledger"), LEDGER_COLUMNS)
        keys = (
            render(self.request_keys),
            self.label(f"{self._prefix}{_LONGEST_TABLE_SUFFIX}"),
            REQUEST_KEY_COLUMNS,
        )
        if self.users is not None:
            users = (render(self.users), self.users_label, (self._id_name, *PROGRESS_COLUMNS))
            return [users, ledger, keys]
        state = (render(self.state), self.label(f"{self._prefix}state"), STATE_COLUMNS)
        return [state, ledger, keys]


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


_KINDS = "('import', 'day', 'award', 'revoke', 'adjust')"
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


class Statements:
    """Every statement a store runs, rendered once at construction.

    ``load[keyed, locked]``: the state row with version and "has a ledger" (no
    row for an unknown user); keyed, always one row, with the key's award and
    revocation joined. ``write[new_user, single_entry]``: the version-checked
    write and its ledger rows in one statement, ``None`` where the layout never
    writes (in place, no user is ever inserted).
    """

    def __init__(self, names: Names, *, counter: bool) -> None:
        n = names
        # The version of an own-table row: its xmin, or (``counter``) its version column.
        token = sql.SQL("s.version::text" if counter else "s.xmin::text")
        check = sql.SQL(
            "s.version = %(version)s::bigint" if counter else "s.xmin = %(version)s::xid"
        )
        ledger_cols = sql.SQL(", ").join(sql.Identifier(c) for c in LEDGER_COLUMNS)
        in_place = n.users is not None
        self.requires_row = in_place  # in place, a missing row is an error, not a new user
        # ``%(uid)s`` is compared with the platform's id column, of whatever type it has;
        # ``%(user)s::text`` is the library's own user_id.

        # --- load ------------------------------------------------------------------
        def load(keyed: bool, locked: bool) -> str:
            if n.users is not None:
                source = sql.SQL(
                    _LOAD_COLUMNS + ", s.xmin::text, "
                    "EXISTS (SELECT FROM {ledger} WHERE user_id = %(user)s::text), "
                    "s.{id}::text FROM {users} AS s WHERE s.{id} = %(uid)s"
                ).format(ledger=n.ledger, users=n.users, id=n.id_column)
            else:
                source = sql.SQL(
                    _LOAD_COLUMNS + ", {token}, seq > 0, s.user_id FROM {state} AS s "
                    "WHERE user_id = %(user)s::text"
                ).format(token=token, state=n.state)
            query = sql.SQL("SELECT ") + source
            if locked:
                query += sql.SQL(" FOR UPDATE OF s")
            if not keyed:
                return render(query)
            entry = sql.SQL(", ").join(
                sql.Identifier(alias, c) for alias in ("a", "r") for c in ENTRY_COLUMNS
            )
            return render(
                sql.SQL(
                    "SELECT s.*, {entry} FROM (VALUES (1)) AS one (x) "
                    "LEFT JOIN ({query}) AS s ON true "
                    "LEFT JOIN {ledger} AS a ON a.user_id = %(user)s::text "
                    "AND a.kind IN ('award', 'adjust') "
                    "AND a.key = %(key)s::text "
                    "LEFT JOIN {ledger} AS r ON r.user_id = %(user)s::text "
                    "AND r.kind = 'revoke' AND r.key = %(key)s::text"
                ).format(entry=entry, query=query, ledger=n.ledger)
            )

        self.load = {(k, lk): load(k, lk) for k in (False, True) for lk in (False, True)}

        # --- write -----------------------------------------------------------------
        # The ledger rows follow ``base``, the user's last ledger seq, and are
        # written only if the state row was: ``FROM w``.
        single = sql.SQL(
            "INSERT INTO {ledger} ({cols}) SELECT %(user)s::text, w.base + 1, "
            "%(e_kind)s::text, %(e_action)s::text, %(e_delta)s::bigint, "
            "%(e_before)s::integer, %(e_after)s::integer, %(e_key)s::text, "
            "%(e_at)s::timestamptz, %(e_fingerprint)s::text, %(e_state)s::jsonb, "
            "%(e_outcome)s::text, %(e_actor)s::text, %(e_target)s::text, %(e_reason)s::text "
            "FROM w"
        ).format(ledger=n.ledger, cols=ledger_cols)
        many = sql.SQL(
            "INSERT INTO {ledger} ({cols}) SELECT %(user)s::text, w.base + e.i, e.kind, "
            "e.action, e.exp_delta, e.level_before, e.level_after, e.key, e.at, "
            "e.config_fingerprint, e.state_after, e.outcome, e.actor, e.target, e.reason "
            "FROM w CROSS JOIN jsonb_to_recordset(%(entries)s::jsonb) AS e(i bigint, "
            + _LEDGER_TYPES
            + ")"
        ).format(ledger=n.ledger, cols=ledger_cols)

        assign = (
            "level = %(level)s::integer, exp = %(exp)s::bigint, "
            "daily_exp_gained = %(gained)s::bigint, "
            "last_exp_reset_date = %(reset)s::timestamptz, "
            "daily_action_counts = %(counts)s::jsonb, "
        )
        new_user: sql.Composable | None
        if n.users is not None:
            assignments = sql.SQL(
                assign + "last_chat_date = (%(chat)s::timestamptz AT TIME ZONE 'UTC')::date"
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
            assignments = sql.SQL(assign + "last_chat_date = %(chat)s::timestamptz")
            existing = sql.SQL(
                "UPDATE {state} AS s SET {assign}, version = s.version + 1, "
                "seq = s.seq + %(n)s::integer "
                "WHERE s.user_id = %(user)s::text AND {check} "
                "RETURNING s.seq - %(n)s::integer AS base, {token} AS version"
            ).format(state=n.state, assign=assignments, check=check, token=token)
            values = sql.SQL(
                "INSERT INTO {state} (user_id, level, exp, daily_exp_gained, "
                "last_exp_reset_date, daily_action_counts, last_chat_date, version, seq) "
                "VALUES (%(user)s::text, %(level)s::integer, %(exp)s::bigint, "
                "%(gained)s::bigint, %(reset)s::timestamptz, %(counts)s::jsonb, "
                "%(chat)s::timestamptz, 1, "
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
        self.ledger = render(
            sql.SQL("SELECT {cols} FROM {ledger} WHERE user_id = %s::text ORDER BY seq").format(
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in ENTRY_COLUMNS),
                ledger=n.ledger,
            )
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

        # --- DDL -------------------------------------------------------------------
        create: list[sql.Composable] = []
        if n.schema is not None:
            create.append(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(n.schema))
        if not in_place:
            create += [
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {state} ("
                    "user_id text PRIMARY KEY, "
                    "level integer NOT NULL DEFAULT 1, "
                    "exp bigint NOT NULL DEFAULT 0, "
                    "last_chat_date timestamptz, "
                    "daily_exp_gained bigint NOT NULL DEFAULT 0, "
                    "last_exp_reset_date timestamptz, "
                    "daily_action_counts jsonb NOT NULL DEFAULT '{{}}', "
                    "version bigint NOT NULL DEFAULT 1, "
                    "seq bigint NOT NULL DEFAULT 0)"
                ).format(state=n.state),
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {index} ON {state} (last_exp_reset_date)"
                ).format(index=n.state_day_index, state=n.state),
            ]
        create += [
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {ledger} ("
                "user_id text NOT NULL, "
                "seq bigint NOT NULL, "
                "kind text NOT NULL CONSTRAINT {kinds} CHECK (kind IN " + _KINDS + "), "
                "action text NOT NULL DEFAULT '', "
                "exp_delta bigint NOT NULL, "
                "level_before integer NOT NULL, "
                "level_after integer NOT NULL, "
                "key text, "
                "at timestamptz NOT NULL, "
                "config_fingerprint text NOT NULL DEFAULT '', "
                "state_after jsonb NOT NULL, "
                "outcome text NOT NULL DEFAULT '', "
                "actor text, "
                "target text, "
                "reason text, "
                "PRIMARY KEY (user_id, seq))"
            ).format(ledger=n.ledger, kinds=n.ledger_kind_check),
            # Columns and kinds of later releases, added to a ledger created before them.
            sql.SQL(
                "ALTER TABLE {ledger} ADD COLUMN IF NOT EXISTS actor text, "
                "ADD COLUMN IF NOT EXISTS target text, "
                "ADD COLUMN IF NOT EXISTS reason text"
            ).format(ledger=n.ledger),
            # An older ledger's kind check (unnamed then) does not admit 'adjust': replace it.
            sql.SQL(
                "DO $$ DECLARE c name; BEGIN "
                "IF NOT EXISTS (SELECT 1 FROM pg_constraint "
                "WHERE conrelid = {ledger_text}::regclass AND contype = 'c' "
                "AND pg_get_constraintdef(oid) LIKE '%''adjust''%') THEN "
                "FOR c IN SELECT conname FROM pg_constraint "
                "WHERE conrelid = {ledger_text}::regclass AND contype = 'c' "
                "AND pg_get_constraintdef(oid) LIKE '%''revoke''%' LOOP "
                "EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', {ledger_text}, c); "
                "END LOOP; "
                "ALTER TABLE {ledger} ADD CONSTRAINT {kinds} CHECK (kind IN " + _KINDS + "); "
                "END IF; END $$"
            ).format(
                ledger=n.ledger,
                ledger_text=sql.Literal(render(n.ledger)),
                kinds=n.ledger_kind_check,
            ),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {keys} ("
                "scope text NOT NULL, "
                "key text NOT NULL, "
                "request text NOT NULL, "
                "at timestamptz NOT NULL, "
                "PRIMARY KEY (scope, key))"
            ).format(keys=n.request_keys),
            sql.SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {ledger} (user_id, kind, key) "
                "WHERE key IS NOT NULL"
            ).format(index=n.ledger_key_index, ledger=n.ledger),
        ]
        self.create = [render(s) for s in create]

        self.drop_tables = render(
            sql.SQL("DROP TABLE IF EXISTS {}").format(
                sql.SQL(", ").join(
                    [n.ledger, n.request_keys] if in_place else [n.ledger, n.request_keys, n.state]
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

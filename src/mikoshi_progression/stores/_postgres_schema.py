"""The PostgreSQL store's schema: what the database holds, its version, and the DDL that
creates what is missing (``create_schema``) or brings older tables up to date (``migrate``).

Nothing here does I/O: the stores run :data:`INSPECT` (and read the versions recorded),
hand the rows to :func:`inspection`, and execute what :func:`plan` lists, under an
advisory lock, in one transaction. Because the plan is made from what the database
holds, a dry run prints exactly what a run executes, and a second run finds nothing to
do. Every row is kept: columns are only added (with defaults that read as a new user's
values), and the kind ``CHECK`` is replaced ``NOT VALID`` then validated, so the ledger
is checked under a lock that lets writes go on.

In place, ``migrate`` adds to the platform's ``users`` table, in its migration guide's
style (``ALTER TABLE users ADD COLUMN IF NOT EXISTS ...``), exactly the columns the store
reads and writes there that it lacks (the guide's level, EXP and daily-limit columns
too, for a ``users`` table that has none yet), and never touches another column.
``create_schema`` never alters ``users``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from . import _postgres_citus
from ._postgres_citus import Placement
from ._postgres_sql import ADDED_LEDGER_COLUMNS, KINDS, Names, render
from ._rows import LEVER_COLUMNS
from .base import SCHEMA_VERSION, SCHEMA_VERSIONS

__all__ = [
    "INSPECT",
    "LEVER_MARK",
    "PLATFORM_MARK",
    "USERS_COLUMN_TYPES",
    "Found",
    "inspect_params",
    "inspection",
    "plan",
    "schema_version",
    "versions_query",
]


_OWN_LEVER_TYPES = (
    ("timezone", "text"),
    ("day_extended_until", "timestamptz"),
    ("streak", "bigint NOT NULL DEFAULT 0"),
    ("best_streak", "bigint NOT NULL DEFAULT 0"),
    ("last_streak_day", "date"),
    ("streak_freezes", "bigint NOT NULL DEFAULT 0"),
    ("milestones", "jsonb NOT NULL DEFAULT '[]'"),
    ("lifetime_counts", "jsonb NOT NULL DEFAULT '{}'"),
)
"""The lever columns of the library's own state table."""
USERS_COLUMN_TYPES = (
    ("level", "integer DEFAULT 1"),
    ("exp", "integer DEFAULT 0"),
    ("last_chat_date", "date"),
    ("daily_exp_gained", "integer DEFAULT 0"),
    ("last_exp_reset_date", "timestamptz"),
    ("daily_action_counts", "jsonb DEFAULT '{}'"),
    ("timezone", "text"),
    ("day_extended_until", "timestamptz"),
    ("streak", "bigint DEFAULT 0"),
    ("best_streak", "bigint DEFAULT 0"),
    ("last_streak_day", "date"),
    ("streak_freezes", "bigint DEFAULT 0"),
    ("milestones", "jsonb DEFAULT '[]'"),
    ("lifetime_counts", "jsonb DEFAULT '{}'"),
)
"""In place, the columns of ``users`` the store needs: the platform's, with the types and
defaults of its migration guide, then the levers', nullable with defaults in that style."""
_FEED_COLUMNS = ("events", "txid")
PLATFORM_MARK = (
    "Added by mikoshi-progression schema migrate: a progression column of the platform's "
    "migration guide (schema version 1)."
)
LEVER_MARK = (
    "Added by mikoshi-progression schema migrate: a designer lever's column (schema "
    "version 2); the documented rollback drops it."
)
"""The comments ``migrate`` puts on the ``users`` columns it adds: what added each, so that
a rollback drops those and never a column the platform had."""

INSPECT = render(
    sql.SQL(
        "SELECT 'column', t.name, a.attname::text FROM unnest(%(tables)s::text[]) AS t (name) "
        "JOIN pg_attribute AS a ON a.attrelid = to_regclass(t.name) "
        "AND a.attnum > 0 AND NOT a.attisdropped "
        "UNION ALL SELECT 'relation', r.name, NULL FROM unnest(%(relations)s::text[]) AS r (name) "
        "WHERE to_regclass(r.name) IS NOT NULL "
        "UNION ALL SELECT 'check', c.conname::text, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint AS c WHERE c.conrelid = to_regclass(%(ledger)s) "
        "AND c.contype = 'c' AND c.conkey = ARRAY[(SELECT attnum FROM pg_attribute "
        "WHERE attrelid = to_regclass(%(ledger)s) AND attname = 'kind')]::int2[] "
        "UNION ALL SELECT 'schema', NULL, NULL "
        "WHERE %(schema)s::text IS NULL OR to_regnamespace(%(schema)s::text) IS NOT NULL "
        "UNION ALL SELECT 'citus', NULL, NULL FROM pg_extension WHERE extname = 'citus'"
    )
)
"""What the database holds of the store's tables: their columns, which of its tables and
indexes exist, the ledger's ``CHECK``\\ s on ``kind``, whether its schema exists, whether
the ``citus`` extension is installed."""


@dataclass(frozen=True, slots=True)
class Found:
    """What the database holds of a store's schema.

    Attributes:
        columns: The columns of each table that exists, by regclass text.
        relations: The regclasses (tables and indexes) of the store's that exist.
        kind_checks: ``(name, definition)`` of the ledger's ``CHECK``\\ s on ``kind``.
        schema_exists: Whether the store's schema exists (``True`` without one).
        versions: The versions ``<prefix>migrations`` records.
        citus: Whether the ``citus`` extension is installed.
        placements: How Citus holds each own table it knows (by regclass text; empty
            without Citus): see :mod:`._postgres_citus`.
    """

    columns: dict[str, frozenset[str]]
    relations: frozenset[str]
    kind_checks: tuple[tuple[str, str], ...]
    schema_exists: bool
    versions: frozenset[int] = frozenset()
    citus: bool = False
    placements: Mapping[str, Placement] = field(default_factory=dict)


def _regclasses(names: Names) -> tuple[list[str], list[str]]:
    tables = [render(names.ledger), render(names.request_keys), render(names.migrations)]
    tables.append(render(names.users if names.users is not None else names.state))
    indexes = [names.index_regclass(s) for s in ("ledger_key", "ledger_feed", "state_day")]
    return tables, indexes


def inspect_params(names: Names) -> dict[str, Any]:
    """The parameters of :data:`INSPECT` for a store's names."""
    tables, indexes = _regclasses(names)
    return {
        "tables": tables,
        "relations": tables + indexes,
        "ledger": render(names.ledger),
        "schema": names.schema_text,
    }


def inspection(rows: Sequence[Sequence[Any]], versions: Sequence[Sequence[Any]] = ()) -> Found:
    """A :class:`Found` from the rows of :data:`INSPECT` and of the versions recorded (its
    ``placements`` are added with :func:`dataclasses.replace`, where Citus is installed)."""
    columns: dict[str, set[str]] = {}
    relations: set[str] = set()
    checks: list[tuple[str, str]] = []
    schema_exists = citus = False
    for kind, name, detail in rows:
        if kind == "column":
            columns.setdefault(str(name), set()).add(str(detail))
        elif kind == "relation":
            relations.add(str(name))
        elif kind == "check":
            checks.append((str(name), str(detail)))
        elif kind == "citus":
            citus = True
        else:
            schema_exists = True
    return Found(
        {table: frozenset(found) for table, found in columns.items()},
        frozenset(relations),
        tuple(checks),
        schema_exists,
        frozenset(int(v) for (v,) in versions),
        citus,
    )


def schema_version(columns: dict[str, frozenset[str]] | dict[str, set[str]], names: Names) -> int:
    """The version the tables are at, from their columns: 0 (none of them), 1, 2."""
    source = render(names.users if names.users is not None else names.state)
    ledger = columns.get(render(names.ledger))
    state = columns.get(source)
    if ledger is None and (names.users is not None or state is None):
        return 0
    if not ledger or not state:
        return 1
    current = set(LEVER_COLUMNS) <= state and set(_FEED_COLUMNS) <= ledger
    return SCHEMA_VERSION if current else 1


def plan(found: Found, names: Names, *, migrate: bool, distributed: bool = False) -> list[str]:
    """The statements that create what is missing and, with ``migrate``, bring older tables
    to the current version; with the versions reached recorded. ``[]``: nothing to do.
    ``distributed``: on Citus, the own tables not yet placed are distributed right after
    they are created, before any row is written (:mod:`._postgres_citus`)."""
    n = names
    placing = _postgres_citus.distribute(n, found.citus, found.placements) if distributed else []
    tables: list[sql.Composable] = []
    alters: list[sql.Composable] = []
    indexes: list[sql.Composable] = []
    ledger = found.columns.get(render(n.ledger))
    state = None if n.users is not None else found.columns.get(render(n.state))
    users = None if n.users is None else found.columns.get(render(n.users), frozenset())

    if n.schema is not None and not found.schema_exists:
        tables.append(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(n.schema))
    if n.users is None and state is None:
        tables.append(_create_state(n))
    if ledger is None:
        tables.append(_create_ledger(n))
    if render(n.request_keys) not in found.columns:
        tables.append(_create_request_keys(n))
    if render(n.migrations) not in found.columns:
        tables.append(_create_migrations(n))

    if ledger is not None:
        missing = [c for c in ADDED_LEDGER_COLUMNS if c not in ledger]
        if migrate:
            missing += [c for c in _FEED_COLUMNS if c not in ledger]
        if missing:
            types = {"events": "jsonb", "txid": "bigint"}
            alters.append(_add_columns(n.ledger, [(c, types.get(c, "text")) for c in missing]))
        admitted = " ".join(definition for _, definition in found.kind_checks)
        if "'adjust'" not in admitted or (migrate and "'timezone'" not in admitted):
            alters += _replace_kind_checks(n, [name for name, _ in found.kind_checks])
    if migrate and state is not None:
        missing_levers = [(c, t) for c, t in _OWN_LEVER_TYPES if c not in state]
        if missing_levers:
            alters.append(_add_columns(n.state, missing_levers))
    if migrate and n.users is not None and users is not None:
        missing_users = [(c, t) for c, t in USERS_COLUMN_TYPES if c not in users]
        if missing_users:
            alters.append(_add_columns(n.users, missing_users))
            alters += [
                sql.SQL("COMMENT ON COLUMN {users}.{column} IS {mark}").format(
                    users=n.users,
                    column=sql.Identifier(column),
                    mark=sql.Literal(LEVER_MARK if column in LEVER_COLUMNS else PLATFORM_MARK),
                )
                for column, _ in missing_users
            ]

    ledger_current = ledger is None or migrate or set(_FEED_COLUMNS) <= ledger
    if n.users is None and n.index_regclass("state_day") not in found.relations:
        indexes.append(
            sql.SQL("CREATE INDEX IF NOT EXISTS {index} ON {state} (last_exp_reset_date)").format(
                index=n.state_day_index, state=n.state
            )
        )
    if n.index_regclass("ledger_key") not in found.relations:
        indexes.append(
            sql.SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {ledger} (user_id, kind, key) "
                "WHERE key IS NOT NULL"
            ).format(index=n.ledger_key_index, ledger=n.ledger)
        )
    if ledger_current and n.index_regclass("ledger_feed") not in found.relations:
        indexes.append(
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {index} ON {ledger} (txid, user_id, seq) "
                "WHERE events IS NOT NULL AND txid IS NOT NULL"
            ).format(index=n.ledger_feed_index, ledger=n.ledger)
        )

    if n.users is not None:
        state_current = migrate or (users is not None and set(LEVER_COLUMNS) <= users)
    else:
        state_current = state is None or migrate or set(LEVER_COLUMNS) <= state
    reached = SCHEMA_VERSION if state_current and ledger_current else 1
    stamps = [
        sql.SQL(
            "INSERT INTO {migrations} (version, description, applied_at) "
            "VALUES ({version}, {description}, now()) ON CONFLICT (version) DO NOTHING"
        ).format(
            migrations=n.migrations,
            version=sql.Literal(version),
            description=sql.Literal(SCHEMA_VERSIONS[version]),
        )
        for version in range(1, reached + 1)
        if version not in found.versions
    ]
    changes = [render(s) for s in tables] + placing + [render(s) for s in alters + indexes]
    if placing:
        changes.insert(0, _postgres_citus.MULTI_SHARD_SEQUENTIAL)
    return changes + [render(s) for s in stamps] if changes or stamps else []


def _add_columns(table: sql.Composable, columns: Sequence[tuple[str, str]]) -> sql.Composable:
    return sql.SQL("ALTER TABLE {table} {adds}").format(
        table=table,
        adds=sql.SQL(", ").join(
            sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(sql.Identifier(c), sql.SQL(t))
            for c, t in columns
        ),
    )


def _replace_kind_checks(n: Names, old: Sequence[str]) -> list[sql.Composable]:
    """Drop the ledger's ``CHECK``\\ s on ``kind`` (named ``old``) and add the current one,
    ``NOT VALID`` then validated: the rows are checked without blocking writes."""
    drops = [sql.SQL("DROP CONSTRAINT {}").format(sql.Identifier(name)) for name in old]
    add = sql.SQL("ADD CONSTRAINT {kinds} CHECK (kind IN " + KINDS + ") NOT VALID").format(
        kinds=n.ledger_kind_check
    )
    return [
        sql.SQL("ALTER TABLE {ledger} {changes}").format(
            ledger=n.ledger, changes=sql.SQL(", ").join([*drops, add])
        ),
        sql.SQL("ALTER TABLE {ledger} VALIDATE CONSTRAINT {kinds}").format(
            ledger=n.ledger, kinds=n.ledger_kind_check
        ),
    ]


def _create_state(n: Names) -> sql.Composable:
    # The lever columns come last, where migrating a table of version 1 adds them.
    levers = ", ".join(f"{c} {t}" for c, t in _OWN_LEVER_TYPES)
    return sql.SQL("CREATE TABLE IF NOT EXISTS {state} (").format(state=n.state) + sql.SQL(
        "user_id text PRIMARY KEY, "
        "level integer NOT NULL DEFAULT 1, "
        "exp bigint NOT NULL DEFAULT 0, "
        "last_chat_date timestamptz, "
        "daily_exp_gained bigint NOT NULL DEFAULT 0, "
        "last_exp_reset_date timestamptz, "
        "daily_action_counts jsonb NOT NULL DEFAULT '{}', "
        "version bigint NOT NULL DEFAULT 1, "
        "seq bigint NOT NULL DEFAULT 0, " + levers + ")"
    )


def _create_ledger(n: Names) -> sql.Composable:
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {ledger} ("
        "user_id text NOT NULL, "
        "seq bigint NOT NULL, "
        "kind text NOT NULL CONSTRAINT {kinds} CHECK (kind IN " + KINDS + "), "
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
        "events jsonb, "
        "txid bigint, "
        "PRIMARY KEY (user_id, seq))"
    ).format(ledger=n.ledger, kinds=n.ledger_kind_check)


def _create_request_keys(n: Names) -> sql.Composable:
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {keys} ("
        "scope text NOT NULL, "
        "key text NOT NULL, "
        "request text NOT NULL, "
        "at timestamptz NOT NULL, "
        "PRIMARY KEY (scope, key))"
    ).format(keys=n.request_keys)


def _create_migrations(n: Names) -> sql.Composable:
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {migrations} ("
        "version integer PRIMARY KEY, "
        "description text NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    ).format(migrations=n.migrations)


def versions_query(names: Names) -> str:
    """The versions ``<prefix>migrations`` records (run only when the table exists)."""
    return render(sql.SQL("SELECT version FROM {}").format(names.migrations))

"""Creating, checking and dropping the library's tables: one function each, over a sync
``Connection``; the async store runs the very same ones with ``AsyncConnection.run_sync``.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.schema import CreateSchema

from ..stores.base import SCHEMA_VERSION, SCHEMA_VERSIONS, SchemaReport
from .schema import ADDED_LEDGER_COLUMNS, FEED_COLUMNS, LEVER_COLUMNS, Tables

__all__ = ["create_tables", "drop_tables", "schema_behind", "schema_report", "schema_version"]


_SCHEMA_LOCK = 0x6D696B6F73686931
"""The advisory lock ``PostgresStore`` serialises ``create_schema`` with (b"mikoshi1")."""

_STATE_COLUMNS = (
    "level",
    "exp",
    "last_chat_date",
    "daily_exp_gained",
    "last_exp_reset_date",
    "daily_action_counts",
    *LEVER_COLUMNS,
)


def _label(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


_Wanted = tuple[str | None, str, tuple[str, ...], list[tuple[str, ...]]]


def _wanted(tables: Tables) -> list[_Wanted]:
    """``(schema, table, columns, unique keys)`` of every table a store needs."""
    first: _Wanted
    own: list[_Wanted] = [
        (t.schema, t.name, tuple(t.c.keys()), [])
        for t in (tables.ledger, tables.request_keys, tables.migrations)
    ]
    own[0][3].extend([("user_id", "seq"), ("user_id", "kind", "key")])
    own[1][3].append(("scope", "key"))
    if tables.users is not None:
        users = tables.users
        first = (
            users.schema,
            users.name,
            (tables.id_column, *_STATE_COLUMNS),
            [(tables.id_column,)],
        )
    else:
        assert tables.state is not None
        state = tables.state
        first = (state.schema, state.name, tuple(state.c.keys()), [("user_id",)])
    return [first, *own]


def schema_report(tables: Tables, conn: Connection) -> SchemaReport:
    """The tables, columns and unique keys a store needs that are missing."""
    inspector = inspect(conn)
    missing_tables: list[str] = []
    missing_columns: list[str] = []
    missing_indexes: list[str] = []
    found: dict[str, set[str]] = {}
    for schema, name, columns, keys in _wanted(tables):
        label = _label(schema, name)
        if not inspector.has_table(name, schema=schema):
            missing_tables.append(label)
            continue
        present = {c["name"] for c in inspector.get_columns(name, schema=schema)}
        found[name] = present
        missing_columns += [f"{label}.{c}" for c in columns if c not in present]
        unique = {
            frozenset(inspector.get_pk_constraint(name, schema=schema)["constrained_columns"])
        }
        unique |= {
            frozenset(u["column_names"])
            for u in inspector.get_unique_constraints(name, schema=schema)
        }
        unique |= {
            frozenset(c for c in i["column_names"] if c is not None)
            for i in inspector.get_indexes(name, schema=schema)
            if i["unique"]
        }
        missing_indexes += [
            f"{label} ({', '.join(key)})" for key in keys if frozenset(key) not in unique
        ]
    return SchemaReport(
        tuple(missing_tables),
        tuple(missing_columns),
        tuple(missing_indexes),
        schema_version=_version(tables, found),
    )


def _version(tables: Tables, found: dict[str, set[str]]) -> int:
    """The version of the tables, from the columns ``found`` (by table name)."""
    source = tables.users if tables.users is not None else tables.state
    assert source is not None
    ledger = found.get(tables.ledger.name)
    state = found.get(source.name)
    if ledger is None and (tables.users is not None or state is None):
        return 0
    if ledger is None or state is None:
        return 1
    current = set(LEVER_COLUMNS) <= state and set(FEED_COLUMNS) <= ledger
    return SCHEMA_VERSION if current else 1


def schema_version(tables: Tables, conn: Connection) -> int:
    """The version of the schema the tables are at: 0 (none), 1 (an earlier release's), 2."""
    inspector = inspect(conn)
    source = tables.users if tables.users is not None else tables.state
    assert source is not None
    found = {
        table.name: {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
        for table in (tables.ledger, source)
        if inspector.has_table(table.name, schema=table.schema)
    }
    return _version(tables, found)


def schema_behind(tables: Tables, conn: Connection) -> bool:
    """Whether a table of the library's, or a ledger column of a later release, is missing
    (the platform's ``users`` is not the library's: it is never created or altered)."""
    inspector = inspect(conn)
    for table in tables.own:
        if not inspector.has_table(table.name, schema=table.schema):
            return True
    ledger = tables.ledger
    present = {c["name"] for c in inspector.get_columns(ledger.name, schema=ledger.schema)}
    return not set(ADDED_LEDGER_COLUMNS) <= present


def create_tables(tables: Tables, conn: Connection) -> None:
    """Create the schema and the library's missing tables, and add the ledger columns of
    later releases to an older ledger (idempotent; on PostgreSQL serialised with
    ``PostgresStore.create_schema`` by an advisory lock). The caller commits."""
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
        schema = tables.ledger.schema
        if schema is not None:
            conn.execute(CreateSchema(schema, if_not_exists=True))
    tables.metadata.create_all(conn, tables=list(tables.own), checkfirst=True)
    ledger = tables.ledger
    present = {c["name"] for c in inspect(conn).get_columns(ledger.name, schema=ledger.schema)}
    preparer = conn.dialect.identifier_preparer
    for name in ADDED_LEDGER_COLUMNS:
        if name not in present:
            column = ledger.c[name]
            conn.execute(
                text(
                    f"ALTER TABLE {preparer.format_table(ledger)} ADD COLUMN "
                    f"{preparer.format_column(column)} {column.type.compile(conn.dialect)}"
                )
            )
    stamp(tables, conn, schema_version(tables, conn))


def stamp(tables: Tables, conn: Connection, reached: int) -> None:
    """Record versions 1 to ``reached`` in ``<prefix>migrations`` (those not recorded yet)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for version in range(1, reached + 1):
        conn.execute(
            insert(tables.migrations)
            .values(version=version, description=SCHEMA_VERSIONS[version])
            .on_conflict_do_nothing(index_elements=[tables.migrations.c.version])
        )


def drop_tables(tables: Tables, conn: Connection) -> None:
    """Drop the library's own tables (never ``users``, never a schema). The caller commits."""
    tables.metadata.drop_all(conn, tables=list(tables.own), checkfirst=True)

"""Creating, checking and dropping the library's tables: one function each, over a sync
``Connection``; the async store runs the very same ones with ``AsyncConnection.run_sync``.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text
from sqlalchemy.schema import CreateSchema

from ..stores.base import SchemaReport
from .schema import ADDED_LEDGER_COLUMNS, Tables

__all__ = ["create_tables", "drop_tables", "schema_behind", "schema_report"]

_SCHEMA_LOCK = 0x6D696B6F73686931
"""The advisory lock ``PostgresStore`` serialises ``create_schema`` with (b"mikoshi1")."""

_STATE_COLUMNS = (
    "level",
    "exp",
    "last_chat_date",
    "daily_exp_gained",
    "last_exp_reset_date",
    "daily_action_counts",
)


def _label(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


_Wanted = tuple[str | None, str, tuple[str, ...], list[tuple[str, ...]]]


def _wanted(tables: Tables) -> list[_Wanted]:
    """``(schema, table, columns, unique keys)`` of every table a store needs."""
    first: _Wanted
    own: list[_Wanted] = [
        (t.schema, t.name, tuple(t.c.keys()), []) for t in (tables.ledger, tables.request_keys)
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
    for schema, name, columns, keys in _wanted(tables):
        label = _label(schema, name)
        if not inspector.has_table(name, schema=schema):
            missing_tables.append(label)
            continue
        present = {c["name"] for c in inspector.get_columns(name, schema=schema)}
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
    return SchemaReport(tuple(missing_tables), tuple(missing_columns), tuple(missing_indexes))


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


def drop_tables(tables: Tables, conn: Connection) -> None:
    """Drop the library's own tables (never ``users``, never a schema). The caller commits."""
    tables.metadata.drop_all(conn, tables=list(tables.own), checkfirst=True)

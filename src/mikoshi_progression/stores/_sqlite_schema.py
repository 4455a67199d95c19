"""The SQLite store's schema: what a file holds, its version, and the statements that
create what is missing (``create_schema``) or bring an older file up to date (``migrate``).

One planner serves both: it reads what the file has (tables, indexes, columns, the
versions recorded) and lists the statements that take it to the current schema, so a
dry run prints exactly what a real run executes, and a second run finds nothing to do.
``create_schema`` only creates what is missing (and adds the ledger columns of the
releases before the levers, as it always did); ``migrate`` also adds the columns of
:data:`~mikoshi_progression.stores.SCHEMA_VERSION`. Every row is kept: a column is only
ever added, with a default a row of an earlier release reads as a new user's value.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ._sqlite_driver import execute
from ._sqlite_sql import (
    ADDED_LEDGER_COLUMNS,
    KEY_COLUMNS,
    LEDGER_COLUMNS,
    LEDGER_KEYS,
    LEVER_COLUMN_TYPES,
    MIGRATION_COLUMNS,
    PROGRESS_COLUMNS,
    PROGRESS_KEYS,
    REQUEST_KEYS,
    Statements,
)
from .base import SCHEMA_VERSION, SCHEMA_VERSIONS, SchemaReport

__all__ = ["Found", "inspect", "plan", "report"]


@dataclass(frozen=True, slots=True)
class Found:
    """What a file holds of the store's schema.

    Attributes:
        names: The tables and indexes that exist.
        columns: The columns of each of the store's tables that exist, by table.
        versions: The versions ``<prefix>migrations`` records.
    """

    names: frozenset[str]
    columns: dict[str, frozenset[str]]
    versions: frozenset[int]

    def version(self, sql: Statements) -> int:
        """The version the tables are at: 0 (none), 1 (an earlier release's), 2."""
        progress = self.columns.get(sql.progress)
        ledger = self.columns.get(sql.ledger)
        if progress is None and ledger is None:
            return 0
        if progress is None or ledger is None:
            return 1
        current = set(LEVER_COLUMN_TYPES) <= progress and "events" in ledger
        return SCHEMA_VERSION if current else 1


def inspect(conn: sqlite3.Connection, sql: Statements) -> Found:
    """Read what the file holds (no lock: a plain read)."""
    names = {
        str(name)
        for (name,) in execute(
            conn,
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')",
            doing="inspect the schema",
        ).fetchall()
    }
    columns: dict[str, frozenset[str]] = {}
    for table in (sql.progress, sql.ledger, sql.request_keys, sql.migrations):
        if table in names:
            rows = execute(conn, f'PRAGMA table_info("{table}")', doing="inspect the schema")
            columns[table] = frozenset(str(row[1]) for row in rows.fetchall())
    versions: frozenset[int] = frozenset()
    if sql.migrations in names:
        recorded = execute(
            conn, f'SELECT version FROM "{sql.migrations}"', doing="inspect the schema"
        ).fetchall()
        versions = frozenset(int(v) for (v,) in recorded if isinstance(v, int))
    return Found(frozenset(names), columns, versions)


def plan(found: Found, sql: Statements, *, migrate: bool) -> list[str]:
    """The statements that create what is missing and, with ``migrate``, add the columns of
    the current version to older tables; with the versions reached recorded. ``[]``: none."""
    tables: list[str] = []
    alters: list[str] = []
    indexes: list[str] = []
    progress = found.columns.get(sql.progress)
    ledger = found.columns.get(sql.ledger)
    for name, statement in sql.creates.items():
        if name in found.names:
            continue
        older_ledger = ledger is not None and "events" not in ledger
        if name == f"{sql.ledger}_feed" and older_ledger and not migrate:
            continue  # an older ledger gets the feed's index with its events column
        is_table = statement.lstrip().startswith("CREATE TABLE")
        one_line = " ".join(statement.split()).replace("( ", "(").replace(" )", ")")
        (tables if is_table else indexes).append(one_line)
    if ledger is not None:
        for column, kind in ADDED_LEDGER_COLUMNS.items():
            if column not in ledger:
                alters.append(sql.add_column.format(sql.ledger, column, kind))
        if migrate and "events" not in ledger:
            alters.append(sql.add_column.format(sql.ledger, "events", "TEXT"))
    if migrate and progress is not None:
        alters += [
            sql.add_column.format(sql.progress, column, kind)
            for column, kind in LEVER_COLUMN_TYPES.items()
            if column not in progress
        ]
    reached = 1
    if migrate or (
        (progress is None or set(LEVER_COLUMN_TYPES) <= progress)
        and (ledger is None or "events" in ledger)
    ):
        reached = SCHEMA_VERSION
    stamps = [
        sql.stamp.format(version, SCHEMA_VERSIONS[version])
        for version in range(1, reached + 1)
        if version not in found.versions
    ]
    statements = tables + alters + indexes
    # Versions are recorded when anything changes (or was never recorded for tables there).
    return statements + stamps if statements or stamps else []


def report(conn: sqlite3.Connection, sql: Statements) -> SchemaReport:
    """The tables, columns and unique indexes missing, and the version the tables are at."""
    found = inspect(conn, sql)
    missing_tables: list[str] = []
    missing_columns: list[str] = []
    missing_indexes: list[str] = []
    expected = {
        sql.progress: (PROGRESS_COLUMNS, PROGRESS_KEYS),
        sql.ledger: (LEDGER_COLUMNS, LEDGER_KEYS),
        sql.request_keys: (KEY_COLUMNS, REQUEST_KEYS),
        sql.migrations: (MIGRATION_COLUMNS, ()),
    }
    for table, (columns, keys) in expected.items():
        present = found.columns.get(table)
        if present is None:
            missing_tables.append(table)
            continue
        missing_columns += [f"{table}.{c}" for c in columns if c not in present]
        unique = _unique_column_sets(conn, table)
        missing_indexes += [
            f"{table} ({', '.join(key)})" for key in keys if frozenset(key) not in unique
        ]
    return SchemaReport(
        tuple(missing_tables),
        tuple(missing_columns),
        tuple(missing_indexes),
        schema_version=found.version(sql),
    )


def _unique_column_sets(conn: sqlite3.Connection, table: str) -> set[frozenset[str]]:
    """The column sets of ``table``'s unique indexes (its primary key included)."""
    found: set[frozenset[str]] = set()
    indexes = execute(conn, f'PRAGMA index_list("{table}")', doing="inspect the schema")
    for _, name, unique, *_rest in indexes.fetchall():
        if unique:
            info = execute(conn, f'PRAGMA index_info("{name}")', doing="inspect the schema")
            found.add(frozenset(str(row[2]) for row in info.fetchall()))
    return found

"""What the sync and async SQLAlchemy stores share besides their plans: the checks of
their options, and the small answers that need no database."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any

from ..core.state import ProgressState
from ..errors import InvalidArgumentError
from ..stores._postgres_ids import IdType
from ..stores.base import SCHEMA_VERSION
from ._plans import DIALECTS, Layout
from .schema import Tables, progression_tables

__all__ = ["Options", "stored_form"]


@dataclass
class Options:
    """A store's layout, checked against its engine's dialect."""

    layout: Layout

    @classmethod
    def build(
        cls,
        dialect: str,
        schema: str | None,
        table_prefix: str,
        users_table: str | None,
        id_column: str,
        tables: Any,
    ) -> Options:
        if dialect not in DIALECTS:
            raise InvalidArgumentError(
                "engine", "an engine of PostgreSQL or SQLite (the dialects it can lock on)", dialect
            )
        if tables is None:
            tables = progression_tables(
                schema=schema,
                table_prefix=table_prefix,
                users_table=users_table,
                id_column=id_column,
            )
        elif not isinstance(tables, Tables):
            raise InvalidArgumentError("tables", "a Tables from progression_tables()", tables)
        if tables.users is not None and dialect != "postgresql":
            raise InvalidArgumentError(
                "users_table",
                "None on SQLite: in place runs on PostgreSQL only (the row's xmin is the "
                "version of a table that has no version column)",
                users_table,
            )
        return cls(Layout(tables))

    def id_type_found(self, id_type: IdType) -> None:
        self.layout = replace(self.layout, id_type=id_type)

    def schema_found(self, version: int) -> bool:
        """Use the plans of the schema version the tables are at (a store on tables of
        version 1 reads and writes what they hold); whether they are current."""
        current = version in (0, SCHEMA_VERSION)
        if current != self.layout.levers:
            self.layout = replace(self.layout, levers=current)
        return current

    def describe(self) -> str:
        t = self.layout.tables
        if t.users is not None:
            return f"users_table={t.users.fullname!r}"
        return f"own tables ({t.ledger.fullname.removesuffix('ledger')}*)"


def stored_form(layout: Layout, state: ProgressState) -> ProgressState:
    """``state`` as a store reads it back after writing it: in place, ``last_chat_date``
    is the platform's ``DATE`` (midnight UTC of its UTC day); otherwise as written."""
    chat = state.last_chat_date
    if not layout.in_place or chat is None:
        return state
    day = chat.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return replace(state, last_chat_date=day)

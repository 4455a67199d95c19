"""Citus: the library's own tables spread over a cluster, and what the store checks there.

Nothing here does I/O: the stores ask :data:`PLACEMENTS` when the ``citus`` extension is
installed (:data:`~._postgres_schema.INSPECT` says whether it is), and run what
:func:`distribute` lists after creating the tables. The layout, with own tables:

- ``<prefix>state`` and ``<prefix>ledger`` are distributed by ``user_id`` and co-located:
  one user's state row and ledger rows live in shards of the same worker, so the award's
  single statement (the version-checked ``UPDATE`` with its ledger ``INSERT`` in one CTE)
  is routed to that worker whole, and stays one local transaction there.
- ``<prefix>request_keys`` is distributed by ``key``: a claim reads and writes one
  ``(scope, key)`` row and never joins the other tables, so it needs no co-location, and
  ``key`` (unlike the caller's ``scope``, often one gateway) spreads the claims evenly.
- ``<prefix>migrations`` is a reference table (a copy on every node): a handful of rows,
  written by schema changes only, readable wherever the store connects.

Every unique key the store relies on already holds its table's distribution column
(Citus enforces uniqueness per shard only): ``state (user_id)``, ``ledger (user_id, seq)``,
``ledger (user_id, kind, key)`` and ``request_keys (scope, key)``; no constraint changes.

On a distributed state table the version token must be ``"counter"`` (:func:`refuse_xmin`):
a row's ``xmin`` is then a transaction id of the worker holding its shard. Each node counts
its own, and moving a shard rewrites its rows under the new node's ids, so a token read
before a move could equal an unrelated write's after it. In place (``users_table``) the
store leaves the platform's table as it is and checks nothing of Citus.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from psycopg import sql

from ..errors import InvalidArgumentError
from ._postgres_sql import Names, render
from .base import SchemaReport

__all__ = [
    "MULTI_SHARD_SEQUENTIAL",
    "PLACEMENTS",
    "Placement",
    "distribute",
    "distribution_problems",
    "placements",
    "refuse_xmin",
    "tables",
    "with_placements",
]

PLACEMENTS = render(
    sql.SQL(
        "SELECT t.name, CASE WHEN p.partmethod = 'h' THEN 'distributed' "
        "WHEN p.repmodel = 't' THEN 'reference' ELSE 'local' END, "
        "CASE WHEN p.partkey IS NULL THEN NULL "
        "ELSE column_to_column_name(p.logicalrelid, p.partkey) END, p.colocationid "
        "FROM unnest(%s::text[]) AS t (name) "
        "JOIN pg_catalog.pg_dist_partition AS p ON p.logicalrelid = to_regclass(t.name)"
    )
)
"""How Citus holds each of the given tables (run only where the extension is installed):
``(regclass text, 'distributed' | 'reference' | 'local', distribution column,
co-location group)``; a table Citus does not know has no row."""

MULTI_SHARD_SEQUENTIAL = "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"
"""Run first in the transaction that distributes tables: Citus then does the DDL and the
writes that follow it (the reference table's version rows) over one connection per node,
so that one transaction can create, distribute and fill tables."""

Kind = Literal["distributed", "reference", "local"]


@dataclass(frozen=True, slots=True)
class Placement:
    """How Citus holds one table.

    Attributes:
        kind: ``"distributed"`` (hash-distributed shards), ``"reference"`` (a copy on
            every node) or ``"local"`` (a table on the coordinator Citus tracks).
        column: The distribution column (``None`` but for distributed tables).
        colocation: The co-location group: tables of one group keep equal distribution
            values on the same worker.
    """

    kind: Kind
    column: str | None
    colocation: int


def placements(rows: Sequence[Sequence[Any]]) -> dict[str, Placement]:
    """The placements of :data:`PLACEMENTS`'s rows, by regclass text."""
    return {
        str(name): Placement(kind, None if column is None else str(column), int(group))
        for name, kind, column, group in rows
    }


@dataclass(frozen=True, slots=True)
class _Wanted:
    regclass: str
    label: str
    kind: Kind
    column: str | None


def _wanted(names: Names) -> list[_Wanted]:
    """The placement each own table should have, state first (the co-location anchor)."""
    prefix = names.prefix
    return [
        _Wanted(render(names.state), names.label(f"{prefix}state"), "distributed", "user_id"),
        _Wanted(render(names.ledger), names.label(f"{prefix}ledger"), "distributed", "user_id"),
        _Wanted(
            render(names.request_keys),
            names.label(f"{prefix}request_keys"),
            "distributed",
            "key",
        ),
        _Wanted(render(names.migrations), names.label(f"{prefix}migrations"), "reference", None),
    ]


def tables(names: Names) -> list[str]:
    """The regclass texts :data:`PLACEMENTS` is asked about (own tables; none in place)."""
    return [] if names.users is not None else [w.regclass for w in _wanted(names)]


def distribute(names: Names, citus: bool, found: Mapping[str, Placement]) -> list[str]:
    """The calls that give the own tables their placement (run after creating them, in the
    transaction that created them, after :data:`MULTI_SHARD_SEQUENTIAL`). A table placed
    otherwise already (a distributed table on another column, say) is left as it is:
    :func:`distribution_problems` reports it, and ``alter_distributed_table`` mends it.

    Raises:
        InvalidArgumentError: in place, or the database has no ``citus`` extension.
    """
    if names.users is not None:
        raise InvalidArgumentError(
            "distributed",
            "False in place: the platform's users table is placed by the platform, and the "
            "in-place version token (xmin) does not work on distributed tables",
            True,
        )
    if not citus:
        raise InvalidArgumentError(
            "distributed",
            "False on a database without the citus extension (CREATE EXTENSION citus on the "
            "coordinator, with its workers added, distributes the tables)",
            True,
        )
    calls: list[str] = []
    state = render(names.state)
    for wanted in _wanted(names):
        if wanted.regclass in found:
            continue
        table = sql.Literal(wanted.regclass)
        if wanted.kind == "reference":
            call = sql.SQL("SELECT create_reference_table({})").format(table)
        elif wanted.regclass == render(names.ledger):
            call = sql.SQL("SELECT create_distributed_table({}, {}, colocate_with => {})").format(
                table, sql.Literal(wanted.column), sql.Literal(state)
            )
        else:
            call = sql.SQL("SELECT create_distributed_table({}, {})").format(
                table, sql.Literal(wanted.column)
            )
        calls.append(render(call))
    return calls


def distribution_problems(
    names: Names, existing: frozenset[str] | set[str], found: Mapping[str, Placement]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(not distributed, not co-located)``: the existing own tables Citus does not hold as
    the layout says, as ``"table (what it should be)"``; the ledger if its group is not the
    state's."""
    if names.users is not None:
        return (), ()
    misplaced: list[str] = []
    groups: dict[str, int] = {}
    for wanted in _wanted(names):
        if wanted.regclass not in existing:
            continue  # reported missing
        placement = found.get(wanted.regclass)
        if placement is None or (placement.kind, placement.column) != (wanted.kind, wanted.column):
            what = (
                "a reference table"
                if wanted.kind == "reference"
                else f"distributed by {wanted.column}"
            )
            misplaced.append(f"{wanted.label} ({what})")
        elif wanted.kind == "distributed":
            groups[wanted.regclass] = placement.colocation
    state, ledger = render(names.state), render(names.ledger)
    apart: list[str] = []
    if state in groups and ledger in groups and groups[state] != groups[ledger]:
        prefix = names.prefix
        apart.append(
            f"{names.label(f'{prefix}ledger')} (co-located with {names.label(f'{prefix}state')})"
        )
    return tuple(misplaced), tuple(apart)


def with_placements(
    report: SchemaReport,
    names: Names,
    *,
    citus: bool,
    columns: Collection[str],
    placements: Mapping[str, Placement],
) -> SchemaReport:
    """``report`` with what :func:`distribution_problems` finds in the tables an
    inspection found (``columns``: their regclasses; nothing without Citus)."""
    if not citus:
        return report
    misplaced, apart = distribution_problems(names, set(columns), placements)
    return replace(report, not_distributed=misplaced, not_colocated=apart)


def refuse_xmin(
    names: Names, token: str, found: Mapping[str, Placement], *, distributing: bool = False
) -> None:
    """Refuse ``version_token="xmin"`` on a distributed state table (or one about to be).

    Raises:
        InvalidArgumentError: the state table is (``distributing``: is to be) distributed
            and the token is ``"xmin"``.
    """
    if token != "xmin" or names.users is not None:
        return
    placement = found.get(render(names.state))
    distributed = placement is not None and placement.kind == "distributed"
    if distributing or distributed:
        state = names.label(names.prefix + "state")
        raise InvalidArgumentError(
            "version_token",
            f"'counter' on Citus: {state} is {'' if distributed else 'to be '}distributed, and "
            "there a row's xmin is a transaction id of whichever worker holds its shard "
            "(each node counts its own, and moving a shard rewrites its rows under another "
            "node's ids), so it cannot be the version (open the store with "
            "version_token='counter')",
            token,
        )

"""mikoshi-progression: the ledger's reason column and the 'adjust' kind.

Revision ID: mikoshi_0002
Revises: mikoshi_0001

Upgrade: ``<prefix>ledger`` gains a nullable ``reason text``, and its kind ``CHECK``
admits ``'adjust'``: ``kind IN ('import', 'day', 'award', 'revoke', 'adjust')``. The
``CHECK`` on ``kind`` is found by its column, whatever its name (PostgreSQL names an
unnamed one ``<table>_kind_check``, cut to 63 bytes), dropped, and added again as
``<prefix>ledger_kinds``, as a fresh ``create_schema()`` of the release with this change
creates it. Adding it
reads the ledger once under the ``ALTER TABLE`` lock.

Downgrade **refuses** while the ledger holds a row of kind ``'adjust'``: such a row cannot
satisfy the older ``CHECK``, and deleting it would break the user's ledger (its ``seq``
numbers and ``state_after`` chain). Deal with those rows yourself first (see
docs/migrations.md). Otherwise it restores the older ``CHECK`` and drops ``reason``,
with the reasons recorded since.
"""

from __future__ import annotations

from collections.abc import Sequence

from mikoshi_progression.sqlalchemy.migrations._options import (
    MigrationOptions,
    current_options,
    do_block,
    execute,
    literal,
)

revision: str = "mikoshi_0002"
down_revision: str | Sequence[str] | None = "mikoshi_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _drop_kind_checks(o: MigrationOptions) -> str:
    """PL/pgSQL: drop every CHECK constraint of the ledger on ``kind`` alone."""
    ledger = literal(o.table("ledger"))
    drop = literal(f"ALTER TABLE {o.table('ledger')} DROP CONSTRAINT ")
    return (
        "FOR c IN SELECT conname FROM pg_constraint "
        f"WHERE conrelid = to_regclass({ledger}) AND contype = 'c' "
        "AND conkey = ARRAY[(SELECT attnum FROM pg_attribute "
        f"WHERE attrelid = to_regclass({ledger}) AND attname = 'kind')]::int2[] LOOP\n"
        f"    EXECUTE {drop} || quote_ident(c.conname);\n"
        "END LOOP;"
    )


def upgrade() -> None:
    o = current_options()
    execute(f"ALTER TABLE {o.table('ledger')} ADD COLUMN reason text")
    execute(do_block(_drop_kind_checks(o), declare="c record;"))
    # Named as create_schema() names it since the 'adjust' kind: <prefix>ledger_kinds.
    execute(
        f"ALTER TABLE {o.table('ledger')} ADD CONSTRAINT {o.index('ledger_kinds')} "
        "CHECK (kind IN ('import', 'day', 'award', 'revoke', 'adjust'))"
    )


def downgrade() -> None:
    o = current_options()
    ledger = o.table("ledger")
    message = literal(
        f"mikoshi_progression: cannot downgrade below mikoshi_0002: the ledger {ledger} holds "
    )
    rest = literal(
        " row(s) of kind 'adjust', which the older CHECK does not admit; the downgrade "
        "never deletes ledger rows"
    )
    hint = literal(
        "Export and delete those rows yourself if you really mean to (see "
        "docs/migrations.md of mikoshi-progression), then downgrade again."
    )
    refuse = (
        f"SELECT count(*) INTO adjusting FROM {ledger} WHERE kind = 'adjust';\n"
        "IF adjusting > 0 THEN\n"
        f"    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = {message} "
        f"|| adjusting || {rest}, HINT = {hint};\n"
        "END IF;\n"
    )
    execute(do_block(refuse + _drop_kind_checks(o), declare="c record;\nadjusting bigint;"))
    execute(f"ALTER TABLE {ledger} ADD CHECK (kind IN ('import', 'day', 'award', 'revoke'))")
    execute(f"ALTER TABLE {ledger} DROP COLUMN reason")

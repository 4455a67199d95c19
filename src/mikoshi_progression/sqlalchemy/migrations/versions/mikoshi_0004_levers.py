"""mikoshi-progression: the designer levers' columns, the ledger's events, the 'timezone' kind.

Revision ID: mikoshi_0004
Revises: mikoshi_0003

Upgrade, as ``PostgresStore.migrate()`` of this release does it (schema version 2):

- own tables: ``<prefix>state`` gains ``timezone text``, ``day_extended_until
  timestamptz``, ``streak``, ``best_streak``, ``streak_freezes`` (``bigint NOT NULL
  DEFAULT 0``), ``last_streak_day date``, ``milestones jsonb NOT NULL DEFAULT '[]'`` and
  ``lifetime_counts jsonb NOT NULL DEFAULT '{}'`` (every row reads as "no lever yet");
- in place with ``add_users_columns``: ``users_table`` gains those of them it lacks
  (nullable, with the same defaults), each marked with a comment for the downgrade;
  without the option ``users`` is not touched, and a store there keeps schema version 1
  (it refuses to keep a lever, naming ``schema migrate``);
- ``<prefix>ledger`` gains ``events jsonb`` and ``txid bigint`` (the events feed's
  order), the partial index ``<prefix>ledger_feed``, and its kind ``CHECK`` admits
  ``'timezone'`` (replaced ``NOT VALID``, then validated: writes go on meanwhile);
- ``<prefix>migrations`` records versions 1 and 2, as the store's own ``migrate`` does.

What is there already is left as it is (``IF NOT EXISTS``): tables a store of this
release created or migrated, stamped at an older revision, upgrade cleanly.

Downgrade **refuses** while the ledger holds a row of kind ``'timezone'`` (the older
``CHECK`` cannot admit it; deleting it would break that user's ledger). Otherwise it
drops what the upgrade added, with the values kept in it since (time zones, streaks,
milestones, events).
"""

from __future__ import annotations

from collections.abc import Sequence

from mikoshi_progression.sqlalchemy.migrations._options import (
    MigrationOptions,
    current_options,
    do_block,
    execute,
    literal,
    quote,
)

revision: str = "mikoshi_0004"
down_revision: str | Sequence[str] | None = "mikoshi_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MARK = "Added by mikoshi-progression (Alembic revision mikoshi_0004); its downgrade drops it."
"""The comment on each ``users`` column this revision added: its downgrade drops those."""

STATE_COLUMNS = (
    ("timezone", "text"),
    ("day_extended_until", "timestamptz"),
    ("streak", "bigint NOT NULL DEFAULT 0"),
    ("best_streak", "bigint NOT NULL DEFAULT 0"),
    ("last_streak_day", "date"),
    ("streak_freezes", "bigint NOT NULL DEFAULT 0"),
    ("milestones", "jsonb NOT NULL DEFAULT '[]'"),
    ("lifetime_counts", "jsonb NOT NULL DEFAULT '{}'"),
)
"""The levers' columns of the own state table, frozen here."""
USERS_COLUMNS = tuple((c, t.replace(" NOT NULL", "")) for c, t in STATE_COLUMNS)
"""The same in place on ``users``: nullable, with the defaults."""
KINDS = "('import', 'day', 'award', 'revoke', 'adjust', 'timezone')"
OLD_KINDS = "('import', 'day', 'award', 'revoke', 'adjust')"
VERSIONS = (
    (1, "the tables of the releases before the designer levers"),
    (2, "designer levers: time zone, streak, milestone and lifetime columns; ledger events"),
)


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
    ledger = o.table("ledger")
    if not o.in_place:
        adds = ", ".join(f"ADD COLUMN IF NOT EXISTS {quote(c)} {t}" for c, t in STATE_COLUMNS)
        execute(f"ALTER TABLE {o.table('state')} {adds}")
    elif o.add_users_columns:
        users, name = o.users, literal(o.users)
        body = []
        for column, declaration in USERS_COLUMNS:
            body.append(
                "IF NOT EXISTS (SELECT FROM pg_attribute "
                f"WHERE attrelid = to_regclass({name}) AND attname = {literal(column)} "
                "AND attnum > 0 AND NOT attisdropped) THEN\n"
                f"    ALTER TABLE {users} ADD COLUMN {quote(column)} {declaration};\n"
                f"    COMMENT ON COLUMN {users}.{quote(column)} IS {literal(MARK)};\n"
                "END IF;"
            )
        execute(do_block("\n".join(body)))
    execute(
        f"ALTER TABLE {ledger} ADD COLUMN IF NOT EXISTS events jsonb, "
        "ADD COLUMN IF NOT EXISTS txid bigint"
    )
    execute(do_block(_drop_kind_checks(o), declare="c record;"))
    execute(
        f"ALTER TABLE {ledger} ADD CONSTRAINT {o.index('ledger_kinds')} "
        f"CHECK (kind IN {KINDS}) NOT VALID"
    )
    execute(f"ALTER TABLE {ledger} VALIDATE CONSTRAINT {o.index('ledger_kinds')}")
    execute(
        f"CREATE INDEX IF NOT EXISTS {o.index('ledger_feed')} ON {ledger} (txid, user_id, seq) "
        "WHERE events IS NOT NULL AND txid IS NOT NULL"
    )
    execute(
        f"CREATE TABLE IF NOT EXISTS {o.table('migrations')} ("
        "version integer PRIMARY KEY, "
        "description text NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    values = ", ".join(f"({v}, {literal(d)}, now())" for v, d in VERSIONS)
    execute(
        f"INSERT INTO {o.table('migrations')} (version, description, applied_at) "
        f"VALUES {values} ON CONFLICT (version) DO NOTHING"
    )


def downgrade() -> None:
    o = current_options()
    ledger = o.table("ledger")
    message = literal(
        f"mikoshi_progression: cannot downgrade below mikoshi_0004: the ledger {ledger} holds "
    )
    rest = literal(
        " row(s) of kind 'timezone', which the older CHECK does not admit; the downgrade "
        "never deletes ledger rows"
    )
    hint = literal(
        "Export and delete those rows yourself if you really mean to (see "
        "docs/migrations.md of mikoshi-progression), then downgrade again."
    )
    refuse = (
        f"SELECT count(*) INTO moved FROM {ledger} WHERE kind = 'timezone';\n"
        "IF moved > 0 THEN\n"
        f"    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = {message} "
        f"|| moved || {rest}, HINT = {hint};\n"
        "END IF;\n"
    )
    execute(do_block(refuse + _drop_kind_checks(o), declare="c record;\nmoved bigint;"))
    execute(
        f"ALTER TABLE {ledger} ADD CONSTRAINT {o.index('ledger_kinds')} CHECK (kind IN {OLD_KINDS})"
    )
    execute(f"DROP TABLE {o.table('migrations')}")
    schema = f"{quote(o.schema)}." if o.schema is not None else ""
    execute(f"DROP INDEX {schema}{o.index('ledger_feed')}")
    execute(f"ALTER TABLE {ledger} DROP COLUMN events, DROP COLUMN txid")
    if not o.in_place:
        drops = ", ".join(f"DROP COLUMN {quote(c)}" for c, _ in STATE_COLUMNS)
        execute(f"ALTER TABLE {o.table('state')} {drops}")
        return
    name = literal(o.users)
    drop = literal(f"ALTER TABLE {o.users} DROP COLUMN ")
    execute(
        do_block(
            "FOR c IN SELECT attname FROM pg_attribute "
            f"WHERE attrelid = to_regclass({name}) AND attnum > 0 AND NOT attisdropped "
            f"AND col_description(attrelid, attnum) = {literal(MARK)} LOOP\n"
            f"    EXECUTE {drop} || quote_ident(c.attname);\n"
            "END LOOP;",
            declare="c record;",
        )
    )

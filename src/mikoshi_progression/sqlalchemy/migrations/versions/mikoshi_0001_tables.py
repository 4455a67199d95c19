"""mikoshi-progression: the ledger, request keys and (own tables) state tables.

Revision ID: mikoshi_0001
Revises:

The tables exactly as ``PostgresStore.create_schema()`` of release 0.1.0 creates them
(ledger with ``actor`` and ``target``), frozen here: own tables ``<prefix>state`` (with
its ``<prefix>state_day`` index), ``<prefix>ledger`` (primary key ``(user_id, seq)``,
unique ``<prefix>ledger_key`` on ``(user_id, kind, key)`` where ``key`` is set, the kind
``CHECK``) and ``<prefix>request_keys``; in place (``users_table`` set), no state table:
the platform's ``users`` rows carry the state, and ``users`` is not touched.

Downgrade drops these tables with their rows; the schema stays.
"""

from __future__ import annotations

from collections.abc import Sequence

from mikoshi_progression.sqlalchemy.migrations._options import current_options, execute, quote

revision: str = "mikoshi_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("mikoshi_progression",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    o = current_options()
    if o.schema is not None:
        execute(f"CREATE SCHEMA IF NOT EXISTS {quote(o.schema)}")
    if not o.in_place:
        execute(
            f"CREATE TABLE {o.table('state')} ("
            "user_id text PRIMARY KEY, "
            "level integer NOT NULL DEFAULT 1, "
            "exp bigint NOT NULL DEFAULT 0, "
            "last_chat_date timestamptz, "
            "daily_exp_gained bigint NOT NULL DEFAULT 0, "
            "last_exp_reset_date timestamptz, "
            "daily_action_counts jsonb NOT NULL DEFAULT '{}', "
            "version bigint NOT NULL DEFAULT 1, "
            "seq bigint NOT NULL DEFAULT 0)"
        )
        execute(f"CREATE INDEX {o.index('state_day')} ON {o.table('state')} (last_exp_reset_date)")
    execute(
        f"CREATE TABLE {o.table('ledger')} ("
        "user_id text NOT NULL, "
        "seq bigint NOT NULL, "
        "kind text NOT NULL CHECK (kind IN ('import', 'day', 'award', 'revoke')), "
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
        "PRIMARY KEY (user_id, seq))"
    )
    execute(
        f"CREATE TABLE {o.table('request_keys')} ("
        "scope text NOT NULL, "
        "key text NOT NULL, "
        "request text NOT NULL, "
        "at timestamptz NOT NULL, "
        "PRIMARY KEY (scope, key))"
    )
    execute(
        f"CREATE UNIQUE INDEX {o.index('ledger_key')} ON {o.table('ledger')} (user_id, kind, key) "
        "WHERE key IS NOT NULL"
    )


def downgrade() -> None:
    o = current_options()
    execute(f"DROP TABLE {o.table('request_keys')}")
    execute(f"DROP TABLE {o.table('ledger')}")
    if not o.in_place:
        execute(f"DROP TABLE {o.table('state')}")

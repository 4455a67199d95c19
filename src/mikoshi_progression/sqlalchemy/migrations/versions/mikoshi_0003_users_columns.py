"""mikoshi-progression: in place, the progression columns a users table lacks (opt-in).

Revision ID: mikoshi_0003
Revises: mikoshi_0002

Does something only in place with ``mikoshi_progression.add_users_columns = true``;
otherwise it is empty (and the platform's ``users`` is never altered). Then it adds to
``users_table`` each of the columns the platform's own migrations create that the table
lacks, with the platform's types and defaults (``level integer DEFAULT 1``, ``exp
integer DEFAULT 0``, ``last_chat_date date``, ``daily_exp_gained integer DEFAULT 0``,
``last_exp_reset_date timestamptz``, ``daily_action_counts jsonb DEFAULT '{}'``), and
marks each column it added with a comment. Columns already there are left as they are.
The table must exist: it is the team's, created by its own history.

Downgrade drops the columns of ``users_table`` that carry this revision's comment, with
their values, and nothing else (whatever ``add_users_columns`` says by then).
"""

from __future__ import annotations

from collections.abc import Sequence

from mikoshi_progression.sqlalchemy.migrations._options import (
    current_options,
    do_block,
    execute,
    literal,
    quote,
)

revision: str = "mikoshi_0003"
down_revision: str | Sequence[str] | None = "mikoshi_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MARK = "Added by mikoshi-progression (Alembic revision mikoshi_0003); its downgrade drops it."
"""The comment on each column this revision added: its downgrade drops exactly those."""

COLUMNS = (
    ("level", "integer DEFAULT 1"),
    ("exp", "integer DEFAULT 0"),
    ("last_chat_date", "date"),
    ("daily_exp_gained", "integer DEFAULT 0"),
    ("last_exp_reset_date", "timestamptz"),
    ("daily_action_counts", "jsonb DEFAULT '{}'"),
)
"""The platform's progression columns of ``users``, as its migration guide lists them."""


def upgrade() -> None:
    o = current_options()
    if not (o.in_place and o.add_users_columns):
        return
    users, name = o.users, literal(o.users)
    missing = literal(
        f"mikoshi_progression: no table {o.users_table} (mikoshi_progression.users_table) to "
        "add the progression columns to"
    )
    hint = literal(
        "The users table is yours: upgrade to the revision of your own history that creates "
        "it first, then upgrade the mikoshi_progression branch."
    )
    body = [
        f"IF to_regclass({name}) IS NULL THEN\n"
        f"    RAISE EXCEPTION USING ERRCODE = 'undefined_table', MESSAGE = {missing}, "
        f"HINT = {hint};\n"
        "END IF;"
    ]
    for column, declaration in COLUMNS:
        body.append(
            "IF NOT EXISTS (SELECT FROM pg_attribute "
            f"WHERE attrelid = to_regclass({name}) AND attname = {literal(column)} "
            "AND attnum > 0 AND NOT attisdropped) THEN\n"
            f"    ALTER TABLE {users} ADD COLUMN {quote(column)} {declaration};\n"
            f"    COMMENT ON COLUMN {users}.{quote(column)} IS {literal(MARK)};\n"
            "END IF;"
        )
    execute(do_block("\n".join(body)))


def downgrade() -> None:
    o = current_options()
    if not o.in_place:
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

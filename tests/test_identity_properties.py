"""Property tests of identity: no spelling or type of an id lets one person award
themselves, and no spelling of a user or a key lets one key award twice.

One person is one store row. The in-memory and SQLite stores key rows by the id's
text, so there the only spellings of a person are the canonical string and what is not
a canonical string at all (an ``int``, a padded or NFD string...), which must be refused.
In place on an integer ``users.id``, PostgreSQL finds the same row for ``"5"``, ``"05"``
and ``"+5"``: every spelling but the canonical one must be refused there too.
"""

from __future__ import annotations

import itertools
import os
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mikoshi_progression import InvalidIdError, SelfAwardError
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import EntryKind, InMemoryStore, ProgressStore
from mikoshi_progression.stores.sqlite import SQLiteStore

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
_numbers = itertools.count(10_000)


class UserId(str):
    """A ``str`` subclass, as an app's ``NewType``-like id class would be."""


def _nfd_name(number: int) -> str:
    return unicodedata.normalize("NFD", f"jos\u00e9-{number}")


SPELLINGS: dict[str, Callable[[int], object]] = {
    "canonical": str,
    "int": int,
    "float": float,
    "bytes": lambda n: str(n).encode(),
    "zero-padded": lambda n: f"0{n}",
    "plus": lambda n: f"+{n}",
    "leading space": lambda n: f" {n}",
    "trailing space": lambda n: f"{n} ",
    "str subclass": lambda n: UserId(str(n)),
    "nfd": _nfd_name,
    "nfc": lambda n: unicodedata.normalize("NFC", _nfd_name(n)),
    "zero width": lambda n: f"{n}\u200b",
}
"""Ways a caller may spell person ``n``'s id (``nfd``/``nfc`` spell another person,
named José, in two Unicode forms)."""

KEY_SPELLINGS: dict[str, Callable[[str], object]] = {
    "same": lambda k: k,
    "padded": lambda k: f" {k}",
    "nfd": lambda k: unicodedata.normalize("NFD", k),
    "subclass": lambda k: UserId(k),
    "bytes": lambda k: k.encode(),
}

TEXT_ROWS = {"canonical", "str subclass", "zero-padded", "plus", "nfc"}
"""Spellings that are canonical strings: in a store keyed by text, each names a row of its
own ("05" is another user than "5" there); every other spelling must be refused."""
SAME_TEXT_ROW = sorted(set(SPELLINGS) - {"zero-padded", "plus"})
"""Spellings that a component might take for row ``str(n)`` of a text-keyed store (or,
for nfd/nfc, for José's row)."""

spelling = st.sampled_from(sorted(SPELLINGS))
key_spelling = st.sampled_from(sorted(KEY_SPELLINGS))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProgressStore]:
    made: ProgressStore = (
        InMemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "ids.db")
    )
    yield made
    made.close()


def _award(service: ProgressionService, *args: Any, **kwargs: Any) -> str:
    """``award``'s outcome as one word: ``"paid"``, ``"refused"`` (a rule), or the error."""
    try:
        result = service.award(*args, **kwargs)
    except InvalidIdError:
        return "invalid id"
    except SelfAwardError:
        return "self award"
    return "paid" if result.success else "refused"


def _row_ids(number: int) -> set[str]:
    """Every row a text-keyed store may hold for the spellings of ``number``."""
    return {str(SPELLINGS[name](number)) for name in TEXT_ROWS}


PROPERTY = settings(  # as many examples as the profile says (more in CI)
    deadline=None,
    database=None,
    # One store serves every example: each example uses a person of its own.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@PROPERTY
@given(
    recipient=st.sampled_from(SAME_TEXT_ROW),
    actor=st.sampled_from(SAME_TEXT_ROW),
    action=st.sampled_from(["character_liked", "forked", "paid_char_sold"]),
)
def test_no_spelling_lets_a_person_award_themselves(store, recipient, actor, action):
    """Whatever two spellings of one person are passed as recipient and actor of a creator
    award, nothing is paid."""
    number = next(_numbers)
    if (recipient in ("nfd", "nfc")) != (actor in ("nfd", "nfc")):
        actor = recipient  # the two names are two people: keep one person
    service = ProgressionService(store, clock=lambda: NOW)
    outcome = _award(
        service, SPELLINGS[recipient](number), action, actor_id=SPELLINGS[actor](number)
    )
    assert outcome in ("invalid id", "self award"), (recipient, actor, outcome)
    for user_id in _row_ids(number):
        assert service.ledger(user_id) == []


@PROPERTY
@given(
    calls=st.lists(st.tuples(spelling, key_spelling), min_size=1, max_size=8),
    action=st.sampled_from(["create_scene", "character_liked"]),
)
def test_no_spelling_lets_one_key_award_twice(store, calls, action):
    """However the user and the key are spelled, call after call, each stored user is paid
    at most once for one key, and only canonical strings are ever paid."""
    number = next(_numbers)
    service = ProgressionService(store, clock=lambda: NOW)
    actor = "a-fan" if action == "character_liked" else None
    for user_spelling, key_form in calls:
        user = SPELLINGS[user_spelling](number)
        outcome = _award(
            service, user, action, key=KEY_SPELLINGS[key_form]("req-\u00e9"), actor_id=actor
        )
        if outcome == "paid":
            assert user_spelling in TEXT_ROWS, (user_spelling, key_form)
            assert key_form in ("same", "subclass"), key_form
    for user_id in _row_ids(number):
        awards = [e for e in service.ledger(user_id) if e.kind is EntryKind.AWARD]
        assert len(awards) <= 1, awards
        assert all(e.key == "req-\u00e9" for e in awards)


# --- in place on an integer users.id (PostgreSQL) -----------------------------------------


@pytest.fixture(scope="module")
def integer_members() -> Iterator[tuple[str, str, Any]]:
    """A platform table ``members`` with an integer id, in a fresh schema (PostgreSQL)."""
    if os.environ.get("CI"):
        import psycopg
    else:
        psycopg = pytest.importorskip("psycopg")
    from psycopg import sql

    dsn = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {dsn}")
    schema = f"mp_ids_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        admin.execute(
            sql.SQL(
                "CREATE TABLE {} (id integer PRIMARY KEY, level integer DEFAULT 1, "
                "exp integer DEFAULT 0, last_chat_date date, daily_exp_gained integer "
                "DEFAULT 0, last_exp_reset_date timestamptz, daily_action_counts jsonb "
                "DEFAULT '{{}}')"
            ).format(sql.Identifier(schema, "members"))
        )
        try:
            yield dsn, schema, admin
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.mark.postgres
def test_in_place_no_spelling_lets_one_key_award_twice(integer_members):
    """On an integer users.id, "5", "05", "+5" and 5 are one row: of any sequence of keyed
    awards and self-likes under any spellings, one award at most is paid, and never one
    to the creator's own like."""
    from psycopg import sql

    from mikoshi_progression.stores.postgres import PostgresStore

    dsn, schema, admin = integer_members
    store = PostgresStore(dsn, schema=schema, users_table=f"{schema}.members")
    service = ProgressionService(store, clock=lambda: NOW)
    numeric = [s for s in SPELLINGS if s not in ("nfd", "nfc")]

    @PROPERTY
    @given(
        calls=st.lists(st.tuples(st.sampled_from(numeric), key_spelling), min_size=1, max_size=6),
        actor=st.sampled_from(numeric),
    )
    def one_row_one_award(calls, actor):
        number = next(_numbers)
        admin.execute(
            sql.SQL("INSERT INTO {} (id) VALUES (%s)").format(sql.Identifier(schema, "members")),
            [number],
        )
        assert _award(
            service, str(number), "character_liked", actor_id=SPELLINGS[actor](number)
        ) in ("invalid id", "self award")
        paid = [
            _award(
                service, SPELLINGS[user](number), "create_scene", key=KEY_SPELLINGS[key]("req-1")
            )
            for user, key in calls
        ]
        awards = [e for e in service.ledger(str(number)) if e.kind is EntryKind.AWARD]
        assert len(awards) == min(1, paid.count("paid")), (calls, paid)
        assert [e.action for e in awards] in ([], ["create_scene"])
        assert service.replay(str(number)).matches

    try:
        one_row_one_award()
    finally:
        store.close()

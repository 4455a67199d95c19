"""The command-line tool's ``adjust``: an operator's grant, deduction, set balance or manual
reset, previewed (``--dry-run``), confirmed on a terminal or with ``--yes``, and recorded
in the ledger with the operator and the reason."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing, redirect_stderr, redirect_stdout
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mikoshi_progression import DEFAULT_CONFIG
from mikoshi_progression.cli import ExitCode, adjust, main
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import (
    ADJUSTED,
    MANUAL_RESET,
    SET,
    EntryKind,
    LedgerEntry,
    SQLiteStore,
    open_store,
)
from mikoshi_progression.testing.clock import FakeClock

NOW = datetime(2026, 3, 15, 10, 30, tzinfo=UTC)
"""When the tests' adjustments are made: the day after the store's first one."""

PG_DSN = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")

CHANGE = ("--reason", "goodwill: outage on 3/14", "--operator", "support-7")


# --- helpers -------------------------------------------------------------------------------


class Terminal(io.StringIO):
    """A stdin that says it is a terminal, holding the operator's typed answer."""

    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    """A stdin that is not a terminal (a script's pipe); reading it fails the test."""

    def isatty(self) -> bool:
        return False

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        raise AssertionError("adjust read a stdin that is not a terminal")


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's changes are made at NOW; stdin is a pipe unless a test says otherwise."""
    monkeypatch.setattr(adjust, "clock", lambda: NOW)
    monkeypatch.setattr(sys, "stdin", Pipe())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the tool in-process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, expected: int) -> None:
    assert code == expected, err
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("mikoshi-progression: error:")


def filled_store(tmp_path: Path) -> str:
    """A SQLite store where alice has 110 EXP (level 2) and 110 EXP gained on 2026-03-15."""
    path = tmp_path / "progress.db"
    clock = FakeClock(datetime(2026, 3, 15, 8, tzinfo=UTC))
    with SQLiteStore(path) as store:
        service = ProgressionService(store, clock=clock)
        for action in ("daily_chat", "create_character", "create_character", "create_scene"):
            clock.advance(timedelta(minutes=5))
            service.award("alice", action)
        service.award("alice", "create_persona", key="persona-1")
    return f"sqlite:///{path}"


def ledger(url: str, user: str = "alice") -> list[LedgerEntry]:
    with closing(open_store(url, create=False)) as store:
        return store.ledger(user)


def adjust_args(url: str, *change: str, user: str = "alice") -> list[str]:
    return ["adjust", user, *change, *CHANGE, "--store", url]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return filled_store(tmp_path)


# --- the preview -------------------------------------------------------------------------------


pytestmark = pytest.mark.sqlite


def test_dry_run_shows_the_change_and_writes_nothing(capsys, url, tmp_path):
    """--dry-run shows now and after (EXP, level, today's EXP/cap, counts) and writes nothing."""
    before = ledger(url)
    path = tmp_path / "progress.db"
    data = path.read_bytes()
    code, out, err = run(capsys, *adjust_args(url, "--delta", "200", "--dry-run"))
    assert code == 0, err
    assert err == ""
    assert "Adjustment of alice in " in out
    assert "Change: a grant of +200 EXP, by support-7" in out
    assert "Reason: goodwill: outage on 3/14" in out
    rows = {line.split("  ")[0]: line.split() for line in out.splitlines()}
    assert rows["EXP"][-2:] == ["110", "310"]
    assert rows["Level"][-4:] == ["2", "Creator", "3", "Advanced"]
    assert rows["Today's EXP"][-2:] == ["110/150", "110/300"]
    assert "create_character 2" in out
    assert "EXP +200: level up 2 -> 3." in out
    assert "an adjustment is not an action" in out
    assert out.rstrip().endswith("Dry run: nothing was written.")
    assert ledger(url) == before
    assert path.read_bytes() == data


def test_dry_run_json(capsys, url):
    """--dry-run --json: the states before and after, the caps and the change, as JSON."""
    code, out, err = run(
        capsys, *adjust_args(url, "--set-exp", "40", "--key", "fix-1", "--dry-run", "--json")
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["dry_run"] is True
    assert doc["user_id"] == "alice"
    assert doc["change"] == {
        "kind": "set_exp",
        "delta": None,
        "exp": 40,
        "reason": "goodwill: outage on 3/14",
        "operator": "support-7",
        "key": "fix-1",
    }
    assert (doc["before"]["exp"], doc["after"]["exp"], doc["exp_delta"]) == (110, 40, -70)
    assert (doc["before"]["level"], doc["after"]["level"]) == (2, 2)  # levels never drop
    assert doc["daily_exp_cap"] == {"before": 150, "after": 150}
    assert doc["config"]["fingerprint"] == DEFAULT_CONFIG.fingerprint
    assert (doc["ledger_entries"], doc["new_day"], doc["repeat_of"]) == (6, False, None)
    assert doc["at"] == NOW.isoformat()


def test_dry_run_level_policy_follows_the_config(capsys, url, tmp_path):
    """A deduction keeps the level by default; under levels_can_drop it lowers it."""
    code, out, _ = run(capsys, *adjust_args(url, "--delta", "-100", "--dry-run"))
    assert code == 0
    assert "10 EXP is level 1's, but levels never drop" in out
    assert "the user keeps level 2" in out
    dropping = tmp_path / "dropping.json"
    data = replace(DEFAULT_CONFIG, levels_can_drop=True).to_dict()
    dropping.write_text(json.dumps(data), encoding="utf-8")
    argv = adjust_args(url, "--delta", "-100", "--dry-run", "--config", str(dropping))
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "level down 2 -> 1 (levels_can_drop = true)" in out
    assert "decided under other rules" in out  # the ledger was made under the default rules
    code, out, _ = run(capsys, *argv, "--json")
    assert json.loads(out)["after"]["level"] == 1


def test_dry_run_of_a_manual_reset(capsys, url):
    """--reset-day previews today's EXP and counts zeroed, the day opened now."""
    code, out, err = run(capsys, *adjust_args(url, "--reset-day", "--dry-run", "--json"))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["change"]["kind"] == "reset_day"
    assert (doc["before"]["daily_exp_gained"], doc["after"]["daily_exp_gained"]) == (110, 0)
    assert doc["after"]["daily_action_counts"] == {}
    assert doc["after"]["last_exp_reset_date"] == NOW.isoformat()
    assert doc["after"]["exp"] == doc["before"]["exp"] == 110


def test_dry_run_flags_an_unknown_user_and_a_day_gone_by(capsys, url, monkeypatch):
    """A user the store has never seen is pointed out (a typo would create them); so is a
    stored day that has ended."""
    code, out, _ = run(capsys, *adjust_args(url, "--delta", "5", "--dry-run", user="alicee"))
    assert code == 0
    assert "alicee has no progression in" in out
    assert "check the user id" in out
    monkeypatch.setattr(adjust, "clock", lambda: NOW + timedelta(days=1))
    code, out, _ = run(capsys, *adjust_args(url, "--delta", "5", "--dry-run"))
    assert "A new day has begun since the stored one was opened" in out
    assert ledger(url, "alicee") == []


# --- confirming --------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["y\n", "Y\n", "yes\n", " YES \n"])
def test_confirmed_on_the_terminal_applies(capsys, url, monkeypatch, answer):
    """On a terminal the preview is followed by Apply? [y/N]; y or yes applies the change."""
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    code, out, err = run(capsys, *adjust_args(url, "--delta", "200"))
    assert code == 0, err
    preview, _, applied = out.partition("Apply? [y/N] ")
    assert "Change: a grant of +200 EXP" in preview
    assert applied.startswith("Applied: ledger entry #7 of alice")
    entry = ledger(url)[-1]
    assert (entry.kind, entry.outcome, entry.exp_delta) == (EntryKind.ADJUST, ADJUSTED, 200)
    assert (entry.actor, entry.reason, entry.at) == ("support-7", "goodwill: outage on 3/14", NOW)
    assert entry.state_after.exp == 310


@pytest.mark.parametrize("answer", ["n\n", "\n", "", "no\n", "yess\n", "y es\n"])
def test_anything_but_yes_aborts_and_writes_nothing(capsys, url, monkeypatch, answer):
    """Any other answer (or end of input) exits 1, and the ledger is unchanged."""
    before = ledger(url)
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    code, out, err = run(capsys, *adjust_args(url, "--delta", "200"))
    assert code == ExitCode.INVALID == 1
    assert "Apply? [y/N]" in out
    assert err == "mikoshi-progression: error: not confirmed: nothing was written\n"
    assert ledger(url) == before


def test_without_a_terminal_it_refuses_unless_yes(capsys, url, monkeypatch):
    """A pipe on stdin and no --yes: a usage error at once, nothing read, nothing written."""
    before = ledger(url)
    code, out, err = run(capsys, *adjust_args(url, "--delta", "200"))
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert "stdin is not a terminal" in err
    assert "--yes" in err
    monkeypatch.setattr(sys, "stdin", None)  # no stdin at all (a daemon)
    code, out, err = run(capsys, *adjust_args(url, "--delta", "200"))
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert ledger(url) == before


def test_a_change_landing_during_the_question_is_pointed_out(capsys, url, monkeypatch):
    """An award made while the operator reads the preview: the grant still applies, to the
    state as it is then, and the output says it differs from what was shown."""

    class Meanwhile(Terminal):
        def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
            with closing(open_store(url, create=False)) as store:
                ProgressionService(store, clock=lambda: NOW).award("alice", "create_persona")
            return "y\n"

    monkeypatch.setattr(sys, "stdin", Meanwhile())
    code, out, err = run(capsys, *adjust_args(url, "--delta", "200"))
    assert code == 0, err
    assert "EXP            +200 (125 -> 325)" in out
    assert out.rstrip().endswith("the entry above is what was applied.")
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    code, out, err = run(capsys, *adjust_args(url, "--delta", "1"))
    assert code == 0, err
    assert "Note:" not in out


def test_confirmation_with_json_keeps_stdout_for_the_entry(capsys, url, monkeypatch):
    """With --json the preview and question go to stderr; stdout is the entry's JSON."""
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    code, out, err = run(capsys, *adjust_args(url, "--delta", "-25", "--json"))
    assert code == 0, err
    assert "Apply? [y/N]" in err
    assert json.loads(out) == ledger(url)[-1].to_dict()


# --- applying ---------------------------------------------------------------------------------


def test_yes_applies_and_prints_the_entry(capsys, url):
    """--yes applies without asking and prints the entry written, seq included."""
    code, out, err = run(capsys, *adjust_args(url, "--delta", "-25", "--yes"))
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"Applied: ledger entry #7 of alice in {url}"
    fields = {line[:15].strip(): line[15:].strip() for line in lines[1:]}
    assert fields["At (UTC)"] == "2026-03-15 10:30:00"
    assert fields["Kind"] == "adjust (adjusted)"
    assert fields["EXP"] == "-25 (110 -> 85)"
    assert fields["Level"] == "2 -> 2"
    assert fields["Today's EXP"] == "110/150"
    assert (fields["Operator"], fields["Reason"]) == ("support-7", "goodwill: outage on 3/14")
    assert fields["Rules"] == f"fingerprint {DEFAULT_CONFIG.fingerprint}"


def test_yes_json_prints_the_entry_to_dict(capsys, url):
    """--yes --json prints the written entry's to_dict(), equal to the stored entry's."""
    code, out, err = run(capsys, *adjust_args(url, "--set-exp", "900", "--yes", "--json"))
    assert code == 0, err
    doc = json.loads(out)
    stored = ledger(url)[-1]
    assert doc == stored.to_dict()
    assert (doc["kind"], doc["outcome"], doc["exp_delta"], doc["seq"]) == ("adjust", SET, 790, 7)
    assert (doc["level_before"], doc["level_after"]) == (2, 4)
    assert (doc["actor"], doc["reason"]) == ("support-7", "goodwill: outage on 3/14")


def test_manual_reset_is_recorded(capsys, url):
    """--reset-day zeroes today's EXP and counts, recorded as a manual_reset day entry."""
    code, out, err = run(capsys, *adjust_args(url, "--reset-day", "--yes", "--json"))
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["kind"], doc["outcome"], doc["seq"]) == ("day", MANUAL_RESET, 7)
    assert (doc["actor"], doc["reason"]) == ("support-7", "goodwill: outage on 3/14")
    assert doc["state_after"]["daily_exp_gained"] == 0
    assert doc == ledger(url)[-1].to_dict()
    code, out, _ = run(capsys, *adjust_args(url, "--reset-day", "--yes"))
    assert code == 0
    assert out.startswith("Applied: ledger entry #8 of alice")
    assert "Kind           day (manual_reset)" in out


def test_replay_matches_after_adjustments(capsys, url):
    """Grants, deductions, set balances and resets keep the ledger explaining the state."""
    for change in (
        ("--delta", "500"),
        ("--delta", "-600"),
        ("--set-exp", "3000"),
        ("--reset-day",),
        ("--delta", "7", "--key", "k-1"),
    ):
        code, _, err = run(capsys, *adjust_args(url, *change, "--yes"))
        assert code == 0, err
    code, out, err = run(capsys, "replay", "--store", url, "--user", "alice", "--json")
    assert code == 0, err
    (user,) = json.loads(out)["users"]
    assert user["matches"]
    assert (user["state"]["exp"], user["state"]["level"]) == (3007, 6)
    with closing(open_store(url, create=False)) as store:
        assert ProgressionService(store).replay("alice").matches


def test_a_keyed_adjustment_is_applied_once(capsys, url):
    """The same command with the same --key, run again, writes nothing and says so."""
    argv = adjust_args(url, "--delta", "40", "--key", "refund-9", "--yes")
    code, first, err = run(capsys, *argv)
    assert code == 0, err
    code, again, err = run(capsys, *argv)
    assert code == 0, err
    assert again.startswith("Already applied: ledger entry #7 of alice")
    assert first.splitlines()[1:] == again.splitlines()[1:]
    assert [e.key for e in ledger(url)].count("refund-9") == 1
    code, out, _ = run(capsys, *adjust_args(url, "--delta", "40", "--key", "refund-9", "--dry-run"))
    assert code == 0
    assert "Key 'refund-9' already made this change (ledger entry #7" in out
    assert "writes nothing" in out


@pytest.mark.parametrize("mode", ["--yes", "--dry-run"])
def test_a_key_reused_for_another_request_is_refused(capsys, url, mode):
    """A key that made another adjustment, or an award, is an IdempotencyError: exit 2."""
    code, _, err = run(capsys, *adjust_args(url, "--delta", "40", "--key", "refund-9", "--yes"))
    assert code == 0, err
    before = ledger(url)
    for change in (
        ("--delta", "41", "--key", "refund-9"),
        ("--set-exp", "40", "--key", "refund-9"),
        ("--delta", "40", "--key", "persona-1"),  # an award's key
    ):
        code, out, err = run(capsys, *adjust_args(url, *change, mode))
        assert_one_line_error(code, out, err, ExitCode.USAGE)
        assert "--key: idempotency key" in err
        assert "already used for another request" in err
    code, out, err = run(
        capsys,
        "adjust",
        "alice",
        "--delta",
        "40",
        "--key",
        "refund-9",
        "--reason",
        "another reason",
        "--operator",
        "support-7",
        "--store",
        url,
        mode,
    )
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert "reason 'goodwill: outage on 3/14', not 'another reason'" in err
    assert ledger(url) == before


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["--yes", "--dry-run"])
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--delta", "-111"], "--delta: must be at least -110 (the user has 110 EXP"),
        (["--delta", "5", "--reason", ""], "--reason: must be a printable text"),
        (["--delta", "5", "--reason", " padded"], "--reason: must be a printable text"),
        (["--delta", "5", "--operator", " op"], "--operator: "),
        (["--delta", "5", "--key", "bell\x07"], "--key: "),
        (["--reset-day", "--key", "k"], "--key: a manual reset takes no idempotency key"),
        (["--set-exp", str(2**63)], "--set-exp: must be at most"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(capsys, url, mode, argv, message):
    """The library's refusals are one line naming the option, exit 2; nothing is stored."""
    before = ledger(url)
    full = ["adjust", "alice", *CHANGE, "--store", url, *argv, mode]  # later options win
    code, out, err = run(capsys, *full)
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert message in err
    assert ledger(url) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--delta", "0"], "argument --delta: must not be 0"),
        (["--delta", "x"], "argument --delta: expected a whole number, got 'x'"),
        (["--set-exp", "-1"], "argument --set-exp: must be at least 0"),
        (["--delta", "5", "--set-exp", "5"], "not allowed with argument"),
        ([], "one of the arguments --delta --set-exp --reset-day is required"),
    ],
)
def test_usage_errors_exit_2(capsys, url, argv, message):
    """Malformed numbers and a missing or second change are argparse's usage errors (2)."""
    code, out, err = run(capsys, "adjust", "alice", *CHANGE, "--store", url, "--yes", *argv)
    assert code == ExitCode.USAGE
    assert out == ""
    assert message in err


def test_a_negative_delta_reads_as_a_number(capsys, url):
    """--delta -30 is a deduction, not an unknown option -30."""
    code, out, err = run(capsys, *adjust_args(url, "--delta", "-30", "--dry-run", "--json"))
    assert code == 0, err
    assert json.loads(out)["exp_delta"] == -30


def test_store_problems(capsys, tmp_path):
    """A missing SQLite file is bad input (2); a database without tables a store failure (4)."""
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    code, out, err = run(capsys, *adjust_args(missing, "--delta", "5", "--yes"))
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert not (tmp_path / "missing.db").exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    code, out, err = run(capsys, *adjust_args(f"sqlite:///{empty}", "--delta", "5", "--yes"))
    assert_one_line_error(code, out, err, ExitCode.STORE)
    assert "schema init" in err


def in_a_child(unprivileged: Any, *argv: str) -> tuple[int, str, str]:
    """Run the tool in a forked child that permissions bind (``nobody`` when root)."""

    def attempt() -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(argv))
        return code, out.getvalue(), err.getvalue()

    result = unprivileged(attempt)
    assert isinstance(result, tuple), result
    return result


def test_a_read_only_file(public_dir, unprivileged):
    """On a chmod 444 file in a read-only directory a dry run works (it only reads) and
    applying is a store failure (4) that changes nothing."""
    folder = public_dir / "db"
    folder.mkdir()
    url = filled_store(folder)
    path = folder / "progress.db"
    path.chmod(0o444)
    folder.chmod(0o555)
    data = path.read_bytes()
    code, out, err = in_a_child(unprivileged, *adjust_args(url, "--delta", "5", "--dry-run"))
    assert code == 0, err
    assert "Dry run: nothing was written." in out
    code, out, err = in_a_child(unprivileged, *adjust_args(url, "--delta", "5", "--yes"))
    assert_one_line_error(code, out, err, ExitCode.STORE)
    assert path.read_bytes() == data
    assert sorted(p.name for p in folder.iterdir()) == ["progress.db"]


# --- memory:// ----------------------------------------------------------------------------------


def test_memory_store(capsys):
    """On memory:// (a fresh store each run) the change applies and is the user's first entry;
    the preview warns that nothing is kept."""
    argv = adjust_args("memory://", "--delta", "50")
    code, out, err = run(capsys, *argv, "--dry-run")
    assert code == 0, err
    assert "memory:// keeps nothing" in out
    assert "has no progression in memory://" in out
    code, out, err = run(capsys, *argv, "--yes", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["seq"], doc["exp_delta"], doc["state_after"]["exp"]) == (1, 50, 50)
    assert doc["at"] == NOW.isoformat()


# --- the ledger command -------------------------------------------------------------------------


def test_ledger_shows_the_operator_and_reason(capsys, url):
    """ledger's table names the operator (By) and the reason of adjustments and resets."""
    run(capsys, *adjust_args(url, "--delta", "40", "--yes"))
    run(capsys, *adjust_args(url, "--set-exp", "900", "--yes"))
    run(capsys, *adjust_args(url, "--reset-day", "--yes"))
    code, out, err = run(capsys, "ledger", "--store", url, "--user", "alice")
    assert code == 0, err
    lines = out.splitlines()
    header = lines[2].split()
    assert header[-2:] == ["By", "Reason"]
    rows = [line for line in lines if line.strip()[:1].isdigit()]
    assert rows[-3].split()[3:5] == ["adjust", "adjusted"]
    assert rows[-2].split()[3:5] == ["adjust", "set"]
    assert rows[-1].split()[3:5] == ["day", "manual_reset"]
    for row in rows[-3:]:
        assert row.endswith("support-7  goodwill: outage on 3/14")
    assert rows[0].split()[-2:] == ["-", "-"]  # the first day's


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema with the store's tables, dropped afterwards."""
    psycopg: Any = pytest.importorskip("psycopg", reason="the [postgres] extra is not installed")
    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_DSN}: {exc}")
    name = f"mp_cli_adjust_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.mark.postgres
def test_postgres_store(capsys, pg_schema):
    """The same on PostgreSQL: preview, a keyed grant applied once, a reset, replay matching."""
    store = ["--store", PG_DSN, "--pg-schema", pg_schema]
    code, _, err = run(capsys, "schema", "init", *store)
    assert code == 0, err
    keyed = ["adjust", "bob", "--delta", "120", "--key", "refund-1", *CHANGE, *store]
    code, out, err = run(capsys, *keyed, "--dry-run")
    assert code == 0, err
    assert "Change: a grant of +120 EXP" in out
    for _ in range(2):
        code, out, err = run(capsys, *keyed, "--yes", "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert (doc["seq"], doc["exp_delta"], doc["level_after"]) == (1, 120, 2)
    code, _, err = run(capsys, "adjust", "bob", "--reset-day", *CHANGE, *store, "--yes")
    assert code == 0, err
    code, out, err = run(capsys, "replay", *store, "--user", "bob")
    assert code == 0, err
    assert "The user matches the stored state." in out
    code, out, _ = run(capsys, "ledger", *store, "--user", "bob", "--json")
    entries = [json.loads(line) for line in out.splitlines()]
    assert [(e["kind"], e["outcome"]) for e in entries] == [
        ("adjust", ADJUSTED),
        ("day", MANUAL_RESET),
    ]


def test_sqlite_file_is_untouched_by_a_refusal(capsys, url, tmp_path):
    """Refusals (no terminal, bad input) never open the file for writing."""
    path = tmp_path / "progress.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode = wal")
    data = path.read_bytes()
    run(capsys, *adjust_args(url, "--delta", "5"))
    code, _, _ = run(capsys, *adjust_args(url, "--delta", "5"), "--reason", "", "--yes")
    assert code == ExitCode.USAGE
    assert path.read_bytes() == data

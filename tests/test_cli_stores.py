"""The command-line tool's store commands: demo, schema export|init|check, ledger, replay."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import shlex
import sqlite3
from contextlib import closing, redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mikoshi_progression import DEFAULT_CONFIG
from mikoshi_progression.cli import ExitCode, main
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import SQLiteStore
from mikoshi_progression.testing.clock import FakeClock

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schemas" / "mikoshi-progression.schema.json"

pytestmark = pytest.mark.sqlite


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the tool in-process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, expected: int) -> None:
    """The tool failed with ``expected``, one error line and nothing on stdout."""
    assert code == expected, err
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("mikoshi-progression: error:")


def filled_store(tmp_path: Path) -> str:
    """A SQLite store with three users' history over two days; returns its URL."""
    path = tmp_path / "progress.db"
    clock = FakeClock(datetime(2026, 3, 14, 8, tzinfo=UTC))
    store = SQLiteStore(path)
    try:
        service = ProgressionService(store, clock=clock)
        for action in ("daily_chat", "create_character", "create_character", "create_scene"):
            clock.advance(timedelta(minutes=5))
            service.award("alice", action)
        service.award("bob", "create_character", key="req-1")
        service.award("carol", "character_liked", key="like:1", actor_id="bob")
        service.revoke("carol", "like:1")
        clock.set(datetime(2026, 3, 15, 9, tzinfo=UTC))
        service.award("alice", "daily_chat")
    finally:
        store.close()
    return f"sqlite:///{path}"


def export(capsys, url: str, target: Path, *users: str) -> list[str]:
    """Export users' ledgers with ``ledger --json`` into ``target``; return its lines."""
    argv = ["ledger", "--store", url, "--json"]
    for user in users:
        argv += ["--user", user]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    target.write_text(out, encoding="utf-8")
    return out.splitlines()


# --- general --------------------------------------------------------------------------


def test_help_lists_the_store_commands_and_exit_code_4(capsys):
    """--help names demo, schema, ledger and replay, and the store failure code."""
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("demo", "schema", "ledger", "replay"):
        assert command in out
    assert "4 store failure" in out
    assert ExitCode.STORE == 4


# --- demo -----------------------------------------------------------------------------


def test_demo_shows_every_rule(capsys):
    """The tour shows a limit refusal, a partial award, a level-up, a retry, a revoke, a reset."""
    code, out, err = run(capsys, "demo")
    assert code == 0, err
    assert "refused (429): Daily limit reached for create_character (2/day)" in out
    assert "partial" in out
    assert "LEVEL UP!" in out
    assert "bob's EXP after both: 30 (awarded once)" in out
    assert "-5 EXP taken back" in out
    assert "Midnight UTC has passed" in out
    assert "matches the stored state" in out
    assert "The database is kept" not in out


def test_demo_db_keeps_the_database(capsys, tmp_path):
    """--db keeps the file, which the other commands can then read; an existing file is refused."""
    path = tmp_path / "demo.db"
    code, out, err = run(capsys, "demo", "--db", str(path))
    assert code == 0, err
    assert path.is_file()
    assert f"The database is kept in {path}" in out
    code, out, err = run(capsys, "replay", "--store", f"sqlite:///{path}", "--user", "alice")
    assert code == 0, err
    assert "The user matches the stored state." in out
    assert_one_line_error(*run(capsys, "demo", "--db", str(path)), ExitCode.USAGE)


# --- schema export ----------------------------------------------------------------------


def test_schema_export_equals_the_committed_schema(capsys, tmp_path):
    """schema export writes the committed JSON Schema, to stdout or to -o FILE."""
    pytest.importorskip("pydantic")
    code, out, err = run(capsys, "schema", "export")
    assert code == 0, err
    assert out == SCHEMA_FILE.read_text(encoding="utf-8")
    target = tmp_path / "schema.json"
    code, out, _ = run(capsys, "schema", "export", "-o", str(target))
    assert code == 0
    assert target.read_text(encoding="utf-8") == SCHEMA_FILE.read_text(encoding="utf-8")
    assert str(target) in out


def test_schema_export_without_pydantic_exits_3(capsys, monkeypatch):
    """Without pydantic, schema export exits 3 and names the [pydantic] extra."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pydantic" else real(name, *a),
    )
    code, out, err = run(capsys, "schema", "export")
    assert_one_line_error(code, out, err, ExitCode.MISSING_EXTRA)
    assert "install the [pydantic] extra (pip install -e '.[pydantic]' from a clone)" in err


# --- schema init and check --------------------------------------------------------------


def test_schema_check_init_twice_then_check(capsys, tmp_path):
    """An empty file lacks both tables (1); init creates them, again does nothing; check is OK."""
    path = tmp_path / "empty.db"
    path.touch()
    url = f"sqlite:///{path}"
    code, out, _ = run(capsys, "schema", "check", "--store", url, "--json")
    assert code == ExitCode.INVALID
    assert json.loads(out)["missing_tables"] == [
        "mikoshi_progress",
        "mikoshi_ledger",
        "mikoshi_request_keys",
        "mikoshi_migrations",
    ]
    code, out, _ = run(capsys, "schema", "init", "--store", url)
    assert code == 0
    assert "created mikoshi_progress, mikoshi_ledger" in out
    code, out, _ = run(capsys, "schema", "init", "--store", url, "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["created_tables"], doc["ok"]) == ([], True)
    code, out, _ = run(capsys, "schema", "init", "--store", url)
    assert "already in place; nothing to do" in out
    code, out, _ = run(capsys, "schema", "check", "--store", url)
    assert (code, out.startswith("OK:")) == (0, True)


def test_schema_check_reports_missing_tables_in_words(capsys, tmp_path):
    """Without --json, check lists each missing table and says how to create them."""
    path = tmp_path / "empty.db"
    path.touch()
    code, out, _ = run(capsys, "schema", "check", "--store", f"sqlite:///{path}")
    assert code == ExitCode.INVALID
    assert "missing table: mikoshi_ledger" in out
    assert "schema init --store" in out


def test_schema_check_reports_a_missing_unique_index(capsys, tmp_path):
    """A missing unique index fails the check (1), named in words and in JSON."""
    path = tmp_path / "progress.db"
    url = f"sqlite:///{path}"
    assert run(capsys, "schema", "init", "--store", url)[0] == 0
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP INDEX mikoshi_ledger_seq")
    code, out, _ = run(capsys, "schema", "check", "--store", url)
    assert code == ExitCode.INVALID
    assert "missing unique index: mikoshi_ledger (user_id, seq)" in out
    code, out, _ = run(capsys, "schema", "check", "--store", url, "--json")
    assert json.loads(out)["missing_indexes"] == ["mikoshi_ledger (user_id, seq)"]


def test_schema_on_a_memory_store_has_nothing_to_do(capsys):
    """memory:// has nothing to create or miss: init and check succeed and say so."""
    code, out, _ = run(capsys, "schema", "init", "--store", "memory://")
    assert code == 0
    assert "nothing to do" in out
    code, out, _ = run(capsys, "schema", "check", "--store", "memory://")
    assert code == 0
    assert out.startswith("OK: memory://")


@pytest.mark.parametrize(
    "argv",
    [
        ["schema", "check", "--store", "mysql://db/progress"],
        ["schema", "init", "--store", "progress.db"],
        ["ledger", "--store", "redis://localhost", "--user", "a"],
        ["replay", "--store", "mongodb://x", "--user", "a"],
    ],
)
def test_unsupported_store_url_exits_2(capsys, argv):
    """A URL no store handles is bad input (2), with open_store's message."""
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert "expected memory://, sqlite:///path.db or postgresql://" in err


def test_store_options_are_checked(capsys, tmp_path):
    """A missing SQLite file and PostgreSQL-only options on SQLite are bad input (2)."""
    missing = f"sqlite:///{tmp_path / 'nothing.db'}"
    code, out, err = run(capsys, "schema", "check", "--store", missing)
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert "no such database file" in err
    assert not (tmp_path / "nothing.db").exists()
    nowhere = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"
    code, out, err = run(capsys, "schema", "init", "--store", nowhere)
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert "no such directory" in err
    url = filled_store(tmp_path)
    code, out, err = run(capsys, "schema", "check", "--store", url, "--users-table", "users")
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert "--users-table is only for postgresql:// stores" in err


def test_store_failures_exit_4(capsys, tmp_path):
    """A file that is not a database, or a store without tables, is a store failure (4)."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just some bytes" * 40)
    code, out, err = run(capsys, "schema", "check", "--store", f"sqlite:///{junk}")
    assert_one_line_error(code, out, err, ExitCode.STORE)
    empty = tmp_path / "empty.db"
    empty.touch()
    code, out, err = run(capsys, "ledger", "--store", f"sqlite:///{empty}", "--user", "a")
    assert_one_line_error(code, out, err, ExitCode.STORE)
    assert "schema init" in err


# --- ledger -----------------------------------------------------------------------------


def test_ledger_table_and_json_lines(capsys, tmp_path):
    """ledger shows a table per user; --json writes one LedgerEntry.to_dict() per line."""
    url = filled_store(tmp_path)
    code, out, _ = run(capsys, "ledger", "--store", url, "--user", "alice", "--user", "nobody")
    assert code == 0
    assert "Ledger of alice" in out
    assert "create_character" in out
    assert "nobody: no ledger entries" in out
    lines = export(capsys, url, tmp_path / "alice.jsonl", "alice")
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert {r["user_id"] for r in records} == {"alice"}
    assert records[-1]["state_after"]["exp"] == 115  # 20 + 30 + 30 + 15 + 20


# --- replay -----------------------------------------------------------------------------


def test_replay_round_trip_from_a_store_export(capsys, tmp_path):
    """A store's export replays to each user's last state, and so does the live store."""
    url = filled_store(tmp_path)
    ledger = tmp_path / "all.jsonl"
    export(capsys, url, ledger, "alice", "bob", "carol")
    code, out, err = run(capsys, "replay", "--ledger", str(ledger), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["matched"], doc["mismatched"], doc["compared_with"]) == (3, 0, "last_entry")
    alice = doc["users"][0]
    assert (alice["user_id"], alice["state"]["exp"], alice["state"]["level"]) == ("alice", 115, 2)
    assert alice["state"]["daily_exp_gained"] == 20  # the second day
    assert doc["users"][2]["state"]["exp"] == 0  # carol's like was revoked
    code, out, _ = run(capsys, "replay", "--ledger", str(ledger), "--user", "bob")
    assert code == 0
    assert "The user matches the last entry's state_after." in out
    code, out, _ = run(capsys, "replay", "--store", url, "--user", "alice", "--user", "carol")
    assert code == 0
    assert "All 2 users match the stored state." in out


def test_replay_detects_a_tampered_ledger(capsys, tmp_path):
    """A ledger with an award removed no longer explains the state: exit 1 with the differences."""
    url = filled_store(tmp_path)
    lines = export(capsys, url, tmp_path / "alice.jsonl", "alice")
    tampered = [line for line in lines if '"action": "create_scene"' not in line]
    assert len(tampered) == len(lines) - 1
    path = tmp_path / "tampered.jsonl"
    path.write_text("\n".join(tampered) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "replay", "--ledger", str(path), "--json")
    assert code == ExitCode.INVALID
    (alice,) = json.loads(out)["users"]
    assert alice["matches"] is False
    assert {"field": "exp", "replayed": 100, "expected": 115} in alice["differences"]
    code, out, _ = run(capsys, "replay", "--ledger", str(path))
    assert code == ExitCode.INVALID
    assert "exp: replayed 100, expected 115" in out
    assert "The user does not match" in out


def test_replay_follows_time_zone_moves_and_names_a_lever_field_that_differs(capsys, tmp_path):
    """An export with a time-zone move replays exactly; without its entry the replay shows
    the field that differs, though the replayed state leaves it out at its default."""
    path = tmp_path / "zones.db"
    clock = FakeClock(datetime(2026, 3, 14, 8, tzinfo=UTC))
    with SQLiteStore(path) as store:
        service = ProgressionService(store, clock=clock)
        service.award("mika", "daily_chat")
        service.set_timezone("mika", "Asia/Tokyo")
        clock.advance(timedelta(days=2))
        service.award("mika", "create_scene")
    lines = export(capsys, f"sqlite:///{path}", tmp_path / "mika.jsonl", "mika")
    assert any('"kind": "timezone"' in line for line in lines)
    code, out, err = run(capsys, "replay", "--ledger", str(tmp_path / "mika.jsonl"))
    assert code == 0, out + err
    without = tmp_path / "without.jsonl"
    without.write_text(
        "\n".join(line for line in lines if '"kind": "timezone"' not in line) + "\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "replay", "--ledger", str(without), "--json")
    assert code == ExitCode.INVALID
    (mika,) = json.loads(out)["users"]
    assert {"field": "timezone", "replayed": None, "expected": "Asia/Tokyo"} in mika["differences"]


def test_replay_reads_a_json_array_in_any_order(capsys, tmp_path):
    """A JSON array of entries, shuffled, replays the same: entries are ordered by seq."""
    url = filled_store(tmp_path)
    lines = export(capsys, url, tmp_path / "alice.jsonl", "alice")
    path = tmp_path / "alice.json"
    path.write_text(json.dumps([json.loads(line) for line in reversed(lines)]), encoding="utf-8")
    code, out, _ = run(capsys, "replay", "--ledger", str(path), "--json")
    assert code == 0
    assert json.loads(out)["users"][0]["state"]["exp"] == 115


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"user_id": "a"\n', "line 1: malformed JSON"),
        ("[1, 2]", "item 0: must be a JSON object"),
        ('{"user_id": "a", "kind": "award"}\n', "line 1: exp_delta: must be present"),
        ("[{", "malformed JSON"),
    ],
)
def test_bad_ledger_file_exits_2(capsys, tmp_path, content, message):
    """A ledger file that is not a ledger export is bad input (2), with its location."""
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "replay", "--ledger", str(path))
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert message in err


def test_bad_ledger_entries_exit_2(capsys, tmp_path):
    """A naive timestamp, an unknown kind or a missing file are bad input (2)."""
    url = filled_store(tmp_path)
    (line, *_) = export(capsys, url, tmp_path / "bob.jsonl", "bob")
    for change, message in [
        ({"at": "2026-03-14T08:00:00"}, "at: must be timezone-aware"),
        (
            {"kind": "gift"},
            "kind: must be one of import, day, award, revoke, adjust, timezone, got str 'gift'",
        ),
        ({"seq": "first"}, "seq: must be an integer"),
    ]:
        path = tmp_path / "bad.jsonl"
        path.write_text(json.dumps({**json.loads(line), **change}) + "\n", encoding="utf-8")
        code, out, err = run(capsys, "replay", "--ledger", str(path))
        assert_one_line_error(code, out, err, ExitCode.USAGE)
        assert message in err
    code, out, err = run(capsys, "replay", "--ledger", str(tmp_path / "missing.jsonl"))
    assert_one_line_error(code, out, err, ExitCode.USAGE)


@pytest.mark.parametrize(
    "argv",
    [
        ["replay"],
        ["replay", "--ledger", "x.jsonl", "--store", "memory://"],
        ["replay", "--store", "memory://"],
    ],
)
def test_replay_needs_one_source(capsys, argv):
    """replay takes --ledger or --store (with --user), not neither nor both (2)."""
    assert_one_line_error(*run(capsys, *argv), ExitCode.USAGE)


def test_replay_of_an_unknown_user_in_a_ledger_exits_2(capsys, tmp_path):
    """--user naming nobody in the export is bad input (2)."""
    url = filled_store(tmp_path)
    export(capsys, url, tmp_path / "bob.jsonl", "bob")
    code, out, err = run(capsys, "replay", "--ledger", str(tmp_path / "bob.jsonl"), "--user", "x")
    assert_one_line_error(code, out, err, ExitCode.USAGE)
    assert "no entries for user 'x'" in err


def test_replay_from_a_memory_store(capsys):
    """A user unknown to a fresh memory:// store replays to the new-user state."""
    code, out, _ = run(capsys, "replay", "--store", "memory://", "--user", "u", "--json")
    assert code == 0
    (user,) = json.loads(out)["users"]
    assert (user["entries"], user["matches"], user["state"]["exp"]) == (0, True, 0)


# --- diff --ledger ----------------------------------------------------------------------


def test_diff_counts_users_from_a_ledger_export(capsys, tmp_path):
    """diff --ledger takes each user's EXP from their latest entry's state_after."""
    url = filled_store(tmp_path)
    ledger = tmp_path / "all.jsonl"
    export(capsys, url, ledger, "alice", "bob", "carol")
    data = DEFAULT_CONFIG.to_dict()
    data["levels"][1]["exp_required"] = 25  # bob (30 EXP) reaches level 2
    data["levels"][2]["exp_required"] = 110  # alice (115 EXP) reaches level 3
    new = tmp_path / "new.json"
    new.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = run(capsys, "diff", "default", str(new), "--ledger", str(ledger), "--json")
    assert code == 0, err
    states = json.loads(out)["states"]
    assert (states["users"], states["up"], states["down"], states["unchanged"]) == (3, 2, 0, 1)
    assert states["stored_level_mismatch"] == 0
    assert {e["user_id"] for e in states["examples"]} == {"alice", "bob"}
    code, _, err = run(capsys, "diff", "default", "default", "--ledger", "a", "--states", "b")
    assert code == ExitCode.USAGE
    assert "not allowed with argument" in err


# --- read-only --------------------------------------------------------------------------


READ_COMMANDS = [
    ["ledger", "--user", "alice", "--user", "bob"],
    ["replay", "--user", "alice", "--user", "carol"],
    ["schema", "check"],
]


def read_commands(url: str) -> list[tuple[int, str, str]]:
    """Run ledger, replay --store and schema check on ``url``; their codes and outputs."""
    results = []
    for argv in READ_COMMANDS:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main([*argv, "--store", url])
        results.append((code, out.getvalue(), err.getvalue()))
    return results


def assert_read(results: list[tuple[int, str, str]]) -> None:
    (ledger, replay, check) = results
    assert all(code == 0 for code, _, _ in results), results
    assert "Ledger of alice" in ledger[1]
    assert "Ledger of bob" in ledger[1]
    assert "All 2 users match the stored state." in replay[1]
    assert check[1].startswith("OK:")


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_read_commands_leave_the_file_as_it_was(tmp_path, journal):
    """ledger, replay --store and schema check open SQLite read-only: the file never changes."""
    url = filled_store(tmp_path)
    path = tmp_path / "progress.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA journal_mode = {journal}")
    before = path.read_bytes()
    assert_read(read_commands(url))
    assert path.read_bytes() == before
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == (journal,)


def test_read_commands_create_no_table(tmp_path):
    """On an empty file, schema check and ledger report the missing tables and create none."""
    empty = tmp_path / "empty.db"
    empty.touch()
    url = f"sqlite:///{empty}"
    results = read_commands(url)
    assert [code for code, _, _ in results] == [ExitCode.STORE, ExitCode.STORE, ExitCode.INVALID]
    assert "missing table: mikoshi_progress" in results[2][1]
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_read_commands_on_a_read_only_file(public_dir, unprivileged, journal):
    """The read commands work on a chmod 444 file in a read-only directory (WAL too)."""
    folder = public_dir / "db"
    folder.mkdir()
    url = filled_store(folder)
    path = folder / "progress.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA journal_mode = {journal}")
    path.chmod(0o444)
    folder.chmod(0o555)
    before = path.read_bytes()
    assert_read(unprivileged(lambda: read_commands(url)))
    assert path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["progress.db"]


# --- schema migrate ---------------------------------------------------------------------

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy"


def legacy_file(path: Path) -> Path:
    """A SQLite file the previous release made and filled (tests/fixtures/legacy)."""
    with closing(sqlite3.connect(path)) as db:
        db.executescript((LEGACY / "sqlite.sql").read_text(encoding="utf-8"))
    return path


def test_schema_migrate_prints_what_docs_migrations_shows(capsys, tmp_path, monkeypatch):
    """The console block of docs/migrations.md, run on a file of the previous release:
    every command prints exactly what the document shows, and exits as it says."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "migrations.md").read_text()
    block = text.split("tests/test_cli_stores.py runs these commands", 1)[1]
    block = block.split("```console\n", 1)[1].split("```", 1)[0]
    legacy_file(tmp_path / "progress.db")
    monkeypatch.chdir(tmp_path)
    code = ExitCode.OK
    commands = re.split(r"^\$ ", block, flags=re.M)[1:]
    assert len(commands) >= 5, block
    for command in commands:
        line, _, shown = command.partition("\n")
        if line == "echo $?":
            assert code == int(shown), line
            continue
        code, out, err = run(capsys, *shlex.split(line)[1:])
        assert out + err == shown, f"$ {line}\n{out}{err}"


def test_schema_migrate_dry_run_json_and_twice(capsys, tmp_path):
    """--dry-run lists the statements and changes nothing; the run lists the same; a second
    run none; --json says what ran and the version; memory:// has nothing to migrate."""
    url = f"sqlite:///{legacy_file(tmp_path / 'old.db')}"
    code, out, _ = run(capsys, "schema", "migrate", "--store", url, "--dry-run", "--json")
    dry = json.loads(out)
    assert (code, dry["dry_run"], dry["version_before"], dry["behind"]) == (0, True, 1, True)
    assert any("ADD COLUMN streak" in s for s in dry["statements"])
    code, out, _ = run(capsys, "schema", "check", "--store", url, "--json")
    assert (code, json.loads(out)["schema_version"]) == (ExitCode.INVALID, 1)
    code, out, _ = run(capsys, "schema", "migrate", "--store", url, "--json")
    ran = json.loads(out)
    assert (code, ran["statements"], ran["schema_version"], ran["ok"]) == (
        0,
        dry["statements"],
        2,
        True,
    )
    code, out, _ = run(capsys, "schema", "migrate", "--store", url, "--json")
    assert (code, json.loads(out)["statements"]) == (0, [])
    code, out, _ = run(capsys, "schema", "migrate", "--store", "memory://")
    assert (code, out) == (0, "memory://: this store keeps no tables; nothing to migrate\n")

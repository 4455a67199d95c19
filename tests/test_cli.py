"""The command-line tool: exit codes, tables, JSON documents, and errors without tracebacks."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mikoshi_progression import DEFAULT_CONFIG, ProgressState, __version__, award_exp_with_limits
from mikoshi_progression.cli import COMMANDS, Command, build_parser, format_table, main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the tool in-process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def write_config(path: Path, **changes) -> Path:
    """DEFAULT_CONFIG as a JSON file, with top-level fields replaced."""
    data = DEFAULT_CONFIG.to_dict()
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- general --------------------------------------------------------------------------


def test_help_lists_every_command_and_exits_0(capsys):
    """--help succeeds and names each sub-command and the exit codes."""
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("validate", "levels", "explain", "diff", "simulate"):
        assert command in out
    assert "exit codes" in out


def test_version_and_module_entry_point():
    """python -m mikoshi_progression runs the tool (here: --version)."""
    done = subprocess.run(
        [sys.executable, "-m", "mikoshi_progression", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"mikoshi-progression {__version__}"


def test_usage_errors_exit_2(capsys):
    """No command, an unknown command or option, or a bad number are usage errors (2)."""
    assert run(capsys)[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "levels", "--bogus")[0] == 2
    code, _, err = run(capsys, "simulate", "--players", "0")
    assert code == 2
    assert "must be at least 1" in err
    code, _, err = run(capsys, "simulate", "--start", "9999-12-30", "--days", "5")
    assert (code, err) == (
        2,
        "mikoshi-progression: error: 5 days from 9999-12-30 run past 9999-12-31\n",
    )
    code, _, err = run(capsys, "simulate", "--start", "someday")
    assert code == 2
    assert err.splitlines()[-1].endswith("--start: expected a date YYYY-MM-DD, got 'someday'")


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "missing.toml"],
        ["levels", "missing.json"],
        ["levels", "config.yaml"],
        ["explain", "--action", "daily_chat", "--at", "not-a-time"],
        ["explain", "--action", "daily_chat", "--at", "2026-01-01T10:00:00"],
        ["explain", "--action", "teleport", "--at", "2026-01-01T10:00:00Z"],
        ["explain", "--action", "daily_chat", "--state", "{oops"],
        ["explain", "--action", "daily_chat", "--state", "[1, 2]"],
        ["explain", "--action", "daily_chat", "--state", '{"exp": -3}'],
        ["explain", "--action", "daily_chat", "--state", '{"last_exp_reset_date": "2026-01-01"}'],
        ["explain", "--action", "daily_chat", "--state", "@missing.json"],
        ["diff", "default", "missing.toml"],
        ["simulate", "--archetypes", "missing.toml", "--players", "1", "--days", "1"],
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(capsys, tmp_path, monkeypatch, argv):
    """Bad input exits 2 with a single clear error line and no traceback."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("mikoshi-progression: error:")


def test_format_table_aligns_columns():
    """Numbers are right-aligned with thousands separators, text left-aligned, None as '-'."""
    table = format_table(["Name", "EXP"], [["a", 5], ["longer", 12345], ["c", None]], "lr")
    assert table.splitlines() == [
        "Name    EXP",
        "------  ------",
        "a            5",
        "longer  12,345",
        "c            -",
    ]


def test_parser_accepts_new_commands():
    """A Command appended to the table becomes a sub-command with --json."""
    seen = {}

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--flag")

    def run_it(args: argparse.Namespace) -> int:
        seen["args"] = args
        return 0

    parser = build_parser([*COMMANDS, Command("audit", "audit the rules", configure, run_it)])
    args = parser.parse_args(["audit", "--flag", "x", "--json"])
    assert args.run(args) == 0
    assert (seen["args"].flag, seen["args"].json) == ("x", True)


# --- validate -----------------------------------------------------------------------------


def test_validate_ok_is_one_line_and_exit_0(capsys, tmp_path):
    """A valid file gets one OK line naming it, exit 0."""
    path = write_config(tmp_path / "good.json")
    code, out, err = run(capsys, "validate", str(path))
    assert code == 0
    assert err == ""
    assert out.count("\n") == 1
    assert out.startswith(f"OK: {path} is valid (6 levels, 7 actions")


def test_validate_lists_every_problem_with_its_location(capsys, tmp_path):
    """An invalid file prints every problem with its location and exits 1."""
    path = tmp_path / "bad.toml"
    path.write_text(
        """
levels = [
  { number = 1, name = "Newbie", unlock = "x", exp_required = 0 },
  { number = 2, name = "Creator", unlock = "y", exp_required = 0 },
]
daily_exp_caps = { 2 = 150 }
[actions]
chat = { exp = -1 }
""",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert out.splitlines()[0] == f"{path}: 3 problems"
    assert "levels[1].exp_required: must be greater than levels[0] (0), got 0" in out
    assert "actions.chat.exp: must be a non-negative integer, got -1" in out
    assert "daily_exp_caps: needs a cap for level 1" in out
    doc = json.loads(run(capsys, "validate", str(path), "--json")[1])
    assert doc["valid"] is False
    assert len(doc["problems"]) == 3


def test_validate_json_for_a_valid_file(capsys, tmp_path):
    """--json gives valid, an empty problem list and the fingerprint."""
    path = write_config(tmp_path / "good.json")
    doc = run_json(capsys, "validate", str(path))
    assert doc == {
        "source": str(path),
        "valid": True,
        "problems": [],
        "fingerprint": DEFAULT_CONFIG.fingerprint,
        "levels": 6,
        "actions": 7,
    }


def typo_config(path: Path) -> Path:
    """DEFAULT_CONFIG with `create_character` misspelt and `forked` dropped."""
    data = DEFAULT_CONFIG.to_dict()
    data["actions"]["create_charcter"] = data["actions"].pop("create_character")
    del data["actions"]["forked"]
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


TYPO_WARNINGS = [
    {
        "path": "actions.create_charcter",
        "message": "unknown to the platform's default config; did you mean `create_character`? "
        "This config has no `create_character`, so the backend answers 400 for every "
        "`create_character`",
        "suggestion": "create_character",
    },
    {
        "path": "actions.forked",
        "message": "the platform's default config has this action and this config drops it: "
        "the backend answers 400 for every `forked`",
        "suggestion": None,
    },
]
TYPO_STDERR = "".join(f"warning: {w['path']}: {w['message']}\n" for w in TYPO_WARNINGS)


def test_validate_warnings_go_to_stderr_and_exit_0(capsys, tmp_path):
    """A valid config with a likely typo: the OK line on stdout, one warning line per
    warning on stderr, exit 0."""
    path = typo_config(tmp_path / "typo.json")
    code, out, err = run(capsys, "validate", str(path))
    assert code == 0
    assert out.startswith(f"OK: {path} is valid (6 levels, 6 actions")
    assert out.count("\n") == 1
    assert err == TYPO_STDERR


def test_validate_strict_makes_warnings_problems(capsys, tmp_path):
    """--strict: the same warning lines, a count on stdout instead of OK, exit 1; a config
    without warnings still passes."""
    path = typo_config(tmp_path / "typo.json")
    code, out, err = run(capsys, "validate", str(path), "--strict")
    assert code == 1
    assert out == f"{path}: 2 warnings, and --strict makes warnings problems\n"
    assert err == TYPO_STDERR
    good = write_config(tmp_path / "good.json")
    code, out, err = run(capsys, "validate", str(good), "--strict")
    assert (code, err) == (0, "")
    assert out.startswith("OK: ")


def test_validate_json_lists_the_warnings(capsys, tmp_path):
    """--json gains "warnings" (path, message, suggestion), still valid without --strict
    and invalid with it; stdout holds only the document."""
    path = typo_config(tmp_path / "typo.json")
    code, out, err = run(capsys, "validate", str(path), "--json")
    doc = json.loads(out)
    assert (code, err) == (0, TYPO_STDERR)
    assert doc["valid"] is True
    assert doc["warnings"] == TYPO_WARNINGS
    code, out, _ = run(capsys, "validate", str(path), "--json", "--strict")
    assert code == 1
    assert json.loads(out) == {**doc, "valid": False}


def test_malformed_files_are_bad_input_not_invalid_configs(capsys, tmp_path):
    """Broken TOML or JSON exits 2 (bad input), not 1 (invalid config)."""
    toml = tmp_path / "broken.toml"
    toml.write_text("levels = [", encoding="utf-8")
    code, _, err = run(capsys, "validate", str(toml))
    assert code == 2
    assert "malformed TOML" in err
    bad_json = tmp_path / "broken.json"
    bad_json.write_text("{", encoding="utf-8")
    code, _, err = run(capsys, "levels", str(bad_json))
    assert code == 2
    assert "malformed JSON" in err


def test_other_commands_reject_an_invalid_config_with_exit_1(capsys, tmp_path):
    """levels on an invalid config exits 1 and lists the problems on stderr."""
    path = write_config(tmp_path / "bad.json", reset_hour=25)
    code, out, err = run(capsys, "levels", str(path))
    assert code == 1
    assert out == ""
    assert "invalid configuration: 1 problem" in err
    assert "reset_hour: must be an integer from 0 to 23, got 25" in err


# --- levels -----------------------------------------------------------------------------------


def test_levels_table_shows_every_column(capsys):
    """The default table: number, name, unlock, EXP required, from previous, daily cap."""
    code, out, _ = run(capsys, "levels")
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("Level  "))
    for title in ("Name", "Unlock", "EXP required", "From previous", "Daily cap"):
        assert title in header
    rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert rows[0][1] == "Newbie"
    assert rows[0][-3:] == ["0", "-", "150"]
    assert rows[4][-3:] == ["1,500", "800", "500"]
    assert rows[5][-3:] == ["3,000", "1,500", "500"]


def test_levels_json(capsys, tmp_path):
    """--json lists each level with EXP from the previous one, its cap and its features."""
    path = write_config(tmp_path / "c.json", daily_exp_caps={"1": 100, "3": 250})
    doc = run_json(capsys, "levels", str(path))
    assert doc["config"]["source"] == str(path)
    levels = doc["levels"]
    assert [lv["daily_exp_cap"] for lv in levels] == [100, 100, 250, 250, 250, 250]
    assert levels[1] == {
        "number": 2,
        "name": "Creator",
        "unlock": "Fork, private chars",
        "exp_required": 100,
        "exp_from_previous": 100,
        "daily_exp_cap": 100,
        "features": ["fork", "private_chars"],
    }
    assert levels[0]["exp_from_previous"] is None


# --- explain ----------------------------------------------------------------------------------

STATE = {
    "exp": 90,
    "level": 1,
    "daily_exp_gained": 140,
    "last_exp_reset_date": "2026-01-02T01:00:00+00:00",
    "daily_action_counts": {"create_character": 1},
    "last_chat_date": None,
}


def test_explain_partial_award_with_level_up(capsys):
    """A cap-cut award shows the limit, the cap room, the partial award and the level-up."""
    argv = ["explain", "--action", "create_character", "--at", "2026-01-02T09:00:00Z"]
    code, out, _ = run(capsys, *argv, "--state", json.dumps(STATE))
    assert code == 0
    assert "same day 2026-01-02 as the last reset" in out
    assert "awarded 1 of 2 times today -> allowed" in out
    assert "level 1 cap 150 EXP/day, 140 gained today, room 10 -> allowed" in out
    assert "PARTIAL award: +10 of 30 EXP (the cap cut 20)" in out
    assert "LEVEL UP 1 -> 2 (Creator)" in out
    assert "Outcome: partial (HTTP 200)" in out


def test_explain_json_comes_from_the_real_award(capsys):
    """The JSON explanation carries award_exp_with_limits' own result and state."""
    at = "2026-01-02T09:00:00Z"
    doc = run_json(
        capsys, "explain", "--action", "create_character", "--at", at, "--state", json.dumps(STATE)
    )
    expected = award_exp_with_limits(
        ProgressState.from_dict(STATE),
        "create_character",
        now=datetime(2026, 1, 2, 9, tzinfo=UTC),
    )
    assert doc["response"] == json.loads(json.dumps(expected.to_dict()))
    assert doc["state_after"] == expected.state.to_dict()
    assert doc["outcome"] == "partial"
    assert doc["award"] == {
        "reward": 30,
        "exp_added": 10,
        "partial": True,
        "cut_by_cap": 20,
        "creator_award": False,
    }
    assert doc["cap"]["room"] == 10
    assert doc["level"]["leveled_up"] is True
    assert doc["day"]["new_day"] is False


def test_explain_limit_rejection_skips_the_cap(capsys):
    """An action at its daily limit is rejected (429) and the cap is not checked."""
    state = dict(STATE, daily_action_counts={"create_character": 2})
    doc = run_json(
        capsys,
        "explain",
        "--action",
        "create_character",
        "--at",
        "2026-01-02T10:00:00+00:00",
        "--state",
        json.dumps(state),
    )
    assert (doc["outcome"], doc["http_status"]) == ("action_limit", 429)
    assert doc["limit"] == {"count_today": 2, "daily_limit": 2, "reached": True}
    assert doc["cap"]["checked"] is False
    assert doc["reason"] == "Daily limit reached for create_character (2/day)"


def test_explain_new_day_reset_from_a_state_file(capsys, tmp_path):
    """A later day opens with a reset; the state may come from @file.json."""
    path = tmp_path / "state.json"
    path.write_text(json.dumps(dict(STATE, daily_exp_gained=150)), encoding="utf-8")
    argv = ["explain", "--action", "create_scene", "--at", "2026-01-03T00:00:00Z"]
    code, out, _ = run(capsys, *argv, "--state", f"@{path}")
    assert code == 0
    assert "new day 2026-01-03 opens" in out
    assert "daily EXP gained 150 -> 0" in out
    assert "+15 EXP (the full reward)" in out


def test_explain_cap_rejection_and_new_user(capsys):
    """A spent cap is a 429 daily_cap; without --state the user is new."""
    state = dict(STATE, daily_exp_gained=150)
    doc = run_json(
        capsys,
        "explain",
        "--action",
        "create_scene",
        "--at",
        "2026-01-02T12:00:00Z",
        "--state",
        json.dumps(state),
    )
    assert (doc["outcome"], doc["cap"]["reached"], doc["cap"]["room"]) == ("daily_cap", True, 0)
    fresh = run_json(capsys, "explain", "--action", "daily_chat", "--at", "2026-05-01T08:00:00Z")
    assert fresh["state_before"] == ProgressState().to_dict()
    assert fresh["day"]["last_reset"] is None
    assert fresh["state_after"]["exp"] == 20


def test_explain_an_earlier_day_never_reopens_a_spent_day(capsys):
    """A moment on a day before the last reset (clock skew) is explained as no reset."""
    state = dict(STATE, daily_exp_gained=150)
    argv = ["explain", "--action", "create_scene", "--at", "2026-01-01T23:00:00Z"]
    doc = run_json(capsys, *argv, "--state", json.dumps(state))
    assert (doc["day"]["new_day"], doc["day"]["earlier_than_last_reset"]) == (False, True)
    assert doc["outcome"] == "daily_cap"
    code, out, _ = run(capsys, *argv, "--state", json.dumps(state))
    assert code == 0
    assert "days only move forward, no reset" in out


def test_explain_uses_the_configs_reset_time(capsys, tmp_path):
    """Days follow the config's reset zone and hour (Tokyo 04:00 = 19:00 UTC)."""
    path = write_config(tmp_path / "tokyo.json", reset_timezone="Asia/Tokyo", reset_hour=4)
    state = dict(STATE, last_exp_reset_date="2026-01-01T20:00:00+00:00", daily_exp_gained=150)
    base = ["explain", str(path), "--action", "create_scene", "--state", json.dumps(state)]
    before = run_json(capsys, *base, "--at", "2026-01-02T18:59:00Z")
    after = run_json(capsys, *base, "--at", "2026-01-02T19:00:00Z")
    assert (before["day"]["new_day"], before["outcome"]) == (False, "daily_cap")
    assert (after["day"]["new_day"], after["outcome"]) == (True, "awarded")
    assert after["day"]["today"] == "2026-01-03"
    assert after["resets_at"] == "2026-01-03T19:00:00+00:00"


def test_explain_unknown_action_lists_the_known_ones(capsys):
    """An unknown action is bad input (2), and the error lists the config's actions."""
    code, _, err = run(capsys, "explain", "--action", "teleport", "--at", "2026-01-01T00:00:00Z")
    assert code == 2
    assert "Invalid action: teleport" in err
    assert "daily_chat" in err


# --- diff -------------------------------------------------------------------------------------


def retuned(tmp_path: Path) -> Path:
    data = DEFAULT_CONFIG.to_dict()
    data["levels"][1]["name"] = "Maker"
    data["levels"][2]["exp_required"] = 250
    data["levels"][3]["exp_required"] = 800
    data["levels"].append({"number": 7, "name": "Legend", "unlock": "All", "exp_required": 6000})
    data["actions"]["create_character"]["exp"] = 40
    del data["actions"]["forked"]
    data["actions"]["share"] = {"exp": 5}
    data["daily_exp_caps"]["2"] = 200
    data["features"]["fork"] = 3
    data["reset_hour"] = 4
    path = tmp_path / "new.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_diff_lists_every_kind_of_change(capsys, tmp_path):
    """Added level, rename, thresholds with deltas, rewards, caps, features and settings."""
    doc = run_json(capsys, "diff", "default", str(retuned(tmp_path)))
    assert doc["identical"] is False
    levels = doc["levels"]
    assert [lv["number"] for lv in levels["added"]] == [7]
    assert levels["removed"] == []
    assert levels["renamed"] == [{"number": 2, "old": "Creator", "new": "Maker"}]
    assert levels["thresholds"] == [
        {"number": 3, "name": "Advanced", "old": 300, "new": 250, "delta": -50},
        {"number": 4, "name": "Pro", "old": 700, "new": 800, "delta": 100},
    ]
    assert [a["action"] for a in doc["actions"]["added"]] == ["share"]
    assert [a["action"] for a in doc["actions"]["removed"]] == ["forked"]
    assert doc["actions"]["changed"] == [
        {"action": "create_character", "field": "exp", "old": 30, "new": 40}
    ]
    assert {"level": 2, "old": 150, "new": 200} in doc["daily_exp_caps"]
    assert {"level": 7, "old": None, "new": 500} in doc["daily_exp_caps"]
    assert doc["features"]["moved"] == [{"feature": "fork", "old": 2, "new": 3}]
    assert doc["settings"] == [{"setting": "reset_hour", "old": 0, "new": 4}]
    assert doc["states"] is None


def test_diff_human_output(capsys, tmp_path):
    """The tables show old -> new with signed deltas."""
    code, out, _ = run(capsys, "diff", "default", str(retuned(tmp_path)))
    assert code == 0
    assert "Creator -> Maker" in out
    threshold = next(line for line in out.splitlines() if line.startswith("3 Advanced"))
    assert threshold.split()[-3:] == ["300", "250", "-50"]
    assert "exp: 30 -> 40" in out


def test_diff_of_identical_configs(capsys, tmp_path):
    """Identical rules are said to be identical."""
    path = write_config(tmp_path / "same.json")
    code, out, _ = run(capsys, "diff", "default", str(path))
    assert code == 0
    assert "identical" in out


@pytest.mark.parametrize("form", ["jsonl", "array"])
def test_diff_counts_users_whose_level_changes(capsys, tmp_path, form):
    """With --states, users are counted by level change, from each config's level_for_exp."""
    users = [
        {"user_id": "a", "exp": 260},  # 2 -> 3 (threshold 300 -> 250)
        {"user_id": "b", "exp": 750},  # 4 -> 3 (threshold 700 -> 800)
        {"user_id": "c", "exp": 50, "level": 1},
        {"user_id": 7, "exp": 7000, "level": 5, "extra": "ignored"},  # 6 -> 7
    ]
    path = tmp_path / f"states.{form}"
    if form == "jsonl":
        path.write_text("\n".join(json.dumps(u) for u in users) + "\n\n", encoding="utf-8")
    else:
        path.write_text(json.dumps(users), encoding="utf-8")
    doc = run_json(capsys, "diff", "default", str(retuned(tmp_path)), "--states", str(path))
    states = doc["states"]
    assert (states["users"], states["unchanged"], states["up"], states["down"]) == (4, 1, 2, 1)
    assert states["transitions"] == [
        {"old_level": 2, "new_level": 3, "users": 1},
        {"old_level": 4, "new_level": 3, "users": 1},
        {"old_level": 6, "new_level": 7, "users": 1},
    ]
    assert states["stored_level_mismatch"] == 1  # user 7 is stored at 5, EXP buys 6
    assert {e["user_id"] for e in states["examples"]} == {"a", "b", "7"}
    code, out, _ = run(capsys, "diff", "default", str(retuned(tmp_path)), "--states", str(path))
    assert code == 0
    assert "up 2, down 1" in out
    assert "keep their stored level" in out


def test_diff_rejects_bad_state_records(capsys, tmp_path):
    """A record without a usable exp is bad input, reported with its line number."""
    path = tmp_path / "states.jsonl"
    path.write_text('{"user_id": "a", "exp": 1}\n{"user_id": "b", "exp": "lots"}\n')
    code, _, err = run(capsys, "diff", "default", "default", "--states", str(path))
    assert code == 2
    assert "line 2: exp must be a non-negative integer" in err


# --- simulate ---------------------------------------------------------------------------------


def test_simulate_json_document(capsys):
    """--json gives the whole report: per archetype level days, losses and final EXP."""
    doc = run_json(capsys, "simulate", "--players", "8", "--days", "20", "--seed", "4")
    assert (doc["players"], doc["days"], doc["seed"]) == (8, 20, 4)
    assert doc["config"]["fingerprint"] == DEFAULT_CONFIG.fingerprint
    assert [a["name"] for a in doc["archetypes"]] == [
        "casual chatter",
        "daily creator",
        "popular creator",
        "whale",
    ]
    whale = doc["archetypes"][3]
    assert set(whale) >= {
        "levels",
        "exp",
        "cap_loss_by_level",
        "limit_loss_by_action",
        "final_exp",
        "final_levels",
        "mean_exp_by_day",
    }
    exp = whale["exp"]
    assert exp["nominal"] == exp["awarded"] + exp["lost_to_cap"] + exp["lost_to_limits"]
    assert doc["plot"] is None


def test_simulate_is_the_same_for_any_jobs_and_differs_by_seed(capsys):
    """--jobs does not change the report; --seed does."""
    base = ["simulate", "--players", "12", "--days", "10", "--seed", "1"]
    one = run_json(capsys, *base, "--jobs", "1")
    two = run_json(capsys, *base, "--jobs", "2")
    assert one == two
    other = run_json(capsys, "simulate", "--players", "12", "--days", "10", "--seed", "2")
    assert other != one


def test_simulate_human_report(capsys):
    """The default output has, per archetype, level days, where EXP is lost, and final EXP."""
    code, out, err = run(capsys, "simulate", "--players", "10", "--days", "30")
    assert code == 0
    assert err == ""  # no progress bar when stderr is not a terminal
    assert "Simulated 10 players for 30 days" in out
    assert "== popular creator: 1 players ==" in out
    assert "Days to reach each level" in out
    assert "lost to the daily cap" in out
    assert "character_liked (20/day)" in out
    assert "Final EXP: mean" in out


def test_simulate_with_an_archetype_file(capsys, tmp_path):
    """--archetypes reads the archetypes simulated."""
    path = tmp_path / "one.toml"
    path.write_text(
        '[[archetype]]\nname = "lurker"\n[archetype.actions]\ndaily_chat = { chance = 1 }\n',
        encoding="utf-8",
    )
    doc = run_json(capsys, "simulate", "--archetypes", str(path), "--players", "3", "--days", "5")
    (lurker,) = doc["archetypes"]
    assert lurker["name"] == "lurker"
    assert lurker["final_exp"]["median"] == 100  # 20 a day for 5 days
    assert lurker["levels"][0]["days_median"] == 5
    example = run_json(
        capsys,
        "simulate",
        "--archetypes",
        str(EXAMPLES / "archetypes.toml"),
        "--players",
        "4",
        "--days",
        "3",
    )
    assert (
        example["archetypes"]
        == run_json(capsys, "simulate", "--players", "4", "--days", "3")["archetypes"]
    )


def test_simulate_with_invalid_archetypes_exits_1(capsys, tmp_path):
    """An invalid archetype file, or one naming unknown actions, is an invalid config (1)."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[archetype]]\nname = "x"\nweight = 0\n', encoding="utf-8")
    code, _, err = run(capsys, "simulate", "--archetypes", str(bad))
    assert code == 1
    assert "archetype[0].weight: must be a positive number" in err
    assert "archetype[0].actions: missing" in err
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(
        '[[archetype]]\nname = "x"\n[archetype.actions]\nfly = { mean = 1 }\n', encoding="utf-8"
    )
    code, _, err = run(capsys, "simulate", "--archetypes", str(unknown))
    assert code == 1
    assert "action 'fly' is not in the config" in err


def test_simulate_plot(capsys, tmp_path):
    """--plot writes an image and says where."""
    pytest.importorskip("matplotlib")
    out_png = tmp_path / "curves.png"
    code, out, _ = run(capsys, "simulate", "--players", "4", "--days", "5", "--plot", str(out_png))
    assert code == 0
    assert f"Plot written to {out_png}" in out
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_simulate_plot_target_is_checked_before_simulating(capsys, tmp_path):
    """A missing directory or an unknown image type fails fast with exit 2."""
    pytest.importorskip("matplotlib")
    code, _, err = run(capsys, "simulate", "--plot", str(tmp_path / "no" / "x.png"))
    assert (code, "no such directory" in err) == (2, True)
    code, _, err = run(capsys, "simulate", "--plot", str(tmp_path / "x.docx"))
    assert (code, "cannot draw" in err) == (2, True)


def test_simulate_plot_without_matplotlib_exits_3(capsys, tmp_path, monkeypatch):
    """Without matplotlib, --plot exits 3 and names the [plot] extra."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    code, out, err = run(capsys, "simulate", "--plot", str(tmp_path / "x.png"))
    assert code == 3
    assert out == ""
    assert "[plot] extra" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_never_with_json(capsys, monkeypatch):
    """A terminal on stderr gets a progress bar, unless --json was asked for."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["simulate", "--players", "6", "--days", "3"]) == 0
    assert "100%" in terminal.getvalue()
    assert "#" in terminal.getvalue()
    assert "Simulated 6 players" in capsys.readouterr().out  # the report itself is on stdout
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(["simulate", "--players", "6", "--days", "3", "--json"]) == 0
    assert quiet.getvalue() == ""
    assert json.loads(capsys.readouterr().out)["players"] == 6


def test_the_progress_bar_reckons_the_time_left_from_the_pace_of_the_work():
    """What comes before the first report (starting workers) is not taken for the pace."""
    from mikoshi_progression.cli._simulate_common import ProgressBar

    bar = ProgressBar(io.StringIO())
    start = bar._started
    assert bar.remaining(start + 3.0, 0.05) == pytest.approx(57.0)  # no pace yet: 3 s for 5%
    assert bar.remaining(start + 4.0, 0.15) == pytest.approx(8.5)  # 10% a second since
    assert bar.remaining(start + 5.0, 0.30) == pytest.approx(0.7 / 0.125)  # 25% in 2 s
    assert bar.remaining(start + 6.0, 1.0) is None

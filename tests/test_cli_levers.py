"""The command-line tool with the designer levers: explain shows boosts, streaks, milestones
and a user's own time zone; diff compares the lever sections and replays ledgers; validate
and levels summarise them."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mikoshi_progression import (
    DEFAULT_CONFIG,
    EventKind,
    ProgressionConfig,
    ProgressState,
    award_exp_with_limits,
)
from mikoshi_progression.cli import main
from mikoshi_progression.service import ProgressionService
from mikoshi_progression.stores import InMemoryStore

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
"""A Monday: the boost of LEVERS runs from the Saturday after (12-05) to the Monday."""


def levers_data() -> dict[str, Any]:
    """The default rules with every lever on."""
    data = copy.deepcopy(DEFAULT_CONFIG.to_dict())
    data["boosts"] = {
        "stacking": "max",
        "raise_cap": False,
        "windows": [
            {
                "name": "weekend",
                "starts": "2026-12-05T00:00:00+00:00",
                "ends": "2026-12-07T00:00:00+00:00",
                "multiplier": "3/2",
            },
            {
                "name": "saturday_chats",
                "starts": "2026-12-05T00:00:00+00:00",
                "ends": "2026-12-06T00:00:00+00:00",
                "multiplier": 2,
                "actions": ["daily_chat"],
            },
        ],
    }
    data["streak"] = {
        "grace_minutes": 60,
        "freeze_every": 3,
        "max_freezes": 1,
        "bonuses": {"3": 30, "7": 100},
    }
    data["milestones"] = [
        {"name": "three_days", "streak": 3, "bonus_exp": 10},
        {"name": "creator", "level": 2},
        {"name": "maker", "action": "create_character", "count": 3, "bonus_exp": 5},
    ]
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    """``data`` as a JSON config file at ``path``."""
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def levers(tmp_path: Path) -> Path:
    """LEVERS as a config file."""
    return write(tmp_path / "levers.json", levers_data())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the tool in-process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """Run the tool with --json; return the document."""
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def at(moment: datetime) -> str:
    return moment.isoformat()


def state(**fields: Any) -> str:
    """A state's JSON for --state."""
    return json.dumps(ProgressState(**fields).to_dict())


# --- explain: one award -------------------------------------------------------------------


def test_explain_a_boosted_award_shows_the_multiplier_and_rounding(
    capsys: pytest.CaptureFixture[str], levers: Path
) -> None:
    """A boost's multiplier, its exact product and the rounding down are shown, and the
    figures are the core's own."""
    moment = datetime(2026, 12, 5, 10, tzinfo=UTC)
    code, out, _ = run(
        capsys, "explain", str(levers), "--action", "create_scene", "--at", at(moment)
    )
    assert code == 0
    assert "3. Boost      weekend x1.5: 15 x 1.5 = 22.5, rounded down to 22 EXP" in out
    assert "the cap is not raised (raise_cap = false)" in out
    assert "+22 EXP (the full boosted reward)" in out
    doc = run_json(capsys, "explain", str(levers), "--action", "create_scene", "--at", at(moment))
    real = award_exp_with_limits(
        ProgressState(),
        "create_scene",
        now=moment,
        config=ProgressionConfig.from_dict(levers_data()),
    )
    assert real.effects is not None
    assert doc["boosts"]["boosted_exp"] == real.effects.boosted_exp == 22
    assert (doc["boosts"]["exact_exp"], doc["boosts"]["rounded_down"]) == ("45/2", True)
    assert doc["award"]["boosted_exp"] == 22
    assert doc["response"]["boosts"] == ["weekend"]
    assert doc["events"] == [e.to_dict() for e in real.events]


def test_explain_overlapping_boosts_say_how_they_stack(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Two boosts in force are named with the stacking rule and the combined multiplier."""
    data = levers_data()
    data["boosts"]["stacking"] = "multiply"
    path = write(tmp_path / "multiply.json", data)
    moment = at(datetime(2026, 12, 5, 10, tzinfo=UTC))
    code, out, _ = run(capsys, "explain", str(path), "--action", "daily_chat", "--at", moment)
    assert code == 0
    assert "weekend x1.5, saturday_chats x2 (multiplied: x3): 20 x 3 = 60 EXP" in out
    doc = run_json(capsys, "explain", str(path), "--action", "daily_chat", "--at", moment)
    assert [b["name"] for b in doc["boosts"]["active"]] == ["weekend", "saturday_chats"]
    assert doc["state_after"]["exp"] == 60  # a streak of 1 day pays no bonus


def test_explain_a_raised_cap_matches_the_cores_cap(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With raise_cap the cap in force is the boosted one, as the core applied it."""
    data = levers_data()
    data["boosts"]["raise_cap"] = True
    path = write(tmp_path / "raised.json", data)
    moment = datetime(2026, 12, 6, 10, tzinfo=UTC)
    before = ProgressState(
        exp=40, daily_exp_gained=200, last_exp_reset_date=moment - timedelta(hours=1)
    )
    argv = ["explain", str(path), "--action", "create_character", "--at", at(moment)]
    code, out, _ = run(capsys, *argv, "--state", json.dumps(before.to_dict()))
    assert code == 0
    assert "the cap is raised too: 150 -> 225" in out
    assert "level 1 cap 225 EXP/day (raised from 150), 200 gained today, room 25" in out
    assert "PARTIAL award: +25 of 45 EXP (the cap cut 20)" in out
    doc = run_json(capsys, *argv, "--state", json.dumps(before.to_dict()))
    reached = [e for e in doc["events"] if e["kind"] == EventKind.DAILY_CAP_REACHED]
    assert reached == [{"kind": "daily_cap_reached", "cap": doc["cap"]["cap_in_force"]}]
    assert (doc["cap"]["daily_exp_cap"], doc["cap"]["cap_in_force"]) == (150, 225)


def test_explain_no_boost_in_force(capsys: pytest.CaptureFixture[str], levers: Path) -> None:
    """Outside every window the Boost step says the plain reward applies."""
    argv = ["explain", str(levers), "--action", "daily_chat", "--at", at(MONDAY)]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "3. Boost      no boost in force for this action at this moment: the plain reward" in out
    assert run_json(capsys, *argv)["boosts"]["active"] == []


def test_explain_a_streak_bonus_and_milestones(
    capsys: pytest.CaptureFixture[str], levers: Path
) -> None:
    """The third day in a row extends the streak with its bonus, earns a freeze and unlocks
    the streak milestone with its bonus."""
    before = ProgressState(
        exp=40,
        streak=2,
        best_streak=2,
        last_streak_day=MONDAY.date(),
        last_exp_reset_date=MONDAY,
        daily_action_counts={"daily_chat": 1},
    )
    argv = ["explain", str(levers), "--action", "daily_chat", "--at", at(MONDAY + timedelta(1))]
    code, out, _ = run(capsys, *argv, "--state", json.dumps(before.to_dict()))
    assert code == 0
    assert (
        "6. Streak     streak 2 -> 3 (best 3); +30 EXP streak bonus at 3 days; "
        "a freeze earned (1 held)"
    ) in out
    assert "+20 EXP (the full reward), +40 bonus EXP (below)" in out
    assert "7. Level      LEVEL UP 1 -> 2 (Creator)" in out
    assert "8. Milestones UNLOCKED three_days (+10 EXP), creator; 1 still locked" in out
    doc = run_json(capsys, *argv, "--state", json.dumps(before.to_dict()))
    assert doc["streak"]["after"] == {
        "streak": 3,
        "best_streak": 3,
        "last_streak_day": "2026-12-01",
        "streak_freezes": 1,
    }
    assert (doc["streak"]["bonus_exp"], doc["streak"]["freezes_earned"]) == (30, 1)
    assert doc["milestones"]["unlocked"] == [
        {"name": "three_days", "bonus_exp": 10},
        {"name": "creator", "bonus_exp": 0},
    ]
    assert doc["award"]["bonus_exp"] == doc["response"]["bonus_exp"] == 40


@pytest.mark.parametrize(
    ("last_day", "freezes", "moment", "expected"),
    [
        (
            MONDAY.date() - timedelta(2),
            1,
            MONDAY,
            "1 missed day covered by a freeze (0 left); streak 5 -> 6 (best 6)",
        ),
        (
            MONDAY.date() - timedelta(4),
            1,
            MONDAY,
            "3 missed days and 1 freeze: the 5-day streak is BROKEN, a new one starts; "
            "streak 5 -> 1 (best 5)",
        ),
        (
            MONDAY.date() - timedelta(2),
            0,
            MONDAY.replace(hour=0, minute=30),
            "streak 5 -> 6 (best 6), counted for 2026-11-29 (within the 60-minute grace after "
            "a missed day)",
        ),
        (
            MONDAY.date(),
            0,
            MONDAY,
            "day 2026-11-30 is already counted (last streak day 2026-11-30): streak stays 5",
        ),
    ],
    ids=["frozen", "broken", "grace", "same day"],
)
def test_explain_streak_freezes_breaks_grace_and_same_day(
    capsys: pytest.CaptureFixture[str],
    levers: Path,
    last_day: Any,
    freezes: int,
    moment: datetime,
    expected: str,
) -> None:
    """Missed days covered by a freeze, a broken streak, the grace after midnight and a
    day already counted each read as the core decided them."""
    before = ProgressState(
        exp=500, level=3, streak=5, best_streak=5, last_streak_day=last_day, streak_freezes=freezes
    )
    argv = ["explain", str(levers), "--action", "daily_chat", "--at", at(moment)]
    code, out, _ = run(capsys, *argv, "--state", json.dumps(before.to_dict()))
    assert code == 0
    assert f"6. Streak     {expected}" in out


def test_explain_a_streak_bonus_cut_by_the_cap(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A bonus that is not cap-exempt is cut to the room left, and the cut is shown."""
    data = levers_data()
    data["streak"]["bonus_cap_exempt"] = False
    path = write(tmp_path / "capped.json", data)
    before = ProgressState(
        exp=40,
        daily_exp_gained=120,
        last_exp_reset_date=MONDAY,
        streak=2,
        best_streak=2,
        last_streak_day=MONDAY.date() - timedelta(1),
    )
    argv = ["explain", str(path), "--action", "daily_chat", "--at", at(MONDAY)]
    code, out, _ = run(capsys, *argv, "--state", json.dumps(before.to_dict()))
    assert code == 0
    assert "+10 EXP streak bonus at 3 days (the cap cut 20)" in out


def test_explain_a_rejected_award_leaves_the_streak(
    capsys: pytest.CaptureFixture[str], levers: Path
) -> None:
    """A rejection extends nothing; the boost in force is said not to apply."""
    before = ProgressState(
        last_exp_reset_date=datetime(2026, 12, 5, 8, tzinfo=UTC),
        daily_action_counts={"daily_chat": 1},
        streak=1,
        best_streak=1,
        last_streak_day=datetime(2026, 12, 5).date(),
    )
    argv = ["explain", str(levers), "--action", "daily_chat"]
    argv += ["--at", "2026-12-05T10:00:00Z", "--state", json.dumps(before.to_dict())]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "(not applied: the award was rejected)" in out
    assert "6. Streak     not extended (the award was rejected): streak stays 1" in out
    assert "8. Milestones none reached (3 still locked)" in out


def test_explain_a_count_milestone(capsys: pytest.CaptureFixture[str], levers: Path) -> None:
    """A count milestone unlocks at the count's award, with its bonus."""
    before = ProgressState(lifetime_counts={"create_character": 2})
    argv = ["explain", str(levers), "--action", "create_character", "--at", at(MONDAY)]
    code, out, _ = run(capsys, *argv, "--state", json.dumps(before.to_dict()))
    assert code == 0
    assert "UNLOCKED maker (+5 EXP); 2 still locked" in out
    assert "6. Streak     not the streak action (daily_chat): streak stays 0" in out


def test_explain_a_users_own_time_zone(capsys: pytest.CaptureFixture[str]) -> None:
    """A state with a time zone has its days in that zone, even under the default rules."""
    tokyo = ProgressState(
        timezone="Asia/Tokyo",
        last_exp_reset_date=datetime(2026, 3, 2, 9, tzinfo=UTC),  # 18:00 in Tokyo
        daily_action_counts={"daily_chat": 1},
    )
    argv = ["explain", "--action", "daily_chat", "--state", json.dumps(tokyo.to_dict())]
    late = ["--at", "2026-03-02T14:59:00Z"]  # 23:59 in Tokyo: the same day
    code, out, _ = run(capsys, *argv, *late)
    assert code == 0
    assert (
        "same day 2026-03-02 as the last reset (2026-03-02T09:00:00+00:00): no reset; "
        "the user's days begin at 00:00 in Asia/Tokyo"
    ) in out
    assert "REJECTED" in out
    doc = run_json(capsys, *argv, "--at", "2026-03-02T15:00:00Z")  # midnight in Tokyo
    assert doc["day"]["new_day"] is True
    assert (doc["day"]["today"], doc["day"]["timezone"]) == ("2026-03-03", "Asia/Tokyo")
    assert doc["outcome"] == "awarded"
    assert doc["resets_at"] == "2026-03-03T15:00:00+00:00"


def test_explain_a_day_lengthened_by_a_zone_change(capsys: pytest.CaptureFixture[str]) -> None:
    """A day a time-zone change lengthened is explained with the moment it ends."""
    moved = ProgressState(
        timezone="Asia/Tokyo",
        last_exp_reset_date=datetime(2026, 3, 2, 9, tzinfo=UTC),
        day_extended_until=datetime(2026, 3, 3, 15, tzinfo=UTC),
        daily_action_counts={"daily_chat": 1},
    )
    argv = ["explain", "--action", "daily_chat", "--state", json.dumps(moved.to_dict())]
    code, out, _ = run(capsys, *argv, "--at", "2026-03-03T10:00:00Z")
    assert code == 0
    assert "a time-zone change lengthened this day until 2026-03-03T15:00:00+00:00" in out
    assert "REJECTED" in out
    doc = run_json(capsys, *argv, "--at", "2026-03-03T15:00:00Z")
    assert (doc["day"]["new_day"], doc["outcome"]) == (True, "awarded")


def test_explain_without_levers_keeps_its_keys(capsys: pytest.CaptureFixture[str]) -> None:
    """Under the seed's rules and a user without a zone, no lever key appears."""
    doc = run_json(capsys, "explain", "--action", "daily_chat", "--at", at(MONDAY))
    assert not {"boosts", "streak", "milestones", "events"} & set(doc)
    assert set(doc["award"]) == {"reward", "exp_added", "partial", "cut_by_cap", "creator_award"}
    assert "timezone" not in doc["day"]


# --- explain: a history --------------------------------------------------------------------


def chats(days: int, start: datetime = MONDAY) -> list[dict[str, str]]:
    """One daily_chat a day for ``days`` days."""
    return [{"at": at(start + timedelta(days=i)), "action": "daily_chat"} for i in range(days)]


def test_explain_history_of_events(
    capsys: pytest.CaptureFixture[str], levers: Path, tmp_path: Path
) -> None:
    """Each award of a history is explained in turn from the state the one before left,
    and the summary is the real fold's."""
    events = [*chats(3), {"at": at(MONDAY + timedelta(days=2, minutes=5)), "action": "daily_chat"}]
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "explain", str(levers), "--history", str(path))
    assert code == 0
    assert "[1/4] daily_chat at 2026-11-30T09:00:00+00:00" in out
    assert "[3/4] daily_chat at 2026-12-02T09:00:00+00:00" in out
    assert "streak 2 -> 3 (best 3); +30 EXP streak bonus at 3 days" in out
    assert "4 awards: 3 awarded, 1 action_limit" in out
    assert "Streak 0 -> 3 (best 3), 1 freeze held" in out
    assert "Milestones unlocked: creator, three_days" in out
    doc = run_json(capsys, "explain", str(levers), "--history", str(path))
    config = ProgressionConfig.from_dict(levers_data())
    expected = ProgressState()
    for event in events:
        expected = award_exp_with_limits(
            expected, event["action"], now=datetime.fromisoformat(event["at"]), config=config
        ).state
    assert doc["state_after"] == expected.to_dict()
    assert [a["outcome"] for a in doc["awards"]] == ["awarded"] * 3 + ["action_limit"]


def test_explain_history_from_a_ledger_export(
    capsys: pytest.CaptureFixture[str], levers: Path, tmp_path: Path
) -> None:
    """A ledger export is a history: its award entries of the chosen user, in order; the
    other entries are named as not replayed."""
    config = ProgressionConfig.from_dict(levers_data())
    clock = [MONDAY]
    service = ProgressionService(InMemoryStore(), config=config, clock=lambda: clock[0])
    for _ in range(3):
        service.award("alice", "daily_chat")
        service.award("bob", "create_scene")
        clock[0] += timedelta(days=1)
    service.adjust("alice", 5, reason="goodwill", operator="op-1")
    path = tmp_path / "ledger.jsonl"
    entries = [*service.store.ledger("alice"), *service.store.ledger("bob")]
    path.write_text("\n".join(json.dumps(e.to_dict()) for e in entries), encoding="utf-8")
    code, _, err = run(capsys, "explain", str(levers), "--history", str(path))
    assert code == 2
    assert "several users (alice, bob): choose one with --user" in err
    argv = ["explain", str(levers), "--history", str(path), "--user", "alice"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert out.startswith("History of alice from")
    assert "Only awards are explained; not replayed: 1 adjust (adjusted)" in out
    doc = run_json(capsys, *argv)
    assert doc["history"] == {
        "source": str(path),
        "user_id": "alice",
        "skipped_entries": {"adjust (adjusted)": 1},
    }
    assert len(doc["awards"]) == 3
    awarded = service.store.ledger("alice")[-2].state_after
    assert doc["state_after"] == awarded.to_dict()


@pytest.mark.parametrize(
    ("records", "extra", "message"),
    [
        ([{"at": "2026-12-01T00:00:00Z", "action": "sing"}], [], "line 1: Invalid action: sing"),
        ([{"at": "2026-12-01T00:00:00", "action": "daily_chat"}], [], "line 1: at: "),
        ([{"action": "daily_chat"}], [], "line 1: at must be an ISO 8601 timestamp"),
        (["daily_chat"], [], "line 1: must be a JSON object"),
        (chats(1), ["--at", "2026-12-01T00:00:00Z"], "--at: give each award's moment"),
        (chats(1), ["--user", "zoe"], "--user: 'zoe' has no awards"),
        ([], [], "history.jsonl: no awards to explain"),
    ],
    ids=[
        "unknown action",
        "naive moment",
        "no moment",
        "not an object",
        "--at",
        "no such user",
        "empty",
    ],
)
def test_explain_history_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str],
    levers: Path,
    tmp_path: Path,
    records: list[Any],
    extra: list[str],
    message: str,
) -> None:
    """A bad history is bad input: one line naming the file and the record."""
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    code, out, err = run(capsys, "explain", str(levers), "--history", str(path), *extra)
    assert (code, out) == (2, "")
    assert message in err
    assert err.count("\n") == 1


def test_explain_needs_an_action_or_a_history(capsys: pytest.CaptureFixture[str]) -> None:
    """Neither --action nor --history, or both, is a usage error."""
    assert run(capsys, "explain")[0] == 2
    assert run(capsys, "explain", "--action", "daily_chat", "--history", "x.jsonl")[0] == 2
    code, _, err = run(capsys, "explain", "--action", "daily_chat", "--user", "alice")
    assert code == 2
    assert "--user: only with --history" in err


# --- diff ----------------------------------------------------------------------------------


def retuned_levers() -> dict[str, Any]:
    """LEVERS retuned: one boost changed, one removed, one added, stacking; the streak's
    grace and a bonus; a milestone changed, one removed, one added."""
    data = levers_data()
    boosts = data["boosts"]
    boosts["stacking"] = "add"
    boosts["windows"][0]["multiplier"] = 2
    boosts["windows"][0]["ends"] = "2026-12-07T09:00:00+09:00"  # the same moment, in Tokyo
    del boosts["windows"][1]
    boosts["windows"].append(
        {
            "name": "new_year",
            "starts": "2027-01-01T00:00:00+00:00",
            "ends": "2027-01-02T00:00:00+00:00",
            "multiplier": "1.25",
            "actions": ["daily_chat", "create_scene"],
        }
    )
    data["streak"]["grace_minutes"] = 0
    data["streak"]["bonuses"] = {"3": 40, "14": 200}
    data["milestones"][0]["bonus_exp"] = 20
    del data["milestones"][2]
    data["milestones"].append({"name": "veteran", "exp": 1000})
    return data


def test_diff_reports_every_change_to_the_levers(
    capsys: pytest.CaptureFixture[str], levers: Path, tmp_path: Path
) -> None:
    """Boosts added, removed and changed (the same moment in another offset is no change),
    stacking, streak rules and bonuses, milestones added, removed and changed."""
    new = write(tmp_path / "new.json", retuned_levers())
    doc = run_json(capsys, "diff", str(levers), str(new))
    assert doc["identical"] is False
    boosts = doc["boosts"]
    assert boosts["on"] == {"old": True, "new": True}
    assert boosts["settings"] == [{"setting": "stacking", "old": "max", "new": "add"}]
    assert [w["name"] for w in boosts["added"]] == ["new_year"]
    assert boosts["added"][0]["multiplier"] == "5/4"
    assert [w["name"] for w in boosts["removed"]] == ["saturday_chats"]
    assert boosts["changed"] == [
        {"boost": "weekend", "field": "multiplier", "old": "3/2", "new": "2"}
    ]
    assert doc["streak"] == {
        "on": {"old": True, "new": True},
        "changed": [{"field": "grace_minutes", "old": 60, "new": 0}],
        "bonuses": [
            {"length": 3, "old": 30, "new": 40},
            {"length": 7, "old": 100, "new": None},
            {"length": 14, "old": None, "new": 200},
        ],
    }
    assert doc["milestones"] == {
        "added": [{"name": "veteran", "exp": 1000}],
        "removed": [{"name": "maker", "action": "create_character", "count": 3, "bonus_exp": 5}],
        "changed": [{"milestone": "three_days", "field": "bonus_exp", "old": 10, "new": 20}],
    }
    code, out, _ = run(capsys, "diff", str(levers), str(new))
    assert code == 0
    for line in (
        "setting  stacking        max -> add",
        "added    new_year        x5/4 from 2027-01-01T00:00:00+00:00 to "
        "2027-01-02T00:00:00+00:00, create_scene, daily_chat",
        "removed  saturday_chats  x2 from 2026-12-05T00:00:00+00:00 to "
        "2026-12-06T00:00:00+00:00, daily_chat",
        "changed  weekend         multiplier: 3/2 -> 2",
        "changed  grace_minutes  60 -> 0",
        "bonus    7 days         100 -> - EXP",
        "added    veteran     exp 1,000",
        "removed  maker       create_character x3, +5 EXP",
        "changed  three_days  bonus_exp: 10 -> 20",
    ):
        assert line in out


def test_diff_turning_the_levers_on_and_off(
    capsys: pytest.CaptureFixture[str], levers: Path
) -> None:
    """A section turned on lists what it sets; turned off, what it had; the seed's sections
    alone are unchanged."""
    doc = run_json(capsys, "diff", "default", str(levers))
    assert doc["boosts"]["on"] == {"old": False, "new": True}
    assert len(doc["boosts"]["added"]) == 2
    assert doc["streak"]["on"] == {"old": False, "new": True}
    assert {c["field"] for c in doc["streak"]["changed"]} == {
        "grace_minutes",
        "freeze_every",
        "max_freezes",
    }
    assert len(doc["milestones"]["added"]) == 3
    off = run_json(capsys, "diff", str(levers), "default")
    assert (off["boosts"]["on"], off["streak"]["on"]) == (
        {"old": True, "new": False},
        {"old": True, "new": False},
    )
    assert len(off["milestones"]["removed"]) == 3
    _, out, _ = run(capsys, "diff", str(levers), "default")
    assert out.count("NEW has no such section") == 2
    assert "turned off" in out
    same = run_json(capsys, "diff", "default", "default")
    assert same["identical"] is True
    assert same["boosts"] == {
        "on": {"old": False, "new": False},
        "settings": [],
        "added": [],
        "removed": [],
        "changed": [],
    }
    assert same["replay"] is None


def ledger_of(config: ProgressionConfig, path: Path) -> Path:
    """A week of alice's chats and bob's creations under ``config``, exported."""
    clock = [MONDAY]
    service = ProgressionService(InMemoryStore(), config=config, clock=lambda: clock[0])
    for day in range(7):
        service.award("alice", "daily_chat")
        if day % 2 == 0:
            service.award("bob", "create_character")
        service.award("carol", "create_persona")
        clock[0] += timedelta(days=1)
    service.adjust("alice", 10, reason="goodwill", operator="op-1")
    entries = [e for user in ("alice", "bob", "carol") for e in service.store.ledger(user)]
    path.write_text("\n".join(json.dumps(e.to_dict()) for e in entries), encoding="utf-8")
    return path


def test_diff_replays_a_ledger_under_both_configs(
    capsys: pytest.CaptureFixture[str], levers: Path, tmp_path: Path
) -> None:
    """--ledger re-decides every user's awards under OLD and NEW: OLD gives back the
    ledger's own states, NEW what the retune would have made of them."""
    data = levers_data()
    data["streak"]["bonuses"] = {"3": 40, "7": 150}
    data["milestones"][0]["bonus_exp"] = 20
    new = write(tmp_path / "new.json", data)
    ledger = ledger_of(ProgressionConfig.from_dict(levers_data()), tmp_path / "ledger.jsonl")
    doc = run_json(capsys, "diff", str(levers), str(new), "--ledger", str(ledger))
    replay = doc["replay"]
    assert (replay["users"], replay["awards"], replay["changed"]) == (3, 18, 1)
    by_user = {u["user_id"]: u for u in replay["per_user"]}
    records = [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines()]
    latest = {r["user_id"]: r["state_after"]["exp"] for r in records}  # each user's last
    assert {user_id: by_user[user_id]["old"]["exp"] for user_id in latest} == latest
    alice = by_user["alice"]
    # The streak bonuses at 3 and 7 days go from 30 and 100 to 40 and 150, and the
    # three_days milestone from 10 to 20: 10 + 50 + 10 more EXP.
    assert alice["exp_delta"] == replay["exp"]["delta"] == 70
    assert alice["old"]["milestones"] == alice["new"]["milestones"] == ["creator", "three_days"]
    assert alice["old"]["best_streak"] == alice["new"]["best_streak"] == 7
    assert (by_user["bob"]["changed"], by_user["carol"]["changed"]) == (False, False)
    assert (replay["levels"], replay["ledger_fingerprints"]) == (
        {"up": 0, "down": 0},
        [doc["old"]["fingerprint"]],
    )
    code, out, _ = run(capsys, "diff", str(levers), str(new), "--ledger", str(ledger))
    assert code == 0
    assert "3 users, 18 awards re-decided under OLD and NEW" in out
    assert "(+70); levels up 0, down 0; users whose progression changes 1" in out
    assert "Users whose progression changes (1 of 1)" in out
    assert "Note: no entry" not in out


def test_diff_replay_counts_milestones_gained_and_notes_foreign_ledgers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Milestones a retune grants are counted per milestone and per user; a ledger written
    under neither config is pointed out."""
    ledger = ledger_of(DEFAULT_CONFIG, tmp_path / "ledger.jsonl")
    new = write(tmp_path / "levers.json", levers_data())
    doc = run_json(capsys, "diff", "default", str(new), "--ledger", str(ledger))
    by_user = {u["user_id"]: u for u in doc["replay"]["per_user"]}
    assert by_user["alice"]["milestones_gained"] == ["creator", "three_days"]
    assert by_user["bob"]["milestones_gained"] == ["creator", "maker"]
    counted = {m["milestone"]: (m["old"], m["new"]) for m in doc["replay"]["milestones"]}
    assert counted == {"three_days": (0, 1), "creator": (0, 3), "maker": (0, 1)}
    old = write(tmp_path / "other.json", {**DEFAULT_CONFIG.to_dict(), "reset_hour": 3})
    code, out, _ = run(capsys, "diff", str(old), str(new), "--ledger", str(ledger))
    assert code == 0
    assert "Note: no entry of the ledger was decided under OLD" in out


# --- validate and levels -------------------------------------------------------------------


def test_validate_summarises_the_levers(capsys: pytest.CaptureFixture[str], levers: Path) -> None:
    """A valid config with levers gets its OK line, then each boost, the streak's rules and
    each milestone; --json holds the sections as the config writes them."""
    code, out, err = run(capsys, "validate", str(levers))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"OK: {levers} is valid (6 levels, 7 actions, fingerprint "
        f"{ProgressionConfig.from_dict(levers_data()).fingerprint})",
        "  boosts: 2 windows (stacking max, the cap not raised)",
        "    weekend: x3/2 from 2026-12-05T00:00:00+00:00 to 2026-12-07T00:00:00+00:00, "
        "every action",
        "    saturday_chats: x2 from 2026-12-05T00:00:00+00:00 to 2026-12-06T00:00:00+00:00, "
        "daily_chat",
        "  streak: on daily_chat, 60 minutes of grace, a freeze every 3 days (at most 1); "
        "bonuses 3 days +30, 7 days +100",
        "  milestones: 3",
        "    three_days: streak 3, +10 EXP",
        "    creator: level 2",
        "    maker: create_character x3, +5 EXP",
    ]
    doc = run_json(capsys, "validate", str(levers))
    config = ProgressionConfig.from_dict(levers_data())
    assert config.boosts is not None
    assert config.streak is not None
    assert doc["boosts"] == config.boosts.to_dict()
    assert doc["streak"] == config.streak.to_dict()
    assert doc["milestones"] == [m.to_dict() for m in config.milestones]
    assert doc["notes"] == []


def test_validate_notes_a_streak_milestone_without_a_streak(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A streak milestone in a config that keeps no streak can never unlock: validate says
    so (the config is still valid)."""
    data = levers_data()
    del data["streak"]
    path = write(tmp_path / "no_streak.json", data)
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 0
    assert out.splitlines()[-1] == (
        "Note: milestone 'three_days' is reached at a streak of 3, but the config keeps no "
        "streak: it can never be unlocked"
    )
    assert len(run_json(capsys, "validate", str(path))["notes"]) == 1


def test_levels_list_the_milestones_of_each_level(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Level milestones, and EXP milestones at the level their EXP buys, are listed."""
    data = levers_data()
    data["milestones"].append({"name": "big", "exp": 800})
    path = write(tmp_path / "levels.json", data)
    code, out, _ = run(capsys, "levels", str(path))
    assert code == 0
    assert out.splitlines()[-1] == "Milestones by level: level 2: creator; level 4: big"
    rows = run_json(capsys, "levels", str(path))["levels"]
    assert [row["milestones"] for row in rows] == [[], ["creator"], [], ["big"], [], []]

"""The award rules, example by example, from the migration guide's tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mikoshi_progression import (
    DEFAULT_CONFIG,
    ActionRule,
    Level,
    Outcome,
    ProgressionConfig,
    ProgressState,
    StateError,
    apply_events,
    award_exp_with_limits,
    exp_limits_view,
    is_new_day,
    next_reset_at,
    reset_daily_limits,
    reset_daily_limits_if_needed,
    revoke_exp,
)
from mikoshi_progression.core.days import require_aware
from mikoshi_progression.errors import InvalidArgumentError, InvalidMomentError

DAY1 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 3, 11, 0, 0, tzinfo=UTC)


def award(state: ProgressState, action: str, now: datetime = DAY1, config=DEFAULT_CONFIG):
    return award_exp_with_limits(state, action, now=now, config=config)


def today(**fields) -> ProgressState:
    """A state whose day was opened on DAY1."""
    return ProgressState(last_exp_reset_date=DAY1 - timedelta(hours=1), **fields)


REWARDS = [
    ("daily_chat", 20, 1),
    ("create_character", 30, 2),
    ("create_scene", 15, 2),
    ("create_persona", 15, 2),
    ("character_liked", 5, 20),
    ("forked", 10, None),
    ("paid_char_sold", 50, None),
]


@pytest.mark.parametrize(("action", "exp", "limit"), REWARDS)
def test_each_action_awards_its_reward_from_the_guide(action, exp, limit):
    """Every action of the guide's table awards its EXP to a new user."""
    result = award(ProgressState(), action)
    assert result.outcome is Outcome.AWARDED
    assert result.exp_added == exp
    assert result.state.exp == exp
    assert result.state.daily_exp_gained == exp
    assert result.state.daily_action_counts == {action: 1}
    assert result.action_limit == limit
    assert result.http_status == 200
    assert result.reason is None


@pytest.mark.parametrize(("action", "exp", "limit"), [r for r in REWARDS if r[2] is not None])
def test_action_limit_rejects_the_next_award_with_the_guides_message(action, exp, limit):
    """At its daily limit an action is refused with 429 and the platform's message."""
    state = today(daily_action_counts={action: limit})
    result = award(state, action)
    assert result.outcome is Outcome.ACTION_LIMIT
    assert not result.success
    assert result.exp_added == 0
    assert result.http_status == 429
    assert result.reason == f"Daily limit reached for {action} ({limit}/day)"
    assert result.state == state
    assert result.action_count == limit


def test_create_character_message_matches_the_guide_verbatim():
    """The guide's own example message for the third character of a day."""
    state = today()
    for _ in range(2):
        state = award(state, "create_character").state
    assert award(state, "create_character").reason == (
        "Daily limit reached for create_character (2/day)"
    )


@pytest.mark.parametrize(
    ("level", "exp", "cap"),
    [(1, 0, 150), (2, 100, 150), (3, 300, 300), (4, 700, 300), (5, 1500, 500), (6, 3000, 500)],
)
def test_daily_cap_by_level_rejects_with_the_guides_message(level, exp, cap):
    """A user at their level's cap is refused: 150 for L1-L2, 300 for L3-L4, 500 for L5-L6."""
    state = today(exp=exp, level=level, daily_exp_gained=cap)
    result = award(state, "forked")
    assert result.outcome is Outcome.DAILY_CAP
    assert result.http_status == 429
    assert result.reason == f"Daily EXP cap reached ({cap} EXP/day for level {level})"
    assert result.state == state
    assert result.daily_exp_cap == cap
    assert result.remaining_exp == 0


def test_partial_award_when_the_cap_would_be_exceeded():
    """140/150 gained and a 30 EXP action: 10 EXP are granted, marked partial."""
    state = today(exp=50, daily_exp_gained=140)
    result = award(state, "create_character")
    assert result.outcome is Outcome.PARTIAL
    assert result.success
    assert result.exp_added == 10
    assert result.state.exp == 60
    assert result.state.daily_exp_gained == 150
    assert result.state.daily_action_counts["create_character"] == 1
    assert result.remaining_exp == 0
    assert award(result.state, "forked").outcome is Outcome.DAILY_CAP


def test_limit_is_checked_before_the_cap():
    """An action at its limit reports the limit even when the cap is also reached."""
    state = today(daily_exp_gained=150, daily_action_counts={"daily_chat": 1})
    assert award(state, "daily_chat").outcome is Outcome.ACTION_LIMIT


def test_invalid_action_is_a_400_and_leaves_the_state_untouched():
    """An unknown action is rejected and nothing, not even a counter, is stored."""
    state = ProgressState(
        exp=10, daily_action_counts={"forked": 1}, last_exp_reset_date=DAY1 - timedelta(days=3)
    )
    result = award(state, "chat_used_50", now=DAY2)
    assert result.outcome is Outcome.INVALID_ACTION
    assert result.http_status == 400
    assert result.reason == "Invalid action: chat_used_50"
    assert result.state is state
    assert result.exp_added == 0
    assert result.action_count == 0
    assert result.action_limit is None
    assert result.to_dict() == {
        "success": False,
        "reason": "Invalid action: chat_used_50",
        "exp_added": 0,
    }
    assert result.remaining_exp == 150  # as of now: a new day has begun


def test_level_up_across_a_threshold():
    """Crossing 100 EXP makes a Newbie a Creator, and the result says so."""
    state = today(exp=90, daily_exp_gained=20)
    result = award(state, "create_character")
    assert result.state.exp == 120
    assert result.state.level == 2
    assert result.leveled_up
    assert result.previous_level == 1
    body = result.to_dict()
    assert body["leveled_up"] is True
    assert body["level"] == 2
    assert body["progress"]["level_name"] == "Creator"


def test_cap_of_the_level_before_the_award_applies_and_the_new_cap_is_reported():
    """A level-up mid-day raises the cap from the next award on (L2 150 -> L3 300)."""
    state = today(exp=290, level=2, daily_exp_gained=100)
    first = award(state, "create_character")  # 30 EXP, room 50 under L2's cap
    assert first.exp_added == 30
    assert first.state.level == 3
    assert first.daily_exp_cap == 300
    assert first.remaining_exp == 170
    second = award(first.state, "paid_char_sold")  # room now under L3's 300
    assert second.exp_added == 50


def test_new_utc_day_resets_gained_and_counts():
    """The first award after midnight UTC starts from an empty day."""
    state = ProgressState(
        exp=150,
        level=2,
        daily_exp_gained=150,
        last_exp_reset_date=DAY1,
        daily_action_counts={"create_character": 2, "chat_used_50": 3},
    )
    result = award(state, "create_character", now=DAY2)
    assert result.outcome is Outcome.AWARDED
    assert result.state.daily_exp_gained == 30
    assert result.state.daily_action_counts == {"create_character": 1}
    assert result.state.last_exp_reset_date == DAY2


def test_limit_rejection_still_carries_the_day_reset():
    """A rejection on a new day returns the reset state (so a store persists it)."""
    config = ProgressionConfig(
        levels=DEFAULT_CONFIG.levels,
        actions={"a": ActionRule(10, daily_limit=1), "b": ActionRule(10)},
        daily_exp_caps={1: 0},
    )
    state = ProgressState(
        daily_exp_gained=0, last_exp_reset_date=DAY1, daily_action_counts={"a": 1}
    )
    result = award(state, "b", now=DAY2, config=config)
    assert result.outcome is Outcome.DAILY_CAP
    assert result.state.last_exp_reset_date == DAY2
    assert result.state.daily_action_counts == {}


def test_one_second_before_midnight_is_still_the_same_day():
    """23:59:59 UTC belongs to the day that began at 00:00 UTC."""
    state = today(daily_action_counts={"daily_chat": 1})
    late = datetime(2026, 3, 10, 23, 59, 59, 999999, tzinfo=UTC)
    assert award(state, "daily_chat", now=late).outcome is Outcome.ACTION_LIMIT
    assert award(state, "daily_chat", now=late + timedelta(microseconds=1)).success


def test_midnight_is_utc_whatever_the_offset_of_now():
    """A moment given in +09:00 belongs to its UTC day."""
    tokyo = timezone(timedelta(hours=9))
    state = today(daily_action_counts={"daily_chat": 1})
    # 08:59 in Tokyo on March 11 is 23:59 UTC on March 10: the same day.
    same_day = datetime(2026, 3, 11, 8, 59, tzinfo=tokyo)
    assert award(state, "daily_chat", now=same_day).outcome is Outcome.ACTION_LIMIT
    next_day = datetime(2026, 3, 11, 9, 0, tzinfo=tokyo)
    assert award(state, "daily_chat", now=next_day).success


def test_clock_skew_to_an_earlier_day_never_opens_a_new_day():
    """A lagging server's 'now' on the previous day must not reset today's limits."""
    state = ProgressState(
        daily_exp_gained=150, last_exp_reset_date=DAY2, daily_action_counts={"daily_chat": 1}
    )
    lagging = DAY2 - timedelta(seconds=2)
    assert not is_new_day(state, now=lagging)
    assert reset_daily_limits_if_needed(state, now=lagging) is state
    result = award(state, "daily_chat", now=lagging)
    assert result.outcome is Outcome.ACTION_LIMIT
    assert result.state == state


def test_daily_chat_stamps_last_chat_date():
    """Awarding daily_chat records when; other actions leave it alone."""
    result = award(ProgressState(), "daily_chat")
    assert result.state.last_chat_date == DAY1
    later = award(result.state, "forked", now=DAY1 + timedelta(hours=1))
    assert later.state.last_chat_date == DAY1


def test_reset_daily_limits_if_needed_keeps_exp_level_and_chat_date():
    """The reset zeroes only the day's figures."""
    state = ProgressState(
        exp=500,
        level=3,
        daily_exp_gained=70,
        last_exp_reset_date=DAY1,
        daily_action_counts={"forked": 7},
        last_chat_date=DAY1,
    )
    reset = reset_daily_limits_if_needed(state, now=DAY2)
    assert reset == ProgressState(exp=500, level=3, last_exp_reset_date=DAY2, last_chat_date=DAY1)
    assert reset_daily_limits_if_needed(reset, now=DAY2 + timedelta(hours=5)) is reset
    assert reset_daily_limits(reset, now=DAY2 + timedelta(hours=5)).last_exp_reset_date == (
        DAY2 + timedelta(hours=5)
    )


def test_new_user_opens_a_day_on_first_award():
    """A state with no reset yet gets one at its first award."""
    result = award(ProgressState(), "forked")
    assert result.state.last_exp_reset_date == DAY1


def test_resets_at_is_the_next_utc_midnight():
    """A UI can tell the user when limits reset."""
    result = award(today(), "forked")
    assert result.resets_at == DAY2
    assert next_reset_at(today(), now=DAY1) == DAY2


def test_naive_now_is_refused():
    """Every moment must carry a time zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        award_exp_with_limits(ProgressState(), "forked", now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        reset_daily_limits_if_needed(ProgressState(), now=datetime(2026, 1, 1))


def test_to_dict_on_success_has_the_platforms_keys():
    """The success body carries exactly the platform's keys."""
    body = award(ProgressState(), "create_character").to_dict()
    assert list(body) == [
        "success",
        "exp_added",
        "total_exp",
        "level",
        "leveled_up",
        "daily_exp_gained",
        "daily_exp_cap",
        "action_count",
        "action_limit",
        "progress",
    ]
    assert body["success"] is True
    assert body["action_count"] == 1
    assert body["action_limit"] == 2


def test_to_dict_on_rejections_has_the_platforms_keys():
    """Limit rejections carry counts, cap rejections carry the day's EXP."""
    limit = award(today(daily_action_counts={"daily_chat": 1}), "daily_chat").to_dict()
    assert limit == {
        "success": False,
        "reason": "Daily limit reached for daily_chat (1/day)",
        "exp_added": 0,
        "action_count": 1,
        "action_limit": 1,
    }
    cap = award(today(daily_exp_gained=150), "forked").to_dict()
    assert cap == {
        "success": False,
        "reason": "Daily EXP cap reached (150 EXP/day for level 1)",
        "exp_added": 0,
        "daily_exp_gained": 150,
        "daily_exp_cap": 150,
    }


def test_cap_exempt_action_is_granted_in_full_and_not_counted():
    """A cap-exempt action pays in full past the cap and leaves daily_exp_gained alone."""
    config = ProgressionConfig(
        levels=DEFAULT_CONFIG.levels,
        actions={"bounty": ActionRule(50, cap_exempt=True), "chat": ActionRule(20)},
        daily_exp_caps={1: 150},
    )
    state = today(daily_exp_gained=150)
    result = award(state, "bounty", config=config)
    assert result.outcome is Outcome.AWARDED
    assert result.exp_added == 50
    assert result.state.daily_exp_gained == 150
    assert award(result.state, "chat", config=config).outcome is Outcome.DAILY_CAP


def test_cap_for_a_level_beyond_the_table_is_the_last_levels():
    """A stored level past the table (after a retune) takes the last cap."""
    state = today(exp=5000, level=9, daily_exp_gained=499)
    result = award(state, "forked")
    assert result.exp_added == 1
    assert result.daily_exp_cap == 500


def test_exp_limits_view_matches_the_guides_example():
    """GET /api/exp/limits for a user who created one character today."""
    state = today(exp=30, daily_exp_gained=30, daily_action_counts={"create_character": 1})
    view = exp_limits_view(state, now=DAY1)
    assert view == {
        "level": 1,
        "daily_exp_gained": 30,
        "daily_exp_cap": 150,
        "remaining_exp": 120,
        "daily_action_counts": {"create_character": 1},
        "action_limits": {
            "daily_chat": 1,
            "create_character": 2,
            "create_scene": 2,
            "create_persona": 2,
            "character_liked": 20,
            "forked": None,
            "paid_char_sold": None,
        },
        "exp_rewards": {
            "daily_chat": 20,
            "create_character": 30,
            "create_scene": 15,
            "create_persona": 15,
            "character_liked": 5,
            "forked": 10,
            "paid_char_sold": 50,
        },
    }
    assert exp_limits_view(state, now=DAY2)["daily_exp_gained"] == 0


def test_revoke_takes_back_exp_but_not_cap_room_or_counts():
    """An unlike removes the like's EXP and makes no room for another like."""
    liked = award(today(exp=40, daily_exp_gained=40), "character_liked").state
    revoked = revoke_exp(liked, 5)
    assert revoked.exp == 40
    assert revoked.daily_exp_gained == liked.daily_exp_gained
    assert revoked.daily_action_counts == liked.daily_action_counts


def test_revoke_keeps_the_level_by_default_and_drops_it_when_configured():
    """Levels never drop unless the config says so; EXP never goes below zero."""
    state = ProgressState(exp=105, level=2)
    assert revoke_exp(state, 10) == ProgressState(exp=95, level=2)
    droppy = ProgressionConfig(
        levels=DEFAULT_CONFIG.levels,
        actions=DEFAULT_CONFIG.actions,
        daily_exp_caps={1: 150},
        levels_can_drop=True,
    )
    assert revoke_exp(state, 10, config=droppy).level == 1
    assert revoke_exp(state, 1000).exp == 0
    with pytest.raises(ValueError, match="non-negative"):
        revoke_exp(state, -5)


def test_level_kept_after_revoke_rises_only_past_the_next_threshold():
    """With a kept level, awards raise it only when EXP passes the next threshold."""
    kept = revoke_exp(ProgressState(exp=105, level=2, last_exp_reset_date=DAY1), 10)
    result = award(kept, "forked")
    assert (result.state.exp, result.state.level, result.leveled_up) == (105, 2, False)


def test_reward_of_zero_is_awarded_and_counted():
    """A zero-EXP action still counts toward its limit."""
    config = ProgressionConfig(
        levels=(Level(1, "Only", "", 0),),
        actions={"ping": ActionRule(0, daily_limit=1)},
        daily_exp_caps={1: 10},
    )
    result = award(ProgressState(), "ping", config=config)
    assert result.outcome is Outcome.AWARDED
    assert result.state.daily_action_counts == {"ping": 1}
    assert award(result.state, "ping", config=config).outcome is Outcome.ACTION_LIMIT


def small_table(**settings) -> ProgressionConfig:
    """Three levels (0, 100, 300) whose caps all differ: 100, 200, 300."""
    return ProgressionConfig(
        levels=(Level(1, "One", "", 0), Level(2, "Two", "", 100), Level(3, "Three", "", 300)),
        actions={"forked": ActionRule(10), "like": ActionRule(5, daily_limit=1)},
        daily_exp_caps={1: 100, 2: 200, 3: 300},
        **settings,
    )


def test_rejections_report_the_level_they_were_decided_at():
    """previous_level is the user's level on a limit or a cap rejection too."""
    limited = award(today(exp=400, level=3, daily_action_counts={"daily_chat": 1}), "daily_chat")
    assert limited.previous_level == 3
    capped = award(today(exp=400, level=3, daily_exp_gained=300), "forked")
    assert capped.previous_level == 3
    final, results = apply_events(
        today(exp=400, level=3, daily_exp_gained=300, daily_action_counts={"daily_chat": 1}),
        [(DAY1, "daily_chat"), (DAY1, "forked"), (DAY1, "nope")],
    )
    assert [r.previous_level for r in results] == [3, 3, 3]
    assert final.level == 3


def test_a_level_kept_after_a_revoke_survives_the_next_award():
    """Levels never drop: a Creator left at 90 EXP by a revoke is still a Creator at 95."""
    kept = today(exp=90, level=2, daily_exp_gained=10)
    result = award(kept, "character_liked")
    assert (result.state.exp, result.state.level) == (95, 2)
    assert not result.leveled_up
    assert result.to_dict()["progress"]["current_level"] == 2
    assert result.to_dict()["progress"]["level_name"] == "Creator"
    final, results = apply_events(kept, [(DAY1, "character_liked")])
    assert (final.exp, final.level, results[0].state.level) == (95, 2, 2)


def test_with_levels_that_drop_the_next_award_lowers_a_kept_level():
    """With levels_can_drop, a level the EXP no longer reaches is dropped at the next award."""
    droppy = small_table(levels_can_drop=True)
    kept = today(exp=90, level=2, daily_exp_gained=10)
    result = award(kept, "like", config=droppy)
    assert (result.state.exp, result.state.level, result.previous_level) == (95, 1, 2)
    assert not result.leveled_up
    final, _ = apply_events(kept, [(DAY1, "like")], droppy)
    assert (final.exp, final.level) == (95, 1)
    steady = award(kept, "like", config=small_table())
    assert steady.state.level == 2


def test_a_level_beyond_the_table_takes_the_last_cap_in_both_paths():
    """A stored level past the table (a retune removed levels) is capped at the top level's cap."""
    state = today(exp=5000, level=7, daily_exp_gained=295)
    config = small_table()
    result = award(state, "forked", config=config)
    assert (result.exp_added, result.outcome, result.daily_exp_cap) == (5, Outcome.PARTIAL, 300)
    assert result.to_dict()["progress"]["level_name"] == "Three"
    assert result.remaining_exp == 0
    final, results = apply_events(state, [(DAY1, "forked"), (DAY1, "forked")], config)
    assert [r.exp_added for r in results] == [5, 0]
    assert final.daily_exp_gained == 300
    assert final.level == 7
    assert exp_limits_view(state, now=DAY1, config=config)["daily_exp_cap"] == 300
    assert config.cap_for_level(3) == 300
    assert config.cap_for_level(2) == 200


def test_remaining_exp_is_never_negative():
    """Gained above the cap (a lowered cap) leaves 0 to earn, not a negative amount."""
    state = today(exp=60, daily_exp_gained=200)
    result = award(state, "forked")
    assert result.outcome is Outcome.DAILY_CAP
    assert result.remaining_exp == 0
    assert exp_limits_view(state, now=DAY1)["remaining_exp"] == 0
    exact = today(exp=60, daily_exp_gained=150)
    assert exp_limits_view(exact, now=DAY1)["remaining_exp"] == 0
    assert exp_limits_view(today(daily_exp_gained=149), now=DAY1)["remaining_exp"] == 1


def test_exp_limits_view_opens_the_day_by_the_configs_boundary():
    """The limits view resets by the config's reset zone and hour, not by UTC midnight."""
    tokyo = ProgressionConfig(
        levels=DEFAULT_CONFIG.levels,
        actions=DEFAULT_CONFIG.actions,
        daily_exp_caps={1: 150},
        reset_timezone="Asia/Tokyo",
        reset_hour=4,
    )
    state = ProgressState(
        exp=40,
        daily_exp_gained=40,
        last_exp_reset_date=datetime(2026, 3, 10, 18, 0, tzinfo=UTC),
        daily_action_counts={"forked": 4},
    )
    later = datetime(2026, 3, 10, 19, 30, tzinfo=UTC)
    assert exp_limits_view(state, now=later, config=tokyo)["daily_exp_gained"] == 0
    assert exp_limits_view(state, now=later, config=tokyo)["daily_action_counts"] == {}
    assert exp_limits_view(state, now=later)["daily_exp_gained"] == 40


def test_revoke_of_nothing_changes_nothing():
    """revoke_exp(s, 0) gives back an equal state."""
    state = today(exp=105, level=2, daily_exp_gained=5, daily_action_counts={"forked": 1})
    assert revoke_exp(state, 0) == state


def test_revoke_keeps_the_day_and_the_last_chat():
    """A revoke changes EXP (and maybe the level), never the day's reset or the last chat."""
    state = ProgressState(
        exp=105,
        level=2,
        daily_exp_gained=45,
        last_exp_reset_date=DAY1,
        daily_action_counts={"forked": 1},
        last_chat_date=DAY1 - timedelta(days=1),
    )
    assert revoke_exp(state, 10) == replace(state, exp=95)


@pytest.mark.parametrize(
    ("amount", "got"),
    [
        (-1, "int -1"),
        (True, "bool True"),
        (1.0, "float 1.0"),
        ("5", "str '5'"),
        (None, "NoneType None"),
    ],
)
def test_revoke_refuses_anything_but_a_non_negative_integer(amount, got):
    """A negative, boolean, float or text amount is an InvalidArgumentError naming exp."""
    with pytest.raises(InvalidArgumentError) as info:
        revoke_exp(ProgressState(exp=10), amount)
    assert info.value.field == "exp"
    assert str(info.value) == (
        f"exp: must be a non-negative integer (the EXP to take back), got {got}"
    )


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 1, 1),
        datetime(1899, 12, 31, 23, 59, tzinfo=UTC),
        datetime(9000, 1, 1, tzinfo=UTC),
        "2026-01-01T00:00:00+00:00",
        None,
    ],
)
def test_both_award_paths_refuse_naive_unsupported_and_non_moments(now):
    """award_exp_with_limits and apply_events take only aware datetimes from 1900 to 8999."""
    with pytest.raises(InvalidMomentError) as reference:
        require_aware(now)
    with pytest.raises(InvalidMomentError) as info:
        award_exp_with_limits(ProgressState(), "forked", now=now)
    assert str(info.value) == str(reference.value)
    with pytest.raises(InvalidMomentError) as info:
        apply_events(ProgressState(), [(DAY1, "forked"), (now, "forked")])
    assert str(info.value) == str(reference.value)
    with pytest.raises(InvalidMomentError) as info:
        apply_events(ProgressState(), [(now, "no_such_action")])
    assert str(info.value) == str(reference.value)


@pytest.mark.parametrize(
    "now", [datetime(1900, 1, 1, tzinfo=UTC), datetime(8999, 12, 31, 12, tzinfo=UTC)]
)
def test_the_first_and_last_supported_years_are_taken(now):
    """Moments in 1900 and in 8999 are awarded like any other."""
    assert award_exp_with_limits(ProgressState(), "forked", now=now).exp_added == 10
    final, _ = apply_events(ProgressState(), [(now, "forked")])
    assert final.exp == 10
    assert final.last_exp_reset_date == now


def test_exp_may_reach_but_never_pass_2_63_minus_1():
    """An award past what a 64-bit column holds raises StateError; reaching it exactly is fine."""
    top = 2**63 - 1
    full = award(today(exp=top - 10, level=6), "forked")
    assert full.state.exp == top
    final, _ = apply_events(today(exp=top - 10, level=6), [(DAY1, "forked")])
    assert final.exp == top
    message = f"exp: an award of 10 would take {top - 5} EXP past 2**63 - 1, what a store can hold"
    with pytest.raises(StateError) as info:
        award(today(exp=top - 5, level=6), "forked")
    assert str(info.value) == message
    assert info.value.field == "exp"
    with pytest.raises(StateError) as info:
        apply_events(today(exp=top - 5, level=6), [(DAY1, "forked")])
    assert str(info.value) == message


def test_a_cap_exempt_award_cannot_overflow_either():
    """EXP outside the cap is bounded like any other."""
    config = ProgressionConfig(
        levels=DEFAULT_CONFIG.levels,
        actions={"bounty": ActionRule(2**62, cap_exempt=True)},
        daily_exp_caps={1: 150},
    )
    state = today(exp=2**62, level=6)
    with pytest.raises(StateError, match="an award of 4611686018427387904 would take"):
        award(state, "bounty", config=config)
    with pytest.raises(StateError, match="an award of 4611686018427387904 would take"):
        apply_events(state, [(DAY1, "bounty")], config)


# --- moments at the ends of time, in every branch -------------------------------------------

_FAR = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1899, 12, 31, 23, 59, tzinfo=UTC),
    datetime(9000, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
]


def _zone(name: str) -> ProgressionConfig:
    return replace(DEFAULT_CONFIG, reset_timezone=name, reset_hour=4)


def _refusal(now: object) -> str:
    with pytest.raises(InvalidMomentError) as info:
        require_aware(now)
    return str(info.value)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Pacific/Kiritimati"])
@pytest.mark.parametrize("now", _FAR, ids=lambda m: m.isoformat()[:10])
def test_a_moment_out_of_range_is_refused_by_name_on_every_path(zone, now):
    """Whether it opens a day, meets a day already open, names an unknown action or is so
    far out that shifting it to the reset zone overflows, an unsupported moment is refused
    with require_aware's own message, which names it."""
    config = _zone(zone)
    opened = award(ProgressState(), "create_scene", config=config).state
    message = _refusal(now)
    assert now.isoformat()[:4] in message
    for state in (ProgressState(), opened):
        for action in ("no_such_action", "daily_chat", "forked"):
            with pytest.raises(InvalidMomentError) as info:
                award(state, action, now=now, config=config)
            assert str(info.value) == message
            with pytest.raises(InvalidMomentError) as info:
                apply_events(state, [(now, action)], config)
            assert str(info.value) == message


def test_a_moment_past_the_range_may_meet_an_open_day_but_never_stamps_a_chat():
    """East of UTC, the last supported day runs past the last supported instant: a moment
    there still meets that open day (no overflow, nothing new kept), but a chat would keep
    it as ``last_chat_date``, so it is refused by name."""
    config = _zone("Pacific/Kiritimati")
    state = award(ProgressState(), "create_scene", datetime(8999, 12, 31, 20, tzinfo=UTC), config)
    state = state.state
    beyond = datetime(9000, 1, 1, 9, tzinfo=UTC)
    met = award(state, "create_scene", now=beyond, config=config)
    assert (met.exp_added, met.state.last_exp_reset_date) == (15, state.last_exp_reset_date)
    final, _ = apply_events(state, [(beyond, "create_scene")], config)
    assert final.exp == 30
    message = _refusal(beyond)
    with pytest.raises(InvalidMomentError) as info:
        award(state, "daily_chat", now=beyond, config=config)
    assert str(info.value) == message
    with pytest.raises(InvalidMomentError) as info:
        apply_events(state, [(beyond, "daily_chat")], config)
    assert str(info.value) == message


@pytest.mark.parametrize("action", [["daily_chat"], {"daily_chat": 1}, 7, None])
def test_an_action_that_is_no_name_is_refused_by_value(action):
    """An action that cannot be a name (unhashable, or not a string for check_actor) is an
    InvalidArgumentError that shows it, never a bare TypeError."""
    from mikoshi_progression.core.rules import check_actor

    message = f"action: must be an action name (a string), got {type(action).__name__} "
    if not isinstance(action, (int, type(None))):
        with pytest.raises(InvalidArgumentError) as info:
            award(ProgressState(), action)
        assert str(info.value).startswith(message)
        with pytest.raises(InvalidArgumentError) as info:
            apply_events(ProgressState(), [(DAY1, action)])
        assert str(info.value).startswith(message)
    else:
        assert award(ProgressState(), action).outcome is Outcome.INVALID_ACTION
    with pytest.raises(InvalidArgumentError) as info:
        check_actor(action, recipient="u", actor="a")
    assert str(info.value) == message + repr(action)


# --- operators' adjustments ----------------------------------------------------------------


def test_adjust_exp_moves_exp_and_keeps_the_day():
    """A grant or deduction changes EXP alone: today's gained EXP and counts stay; the
    level rises with EXP, and falls with it only when the config lets levels drop."""
    from mikoshi_progression import adjust_exp

    day = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    state = ProgressState(
        exp=90, daily_exp_gained=40, last_exp_reset_date=day, daily_action_counts={"forked": 2}
    )
    granted = adjust_exp(state, 20)
    assert (granted.exp, granted.level) == (110, 2)
    assert granted.daily_exp_gained == 40
    assert dict(granted.daily_action_counts) == {"forked": 2}
    assert granted.last_exp_reset_date == day
    deducted = adjust_exp(granted, -100)
    assert (deducted.exp, deducted.level) == (10, 2)
    dropping = replace(DEFAULT_CONFIG, levels_can_drop=True)
    assert adjust_exp(granted, -100, config=dropping).level == 1
    assert adjust_exp(granted, -110).exp == 0
    for delta in (-111, 1.5, True, "5"):
        with pytest.raises(InvalidArgumentError) as caught:
            adjust_exp(granted, delta)  # type: ignore[arg-type]
        assert caught.value.field == "delta"


def test_set_total_exp_is_an_adjustment_by_the_difference():
    """Setting a balance moves EXP to it under the same rules; a negative or non-integer
    balance is refused, naming ``exp``."""
    from mikoshi_progression import adjust_exp, set_total_exp

    state = ProgressState(exp=350, level=3, daily_exp_gained=20)
    assert set_total_exp(state, 800) == adjust_exp(state, 450)
    assert set_total_exp(state, 350) == state
    lowered = set_total_exp(state, 50)
    assert (lowered.exp, lowered.level, lowered.daily_exp_gained) == (50, 3, 20)
    dropping = replace(DEFAULT_CONFIG, levels_can_drop=True)
    assert set_total_exp(state, 50, config=dropping).level == 1
    for exp in (-1, 2.0, False, None):
        with pytest.raises(InvalidArgumentError) as caught:
            set_total_exp(state, exp)  # type: ignore[arg-type]
        assert caught.value.field == "exp"

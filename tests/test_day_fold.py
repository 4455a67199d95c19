"""The day fold (``core.day_fold.DayFolder``) gives exactly what ``apply_events`` gives."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mikoshi_progression import (
    ActionRule,
    Level,
    Outcome,
    ProgressionConfig,
    ProgressState,
    StateError,
    apply_events,
)
from mikoshi_progression.core.day_fold import NO_LOSS, DayFolder
from mikoshi_progression.core.state import MAX_COUNT
from mikoshi_progression.core.zones import boundary_for
from mikoshi_progression.testing.strategies import USER_ZONES

_NAMES = ("daily_chat", "create_character", "create_scene", "liked", "forked", "bounty")
_FIRST_DAY = date(2026, 1, 1)


@st.composite
def day_configs(draw: st.DrawFn) -> ProgressionConfig:
    """Configs without levers: up to 14 levels, limits None or 1 to 4 (0 is not a valid
    limit), caps from 0, rewards often 0, cap-exempt actions."""
    count = draw(st.integers(1, 14))
    steps = draw(st.lists(st.integers(1, 120), min_size=count - 1, max_size=count - 1))
    thresholds = [0]
    for step in steps:
        thresholds.append(thresholds[-1] + step)
    names = draw(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=6, unique=True))
    actions = {
        name: ActionRule(
            exp=draw(st.sampled_from((0, 5, 30)) | st.integers(0, 80)),
            daily_limit=draw(st.none() | st.integers(1, 4)),
            cap_exempt=draw(st.booleans()),
        )
        for name in names
    }
    capped = draw(st.sets(st.integers(1, count), max_size=count)) | {1}
    return ProgressionConfig(
        levels=tuple(
            Level(number=i + 1, name=f"L{i + 1}", unlock="", exp_required=t)
            for i, t in enumerate(thresholds)
        ),
        actions=actions,
        daily_exp_caps={level: draw(st.integers(0, 250)) for level in sorted(capped)},
        reset_timezone=draw(st.sampled_from(("UTC", "Asia/Tokyo", "America/New_York"))),
        reset_hour=draw(st.sampled_from((0, 4, 23))),
        levels_can_drop=draw(st.booleans()),
    )


@st.composite
def day_runs(draw: st.DrawFn) -> tuple[ProgressionConfig, ProgressState, list[tuple[str, ...]]]:
    """A config, a state about to open a new day, and days of attempts drawn from a few
    day plans (so that a plan recurs at another EXP, as in a simulation)."""
    config = draw(day_configs())
    action = st.sampled_from([*config.actions, "unknown"])
    plans = draw(st.lists(st.lists(action, max_size=30).map(tuple), min_size=1, max_size=4))
    days = draw(st.lists(st.sampled_from([*plans, ()]), min_size=1, max_size=12))
    top = config.levels[-1].exp_required
    if draw(st.booleans()):
        exp = draw(st.integers(0, top + 300))
        level = config.level_for_exp(exp)
    else:  # a level above the EXP's, as a revoke leaves it when levels cannot drop
        level = draw(st.integers(1, len(config.levels)))
        exp = draw(st.integers(0, config.levels[level - 1].exp_required))
    zone = draw(st.none() | st.sampled_from(USER_ZONES))
    return config, ProgressState(exp=exp, level=level, timezone=zone), days


def expected_days(
    config: ProgressionConfig, state: ProgressState, days: list[tuple[str, ...]]
) -> list[tuple[int, int, bool, dict[int, int], dict[str, int]]]:
    """Per day, from ``apply_events`` over the days stamped a second apart from their
    start: EXP and level at its end, whether the cap bit, cap losses by level, limit
    losses by action."""
    boundary = boundary_for(state, config)
    events = []
    ends = []
    for number, actions in enumerate(days):
        begin = boundary.start_of(_FIRST_DAY + timedelta(days=number))
        events += [(begin + timedelta(seconds=i), name) for i, name in enumerate(actions)]
        ends.append(len(events))
    final, results = apply_events(state, events, config)
    rewards = {name: rule.exp for name, rule in config.actions.items()}
    out = []
    exp, level, start = state.exp, state.level, 0
    for end in ends:
        capped = False
        cap_loss: dict[int, int] = {}
        limit_loss: dict[str, int] = {}
        for result in list(results)[start:end]:
            if result.outcome is Outcome.ACTION_LIMIT:
                limit_loss[result.action] = (
                    limit_loss.get(result.action, 0) + rewards[result.action]
                )
            elif result.outcome in (Outcome.DAILY_CAP, Outcome.PARTIAL):
                capped = True
                lost = rewards[result.action] - result.exp_added
                cap_loss[result.previous_level] = cap_loss.get(result.previous_level, 0) + lost
            exp, level = result.state.exp, result.state.level
        out.append((exp, level, capped, cap_loss, limit_loss))
        start = end
    assert (exp, level) == (final.exp, final.level)
    return out


@settings(max_examples=400)
@given(day_runs())
def test_day_fold_equals_apply_events(run):
    """Day by day, the fold's EXP, level and losses are those apply_events gives."""
    config, state, days = run
    folder = DayFolder(config)
    for actions in set(days):  # remembered first at each level's threshold, then reused
        for number, level_rule in enumerate(config.levels, 1):
            folder.fold(level_rule.exp_required, number, actions)
    exp, level = state.exp, state.level
    for (want_exp, want_level, capped, cap_loss, limit_loss), actions in zip(
        expected_days(config, state, days), days, strict=True
    ):
        exp, level, losses = folder.fold(exp, level, actions)
        assert (exp, level) == (want_exp, want_level)
        assert losses.capped == capped
        assert dict(losses.cap_loss) == cap_loss
        assert dict(losses.limit_loss) == limit_loss
        assert (losses.cap_lost, losses.limit_lost) == (
            sum(cap_loss.values()),
            sum(limit_loss.values()),
        )
        if not capped and not limit_loss:
            assert losses is NO_LOSS


def test_a_remembered_day_is_folded_again_where_the_level_moves():
    """A day remembered at one EXP is reused only where no award could change the level."""
    config = ProgressionConfig(
        levels=(Level(1, "a", "", 0), Level(2, "b", "", 100)),
        actions={"chat": ActionRule(exp=30)},
        daily_exp_caps={1: 1000, 2: 45},
    )
    folder = DayFolder(config)
    day = ("chat",) * 3
    assert folder.fold(0, 1, day)[:2] == (90, 1)  # remembered: the level held
    assert folder.fold(5, 1, day)[:2] == (95, 1)
    exp, level, losses = folder.fold(20, 1, day)  # crosses 100 on the last award
    assert (exp, level, losses) == (110, 2, NO_LOSS)
    exp, level, losses = folder.fold(110, 2, day)  # level 2's cap of 45 cuts and refuses
    assert (exp, level, dict(losses.cap_loss)) == (155, 2, {2: 45})


def test_days_forgotten_past_the_memo_size_fold_the_same(monkeypatch):
    """Past its size the memo is forgotten at once; the days then fold anew, the same."""
    from mikoshi_progression import DEFAULT_CONFIG
    from mikoshi_progression.core import day_fold

    days = [("daily_chat",) + ("character_liked",) * n for n in range(30)] * 2
    remembered = DayFolder(DEFAULT_CONFIG)
    want = [remembered.fold(3000, 6, day) for day in days]
    monkeypatch.setattr(day_fold, "_MEMO_SIZE", 40)
    forgetful = DayFolder(DEFAULT_CONFIG)
    assert [forgetful.fold(3000, 6, day) for day in days] == want
    assert len(forgetful._memo) < 10


def test_overflow_is_refused_as_apply_events_refuses_it():
    config = ProgressionConfig(
        levels=(Level(1, "a", "", 0),),
        actions={"bounty": ActionRule(exp=10, cap_exempt=True)},
        daily_exp_caps={1: 0},
    )
    folder = DayFolder(config)
    folder.fold(0, 1, ("bounty",))  # remembered
    with pytest.raises(StateError):
        folder.fold(MAX_COUNT - 5, 1, ("bounty",))
    with pytest.raises(StateError):
        apply_events(ProgressState(exp=MAX_COUNT - 5), [(_start(config), "bounty")], config)


def test_a_config_with_levers_is_refused():
    from mikoshi_progression.core.config import DEFAULT_CONFIG

    levered = ProgressionConfig.from_dict(
        {**DEFAULT_CONFIG.to_dict(), "streak": {"action": "daily_chat", "bonuses": {"7": 50}}}
    )
    with pytest.raises(ValueError, match="levers"):
        DayFolder(levered)


def _start(config: ProgressionConfig):
    return config.day_boundary.start_of(_FIRST_DAY)

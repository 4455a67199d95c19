"""Laws of the award rules, checked by hypothesis over random configs, states and moments."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mikoshi_progression import (
    DEFAULT_CONFIG,
    ActionRule,
    Level,
    Outcome,
    ProgressionConfig,
    ProgressState,
    apply_events,
    award_exp_with_limits,
    reset_daily_limits_if_needed,
)
from mikoshi_progression.testing import check_award
from mikoshi_progression.testing.strategies import (
    action_names,
    configs,
    event_streams,
    moments,
    scenarios,
    states,
)


@st.composite
def runs(draw, *, consistent_start: bool = False):
    """A config, a starting state and a time-ordered event stream."""
    config = draw(configs())
    start = draw(states(config)) if not consistent_start else ProgressState()
    return config, start, draw(event_streams(config))


def fold(config, state, events):
    """The reference fold: award_exp_with_limits, one event at a time."""
    results = []
    for now, action in events:
        before = state
        result = award_exp_with_limits(state, action, now=now, config=config)
        check_award(before, result, config)
        results.append(result)
        state = result.state
    return state, results


@given(scenarios())
def test_every_single_award_is_lawful(scenario):
    """Any award from any consistent state satisfies the invariants checker."""
    config, state, action, now = scenario
    check_award(state, award_exp_with_limits(state, action, now=now, config=config), config)


@given(runs())
def test_gained_never_exceeds_the_cap_of_the_level_at_each_award(run):
    """After every award, today's gained is within the cap of the level it was decided at."""
    config, state, events = run
    for now, action in events:
        result = award_exp_with_limits(state, action, now=now, config=config)
        if result.success and not config.actions[action].cap_exempt:
            assert result.state.daily_exp_gained <= config.cap_for_level(result.previous_level)
        state = result.state


@given(runs(consistent_start=True))
def test_counts_never_exceed_limits(run):
    """No action's count passes its daily limit, whatever the stream."""
    config, state, events = run
    final, results = apply_events(state, events, config)
    for result in [*results, None]:
        counts = (result.state if result else final).daily_action_counts
        for action, count in counts.items():
            limit = config.actions[action].daily_limit
            assert limit is None or count <= limit


@given(runs())
def test_exp_never_decreases_through_awards(run):
    """Awards only ever add EXP."""
    config, state, events = run
    previous = state.exp
    for result in apply_events(state, events, config)[1]:
        assert result.state.exp >= previous
        previous = result.state.exp


@given(runs(consistent_start=True))
def test_level_always_equals_level_for_exp(run):
    """From a new user, the level is always exactly what the EXP reaches."""
    config, state, events = run
    final, results = apply_events(state, events, config)
    for result in results:
        assert result.state.level == config.level_for_exp(result.state.exp)
    assert final.level == config.level_for_exp(final.exp)


@given(scenarios())
def test_a_rejected_award_changes_nothing_but_a_day_reset(scenario):
    """Limit and cap rejections return the (possibly reset) state; invalid ones the input."""
    config, state, action, now = scenario
    result = award_exp_with_limits(state, action, now=now, config=config)
    if result.outcome is Outcome.INVALID_ACTION:
        assert result.state is state
    elif not result.success:
        assert result.state == reset_daily_limits_if_needed(state, now=now, config=config)
        assert result.exp_added == 0


@given(runs(consistent_start=True))
def test_sum_of_exp_added_over_a_day_equals_its_gained(run):
    """Per progression day, the capped EXP added sums to that day's daily_exp_gained."""
    config, state, events = run
    _, results = apply_events(state, events, config)
    per_day: dict[object, int] = defaultdict(int)
    last_state_of_day = {}
    for result in results:
        if result.outcome is Outcome.INVALID_ACTION:
            continue
        day = result.state.last_exp_reset_date
        if not config.actions[result.action].cap_exempt:
            per_day[day] += result.exp_added
        last_state_of_day[day] = result.state
    for day, state_of_day in last_state_of_day.items():
        assert state_of_day.daily_exp_gained == per_day[day]


@given(runs())
def test_apply_events_equals_the_award_by_award_fold(run):
    """The fast fold gives exactly the results and state of awarding event by event."""
    config, state, events = run
    expected_state, expected_results = fold(config, state, events)
    final, results = apply_events(state, events, config)
    assert final == expected_state
    assert list(results) == expected_results
    assert len(results) == len(events)
    if events:
        assert results[-1] == expected_results[-1]
        assert results[:2] == expected_results[:2]


@given(runs())
def test_replay_is_deterministic(run):
    """The same stream from the same state always gives the same outcome."""
    config, state, events = run
    first = apply_events(state, events, config)
    second = apply_events(state, events, config)
    assert first[0] == second[0]
    assert list(first[1]) == list(second[1])


@given(runs())
def test_nothing_the_caller_holds_is_mutated(run):
    """Folding leaves the input state and every earlier result's state as they were."""
    config, state, events = run
    snapshot = state.to_dict()
    _, results = apply_events(state, events, config)
    seen = [r.state.to_dict() for r in results]
    assert state.to_dict() == snapshot
    assert [r.state.to_dict() for r in results] == seen


@given(configs(default_weight=0.0))
def test_config_round_trips_through_dict(config: ProgressionConfig):
    """from_dict(to_dict(c)) == c for every valid config."""
    again = ProgressionConfig.from_dict(config.to_dict())
    assert again == config
    assert again.fingerprint == config.fingerprint


@given(states(DEFAULT_CONFIG))
def test_state_round_trips_through_dict(state: ProgressState):
    """from_dict(to_dict(s)) == s for every state."""
    assert ProgressState.from_dict(state.to_dict()) == state


@given(runs())
def test_result_columns_equal_the_built_results(run):
    """AwardResults.column reads the same values as the result objects carry."""
    config, state, events = run
    _, results = apply_events(state, events, config)
    built = list(results)
    assert results.column("action") == [r.action for r in built]
    assert results.column("outcome") == [r.outcome for r in built]
    assert results.column("exp_added") == [r.exp_added for r in built]
    assert results.column("previous_level") == [r.previous_level for r in built]
    assert results.column("exp") == [r.state.exp for r in built]
    assert results.column("level") == [r.state.level for r in built]
    assert results.column("daily_exp_gained") == [r.state.daily_exp_gained for r in built]
    assert results.column("now") == [r.now for r in built]


T = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
NEXT_DAY = datetime(2026, 3, 11, 0, 0, tzinfo=UTC)
THREE_LEVELS = ProgressionConfig(
    levels=(Level(1, "One", "", 0), Level(2, "Two", "", 100), Level(3, "Three", "", 300)),
    actions={
        "forked": ActionRule(10),
        "daily_chat": ActionRule(20, daily_limit=1),
        "bounty": ActionRule(50, cap_exempt=True),
        "ping": ActionRule(0, daily_limit=2),
    },
    daily_exp_caps={1: 100, 2: 200, 3: 300},
)
DROPPING = ProgressionConfig(
    levels=THREE_LEVELS.levels,
    actions=THREE_LEVELS.actions,
    daily_exp_caps=THREE_LEVELS.daily_exp_caps,
    levels_can_drop=True,
)


def opened(**fields) -> ProgressState:
    """A state whose day was opened an hour before T."""
    return ProgressState(last_exp_reset_date=T - timedelta(hours=1), **fields)


EDGE_RUNS = {
    "limit reached": (DEFAULT_CONFIG, ProgressState(), [(T, "daily_chat")] * 2),
    "cap cut, then reached": (
        DEFAULT_CONFIG,
        opened(exp=50, daily_exp_gained=140),
        [(T, "create_character"), (T, "forked")],
    ),
    "one EXP of room": (DEFAULT_CONFIG, opened(daily_exp_gained=149), [(T, "forked")] * 2),
    "room equal to the reward": (DEFAULT_CONFIG, opened(daily_exp_gained=140), [(T, "forked")] * 2),
    "gained above the cap": (DEFAULT_CONFIG, opened(daily_exp_gained=200), [(T, "forked")]),
    "cap-exempt at the cap": (
        THREE_LEVELS,
        opened(daily_exp_gained=100),
        [(T, "bounty"), (T, "forked"), (T, "bounty")],
    ),
    "level-up raises the cap": (
        DEFAULT_CONFIG,
        opened(exp=290, level=2, daily_exp_gained=100),
        [(T, "create_character"), (T, "paid_char_sold"), (T, "paid_char_sold")],
    ),
    "kept level stays": (DEFAULT_CONFIG, opened(exp=90, level=2), [(T, "character_liked")]),
    "kept level drops": (DROPPING, opened(exp=90, level=2), [(T, "forked"), (T, "forked")]),
    "level at the table's end": (
        THREE_LEVELS,
        opened(exp=900, level=3, daily_exp_gained=290),
        [(T, "forked"), (T, "forked")],
    ),
    "level one past the table": (
        THREE_LEVELS,
        opened(exp=900, level=4, daily_exp_gained=295),
        [(T, "forked"), (T, "forked")],
    ),
    "level far past the table": (
        THREE_LEVELS,
        opened(exp=900, level=9, daily_exp_gained=150),
        [(T, "forked")] * 3,
    ),
    "zero reward counted": (THREE_LEVELS, ProgressState(), [(T, "ping")] * 3),
    "invalid actions change nothing": (
        DEFAULT_CONFIG,
        opened(exp=10, daily_action_counts={"forked": 1}),
        [(NEXT_DAY, "nope"), (T, "nope"), (NEXT_DAY, "forked")],
    ),
    "new day resets counts": (
        DEFAULT_CONFIG,
        opened(daily_exp_gained=150, daily_action_counts={"daily_chat": 1}),
        [(T, "daily_chat"), (NEXT_DAY, "daily_chat"), (NEXT_DAY, "daily_chat")],
    ),
    "lagging clock keeps the day": (
        DEFAULT_CONFIG,
        ProgressState(last_exp_reset_date=NEXT_DAY, daily_action_counts={"daily_chat": 1}),
        [(NEXT_DAY - timedelta(seconds=2), "daily_chat")],
    ),
    "clock fault reopens once": (
        DEFAULT_CONFIG,
        ProgressState(last_exp_reset_date=T + timedelta(days=2), daily_action_counts={"forked": 3}),
        [(T, "daily_chat"), (T + timedelta(hours=1), "daily_chat"), (T, "forked")],
    ),
    "chat stamps its moment": (
        DEFAULT_CONFIG,
        ProgressState(last_chat_date=T - timedelta(days=3)),
        [(T, "forked"), (T + timedelta(hours=1), "daily_chat"), (T + timedelta(hours=2), "forked")],
    ),
}


@pytest.mark.parametrize("name", list(EDGE_RUNS))
def test_apply_events_equals_the_fold_at_every_edge_of_the_rules(name):
    """At each edge (a limit, an exact cap, a kept level, a clock fault...) both paths agree."""
    config, state, events = EDGE_RUNS[name]
    expected_state, expected_results = fold(config, state, events)
    final, results = apply_events(state, events, config)
    assert list(results) == expected_results
    assert final == expected_state


@st.composite
def busy_days(draw):
    """A config, a state, and 10 to 40 events crowded into two days, so limits and caps bite."""
    config = draw(configs())
    events = draw(
        st.lists(
            st.tuples(moments(days=2), action_names(config, invalid=False)),
            min_size=10,
            max_size=40,
        )
    )
    return config, draw(states(config)), sorted(events, key=lambda e: e[0])


@given(busy_days())
def test_apply_events_equals_the_fold_on_busy_days(run):
    """On days crowded enough to hit every limit and cap, the fold matches award by award."""
    config, state, events = run
    expected_state, expected_results = fold(config, state, events)
    final, results = apply_events(state, events, config)
    assert list(results) == expected_results
    assert final == expected_state

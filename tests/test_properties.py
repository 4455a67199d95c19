"""Laws of the award rules, checked by hypothesis over random configs, states and moments."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given
from hypothesis import strategies as st

from mikoshi_progression import (
    DEFAULT_CONFIG,
    Outcome,
    ProgressionConfig,
    ProgressState,
    apply_events,
    award_exp_with_limits,
    reset_daily_limits_if_needed,
)
from mikoshi_progression.testing import check_award
from mikoshi_progression.testing.strategies import (
    configs,
    event_streams,
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

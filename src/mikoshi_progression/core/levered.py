"""The award rules with the designer levers on: boosts, streaks, per-user days, milestones.

:func:`~mikoshi_progression.award_exp_with_limits` takes this path when the config
turns a lever on or the user lives in a time zone of their own; otherwise it runs the
seed's rules on its own fast path. On this path an award, in order:

1. opens a new day if one begins for the user (their zone; a day lengthened by a
   time-zone change ends at ``day_extended_until``);
2. rejects an invalid action (400), an action at its daily limit (429), or a capped
   action when the cap is reached (429), exactly as the seed does;
3. multiplies the reward by the boosts in force (``floor(reward * multiplier)``) and
   cuts it by the room under the cap (the cap itself multiplied if ``raise_cap``);
4. settles the streak for the streak action: missed days frozen or the streak broken,
   then extended, with its bonus;
5. adds the EXP, recomputes the level, counts the action for milestones;
6. unlocks every milestone now reached, each once, with its cap-exempt bonus.

The events of the award are listed in :data:`~mikoshi_progression.EVENT_ORDER`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgumentError
from ._frozen import trusted_factory
from .config import ProgressionConfig
from .days import EARLIEST_MOMENT, LATEST_MOMENT, require_aware
from .events import EventKind, ProgressionEvent
from .lever_plan import (
    AFTER_ALL,
    PLANS,
    Boosted,
    LeverPlan,
    event_of,
    overflow,
    plan_for,
    settle_milestones,
)
from .results import AwardResult, AwardResults, LeverEffects, Outcome, Record
from .state import EMPTY_COUNTS, MAX_COUNT, NO_LEVERS, LeverState, ProgressState
from .streaks import advance_streak
from .zones import reopened as _reopened
from .zones import user_boundary

__all__ = ["LeverPlan", "apply_with_levers", "award_with_levers", "plan_for", "settle_milestones"]

_build_state = trusted_factory(ProgressState)
_build_result = trusted_factory(AwardResult)
_build_effects = trusted_factory(LeverEffects)
_build_event = trusted_factory(ProgressionEvent)
_build_levers = trusted_factory(LeverState)


def _lever_state(*values: Any) -> LeverState:
    """A :class:`LeverState` of values the core computed: :data:`NO_LEVERS` itself when
    they are a new user's, so that the state takes the seed's path again, as the same
    state read back from a store does."""
    # A new user's lever values are exactly the falsy ones (no zone, 0, empty, None).
    return _build_levers(*values) if any(values) else NO_LEVERS


_EARLIEST, _LATEST = EARLIEST_MOMENT, LATEST_MOMENT
_ONE_DAY = timedelta(days=1)
_EMPTY = EMPTY_COUNTS
DAILY_CHAT = "daily_chat"
_BOOST_APPLIED = EventKind.BOOST_APPLIED
_STREAK_EXTENDED = EventKind.STREAK_EXTENDED
_DAILY_CAP_REACHED = EventKind.DAILY_CAP_REACHED
_LEVEL_UP = EventKind.LEVEL_UP
_MILESTONE_UNLOCKED = EventKind.MILESTONE_UNLOCKED
_INVALID = Outcome.INVALID_ACTION
_ACTION_LIMIT = Outcome.ACTION_LIMIT
_DAILY_CAP = Outcome.DAILY_CAP
_AWARDED = Outcome.AWARDED
_PARTIAL = Outcome.PARTIAL


def award_with_levers(
    state: ProgressState, action: str, now: datetime, config: ProgressionConfig
) -> AwardResult:
    """:func:`~mikoshi_progression.award_exp_with_limits` with every lever the config sets.

    ``now`` must be aware (the caller checked its ``tzinfo``). Written, like the seed's
    path, in local variables with no intermediate state: this is a hot path too.
    """
    try:
        rule = config._rule_table.get(action)
    except TypeError:  # unhashable: no action name at all
        raise InvalidArgumentError("action", "an action name (a string)", action) from None
    if rule is None:
        if not _EARLIEST <= now <= _LATEST:  # the result is reckoned from it
            require_aware(now)
        return _build_result(
            action, Outcome.INVALID_ACTION, 0, state.level, state, now, config, None
        )
    reward, limit, cap_exempt = rule
    plan = PLANS.get(config) or plan_for(config)

    # The user's day: their zone's boundary, or the end a time-zone change set.
    last = state.last_exp_reset_date
    levers = state.levers
    zone = levers.timezone
    extended = levers.day_extended_until
    if last is None or (now < last and last - now > config._max_skew):
        opens = True
    elif extended is not None:
        opens = now >= extended
    elif zone is None:
        opens = config._is_later_day(now, last)
    else:
        opens = user_boundary(zone, config)._is_later_day(now, last)
    if opens:
        # As on the seed's path, years are checked where a moment is kept.
        if not _EARLIEST <= now <= _LATEST:
            require_aware(now)
        gained, counts, reset, extended = 0, _EMPTY, now, None
    else:
        gained, counts, reset = state.daily_exp_gained, state.daily_action_counts, last  # type: ignore[assignment]
    count = counts.get(action, 0)
    level = state.level
    if limit is not None and count >= limit:
        today = _reopened(state, now) if opens else state
        return _build_result(action, Outcome.ACTION_LIMIT, 0, level, today, now, config, None)

    caps = config._caps
    cap = caps[level] if level < len(caps) else caps[-1]
    boosted = reward
    names: tuple[str, ...] = ()
    boost_event = None
    if plan.windows:
        low, high, segment = plan.latest
        if not low <= now < high:
            segment = plan.segment(now)[2]
        boost = segment.get(action) or plan.boosted(segment, action, reward, now, config)
        num, den, names, _, _, boosted, _, boost_event = boost
        if names and plan.raise_cap:
            cap = cap * num // den
    gained_before = gained
    if cap_exempt:
        added = boosted
    else:
        room = cap - gained
        if room <= 0:
            today = _reopened(state, now) if opens else state
            return _build_result(action, Outcome.DAILY_CAP, 0, level, today, now, config, None)
        added = boosted if boosted <= room else room
        gained += added

    events: list[ProgressionEvent] = []
    streak = levers.streak
    best = levers.best_streak
    streak_day = levers.last_streak_day
    freezes = levers.streak_freezes
    bonus = 0
    rules = config.streak
    streak_event = None
    if rules is not None and action == rules.action:
        boundary = config.day_boundary if zone is None else user_boundary(zone, config)
        # A day lengthened by a zone change is the new zone's day that ends then.
        day = boundary._day_of(reset) if extended is None else boundary._day_of(extended) - _ONE_DAY
        streak, best, streak_day, freezes, grew, paid, settled = advance_streak(
            rules, streak, best, streak_day, freezes, day, now, boundary
        )
        if settled:
            events += settled
        if grew:
            if paid and not rules.bonus_cap_exempt:
                paid = max(0, min(paid, cap - gained))
                gained += paid
            bonus += paid
            streak_event = event_of(
                _STREAK_EXTENDED, {"streak": streak, "bonus_exp": paid, "freezes": freezes}
            )
    if boost_event is not None:
        events.append(boost_event)
    if streak_event is not None:
        events.append(streak_event)
    if gained >= cap > gained_before:
        events.append(event_of(_DAILY_CAP_REACHED, {"cap": cap}))

    exp = state.exp + added + bonus
    if exp > MAX_COUNT:
        raise overflow(state.exp, added + bonus)
    lifetime = levers.lifetime_counts
    if action in config._counted_actions:
        new_lifetime: dict[str, int] = lifetime.copy()  # type: ignore[attr-defined]
        new_lifetime[action] = lifetime.get(action, 0) + 1
        lifetime = MappingProxyType(new_lifetime)
    thresholds = config._thresholds
    new_level = bisect_right(thresholds, exp) or 1
    if new_level < level and not config.levels_can_drop:
        new_level = level
    unlocked = levers.milestones
    unlock_events: list[ProgressionEvent] = []
    if len(unlocked) < len(plan.milestones):
        low_level, low_exp, low_streak, low_counts = plan.lowest(unlocked)
        found = (
            new_level >= low_level
            or exp >= low_exp
            or streak >= low_streak
            or (action in low_counts and lifetime[action] >= low_counts[action])
        )
        if found:
            unlocked, exp, extra_exp, new_level, unlocks = settle_milestones(
                plan, thresholds, unlocked, exp, new_level, streak, lifetime
            )
            bonus += extra_exp
            unlock_events = [
                event_of(_MILESTONE_UNLOCKED, {"milestone": name, "bonus_exp": extra})
                for _, name, extra in unlocks
            ]
    if new_level > level:
        events.append(event_of(_LEVEL_UP, {"from_level": level, "to_level": new_level}))
    if unlock_events:
        events += unlock_events

    new_counts: dict[str, int] = counts.copy()  # type: ignore[attr-defined]
    new_counts[action] = count + 1
    if action == DAILY_CHAT and not _EARLIEST <= now <= _LATEST:
        require_aware(now)
    if (
        extended is not levers.day_extended_until
        or streak_day is not levers.last_streak_day
        or freezes != levers.streak_freezes
        or streak != levers.streak
        or unlocked is not levers.milestones
        or lifetime is not levers.lifetime_counts
    ):
        levers = _lever_state(zone, extended, streak, best, streak_day, freezes, unlocked, lifetime)
    new_state = _build_state(
        exp,
        new_level,
        gained,
        reset,
        MappingProxyType(new_counts),
        now if action == DAILY_CHAT else state.last_chat_date,
        levers,
    )
    outcome = Outcome.AWARDED if added == boosted else Outcome.PARTIAL
    effects = _build_effects(tuple(events), reward, boosted, names, bonus)
    return _build_result(action, outcome, added + bonus, level, new_state, now, config, effects)


def apply_with_levers(
    state: ProgressState, events: Iterable[tuple[datetime, str]], config: ProgressionConfig
) -> tuple[ProgressState, AwardResults]:
    """:func:`~mikoshi_progression.apply_events` with the levers: :func:`award_with_levers`
    event by event (property-tested equal), its running state kept in local variables and
    each event recorded as a tuple, as the seed's fold does: no state, result or event
    object is built until one is read."""
    plan = PLANS.get(config) or plan_for(config)
    rules = config._rule_table
    caps = config._caps
    top_cap = caps[-1]
    cap_count = len(caps)
    thresholds = config._thresholds
    can_drop = config.levels_can_drop
    max_skew = config._max_skew
    raise_cap = plan.raise_cap
    # The boost segment of the last event: a fold moving forward in time stays in it.
    seg_low = seg_high = AFTER_ALL  # an empty segment: the first event finds its own
    segment: dict[str, Boosted] = {}
    streak_rules = config.streak
    streak_action = None if streak_rules is None else streak_rules.action
    counted_actions = config._counted_actions

    exp = state.exp
    level = state.level
    gained = state.daily_exp_gained
    reset = state.last_exp_reset_date
    counts: dict[str, int] = dict(state.daily_action_counts)
    chat = state.last_chat_date
    levers = state.levers
    zone = levers.timezone
    extended = levers.day_extended_until
    streak = levers.streak
    best = levers.best_streak
    streak_day = levers.last_streak_day
    freezes = levers.streak_freezes
    unlocked = levers.milestones
    lifetime = levers.lifetime_counts
    boundary = config.day_boundary if zone is None else user_boundary(zone, config)
    day_of = boundary._day_of
    day = None if reset is None else day_of(reset)
    fault_before = None if reset is None else reset - max_skew
    low_level, low_exp, low_streak, low_counts = plan.lowest(unlocked)
    streak_reached = streak >= low_streak  # a milestone waits for the next award
    records: list[Record] = []
    record = records.append
    empty: dict[str, int] = {}

    for now, action in events:
        if getattr(now, "tzinfo", None) is None:
            require_aware(now)
        previous = level
        try:
            rule = rules.get(action)
        except TypeError:
            raise InvalidArgumentError("action", "an action name (a string)", action) from None
        if rule is None:
            if not _EARLIEST <= now <= _LATEST:  # the result is reckoned from it
                require_aware(now)
            record((action, _INVALID, 0, previous, exp, level, gained, reset, counts, chat, now,
                    levers, None))  # fmt: skip
            continue
        reward, limit, cap_exempt = rule
        # The user's day, as in award_with_levers.
        if day is None or now < fault_before:  # type: ignore[operator]
            opens = True
        elif extended is not None:
            opens = now >= extended
        else:
            opens = day_of(now) > day
        if opens:
            # As in the seed's fold, years are checked where a moment is kept.
            if not _EARLIEST <= now <= _LATEST:
                require_aware(now)
            day = day_of(now)
            gained = 0
            counts = empty
            reset = now
            fault_before = now - max_skew
            if extended is not None:
                extended = None
                levers = _lever_state(
                    zone, None, streak, best, streak_day, freezes, unlocked, lifetime
                )
        count = counts.get(action, 0)
        if limit is not None and count >= limit:
            record((action, _ACTION_LIMIT, 0, previous, exp, level, gained, reset, counts, chat,
                    now, levers, None))  # fmt: skip
            continue
        cap = caps[level] if level < cap_count else top_cap
        if not seg_low <= now < seg_high:
            seg_low, seg_high, segment = plan.segment(now)
        boost = segment.get(action) or plan.boosted(segment, action, reward, now, config)
        num, den, names, text, common, boosted, plain, _ = boost
        if names and raise_cap:
            cap = cap * num // den
        gained_before = gained
        if cap_exempt:
            added = boosted
        else:
            room = cap - gained
            if room <= 0:
                record((action, _DAILY_CAP, 0, previous, exp, level, gained, reset, counts, chat,
                        now, levers, None))  # fmt: skip
                continue
            added = boosted if boosted <= room else room
            gained += added

        # The common award touches no lever state and causes no event but its boost's:
        # not the streak action nor a counted one, no cap filled, no level nor milestone.
        if plain and not streak_reached and not gained >= cap > gained_before:
            new_exp = exp + added
            new_level = bisect_right(thresholds, new_exp) or 1
            if new_level < level and not can_drop:
                new_level = level
            # EXP past 2**63 - 1 reaches _NEVER, so it takes the full path, which refuses it.
            if new_level == level and new_exp < low_exp and new_level < low_level:
                exp = new_exp
                counts = counts.copy()  # a new dict: recorded ones are never mutated
                counts[action] = count + 1
                if action == DAILY_CHAT:
                    if not _EARLIEST <= now <= _LATEST:
                        require_aware(now)
                    chat = now
                outcome = _AWARDED if added == boosted else _PARTIAL
                record((action, outcome, added, previous, exp, level, gained, reset, counts, chat,
                        now, levers, common))  # fmt: skip
                continue

        # Events other than the boost's: settled missed days before it, the rest after it.
        settled_events: tuple[ProgressionEvent, ...] = ()
        raised: list[tuple[Any, ...]] | None = None  # made when an event needs it: rarely
        bonus = 0
        changed = False
        if action == streak_action:
            assert streak_rules is not None
            assert day is not None  # a day is open: this event opened one if none was
            current = day if extended is None else day_of(extended) - _ONE_DAY
            streak, best, new_day, freezes, grew, paid, settled = advance_streak(
                streak_rules, streak, best, streak_day, freezes, current, now, boundary
            )
            streak_day = new_day
            changed = True
            settled_events = settled
            if grew:
                if paid and not streak_rules.bonus_cap_exempt:
                    paid = max(0, min(paid, cap - gained))
                    gained += paid
                bonus += paid
                raised = [(_STREAK_EXTENDED, streak, paid, freezes)]
        if gained >= cap > gained_before:
            if raised is None:
                raised = []
            raised.append((_DAILY_CAP_REACHED, cap))

        exp += added + bonus
        if exp > MAX_COUNT:
            raise overflow(exp - added - bonus, added + bonus)
        if action in counted_actions:
            new_lifetime: dict[str, int] = lifetime.copy()  # type: ignore[attr-defined]
            new_lifetime[action] = lifetime.get(action, 0) + 1
            lifetime = MappingProxyType(new_lifetime)
            changed = True
        new_level = bisect_right(thresholds, exp) or 1
        if new_level < level and not can_drop:
            new_level = level
        unlock_events = None
        if (
            new_level >= low_level
            or exp >= low_exp
            or streak >= low_streak
            or (action in low_counts and lifetime[action] >= low_counts[action])
        ):
            unlocked, exp, extra_exp, new_level, unlock_events = settle_milestones(
                plan, thresholds, unlocked, exp, new_level, streak, lifetime
            )
            bonus += extra_exp
            changed = True
            low_level, low_exp, low_streak, low_counts = plan.lowest(unlocked)
        streak_reached = streak >= low_streak
        if new_level > level:
            if raised is None:
                raised = []
            raised.append((_LEVEL_UP, level, new_level))
        if unlock_events:
            if raised is None:
                raised = []
            raised += unlock_events
        if changed:
            # _lever_state() inlined (a call per streak day is felt here); a streak of 1 or
            # more, the usual case, decides at the first test.
            if streak or best or freezes or streak_day or unlocked or lifetime or zone:
                levers = _build_levers(
                    zone, extended, streak, best, streak_day, freezes, unlocked, lifetime
                )
            else:
                levers = _lever_state(
                    zone, extended, streak, best, streak_day, freezes, unlocked, lifetime
                )
        level = new_level
        counts = counts.copy()  # a new dict: recorded ones are never mutated
        counts[action] = count + 1
        if action == DAILY_CHAT:
            if not _EARLIEST <= now <= _LATEST:
                require_aware(now)
            chat = now
        outcome = _AWARDED if added == boosted else _PARTIAL
        effects: tuple[Any, ...] | None = common
        if raised or settled_events or bonus:
            listed: list[tuple[Any, ...]] = [(e.kind, *e.details.values()) for e in settled_events]
            if names:
                listed.append((_BOOST_APPLIED, names, text, reward, boosted))
            effects = (tuple(listed + (raised or [])), reward, boosted, names, bonus)
        record((action, outcome, added + bonus, previous, exp, level, gained, reset, counts, chat,
                now, levers, effects))  # fmt: skip

    final = _build_state(exp, level, gained, reset, MappingProxyType(counts), chat, levers)
    return final, AwardResults(records, config)

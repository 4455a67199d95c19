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
from datetime import datetime
from fractions import Fraction
from types import MappingProxyType

from ..errors import InvalidArgumentError, StateError
from ._frozen import trusted_factory
from .config import ProgressionConfig
from .days import require_aware
from .events import EventKind, ProgressionEvent, event
from .results import AwardResult, LeverEffects, Outcome
from .state import MAX_COUNT, ProgressState
from .streaks import advance_streak
from .zones import boundary_for, current_day, open_day

__all__ = ["award_with_levers"]

_build_state = trusted_factory(ProgressState)
_build_result = trusted_factory(AwardResult)
_ONE = Fraction(1)
DAILY_CHAT = "daily_chat"


def award_with_levers(
    state: ProgressState, action: str, now: datetime, config: ProgressionConfig
) -> AwardResult:
    """:func:`~mikoshi_progression.award_exp_with_limits` with every lever the config sets."""
    require_aware(now)
    try:
        rule = config._rule_table.get(action)
    except TypeError:  # unhashable: no action name at all
        raise InvalidArgumentError("action", "an action name (a string)", action) from None
    if rule is None:
        return _build_result(
            action, Outcome.INVALID_ACTION, 0, state.level, state, now, config, None
        )
    reward, limit, cap_exempt = rule
    today = open_day(state, now, config)
    counts = today.daily_action_counts
    count = counts.get(action, 0)
    level = today.level
    if limit is not None and count >= limit:
        return _build_result(action, Outcome.ACTION_LIMIT, 0, level, today, now, config, None)

    multiplier = _ONE
    boost_names: tuple[str, ...] = ()
    boosts = config.boosts
    if boosts is not None:
        multiplier, boost_names = boosts.multiplier(action, now)
    boosted = reward * multiplier.numerator // multiplier.denominator
    cap = config.cap_for_level(level)
    if boost_names and boosts is not None and boosts.raise_cap:
        cap = cap * multiplier.numerator // multiplier.denominator
    gained_before = gained = today.daily_exp_gained
    if cap_exempt:
        added = boosted
    else:
        room = cap - gained
        if room <= 0:
            return _build_result(action, Outcome.DAILY_CAP, 0, level, today, now, config, None)
        added = boosted if boosted <= room else room
        gained += added

    events: list[ProgressionEvent] = []
    streak, best, last_streak_day, freezes = (
        today.streak,
        today.best_streak,
        today.last_streak_day,
        today.streak_freezes,
    )
    bonus = 0
    rules = config.streak
    extended = False
    streak_bonus = 0
    if rules is not None and action == rules.action:
        day = current_day(today, config)
        step = advance_streak(
            rules,
            streak=streak,
            best_streak=best,
            last_streak_day=last_streak_day,
            streak_freezes=freezes,
            today=day,
            today_starts_at=boundary_for(today, config).start_of(day),
            now=now,
        )
        events += step.events
        streak, best, last_streak_day, freezes = (
            step.streak,
            step.best_streak,
            step.last_streak_day,
            step.streak_freezes,
        )
        extended = step.extended
        streak_bonus = step.bonus_exp
        if streak_bonus and not rules.bonus_cap_exempt:
            streak_bonus = max(0, min(streak_bonus, cap - gained))
            gained += streak_bonus
        bonus += streak_bonus
    if boost_names:
        events.append(
            event(
                EventKind.BOOST_APPLIED,
                boosts=boost_names,
                multiplier=str(multiplier),
                base_exp=reward,
                boosted_exp=boosted,
            )
        )
    if extended:
        events.append(
            event(EventKind.STREAK_EXTENDED, streak=streak, bonus_exp=streak_bonus, freezes=freezes)
        )
    if gained >= cap > gained_before:
        events.append(event(EventKind.DAILY_CAP_REACHED, cap=cap))

    exp = today.exp + added + bonus
    if exp > MAX_COUNT:
        raise _overflow(today.exp, added + bonus)
    lifetime = today.lifetime_counts
    if action in config._counted_actions:
        new_lifetime = dict(lifetime)
        new_lifetime[action] = lifetime.get(action, 0) + 1
        lifetime = MappingProxyType(new_lifetime)
    new_level = _level(config, exp, level)
    unlocked = today.milestones
    unlock_events: list[ProgressionEvent] = []
    if config.milestones:
        found = True
        while found:  # a bonus may reach a later threshold: settle until none is new
            found = False
            for milestone in config.milestones:
                if milestone.name in unlocked:
                    continue
                trigger = milestone.trigger
                if trigger == "level":
                    reached = new_level >= milestone.threshold
                elif trigger == "exp":
                    reached = exp >= milestone.threshold
                elif trigger == "streak":
                    reached = streak >= milestone.threshold
                else:
                    assert milestone.action is not None
                    reached = lifetime.get(milestone.action, 0) >= milestone.threshold
                if not reached:
                    continue
                unlocked = unlocked | {milestone.name}
                if milestone.bonus_exp:
                    if exp + milestone.bonus_exp > MAX_COUNT:
                        raise _overflow(exp, milestone.bonus_exp)
                    exp += milestone.bonus_exp
                    bonus += milestone.bonus_exp
                    new_level = _level(config, exp, new_level)
                    found = True
                unlock_events.append(
                    event(
                        EventKind.MILESTONE_UNLOCKED,
                        milestone=milestone.name,
                        bonus_exp=milestone.bonus_exp,
                    )
                )
    if new_level > level:
        events.append(event(EventKind.LEVEL_UP, from_level=level, to_level=new_level))
    events += unlock_events

    new_counts: dict[str, int] = counts.copy()  # type: ignore[attr-defined]
    new_counts[action] = count + 1
    new_state = _build_state(
        exp,
        new_level,
        gained,
        today.last_exp_reset_date,
        MappingProxyType(new_counts),
        now if action == DAILY_CHAT else today.last_chat_date,
        today.timezone,
        today.day_extended_until,
        streak,
        best,
        last_streak_day,
        freezes,
        unlocked,
        lifetime,
    )
    outcome = Outcome.AWARDED if added == boosted else Outcome.PARTIAL
    effects = LeverEffects(tuple(events), reward, boosted, boost_names, bonus)
    return _build_result(action, outcome, added + bonus, level, new_state, now, config, effects)


def _level(config: ProgressionConfig, exp: int, level: int) -> int:
    reached = bisect_right(config._thresholds, exp) or 1
    return reached if reached > level or config.levels_can_drop else level


def _overflow(exp: int, added: int) -> StateError:
    return StateError(
        "exp", f"an award of {added} would take {exp} EXP past 2**63 - 1, what a store can hold"
    )

"""Hypothesis strategies for progression configs, states, actions and moments.

>>> from hypothesis import given
>>> from mikoshi_progression import award_exp_with_limits
>>> from mikoshi_progression.testing import check_award
>>> from mikoshi_progression.testing.strategies import scenarios
>>> @given(scenarios())
... def test_every_award_is_lawful(scenario):
...     config, state, action, now = scenario
...     check_award(state, award_exp_with_limits(state, action, now=now, config=config), config)
>>> test_every_award_is_lawful()
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "mikoshi_progression.testing.strategies needs hypothesis: "
        "install the [testing] extra (pip install -e '.[testing]' from a clone)"
    ) from exc

from ..core.boosts import STACKING_MODES, Boost, BoostRules
from ..core.config import DEFAULT_CONFIG, ActionRule, Level, ProgressionConfig
from ..core.milestones import Milestone
from ..core.state import ProgressState
from ..core.streaks import StreakRules

__all__ = [
    "INVALID_ACTION",
    "action_names",
    "configs",
    "event_streams",
    "lever_configs",
    "moments",
    "scenarios",
    "states",
]

INVALID_ACTION = "no_such_action"
"""The action name the strategies use for an action no generated config has."""

_ACTION_POOL = (
    "daily_chat",
    "create_character",
    "create_scene",
    "create_persona",
    "character_liked",
    "forked",
    "paid_char_sold",
    "bounty",
)
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_ZONES = ("UTC", "UTC", "UTC", "Asia/Tokyo", "America/New_York", "Europe/Paris")


@st.composite
def configs(
    draw: st.DrawFn, *, max_levels: int = 7, default_weight: float = 0.1
) -> ProgressionConfig:
    """Valid configs: 1..``max_levels`` levels, 1..8 actions, partial cap tables.

    Limits, rewards and caps are small so that the limits and the cap bite within
    a handful of awards; about one draw in ten is ``DEFAULT_CONFIG`` itself.
    """
    if draw(st.floats(0, 1)) < default_weight:
        return DEFAULT_CONFIG
    count = draw(st.integers(1, max_levels))
    steps = draw(st.lists(st.integers(1, 200), min_size=count - 1, max_size=count - 1))
    thresholds = [0]
    for step in steps:
        thresholds.append(thresholds[-1] + step)
    levels = tuple(
        Level(number=i + 1, name=f"L{i + 1}", unlock="", exp_required=t)
        for i, t in enumerate(thresholds)
    )
    names = draw(st.lists(st.sampled_from(_ACTION_POOL), min_size=1, max_size=8, unique=True))
    actions = {
        name: ActionRule(
            exp=draw(st.integers(0, 80)),
            daily_limit=draw(st.none() | st.integers(1, 4)),
            cap_exempt=draw(st.booleans()) if name in ("bounty", "paid_char_sold") else False,
            creator_award=name in ("character_liked", "forked"),
        )
        for name in names
    }
    extra = draw(st.sets(st.integers(2, count), max_size=count)) if count > 1 else set()
    capped = extra | {1}
    caps = {level: draw(st.integers(0, 300)) for level in sorted(capped)}
    zone = draw(st.sampled_from(_ZONES))
    return ProgressionConfig(
        levels=levels,
        actions=actions,
        daily_exp_caps=caps,
        features={"fork": draw(st.integers(1, count))},
        reset_timezone=zone,
        reset_hour=draw(st.sampled_from((0, 0, 4, 23))),
        levels_can_drop=draw(st.booleans()),
    )


_MULTIPLIERS = (Fraction(1), Fraction(3, 2), Fraction(2), Fraction(5, 4), Fraction(3))
USER_ZONES = (
    "UTC",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
    "America/Santiago",
)
"""Zones users may carry: DST with one-hour and half-hour shifts, +14 h, half-hour offsets."""


@st.composite
def lever_configs(
    draw: st.DrawFn, *, boosts: bool = True, streak: bool = True, milestones: bool = True
) -> ProgressionConfig:
    """A :func:`configs` config with the designer levers on (each kind of lever drawn on or
    off unless disabled): boost windows over the moments' first days, a streak on one of
    its actions with freezes, grace and bonuses, and milestones of every trigger."""
    config = draw(configs(default_weight=0.2))
    names = sorted(config.actions)
    boost_rules = None
    if boosts and draw(st.booleans()):
        windows = []
        for i in range(draw(st.integers(1, 3))):
            start = _EPOCH + timedelta(hours=draw(st.integers(0, 5 * 24)))
            windows.append(
                Boost(
                    name=f"boost{i}",
                    starts=start,
                    ends=start + timedelta(hours=draw(st.integers(1, 72))),
                    multiplier=draw(st.sampled_from(_MULTIPLIERS)),
                    actions=draw(st.none() | st.frozensets(st.sampled_from(names), min_size=1)),
                )
            )
        boost_rules = BoostRules(
            windows=tuple(windows),
            stacking=draw(st.sampled_from(STACKING_MODES)),
            raise_cap=draw(st.booleans()),
        )
    streak_rules = None
    if streak and draw(st.booleans()):
        every = draw(st.integers(0, 4))
        streak_rules = StreakRules(
            action=draw(st.sampled_from(names)),
            grace_minutes=draw(st.sampled_from((0, 0, 30, 120))),
            freeze_every=every,
            max_freezes=draw(st.integers(1, 3)) if every else 0,
            bonuses=draw(st.dictionaries(st.integers(1, 8), st.integers(0, 50), max_size=3)),
            bonus_cap_exempt=draw(st.booleans()),
        )
    found: list[Milestone] = []
    if milestones and draw(st.booleans()):
        top = config.max_level
        for i in range(draw(st.integers(1, 4))):
            trigger = draw(st.sampled_from(("level", "exp", "streak", "count")))
            bonus = draw(st.integers(0, 120))
            if trigger == "level":
                found.append(Milestone(f"m{i}", level=draw(st.integers(1, top)), bonus_exp=bonus))
            elif trigger == "exp":
                found.append(Milestone(f"m{i}", exp=draw(st.integers(1, 600)), bonus_exp=bonus))
            elif trigger == "streak":
                found.append(Milestone(f"m{i}", streak=draw(st.integers(1, 5)), bonus_exp=bonus))
            else:
                action = draw(st.sampled_from(names))
                count = draw(st.integers(1, 6))
                found.append(Milestone(f"m{i}", action=action, count=count, bonus_exp=bonus))
    return replace(config, boosts=boost_rules, streak=streak_rules, milestones=tuple(found))


def moments(
    *, start: datetime = _EPOCH, days: int = 30, near_boundaries: bool = True
) -> st.SearchStrategy[datetime]:
    """Aware datetimes within ``days`` of ``start``, often within seconds of a midnight.

    Offsets other than UTC are mixed in, so that day arithmetic is exercised on
    moments whose ``tzinfo`` is not UTC.
    """
    seconds = st.integers(0, days * 86_400 - 1)
    if near_boundaries:
        edge = st.builds(
            lambda day, delta: day * 86_400 + delta,
            st.integers(1, days - 1),
            st.integers(-3, 3),
        )
        seconds = st.one_of(seconds, edge)
    offsets = st.sampled_from((0, 0, 0, 9 * 60, -5 * 60, 5 * 60 + 30))
    return st.builds(
        lambda s, minutes: (start + timedelta(seconds=s)).astimezone(
            timezone(timedelta(minutes=minutes))
        ),
        seconds,
        offsets,
    )


def action_names(config: ProgressionConfig, *, invalid: bool = True) -> st.SearchStrategy[str]:
    """The config's actions, plus (if ``invalid``) now and then one it does not have."""
    known = st.sampled_from(sorted(config.actions))
    return st.one_of(known, st.just(INVALID_ACTION)) if invalid else known


@st.composite
def states(draw: st.DrawFn, config: ProgressionConfig = DEFAULT_CONFIG) -> ProgressState:
    """States a user can be in under ``config``: level matching EXP, gained within the cap,
    counts within their limits, a last reset within the moments' range (or none yet).
    """
    top = config.levels[-1].exp_required
    exp = draw(st.integers(0, top + 500))
    level = config.level_for_exp(exp)
    cap = config.cap_for_level(level)
    counts: dict[str, int] = {}
    for name, rule in config.actions.items():
        if draw(st.booleans()):
            counts[name] = draw(st.integers(0, rule.daily_limit or 6))
    reset = draw(st.none() | moments())
    chat = draw(st.none() | moments()) if reset is not None else None
    return ProgressState(
        exp=exp,
        level=level,
        daily_exp_gained=draw(st.integers(0, cap)) if reset is not None else 0,
        last_exp_reset_date=reset,
        daily_action_counts=counts if reset is not None else {},
        last_chat_date=chat,
    )


def event_streams(
    config: ProgressionConfig, *, max_size: int = 60, invalid: bool = True
) -> st.SearchStrategy[list[tuple[datetime, str]]]:
    """Time-ordered ``(now, action)`` events over a few days, as ``apply_events`` takes them."""
    return st.lists(
        st.tuples(moments(days=5), action_names(config, invalid=invalid)), max_size=max_size
    ).map(lambda events: sorted(events, key=lambda e: e[0]))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ProgressionConfig, ProgressState, str, datetime]:
    """One award to try: ``(config, state, action, now)``, all consistent."""
    config = draw(configs())
    return config, draw(states(config)), draw(action_names(config)), draw(moments())

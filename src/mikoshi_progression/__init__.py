"""mikoshi-progression: EXP, levels, daily limits and caps, as pure functions.

The public API is re-exported here; import from the package root::

    from mikoshi_progression import ProgressState, award_exp_with_limits

The core (everything in this namespace) depends only on the standard library.
Stores, the service, the CLI and framework integrations live in submodules.
"""

from __future__ import annotations

from .core.boosts import Boost, BoostRules
from .core.config import (
    DEFAULT_CONFIG,
    ActionRule,
    Level,
    ProgressionConfig,
    config_problems,
    load_config,
)
from .core.daily import (
    is_clock_fault,
    is_new_day,
    next_reset_at,
    reset_daily_limits,
    reset_daily_limits_if_needed,
)
from .core.days import DayBoundary
from .core.events import EVENT_ORDER, EventKind, ProgressionEvent
from .core.identity import MAX_ID_LENGTH, check_id
from .core.levels import can_perform_action, level_for_exp, level_progress, levels_view
from .core.lint import ConfigWarning, config_warnings
from .core.milestones import Milestone
from .core.results import AwardResult, LeverEffects, Outcome
from .core.rules import (
    DAILY_CHAT,
    AwardResults,
    adjust_exp,
    apply_events,
    award_exp_with_limits,
    exp_limits_view,
    revoke_exp,
    set_total_exp,
)
from .core.state import EMPTY_COUNTS, ProgressState
from .core.streaks import StreakRules
from .core.zones import change_timezone
from .errors import (
    ConcurrencyError,
    ConfigError,
    ConfigFileError,
    CreatorUserNotFound,
    IdempotencyError,
    InvalidArgumentError,
    InvalidIdError,
    InvalidMomentError,
    ProgressionError,
    ReadOnlyStoreError,
    SelfAwardError,
    StateError,
    StoreError,
    StoreUnavailableError,
    UnknownFeatureError,
    UnknownUserError,
    UnsupportedStoreError,
)

__version__ = "0.1.0"

__all__ = [
    "DAILY_CHAT",
    "DEFAULT_CONFIG",
    "EMPTY_COUNTS",
    "EVENT_ORDER",
    "MAX_ID_LENGTH",
    "ActionRule",
    "AwardResult",
    "AwardResults",
    "Boost",
    "BoostRules",
    "ConcurrencyError",
    "ConfigError",
    "ConfigFileError",
    "ConfigWarning",
    "CreatorUserNotFound",
    "DayBoundary",
    "EventKind",
    "IdempotencyError",
    "InvalidArgumentError",
    "InvalidIdError",
    "InvalidMomentError",
    "Level",
    "LeverEffects",
    "Milestone",
    "Outcome",
    "ProgressState",
    "ProgressionConfig",
    "ProgressionError",
    "ProgressionEvent",
    "ReadOnlyStoreError",
    "SelfAwardError",
    "StateError",
    "StoreError",
    "StoreUnavailableError",
    "StreakRules",
    "UnknownFeatureError",
    "UnknownUserError",
    "UnsupportedStoreError",
    "__version__",
    "adjust_exp",
    "apply_events",
    "award_exp_with_limits",
    "can_perform_action",
    "change_timezone",
    "check_id",
    "config_problems",
    "config_warnings",
    "exp_limits_view",
    "is_clock_fault",
    "is_new_day",
    "level_for_exp",
    "level_progress",
    "levels_view",
    "load_config",
    "next_reset_at",
    "reset_daily_limits",
    "reset_daily_limits_if_needed",
    "revoke_exp",
    "set_total_exp",
]

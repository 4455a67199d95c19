"""Milestones: badges and unlocks granted once, at a threshold.

A milestone is reached at a level, a total EXP, a streak length, or a lifetime count
of one action. It is granted the first time its threshold is met after an award, at
most once ever (the state keeps the names unlocked), optionally with bonus EXP. Bonus
EXP is cap-exempt: it rewards the milestone, not an action of the day. A bonus may
lift the user to a level or EXP that unlocks further milestones; those unlock in the
same award, in the order the config lists them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigError
from ._checks import is_int as _is_int
from ._checks import key_problems

__all__ = ["TRIGGERS", "Milestone", "milestone_problems"]

Trigger = Literal["level", "exp", "streak", "count"]
TRIGGERS: tuple[Trigger, ...] = ("level", "exp", "streak", "count")
"""What a milestone can be reached by: one of them, with ``action`` for ``count``."""
_KEYS = ("name", "description", "level", "exp", "streak", "action", "count", "bonus_exp")
_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Milestone:
    """One milestone.

    Give exactly one threshold: ``level``, ``exp``, ``streak``, or ``action`` with
    ``count`` (awards of that action ever).

    Attributes:
        name: Its unique name, kept in the state once unlocked (``"first_week"``).
        description: What users are shown (``"Chatted 7 days in a row"``).
        level: Reached at this level.
        exp: Reached at this total EXP.
        streak: Reached at this streak length.
        action: With ``count``: reached when this action was awarded ``count`` times.
        count: See ``action``.
        bonus_exp: EXP granted with it (cap-exempt; default 0).
    """

    name: str
    description: str = ""
    level: int | None = None
    exp: int | None = None
    streak: int | None = None
    action: str | None = None
    count: int | None = None
    bonus_exp: int = 0

    def __post_init__(self) -> None:
        problems = _one_problems(self.to_dict(), "Milestone", None, 0)
        if problems:
            raise ConfigError(problems)

    @property
    def trigger(self) -> Trigger:
        """What reaches it: ``"level"``, ``"exp"``, ``"streak"`` or ``"count"``."""
        if self.level is not None:
            return "level"
        if self.exp is not None:
            return "exp"
        if self.streak is not None:
            return "streak"
        return "count"

    @property
    def threshold(self) -> int:
        """The level, EXP, streak length or count that reaches it."""
        value = {"level": self.level, "exp": self.exp, "streak": self.streak}.get(
            self.trigger, self.count
        )
        assert value is not None
        return value

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        for key in ("level", "exp", "streak", "action", "count"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.bonus_exp:
            data["bonus_exp"] = self.bonus_exp
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Milestone:
        return cls(**data)


def _one_problems(data: Mapping[str, Any], where: str, actions: object, levels: int) -> list[str]:
    problems = key_problems(data, _KEYS, (), f"{where}.")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}.name: must be a non-empty string, got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{where}.description: must be a string, got {description!r}")
    given = [key for key in ("level", "exp", "streak", "count") if data.get(key) is not None]
    if len(given) != 1:
        problems.append(
            f"{where}: must give exactly one of level, exp, streak or count (with action), "
            f"got {', '.join(given) or 'none'}"
        )
    least = {"level": 1, "exp": 1, "streak": 1, "count": 1}
    for key in given:
        value = data[key]
        if not (_is_int(value) and least[key] <= value <= _MAX):
            problems.append(f"{where}.{key}: must be a positive integer, got {value!r}")
        elif key == "level" and levels and value > levels:
            problems.append(f"{where}.level: no such level {value} (levels are 1..{levels})")
    action = data.get("action")
    if "count" in given and action is None:
        problems.append(f"{where}.action: a count milestone names the action it counts")
    if action is not None:
        if "count" not in given:
            problems.append(f"{where}.action: only a count milestone names an action")
        if not isinstance(action, str) or not action.strip():
            problems.append(f"{where}.action: must be an action name, got {action!r}")
        elif isinstance(actions, Mapping) and action not in actions:
            problems.append(f"{where}.action: no such action {action!r}")
    bonus = data.get("bonus_exp", 0)
    if not (_is_int(bonus) and 0 <= bonus <= _MAX):
        problems.append(f"{where}.bonus_exp: must be a non-negative integer, got {bonus!r}")
    return problems


def milestone_problems(data: object, actions: object, levels: int) -> list[str]:
    """Every problem with a config's ``milestones`` list (``actions``: the config's
    actions, ``levels``: how many levels it has; ``None``/0 to skip those checks)."""
    if isinstance(data, str) or not isinstance(data, Sequence):
        return [f"milestones: must be a list of milestones, got {data!r}"]
    problems: list[str] = []
    names: set[str] = set()
    for i, milestone in enumerate(data):
        where = f"milestones[{i}]"
        if not isinstance(milestone, Mapping):
            problems.append(f"{where}: must be a table with a name and one threshold")
            continue
        problems += _one_problems(milestone, where, actions, levels)
        name = milestone.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append(f"{where}.name: another milestone is named {name!r}")
            names.add(name)
    return problems

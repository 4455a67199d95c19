"""Warnings about a valid config: names that look like typos, and actions it drops.

Validation refuses what cannot work; this module points at what works but is probably
not what the designer meant. ``[actions.create_charcter]`` is a valid new action, and
the platform's backend, which sends ``create_character``, then gets a 400 for every
one. Action and level names are compared with a reference config (the platform's
table, ``DEFAULT_CONFIG``, by default) and with each other.

Two names are near when they differ only in case, ``-``, ``_`` and spaces, or by a few
edits (:func:`_typo_distance`). The levers need no check of their own: validation
already refuses a boost, streak or milestone naming an action the config does not
have, and the actions the config does have are checked here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .config import DEFAULT_CONFIG, ProgressionConfig

__all__ = ["ConfigWarning", "config_warnings"]

_REFERENCE = "the platform's default config"
"""How the messages call the reference config (what the platform's backend sends)."""


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """Something in a valid config that is probably a mistake.

    Attributes:
        path: Where, in the file's own structure as validation problems name it
            (``actions.create_charcter``, ``levels[3].name``).
        message: What looks wrong and what follows from it.
        suggestion: The name probably meant, or ``None`` when there is no telling.
    """

    path: str
    message: str
    suggestion: str | None = None


def config_warnings(
    config: ProgressionConfig, reference: ProgressionConfig = DEFAULT_CONFIG
) -> tuple[ConfigWarning, ...]:
    """Likely mistakes of ``config``, ordered by path (``levels[10]`` after ``levels[9]``).

    Warned about: an action or level name near a name of ``reference`` that ``config``
    lacks (a typo), two names of ``config`` near each other, and an action of
    ``reference`` that ``config`` drops (said once, in the typo warning, when a typo
    explains it). Unrelated new names (``send_gift``) are not warned about. The messages
    call ``reference`` the platform's default config: it stands for what the backend
    sends.

    >>> data = DEFAULT_CONFIG.to_dict()
    >>> data["actions"]["create_charcter"] = data["actions"].pop("create_character")
    >>> for warning in config_warnings(ProgressionConfig.from_dict(data)):
    ...     print(warning.path, warning.suggestion)
    actions.create_charcter create_character
    """
    warnings = [*_action_warnings(config, reference), *_level_warnings(config, reference)]
    return tuple(sorted(warnings, key=lambda w: (_path_order(w.path), w.message)))


def _action_warnings(
    config: ProgressionConfig, reference: ProgressionConfig
) -> Iterator[ConfigWarning]:
    names, known = list(config.actions), list(reference.actions)
    typos = _likely_typos(names, known)
    yield from _name_warnings(
        names,
        known,
        typos,
        _Kind(
            path=lambda at: f"actions.{names[at]}",
            locate=lambda at: "",
            typo=lambda at, meant: (
                f"unknown to {_REFERENCE}; did you mean `{meant}`? This config has no "
                f"`{meant}`, so the backend answers 400 for every `{meant}`"
            ),
            question="one action under two names?",
        ),
    )
    for name in known:
        if name not in config.actions and name not in typos.values():
            yield ConfigWarning(
                f"actions.{name}",
                f"{_REFERENCE} has this action and this config drops it: the backend "
                f"answers 400 for every `{name}`",
            )


def _level_warnings(
    config: ProgressionConfig, reference: ProgressionConfig
) -> Iterator[ConfigWarning]:
    names, known = [level.name for level in config.levels], [lv.name for lv in reference.levels]
    yield from _name_warnings(
        names,
        known,
        _likely_typos(names, known),
        _Kind(
            path=lambda at: f"levels[{at}].name",
            # Level names can repeat, so the other level of a pair is named by number.
            locate=lambda at: f" (level {at + 1})",
            typo=lambda at, meant: (
                f"`{names[at]}` is not a level name of {_REFERENCE}, which calls level "
                f"{known.index(meant) + 1} `{meant}`; did you mean `{meant}`?"
            ),
            question="two levels with one name?",
        ),
    )


@dataclass(frozen=True, slots=True)
class _Kind:
    """How the warnings about one kind of name (actions, level names) read.

    Attributes:
        path: The path of the name at an index.
        locate: Words placing the other name of a near pair, after it.
        typo: The message for the name at an index, a near miss of the given
            reference name.
        question: What two near names of the config may be.
    """

    path: Callable[[int], str]
    locate: Callable[[int], str]
    typo: Callable[[int, str], str]
    question: str


def _name_warnings(
    names: Sequence[str], known: Sequence[str], typos: dict[int, str], kind: _Kind
) -> Iterator[ConfigWarning]:
    """The typos of ``names`` (from :func:`_likely_typos`), then its near pairs."""
    for i, meant in typos.items():
        yield ConfigWarning(kind.path(i), kind.typo(i, meant), meant)
    for i, j in _near_pairs(names, known, typos):
        first, second = names[i], names[j]
        # On the name the reference lacks when the other is the reference's own
        # spelling, and on the later one otherwise (a copy more often comes second).
        if second in known and first not in known:
            i, j, first, second = j, i, second, first
        suggestion = first if first in known and second != first else None
        tail = f"; {_REFERENCE} knows only `{first}`" if suggestion else f": {kind.question}"
        how = _difference(second, first)
        yield ConfigWarning(
            kind.path(j), f"`{second}` and `{first}`{kind.locate(i)} {how}{tail}", suggestion
        )


def _likely_typos(names: Sequence[str], known: Sequence[str]) -> dict[int, str]:
    """Each of ``names`` (by index) that is a near miss of a ``known`` name that ``names``
    lacks, with the nearest such name (the first of ``known`` on a tie)."""
    missing = [name for name in known if name not in names]
    typos: dict[int, str] = {}
    for i, name in enumerate(names):
        if name in known:
            continue
        close = [(d, k) for k in missing if (d := _typo_distance(name, k)) is not None]
        if close:
            typos[i] = min(close, key=lambda found: found[0])[1]
    return typos


def _near_pairs(
    names: Sequence[str], known: Sequence[str], typos: dict[int, str]
) -> Iterator[tuple[int, int]]:
    """For each name, the first earlier one near it (or equal), as indexes ``(i, j)``:
    one warning per name however many copies precede it. Left out: the names already
    warned about as typos, and two distinct names both of ``known``."""
    candidates = [i for i in range(len(names)) if i not in typos]
    for at, j in enumerate(candidates):
        for i in candidates[:at]:
            a, b = names[i], names[j]
            if (a == b or a not in known or b not in known) and _typo_distance(a, b) is not None:
                yield i, j
                break


# --- how near two names are -----------------------------------------------------------

_SEPARATORS = str.maketrans("", "", "-_ ")
_NUMBERS = re.compile(r"(\d+)")
"""The numbers in a name; a group, so that splitting on it keeps them."""


def _folded(name: str) -> str:
    """``name`` as typos are counted in it: case, ``-``, ``_`` and spaces ignored."""
    return name.casefold().translate(_SEPARATORS)


def _allowed_edits(length: int) -> int:
    """How many edits a name of ``length`` letters may be from another and be a typo.

    Names of three letters or fewer are too short to tell a typo from another word
    (``Pro``, ``VII``): only case and separators count there. Then one edit up to
    seven letters (``forkd``), two beyond (``craete_scen`` for ``create_scene``).
    """
    return 0 if length <= 3 else 1 if length <= 7 else 2


def _typo_distance(a: str, b: str) -> int | None:
    """The edits between ``a`` and ``b`` once folded, if they are near, else ``None``.

    Names whose numbers differ (``Tier 1``, ``Tier 2``) are distinct on purpose.

    >>> _typo_distance("create_charcter", "create_character")
    1
    >>> _typo_distance("Create-Character", "create_character")
    0
    >>> _typo_distance("Tier 1", "Tier 2") is None, _typo_distance("fork", "forked") is None
    (True, True)
    """
    folded_a, folded_b = _folded(a), _folded(b)
    if _NUMBERS.findall(folded_a) != _NUMBERS.findall(folded_b):
        return None
    distance = _osa_distance(folded_a, folded_b)
    allowed = _allowed_edits(min(len(folded_a), len(folded_b)))
    return distance if distance <= allowed else None


def _osa_distance(a: str, b: str) -> int:
    """The optimal string alignment (Damerau) distance: the fewest insertions,
    deletions, substitutions and swaps of two adjacent letters that turn ``a`` into
    ``b``, no letter edited twice.

    >>> _osa_distance("create_scene", "craete_scene"), _osa_distance("ca", "abc")
    (1, 3)
    """
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i, *([0] * len(b))]
        for j in range(1, len(b) + 1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1])
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        before, previous = previous, current
    return previous[-1]


def _difference(a: str, b: str) -> str:
    """How two near names differ, in words."""
    if a == b:
        return "are the same name"
    distance = _typo_distance(a, b)
    if not distance:
        return "differ only in case, `-`, `_` or spaces"
    return "differ by one letter" if distance == 1 else "differ by two letters"


def _path_order(path: str) -> list[str | int]:
    """``path`` with its numbers as numbers, so that ``levels[10]`` sorts after ``levels[9]``."""
    parts = _NUMBERS.split(path)  # the numbers at the odd places
    return [int(part) if at % 2 else part for at, part in enumerate(parts)]

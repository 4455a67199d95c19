"""Conditions on an archetype's figures: the language of ``--fail-if`` and ``--target``.

A condition is a Python-like expression over dotted figure names, numbers,
arithmetic (``+ - * /``), comparisons (chains too: ``30 <= level4.days.median <= 45``)
and ``and`` / ``or`` / ``not``; nothing else parses, so nothing but arithmetic ever
runs. An optional ``ARCHETYPE:`` prefix limits it to one archetype; without one it
is checked on every archetype, and holds if it holds for any.

Days to a level never reached are ``inf``; a figure that cannot be reckoned (a
change from 0, "never" against "never") is ``nan``, and every comparison with
``nan`` is false. The names ``inf`` and ``never`` stand for infinity.

>>> gate = parse_condition("daily creator: level4.days.median.change > 0.2")
>>> gate.archetype, gate.names
('daily creator', ('level4.days.median.change',))
>>> condition_holds(gate, {"level4.days.median.change": 0.25})
True
>>> condition_holds(parse_condition("30 <= level4.days.median <= 45"),
...                 {"level4.days.median": 50.0})
False
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgumentError, did_you_mean

__all__ = ["Condition", "check_condition_names", "condition_holds", "parse_condition"]

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITHMETIC: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda a, b: a / b if b else math.nan,
}

# Days to a level never reached are inf: `level5.days.median < never` reads well.
_CONSTANTS = {"inf": math.inf, "never": math.inf}


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition.

    Attributes:
        text: The condition as written.
        archetype: The archetype it is limited to, or ``None`` for every archetype.
        names: The dotted figure names it reads, in order of first use.
    """

    text: str
    archetype: str | None
    names: tuple[str, ...]
    tree: ast.expr = field(repr=False, compare=False)


def parse_condition(text: str, *, option: str = "condition") -> Condition:
    """Parse ``[ARCHETYPE:] EXPRESSION``.

    Raises:
        InvalidArgumentError: naming ``option``, when the text is not such a condition.
    """
    if not text.strip():
        raise InvalidArgumentError(option, "a condition such as 'level4.days.median > 30'", text)
    archetype, colon, expression = text.rpartition(":")
    archetype_name = archetype.strip() or None
    if colon and archetype_name is None:
        raise InvalidArgumentError(option, "an archetype's name before ':'", text)
    try:
        tree = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError as exc:
        raise InvalidArgumentError(
            option, f"a condition such as 'level4.days.median > 30' ({exc.msg})", text
        ) from None
    names: list[str] = []
    _check(tree, names, option, text)
    if not isinstance(tree, ast.Compare | ast.BoolOp) and not (
        isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.Not)
    ):
        raise InvalidArgumentError(option, "a comparison such as 'level4.days.median > 30'", text)
    return Condition(text, archetype_name, tuple(dict.fromkeys(names)), tree)


def check_condition_names(condition: Condition, known: Collection[str], option: str) -> None:
    """Make sure every figure ``condition`` reads is one of ``known``.

    Raises:
        InvalidArgumentError: naming the first unknown figure, with the closest known ones.
    """
    for name in condition.names:
        if name not in known:
            raise InvalidArgumentError(
                option,
                f"a condition on known figures; {name!r} is not one{did_you_mean(name, known)}",
                condition.text,
            )


def condition_holds(condition: Condition, values: Mapping[str, float]) -> bool:
    """Whether ``condition`` holds for one archetype's figures ``values``.

    Raises:
        KeyError: ``values`` lacks a figure the condition reads (see
            :func:`check_condition_names`).
    """
    return bool(_evaluate(condition.tree, values))


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _check(node: ast.expr, names: list[str], option: str, text: str) -> None:
    """Accept only names, numbers, arithmetic, comparisons and boolean operators."""
    if isinstance(node, ast.Attribute | ast.Name):
        name = _dotted(node)
        if name is None:
            raise InvalidArgumentError(option, "figure names written as a.b.c", text)
        if name not in _CONSTANTS:
            names.append(name)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise InvalidArgumentError(option, "numbers as constants", text)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, names, option, text)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
        _check(node.operand, names, option, text)
    elif isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        _check(node.left, names, option, text)
        _check(node.right, names, option, text)
    elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        _check(node.left, names, option, text)
        for comparator in node.comparators:
            _check(comparator, names, option, text)
    else:
        raise InvalidArgumentError(
            option,
            f"figures, numbers, + - * /, comparisons, and/or/not only (not {type(node).__name__})",
            text,
        )


def _evaluate(node: ast.expr, values: Mapping[str, float]) -> Any:
    if isinstance(node, ast.Attribute | ast.Name):
        name = _dotted(node) or ""
        return _CONSTANTS[name] if name in _CONSTANTS else values[name]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BoolOp):
        results = (_evaluate(value, values) for value in node.values)
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        try:
            return _ARITHMETIC[type(node.op)](left, right)
        except (ArithmeticError, ValueError):  # inf - inf is nan, not an error
            return math.nan
    assert isinstance(node, ast.Compare)
    left = _evaluate(node.left, values)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = _evaluate(comparator, values)
        if not _COMPARE[type(op)](left, right):
            return False
        left = right
    return True

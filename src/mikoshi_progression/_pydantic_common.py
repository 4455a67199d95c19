"""What the pydantic models of :mod:`mikoshi_progression.pydantic` share: the core's
problems raised as pydantic errors at their locations, and an object's JSON Schema
written from a model's fields.

Every model validates with the core's own checks; this module only translates what
they find. Needs pydantic (the module that imports it says which extra).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, NoReturn, TypeAlias

from pydantic import BaseModel, ValidationError, ValidatorFunctionWrapHandler, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "NOT_BLANK_PATTERN",
    "PROBLEM_ERROR_TYPE",
    "CoreChecked",
    "Loc",
    "checked",
    "fields_schema",
    "format_loc",
    "item_locations",
    "not_set",
    "raise_problems",
]

PROBLEM_ERROR_TYPE: Final = "config_problem"
"""The ``type`` of every error these models raise: one problem found by the core."""

NOT_BLANK_PATTERN: Final = "\\S"
"""A JSON Schema pattern: text with at least one character that is not a space."""

Loc: TypeAlias = tuple[int | str, ...]
_MISSING: Final = object()


class CoreChecked(BaseModel):
    """A model validated by the core's checks first (:meth:`_core_checked`), so that its
    errors are exactly the core's problems; pydantic's own checks, never stricter, then
    see only data the core accepted, in the plain form the model holds."""

    @model_validator(mode="wrap")
    @classmethod
    def _validate_like_the_core(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(data, cls):
            return handler(data)
        return handler(cls._core_checked(data))

    @classmethod
    def _core_checked(cls, data: object) -> dict[Any, Any]:
        """``data`` as plain data the model holds, or the core's problems raised."""
        raise NotImplementedError


def not_set(value: object) -> bool:
    """Whether a field holds ``None``: left out of a dump, as the core leaves it out."""
    return value is None


def raise_problems(
    title: str, data: object, problems: Sequence[str], where: Mapping[str, Loc] | None = None
) -> NoReturn:
    """Raise one ``config_problem`` error per core problem, at the problem's location.

    ``where`` maps each location the core can write (``"levels[3].exp_required"``) to
    its path in the data (``("levels", 3, "exp_required")``).
    """
    details: list[InitErrorDetails] = []
    for problem in problems:
        loc, message = _split_problem(problem, where or {})
        details.append(
            InitErrorDetails(
                type=PydanticCustomError(PROBLEM_ERROR_TYPE, message),
                loc=loc,
                input=_value_at(data, loc),
            )
        )
    raise ValidationError.from_exception_data(title, details)


def checked(
    title: str, data: object, problems: Sequence[str], where: Mapping[str, Loc]
) -> dict[Any, Any]:
    """``data`` as a plain dict if the core found no ``problems`` in it, else raise them."""
    if problems:
        raise_problems(title, data, problems, where)
    assert isinstance(data, Mapping)  # a core check without problems accepted a table
    return dict(data)


def _split_problem(problem: str, where: Mapping[str, Loc]) -> tuple[Loc, str]:
    """Split ``"<location>: <message>"`` at the longest known location.

    Names of actions, features and unknown keys are free text (they may hold ``.`` or
    ``": "``), so the location is matched against the locations the data can have
    rather than parsed.
    """
    best = -1
    start = 0
    while (colon := problem.find(": ", start)) != -1:
        if problem[:colon] in where:
            best = colon
        start = colon + 1
    if best == -1:
        # A message without a location (a standalone item that is not a table).
        return (), problem
    return where[problem[:best]], problem[best + 2 :]


def item_locations(data: Mapping[Any, Any], keys: Sequence[str]) -> dict[str, Loc]:
    """Locations of a standalone item's problems, which the core writes as ``.key``
    (and as an empty location for the item itself)."""
    return {"": (), **{f".{key}": (str(key),) for key in (*data, *keys)}}


def _value_at(data: object, loc: Loc) -> object:
    """The input at ``loc``, or at its deepest existing parent (for a missing key)."""
    node = data
    for part in loc:
        if isinstance(part, int):
            if not (isinstance(node, Sequence) and 0 <= part < len(node)):
                break
            node = node[part]
        elif isinstance(node, Mapping):
            key = next((k for k in node if str(k) == part), _MISSING)
            if key is _MISSING:
                break
            node = node[key]
        else:
            break
    return node


def format_loc(loc: Sequence[int | str]) -> str:
    """``("levels", 3, "exp_required")`` -> ``"levels[3].exp_required"``, as the core writes it."""
    text = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if i else part
    return text


def fields_schema(model: type[BaseModel], types: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """An object schema: ``types`` per field, with the model's descriptions and defaults.

    A default of ``None`` is shown only where ``null`` may be written (``daily_limit``);
    elsewhere it means "leave the key out", which the description says.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, info in model.model_fields.items():
        schema: dict[str, Any] = {"description": info.description, **types[name]}
        if info.examples:
            schema["examples"] = list(info.examples)
        if info.is_required():
            required.append(name)
        else:
            default = info.get_default(call_default_factory=True)
            if default is not None or "null" in schema.get("type", ()):
                schema["default"] = default
        properties[name] = schema
    return {
        "title": model.model_config.get("title", model.__name__),
        "description": (model.__doc__ or "").split("\n", 1)[0],
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }

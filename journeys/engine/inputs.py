"""A run's inputs, checked against the journey's ``inputs`` schema before anything is written."""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from journeys.definitions.model import Definition, thaw
from journeys.definitions.source import pointer
from journeys.engine import texts
from journeys.errors import InputError

__all__ = ["validate"]


@functools.lru_cache(maxsize=256)
def _validator(definition: Definition) -> Draft202012Validator:
    return Draft202012Validator(
        thaw(definition.inputs), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def validate(definition: Definition, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The inputs with the schema's top-level defaults filled in; :class:`InputError` naming
    every field that does not fit."""
    if inputs is not None and not isinstance(inputs, Mapping):
        raise InputError(
            f"inputs of journey {definition.journey!r} must be a mapping of names to values,"
            f" not {type(inputs).__name__}"
        )
    data = dict(inputs or {})
    properties = definition.inputs.get("properties")
    if isinstance(properties, Mapping):
        for name, spec in properties.items():
            if name not in data and isinstance(spec, Mapping) and "default" in spec:
                data[name] = thaw(spec["default"])
    try:
        text = json.dumps(data, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"inputs of journey {definition.journey!r} must be JSON data: {error}"
        ) from None
    except RecursionError:  # json.dumps recurses once per level: nested thousands deep
        raise InputError(
            f"inputs of journey {definition.journey!r} are nested too deeply to be stored as JSON"
        ) from None
    if "\\u0000" in text or texts.unstorable(text) is not None:
        found = texts.problem(data)  # None for a backslash before u0000: that is fine
        if found is not None:
            where, _, why = found.partition(": ")
            raise InputError(
                f"inputs of journey {definition.journey!r} cannot be stored; nothing was"
                f" started:\n  {found}",
                [(where, why)],
            )
    if not definition.inputs:
        return data
    with warnings.catch_warnings():  # see definitions.checks: a regex FutureWarning is no error
        warnings.simplefilter("ignore", FutureWarning)
        errors = list(_validator(definition).iter_errors(data))
    problems = sorted(
        ((pointer(tuple(e.absolute_path)) or "/", e.message) for e in errors),
    )
    if problems:
        listed = "\n".join(f"  {where}: {message}" for where, message in problems)
        raise InputError(
            f"inputs of journey {definition.journey!r} are not valid; nothing was started:"
            f"\n{listed}",
            problems,
        )
    return data

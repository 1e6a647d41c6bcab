"""JSON Schema validation of a loaded document, with every error placed at its line and column.

jsonschema reports *what* is wrong and the path to it; this module turns each error into a
:class:`~journeys.errors.Problem` an author can act on: at the key's own line for an unknown field
(jsonschema would point at the enclosing mapping), with the nearest valid name suggested, and in
plain words ("expected true or false, got 'yes'") rather than schema vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from journeys.definitions.source import Document, JsonPath
from journeys.errors import Problem, did_you_mean

__all__ = ["problems"]

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO"}


def problems(document: Document, validator: Draft202012Validator) -> list[Problem]:
    """Every schema problem of ``document``, located; empty when it is valid."""
    found: dict[tuple[int, int, str, str], Problem] = {}
    for error in validator.iter_errors(document.data):
        for problem in _explain(document, error):
            found.setdefault((problem.line, problem.column, problem.path, problem.message), problem)
    return _without_echoes(list(found.values()))


def _without_echoes(found: list[Problem]) -> list[Problem]:
    """Drop "missing required field 'x'" where a misspelt field in the same mapping already says
    "did you mean 'x'?": the typo is the one mistake, reported once, at its own line."""
    explained = {
        (problem.path.rsplit("/", 1)[0], match.group(1))
        for problem in found
        if (match := _SUGGESTED.search(problem.message))
    }
    return [
        problem
        for problem in found
        if not (
            (match := _MISSING.fullmatch(problem.message))
            and (problem.path, match.group(1)) in explained
        )
    ]


_SUGGESTED = re.compile(r"^unknown field .*\(did you mean '([^']+)'\?\)")
_MISSING = re.compile(r"missing required field '([^']+)'")


def _explain(document: Document, error: ValidationError) -> Iterator[Problem]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        error = best_match(error.context)
    path: JsonPath = tuple(error.absolute_path)
    instance, keyword, schema = error.instance, error.validator, error.schema
    value: Any = error.validator_value
    assert isinstance(schema, dict)
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        for key in instance:
            if key not in known:
                yield document.problem((*path, key), _unknown_field(key, known, schema), key=True)
        return
    if keyword == "required" and isinstance(instance, dict):
        for name in value:
            if name not in instance:
                yield document.problem(path, f"missing required field {name!r}")
        return
    if "propertyNames" in error.relative_schema_path:  # the error is about a key, not a value
        yield document.problem((*path, str(instance)), _message(error), key=True)
        return
    yield document.problem(path, _message(error))


def _unknown_field(key: str, known: list[str], schema: dict[str, Any]) -> str:
    hint = did_you_mean(key, known)
    strange = [c for c in key if not c.isascii() or not c.isprintable()]
    if strange:  # a look-alike letter (a Cyrillic one for a Latin one) or an invisible character
        shown = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(strange))
        hint += f" (it contains {shown}, not a plain ASCII letter)"
    if hint:
        return f"unknown field {key!r}{hint}"
    if known:
        return f"unknown field {key!r}; the fields here are: {', '.join(known)}"
    return f"unknown field {key!r}"


def _message(error: ValidationError) -> str:
    instance, keyword = error.instance, error.validator
    value: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "type":
        wanted = [value] if isinstance(value, str) else list(value)
        words = " or ".join(_TYPE_WORDS.get(name, name) for name in wanted)
        message = f"expected {words}, got {_show(instance)}"
        if "boolean" in wanted and isinstance(instance, str) and instance in _YAML11_BOOLEANS:
            message += " (write true or false: yes/no/on/off are text in YAML 1.2)"
        elif isinstance(instance, str) and _would_be(instance, wanted):
            message = f"expected {words}, got the text {instance!r}: remove the quotes"
        elif isinstance(instance, float) and "integer" in wanted and instance.is_integer():
            message += f" (write {int(instance)})"
        return message
    if keyword == "enum":
        options = ", ".join(str(option) for option in value)
        hint = did_you_mean(instance, [str(o) for o in value]) if isinstance(instance, str) else ""
        return f"{instance!r} is not one of {options}{hint}"
    if keyword == "pattern":
        what = schema.get("description", "")
        if what:
            return f"{instance!r} is not valid: {what[0].lower()}{what[1:]}"
        return f"{instance!r} does not match {value}"
    if keyword == "minItems":
        return f"needs at least {value} item{'s' if value != 1 else ''}"
    if keyword == "maxItems":
        return f"has more than {value} items"
    if keyword == "uniqueItems":
        return "lists the same item more than once"
    if keyword == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters long"
    if keyword == "maxLength":
        return f"is longer than {value} characters"
    if keyword in ("minimum", "exclusiveMinimum"):
        return f"{_show(instance)} is too small: the least allowed is {value}"
    if keyword in ("maximum", "exclusiveMaximum"):
        return f"{_show(instance)} is too large: the most allowed is {value}"
    return error.message


def _would_be(text: str, wanted: list[str]) -> bool:
    """Whether quoted text would have been the wanted type unquoted (``"true"``, ``"1"``)."""
    from journeys.definitions.source import resolve_plain

    value = resolve_plain(text)
    if isinstance(value, bool):
        return "boolean" in wanted
    if isinstance(value, int):
        return "integer" in wanted or "number" in wanted
    if isinstance(value, float):
        return "number" in wanted
    return False


def _show(instance: Any) -> str:
    if isinstance(instance, dict):
        return "a mapping"
    if isinstance(instance, list):
        return "a list"
    if instance is None:
        return "nothing (null)"
    if isinstance(instance, bool):
        return "true" if instance else "false"
    text = repr(instance)
    return text if len(text) <= 60 else text[:57] + "..."

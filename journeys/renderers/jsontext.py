"""Indented JSON text, as ``json.dumps(value, indent=n, ensure_ascii=False)`` writes it, faster.

With an indent, the standard library encodes in pure Python, a generator per container and a
call per item. A saga's JSON plan is large (every contingency lists the milestones it undoes:
half a million names for 1,000 milestones) and almost all of it is lists of plain names. Here a
list of strings that need no escaping is written by one ``str.join``, other strings by the C
escaper, and the rest by a small recursive writer that follows the standard encoder's rules
(``NaN``, ``Infinity``, ``int.__repr__`` and ``float.__repr__`` for subclasses, tuples as
lists, the key conversions of ``dict`` keys). Anything it does not know (a value the standard
encoder would reject, a key it would convert otherwise, a cycle) is handed to ``json.dumps``
whole, so the text and the errors are the standard library's.
"""

from __future__ import annotations

import json
import re
from json import encoder as _encoder
from typing import Any, Final

__all__ = ["dumps"]

_ESCAPE: Final = _encoder.encode_basestring  # the C escaper when there is one
_NEEDS_ESCAPE: Final = re.compile(r'[\x00-\x1f\\"]')  # what encode_basestring escapes
_INFINITY: Final = float("inf")


class _Unknown(Exception):
    """Something the standard encoder should decide: the whole value goes to ``json.dumps``."""


def dumps(value: Any, indent: int) -> str:
    """``json.dumps(value, indent=indent, ensure_ascii=False)``: the same text."""
    parts: list[str] = []
    try:
        _write(value, parts, "\n", " " * indent)
    except (_Unknown, RecursionError):
        return json.dumps(value, indent=indent, ensure_ascii=False)
    return "".join(parts)


def _write(value: Any, parts: list[str], newline: str, step: str) -> None:
    """Append ``value``'s text to ``parts``; ``newline`` is the line break and indent of the
    level ``value`` sits at."""
    if isinstance(value, str):
        parts.append(_ESCAPE(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, int):
        parts.append(int.__repr__(value))
    elif isinstance(value, float):
        parts.append(_float(value))
    elif isinstance(value, list | tuple):
        _write_list(value, parts, newline, step)
    elif isinstance(value, dict):
        _write_dict(value, parts, newline, step)
    else:
        raise _Unknown


def _write_list(
    value: list[Any] | tuple[Any, ...], parts: list[str], newline: str, step: str
) -> None:
    if not value:
        parts.append("[]")
        return
    inner = newline + step
    if set(map(type, value)) == {str} and not _NEEDS_ESCAPE.search("".join(value)):
        separator = '",' + inner + '"'
        parts.append(f'[{inner}"{separator.join(value)}"{newline}]')
        return
    parts.append("[" + inner)
    first = True
    for item in value:
        if not first:
            parts.append("," + inner)
        first = False
        _write(item, parts, inner, step)
    parts.append(newline + "]")


def _write_dict(value: dict[Any, Any], parts: list[str], newline: str, step: str) -> None:
    if not value:
        parts.append("{}")
        return
    inner = newline + step
    parts.append("{" + inner)
    first = True
    for key, item in value.items():
        if not isinstance(key, str):
            raise _Unknown  # converted by json's own rules
        parts.append(_ESCAPE(key) + ": " if first else "," + inner + _ESCAPE(key) + ": ")
        first = False
        _write(item, parts, inner, step)
    parts.append(newline + "}")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)

"""Durations as authors write them: ``500ms``, ``30s``, ``5m``, ``2h``, ``7d``, ``1h30m``, seconds.

The JSON Schema checks the same pattern (:data:`PATTERN`), so an editor flags a bad duration as it
is typed; :func:`parse` turns a checked one into seconds and :func:`format` turns seconds back into
the shortest way to write them, for plans and messages.
"""

from __future__ import annotations

import math
import re
from typing import Final

__all__ = ["LONGEST", "PATTERN", "format", "parse"]

_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

LONGEST: Final = 10_000_000_000.0
"""The longest duration accepted, in seconds (about 317 years): longer is surely a mistake."""

PATTERN: Final = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
"""A duration string: one or more number-unit parts, largest unit first by convention."""

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(PATTERN)


def parse(value: str | int | float) -> float:
    """Seconds in a duration: ``parse("1h30m") == 5400.0``, ``parse(90) == 90.0``.

    Raises :class:`ValueError` with a sentence an author can act on for anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write 500ms, 30s, 5m, 2h, 7d or seconds")
    if isinstance(value, int | float):
        if (isinstance(value, int) and value > LONGEST) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a duration: it must be a number of seconds >= 0")
        seconds = float(value)
    else:
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            raise ValueError(
                f"{value!r} is not a duration;"
                " write 500ms, 30s, 5m, 2h, 7d, 1h30m or a number of seconds"
            )
        seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text))
    if seconds > LONGEST:
        raise ValueError(f"{value!r} is longer than the longest duration allowed (about 317 years)")
    return seconds


def format(seconds: float) -> str:
    """The shortest usual spelling of a duration: ``format(5400) == "1h30m"``, ``0.5: "500ms"``."""
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"{seconds!r} is not a duration")
    if seconds < 1:
        return f"{round(seconds * 1000):g}ms"
    parts = []
    remaining = round(seconds, 3)
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        whole = int(remaining // size)
        if whole:
            parts.append(f"{whole}{unit}")
            remaining = round(remaining - whole * size, 3)
    if remaining or not parts:
        parts.append(f"{remaining:g}s")
    return "".join(parts)

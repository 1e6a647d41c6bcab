"""What text the store can keep, checked before anything is written.

Both databases store any Unicode text but two things: PostgreSQL refuses the NUL character
(``\\x00``) in its text columns and in JSON (``\\u0000``), and neither driver can encode a lone
surrogate (``\\ud800``), which is not Unicode text at all. SQLite took the first and failed on the
second, so the same call worked on one store and broke in the middle of a move on the other
(the database's error surfacing as a :class:`~journeys.StoreError`, or a bare
``UnicodeEncodeError``). PostgreSQL also enforces the columns' lengths, which SQLite ignores.

So text that names something (a tenant, a user, a log namespace, target or operation) is
checked with :func:`check`, the same on every store, and refused with a
:class:`~journeys.JourneyError` that says which argument; data (inputs, results, payloads) is
checked by :func:`problem` where it is checked to be JSON; and text the engine only reports (a
handler's error message) is kept with those characters escaped by :func:`escaped`, since a
failure must be recorded whatever its message says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from journeys.errors import JourneyError

__all__ = ["NAME_LIMIT", "check", "escaped", "problem", "unstorable"]

NAME_LIMIT: Final = 200
"""The longest tenant, user, run id, log namespace or operation the store keeps."""


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is (None when it can)."""
    if "\x00" in text:
        return "it contains a NUL character (\\x00), which PostgreSQL cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = text[error.start]
        return f"it contains {bad!r}, a lone surrogate: not Unicode text"
    return None


def check(value: Any, what: str, limit: int | None = NAME_LIMIT, *, verb: str = "stored") -> str:
    """``value`` if it is text the store keeps verbatim, at most ``limit`` characters long;
    otherwise a :class:`~journeys.JourneyError` naming ``what``, saying it cannot be
    ``verb`` (``stored``, ``looked up``), before anything is written."""
    if not isinstance(value, str):
        raise JourneyError(f"{what} must be text, not {type(value).__name__}")
    why = unstorable(value)
    if why is None and limit is not None and len(value) > limit:
        why = f"it is {len(value)} characters long; the most is {limit}"
    if why is not None:
        after = "; nothing was written" if verb == "stored" else ""
        raise JourneyError(f"{what} {_shown(value)} cannot be {verb}: {why}{after}")
    return value


def escaped(text: str) -> str:
    """``text`` with what the store cannot keep written out as Python escapes (``\\x00``,
    ``\\ud800``): for messages that must be recorded whatever they contain."""
    if unstorable(text) is None:
        return text
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def problem(value: Any) -> str | None:
    """Where and why JSON data ``value`` holds text the store cannot keep (a key or a string
    value), as ``/path: reason``; None when it holds none."""
    for pointer, text in _texts(value, ""):
        why = unstorable(text)
        if why is not None:
            return f"{pointer or '/'}: {why}"
    return None


def _texts(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield pointer, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                at = f"{pointer}/{_token(key)}"
                yield at, key
            else:
                at = f"{pointer}/{key}"
            yield from _texts(item, at)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _texts(item, f"{pointer}/{index}")


def _token(key: str) -> str:
    """A key as a JSON pointer writes it (RFC 6901), printable."""
    return escaped(key.replace("~", "~0").replace("/", "~1"))


def _shown(value: str, width: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= width else f"{shown[: width - 4]}...{shown[-1]}"

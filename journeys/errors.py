"""The errors `journeys` raises: one root, :class:`JourneyError`, a subclass per kind of trouble.

Every error says *where* (a file, line and column, a JSON pointer, a run or a milestone) and *what
to do*, in words an author of a YAML file understands. The command line prints ``str(error)`` and
exits with status 1; nothing else is needed to understand it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "AuthorizationError",
    "DefinitionError",
    "Fatal",
    "HandlerError",
    "InputError",
    "JourneyError",
    "PlanError",
    "Problem",
    "RunNotFound",
    "StateError",
    "StoreError",
    "WaitTimeout",
    "did_you_mean",
]


_EXCERPT_WIDTH = 100


class JourneyError(Exception):
    """Something went wrong in `journeys`; the message says what and where.

    ``run_id`` and ``milestone`` say which run and which milestone, when the error concerns one.
    """

    def __init__(self, message: str, *, run_id: str | None = None, milestone: str | None = None):
        super().__init__(message)
        self.run_id = run_id
        self.milestone = milestone


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a document, located in its source.

    ``line`` and ``column`` count from 1; both are 0 for a problem with the file as a whole (it is
    missing, unreadable or too large). ``path`` is a JSON pointer (RFC 6901) into the document:
    ``/milestones/2/retry/backoff``; ``""`` is the whole document. ``source_line`` is the text of
    the offending line, when there is one, so the problem can be shown in context.
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    source_line: str | None = None

    @property
    def location(self) -> str:
        """``file:line:column``, or just ``file`` for a problem with the file as a whole."""
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        pointer = f" {self.path}:" if self.path else ""
        return f"{self.location}:{pointer} {self.message}"

    def excerpt(self) -> str:
        """The offending source line with a caret under the column, or ``""`` when unknown."""
        if self.source_line is None or self.line <= 0:
            return ""
        text = self.source_line.rstrip("\n").expandtabs(1)
        column = max(self.column - 1, 0)
        if len(text) > _EXCERPT_WIDTH:  # show a window around the column, not a whole minified line
            start = max(0, min(column - _EXCERPT_WIDTH // 2, len(text) - _EXCERPT_WIDTH))
            text = text[start : start + _EXCERPT_WIDTH]
            column -= start
            if start > 0:
                text, column = "..." + text, column + 3
            if start + _EXCERPT_WIDTH < len(self.source_line.rstrip("\n")):
                text += "..."
        return f"    {text}\n    {' ' * column}^"

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.path, self.message)


class DefinitionError(JourneyError):
    """A journey definition or policy file is not valid; ``problems`` lists everything wrong.

    The problems are sorted by position, and each carries its file, line, column and JSON pointer,
    so an editor or a CI log can point at the exact spot. Fix them in order: a later problem is
    occasionally a consequence of an earlier one.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(problems, key=Problem.sort_key))
        if not self.problems:
            raise ValueError("a DefinitionError needs at least one problem")
        super().__init__(self._render())

    @property
    def file(self) -> str:
        """The file of the first problem (every problem of one load shares it)."""
        return self.problems[0].file

    def _render(self) -> str:
        parts = []
        for problem in self.problems:
            excerpt = problem.excerpt()
            parts.append(f"{problem}\n{excerpt}" if excerpt else str(problem))
        count = len(self.problems)
        head = f"{self.file}: {count} problem{'s' if count != 1 else ''}"
        return head + "\n" + "\n".join(parts)


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """`` (did you mean 'action'?)`` for the closest of ``options`` to ``name``, or ``""``."""
    matches = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


class InputError(JourneyError):
    """A run's inputs do not satisfy the journey's ``inputs`` schema; nothing was started.

    ``problems`` lists each failing field as ``(JSON pointer, message)``.
    """

    def __init__(self, message: str, problems: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)


class HandlerError(JourneyError):
    """A handler is unknown or cannot be loaded; the message names the closest registered ones."""


class StateError(JourneyError):
    """The call does not fit the run's current state (advancing the wrong milestone, changing a
    finished run); nothing was changed."""


class PlanError(JourneyError):
    """A run did not start because its plan has errors (``planning.validate_plan`` on);
    ``problems`` lists them, and nothing was written."""

    def __init__(self, journey: str, problems: Iterable[object], *, run_id: str | None = None):
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        super().__init__(
            f"journey {journey!r} did not start: its plan has {count}"
            f" error{'s' if count != 1 else ''} (planning.validate_plan is on; journeys plan"
            f" shows the whole plan):\n{listed}",
            run_id=run_id,
        )


class WaitTimeout(JourneyError, TimeoutError):
    """``engine.wait`` gave up: the run is still moving (it goes on; wait again)."""


class StoreError(JourneyError):
    """The database failed under a call (unreachable, a connection dropped, a disk full).
    What was committed before stays safe; the message says what to do once it is back."""


class RunNotFound(JourneyError, LookupError):
    """No run has this id in the store."""


class AuthorizationError(JourneyError, PermissionError):
    """The ``authorize`` hook refused the call; nothing was written."""


class Fatal(JourneyError):
    """Raised by a handler for a failure that no retry can fix: the milestone fails at once."""

"""Fault injection for the crash tests: SIGKILL this process at a named point of the protocol.

Test-only. Nothing in the product sets it, and the user docs do not mention it: it exists so
that tests/acceptance/crash/test_matrix.py (and tests/engine/test_recovery.py) can kill a run at
each point of the write-ahead protocol and check that ``recover``, in a new process, finishes
it with every effect applied once.

It is switched on by the environment variable ``JOURNEYS_FAULTS``, read once, when this module
is first imported: a comma-separated list of ``POINT:STATE``, where STATE is the run's state at
that point, a milestone id going forward, ``undo:ID`` while compensating, or ``*`` for any. The
process kills itself the first time it reaches one of them, e.g.
``JOURNEYS_FAULTS=after_intent:pay,before_effect:undo:ship``. With the variable unset,
:data:`ARMED` is None and every point in the engine is a test of that module-level None: no
call, no allocation. That is about 30 ns a point, some 20 points in a 5-milestone run of 600 µs
or more; ``python -m benchmarks.engine`` shows no difference with and without the points.
A malformed value is not raised at import (that would be a traceback): :data:`ERROR` says what
is wrong, and making a runner raises it as a :class:`~journeys.JourneyError`.

The points, in the order one attempt meets them (:data:`POINTS` enumerates them, and the
matrix enumerates :data:`POINTS`):

``before_intent``
    The attempt's intent is built, not committed; nor is the previous attempt's outcome, which
    shares that commit.
``after_intent``
    The intent is committed; the handler has not been called.
``before_effect`` / ``after_effect``
    Inside the handler, before and after its effect. The engine cannot see an effect: the test
    handlers call :func:`hit` themselves (``crash_handlers.py``).
``after_handler``
    The handler has returned (or raised); its outcome is not committed.
``after_outcome``
    The commit holding the attempt's outcome is done. It is the same commit as the next
    intent's, or the run's stop (waiting, parked, or the finish with its terminal status), and
    it carries the transition, the checkpoint snapshot and the outbox events the outcome caused:
    those have no points of their own because they cannot be separated from it.
``after_claim``
    Recovery (or a worker) has claimed and leased the run and not yet moved it: the run is held
    by a process that is now dead.
"""

from __future__ import annotations

import os
import signal
from typing import Final

__all__ = ["ARMED", "ERROR", "HANDLER_POINTS", "POINTS", "hit"]

POINTS: Final = (
    "before_intent",
    "after_intent",
    "before_effect",
    "after_effect",
    "after_handler",
    "after_outcome",
    "after_claim",
)
"""Every point, in protocol order."""

HANDLER_POINTS: Final = ("before_effect", "after_effect")
"""The points a handler reaches by calling :func:`hit`; the engine reaches the others."""


def _parse(spec: str) -> tuple[frozenset[tuple[str, str]] | None, str | None]:
    """The points asked for (None when none), and what is wrong with ``spec``."""
    found = set()
    for item in filter(None, (part.strip() for part in spec.split(","))):
        point, _, state = item.partition(":")
        if point not in POINTS or not state:
            return None, (
                f"JOURNEYS_FAULTS: {item!r} is not POINT:STATE with a point among"
                f" {', '.join(POINTS)}"
            )
        found.add((point, state))
    return (frozenset(found) or None), None


ARMED, ERROR = _parse(os.environ.get("JOURNEYS_FAULTS", ""))
"""The (point, state) pairs to die at, None when the switch is off; what is wrong with it."""


def hit(point: str, state: str) -> None:
    """Kill this process (SIGKILL: no cleanup, no commit, no flush) if ``point`` is armed for
    ``state``; the engine tests :data:`ARMED` before calling, so that off costs nothing."""
    if ARMED is not None and ((point, state) in ARMED or (point, "*") in ARMED):
        os.kill(os.getpid(), signal.SIGKILL)

"""Progress events: what a run is doing, as it does it, for whoever listens.

An engine given ``listener=`` calls it with a :class:`Progress` at each step (a milestone starts,
succeeds, retries, fails, is skipped or compensated; the run waits or finishes). The command line
uses it to show a run live; a service might log or meter it. With no listener, nothing is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Listener", "Progress", "ProgressKind"]

ProgressKind = Literal[
    "started",
    "succeeded",
    "retrying",
    "failed",
    "skipped",
    "compensating",
    "compensated",
    "waiting",
    "finished",
]


@dataclass(frozen=True, slots=True)
class Progress:
    """One step of a run.

    ``seconds`` is how long the attempt took (``succeeded``, ``compensated``, ``failed``,
    ``retrying``) or the delay before the next attempt (``retrying``: ``delay``). ``status`` is
    the run's status after the step.
    """

    kind: ProgressKind
    run_id: str
    journey: str
    status: str
    milestone: str | None = None
    attempt: int = 1
    seconds: float | None = None
    delay: float | None = None
    error: str | None = None


Listener = Callable[[Progress], None]

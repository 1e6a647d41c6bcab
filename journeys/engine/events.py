"""What a run tells whoever listens: progress, events and lineage.

- :class:`Progress`: an engine given ``listener=`` is told of each step (a milestone starts,
  succeeds, retries, fails, is skipped or compensated; the run waits or finishes); the command
  line shows a run live with it.
- :class:`Event`: what a move causes (:data:`EVENTS`), for ``engine.on`` in this process and,
  with the WAL on, the outbox.
- :class:`Lineage`: each committed write to the log, for ``engine.wal.on_write``.

With nobody listening, nothing is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["EVENTS", "Event", "Lineage", "Listener", "Progress", "ProgressKind", "events_of"]

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


EVENTS: Final = (
    "milestone_completed",
    "milestone_compensated",
    "compensation_started",
    "run_completed",
    "run_failed",
    "run_compensated",
    "compensation_failed",
    "run_cancelled",
    "run_rolled_back",
)
"""What a run tells the world, as it happens: ``engine.on(name, fn)`` in this process, and the
outbox (with the WAL on) for a relay (``engine.drain_events(fn)``)."""

_ENDS: Final = {
    "completed": "run_completed",
    "failed": "run_failed",
    "compensated": "run_compensated",
    "compensation_failed": "compensation_failed",
    "cancelled": "run_cancelled",
    "rolled_back": "run_rolled_back",
}


def events_of(trigger: str, source: str, dest: str) -> list[str]:
    """The events a transition causes."""
    found = []
    if trigger == "succeed":
        found.append("milestone_completed")
    elif trigger == "undone":
        found.append("milestone_compensated")
    if dest.startswith("undo:") and not source.startswith("undo:"):
        found.append("compensation_started")
    if dest in _ENDS and dest != source:
        found.append(_ENDS[dest])
    return found


@dataclass(frozen=True, slots=True)
class Event:
    """An event of a run: its name, the run, the milestone concerned, and where the run went."""

    name: str
    run_id: str
    journey: str
    milestone: str | None
    state: str
    sequence: int | None = None  # the outbox's order, for a relay; None in process


@dataclass(frozen=True, slots=True)
class Lineage:
    """What a lineage recorder is told of each write to the log: which asset (the entry's
    target: a milestone, or a service's target), by which operation, in which namespace,
    when, for which run and tenant."""

    asset: str | None
    operation: str | None
    namespace: str | None
    target: str | None
    time: float
    run_id: str | None
    tenant: str | None

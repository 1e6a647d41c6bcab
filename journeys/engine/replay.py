"""A run rebuilt from its write-ahead log alone: :func:`rebuild`.

The store keeps two records of a run: its row (where it stands now, rewritten at every save)
and its history entries (what happened, appended in the same transactions). The row is the
working copy; the log is the record an audit trusts. :func:`rebuild` folds a run's entries,
in order, into the state, status, results and completions they imply, so a row can be checked
against its log (the stateful tests do so after every step) or explained from it.

It needs the run's WAL policy to have been on (with it off nothing is logged, and the rebuilt
run is a run that never started). A milestone's result is in the log only when its payload is
written in full (the milestone is in ``wal.operations``) or when ``advance`` supplied it; the
completed milestones whose results the log does not hold are named in
:attr:`Rebuilt.unrecorded`, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from journeys.definitions.model import Definition, thaw
from journeys.engine.compiler import HUB, TERMINAL
from journeys.engine.run import Entry, Status

__all__ = ["Rebuilt", "rebuild"]


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What a run's log says of it: the fields of :class:`~journeys.Run` it determines."""

    status: Status
    state: str
    results: dict[str, Any]
    completed: list[str]
    """The milestones completed and not rolled back, in the order they completed."""
    unrecorded: frozenset[str]
    """Completed milestones whose results the log does not hold (not in ``wal.operations``)."""


@dataclass
class _Fold:
    state: str
    results: dict[str, Any]
    completed: list[str]
    unrecorded: set[str]
    operations: frozenset[str] = frozenset()
    moved: bool = False  # anything beyond the start: a transition, a signal, a call
    last_call: Entry | None = None  # the last operation or compensation entry
    snapshots: dict[str, tuple[dict[str, Any], list[str], set[str]]] = field(default_factory=dict)

    def complete(self, milestone: str, result: Any, recorded: bool) -> None:
        self.completed.append(milestone)
        if recorded:
            self.results[milestone] = thaw(result)
            self.unrecorded.discard(milestone)
        else:
            self.results.pop(milestone, None)
            self.unrecorded.add(milestone)


def rebuild(definition: Definition, entries: Iterable[Entry]) -> Rebuilt:
    """The run that ``entries`` (its history, as :meth:`~journeys.Engine.history` returns it)
    describe, for a run of ``definition`` (as :meth:`~journeys.Engine.definition` returns it).

    The status is the one the run's row must have: the terminal state's name; ``pending``
    before anything moved; ``running`` or ``compensating`` when the last call's intent has no
    outcome (the run was interrupted, or is being moved now); ``waiting`` at a wait milestone
    or a session pillar, in a parked retry or a parked sleep; else ``running`` or
    ``compensating`` (between two commits of a drive).
    """
    fold = _Fold(definition.milestones[0].id, {}, [], set())
    for entry in sorted(entries, key=lambda e: e.seq):
        _apply(fold, entry)
    return Rebuilt(
        status=_status(definition, fold),
        state=fold.state,
        results=fold.results,
        completed=fold.completed,
        unrecorded=frozenset(fold.unrecorded),
    )


def _apply(fold: _Fold, entry: Entry) -> None:
    snapshots = fold.snapshots
    if entry.kind == "policy" and isinstance(entry.payload, Mapping):
        wal = entry.payload.get("wal") or {}
        fold.operations = frozenset(wal.get("operations") or ())
    elif entry.kind == "transition":
        fold.moved = True
        fold.state = entry.dest or fold.state
    elif entry.kind == "signal":
        fold.moved = True
        if entry.trigger == "advance" and entry.milestone is not None:
            fold.complete(entry.milestone, entry.payload, recorded=True)
    elif entry.kind in ("operation", "compensation"):
        fold.moved = True
        fold.last_call = entry
        if entry.kind == "operation" and entry.status == "completed" and entry.milestone:
            fold.complete(entry.milestone, entry.payload, entry.milestone in fold.operations)
    elif entry.kind == "checkpoint" and entry.milestone is not None:
        if entry.status == "restored":
            results, completed, unrecorded = snapshots[entry.milestone]
            fold.results, fold.completed = dict(results), list(completed)
            fold.unrecorded = set(unrecorded)
            kept = set(fold.completed)
            fold.snapshots = {k: v for k, v in snapshots.items() if k in kept}
        else:
            snapshots[entry.milestone] = (
                dict(fold.results),
                list(fold.completed),
                set(fold.unrecorded),
            )


def _status(definition: Definition, fold: _Fold) -> Status:
    state = fold.state
    if state in TERMINAL:
        return state  # type: ignore[return-value]  # the terminal states are named as statuses
    moving: Status = "compensating" if state.startswith("undo:") else "running"
    if not fold.moved:
        return "pending"
    call = fold.last_call
    if call is not None and call.status == "pending":
        payload = call.payload if isinstance(call.payload, Mapping) else {}
        # an intent with no outcome: interrupted (or moving now), unless it is a parked sleep
        return "waiting" if "sleep_until" in payload else moving
    if call is not None and call.status == "retrying":
        payload = call.payload if isinstance(call.payload, Mapping) else {}
        if "parked_until" in payload and call.milestone == state.removeprefix("undo:"):
            return "waiting"
    if definition.kind == "session":
        return "waiting" if state != HUB else moving
    milestone = next((m for m in definition.milestones if m.id == state), None)
    if milestone is not None and milestone.is_wait:
        return "waiting"
    return moving

"""A run: the public snapshot (:class:`Run`), its history entries, and the record the runner drives.

A :class:`Run` is what the engine hands out: an immutable snapshot, safe to keep. The
:class:`RunRecord` is internal: the mutable state one drive works on, which is also the model the
compiled machine moves from state to state, and what the store saves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from journeys.definitions.model import thaw
from journeys.engine import slots

__all__ = ["ACTIVE", "FINISHED", "Entry", "Run", "RunRecord", "Status"]

Status = Literal[
    "pending",
    "running",
    "waiting",
    "completed",
    "failed",
    "compensating",
    "compensated",
    "compensation_failed",
    "rolled_back",
    "cancelled",
]

FINISHED: Final = frozenset(
    {"completed", "failed", "compensated", "compensation_failed", "cancelled"}
)
"""Statuses in which a run has ended: nothing moves it on. One thing can still change a
``completed`` or ``failed`` run: a rollback by hand to a checkpoint (with the rollback policy
on); the others are final. (``rolled_back`` is not one: ``resume`` goes on from there.)"""

ACTIVE: Final = frozenset({"pending", "running", "compensating"})
"""Statuses of a run being driven (or interrupted while driven: a crash leaves these)."""


def _at(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class Run:
    """A run of a journey, as it stood when the engine returned it.

    ``state`` is the machine's state: a milestone id, ``undo:<milestone>`` while that
    milestone's compensation runs, or a terminal state named like the status. ``results`` maps
    milestone ids to what their handlers returned (or the data an ``advance`` supplied).
    ``inputs`` and ``results`` are copies (plain JSON data): changing them changes no run.
    ``error`` is the failure that ended or paused it, in words. ``due_at`` is when a waiting run
    continues by itself (a retry's delay), or None.
    """

    id: str
    journey: str
    version: int
    status: Status
    state: str
    inputs: dict[str, Any]
    results: dict[str, Any]
    error: str | None
    tenant: str | None
    user: str | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    definition_hash: str

    @property
    def finished(self) -> bool:
        """True once the run has ended (see :data:`FINISHED`: only a rollback by hand can
        take a completed or failed run back to a checkpoint)."""
        return self.status in FINISHED

    def to_dict(self) -> dict[str, Any]:
        """The run as plain JSON-ready data (what ``journeys run --json`` prints)."""
        return {
            "id": self.id,
            "journey": self.journey,
            "version": self.version,
            "status": self.status,
            "state": self.state,
            "inputs": thaw(self.inputs),
            "results": thaw(self.results),
            "error": self.error,
            "tenant": self.tenant,
            "user": self.user,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "due_at": self.due_at.isoformat() if self.due_at else None,
        }


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a run's history (its write-ahead log).

    ``kind`` is ``transition`` (``trigger`` moved the run from ``source`` to ``dest``),
    ``operation`` or ``compensation`` (an attempt of a handler: written ``pending`` before the
    call, then ``completed``, ``retrying`` or ``failed``), ``signal`` (a call from outside:
    advance, fail, navigate, cancel, rollback, resume, recover, timeout), ``policy`` (the policy
    the run started with), ``checkpoint`` (a snapshot taken, or ``restored`` by a rollback) or
    ``event`` (the outbox's: ``trigger`` names it, ``pending`` until delivered).
    """

    run_id: str
    seq: int
    kind: str
    created_at: float
    trigger: str | None = None
    source: str | None = None
    dest: str | None = None
    milestone: str | None = None
    attempt: int | None = None
    status: str = "completed"
    payload: Any = None
    error: str | None = None
    idempotency_key: str | None = None
    user: str | None = None
    """Who made a ``signal`` (the caller of advance, cancel, ...; None for the engine's own);
    None for the other kinds, which are the run's doing."""

    @property
    def timestamp(self) -> datetime:
        """When it was written, in UTC."""
        return datetime.fromtimestamp(self.created_at, UTC)


@dataclass(slots=True, eq=False)
class RunRecord:
    """The mutable state of a run while the runner drives it; the machine's model."""

    id: str
    journey: str
    version: int
    definition_hash: str
    state: str
    status: Status = "pending"
    inputs: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    error: str | None = None
    tenant: str | None = None
    user: str | None = None
    attempt: int = 1
    saga: bool = False
    cancelling: bool = False
    wal: bool = False
    policy: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, Any] = field(default_factory=dict)
    rollback_to: str | None = None
    generations: dict[str, int] = field(default_factory=dict)
    """How many times a rollback undid each milestone's work; part of its idempotency keys."""
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    due_at: float | None = None
    seq: int = 0
    row_version: int = 0
    lease_owner: str | None = None
    """The engine driving the run now (None when nobody is): see :mod:`journeys.engine.worker`."""
    lease_expires_at: float | None = None
    priority: int = 1
    """Which due runs workers take first: 2 high, 1 normal, 0 low."""
    namespace: str | None = None
    sleep_until: float | None = None
    """When a ``builtin.sleep`` that parked the run ends."""
    indexed: tuple[str, float | None] | None = field(default=None, compare=False, repr=False)
    """``(status, due_at)`` as the store last wrote or read them (None: not known). They are
    the run's indexed columns that change: a save that changes neither leaves their index
    entries, and the pages that hold them, alone."""

    def scope(self) -> dict[str, Any]:
        """The names templates and guards see."""
        return {
            "inputs": self.inputs,
            "results": self.results,
            "run": {
                "id": self.id,
                "journey": self.journey,
                "tenant": self.tenant,
                "user": self.user,
            },
        }

    def snapshot(self) -> Run:
        """An immutable :class:`Run` of this record as it is now."""
        return Run(
            id=self.id,
            journey=self.journey,
            version=self.version,
            status=self.status,
            state=self.state,
            inputs=thaw(self.inputs),
            results=thaw(self.results),
            error=self.error,
            tenant=self.tenant,
            user=self.user,
            created_at=_at(self.created_at) or datetime.now(UTC),
            updated_at=_at(self.updated_at) or datetime.now(UTC),
            due_at=_at(self.due_at),
            definition_hash=self.definition_hash,
        )

    def clone(self) -> RunRecord:
        """A copy that can change without changing this one: the containers the runner
        changes are copied; their JSON values are shared, as nothing changes them in place."""
        twin = _copied(self)
        twin.inputs = dict(self.inputs)
        twin.results = dict(self.results)
        twin.completed = list(self.completed)
        twin.checkpoints = dict(self.checkpoints)
        twin.generations = dict(self.generations)
        return twin

    def entry(self, kind: str, **fields: Any) -> Entry:
        """A new history entry of this run, numbered after the last."""
        self.seq += 1
        return _new_entry(self.id, self.seq, kind, time.time(), **fields)


_copied: Final = slots.copier(RunRecord)
"""``copy.copy`` of a record, slot by slot (see :mod:`journeys.engine.slots`)."""
_new_entry: Final = slots.constructor(Entry)
"""``Entry(...)`` for the entries every milestone writes: see :mod:`journeys.engine.slots`."""

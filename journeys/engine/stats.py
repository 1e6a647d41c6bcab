"""What a store's runs add up to (``journeys stats``, ``engine.stats()``): a few aggregate queries.

- runs by status, and the failure rate: runs that ended ``failed``, ``compensated`` or
  ``compensation_failed`` over the runs that finished (``cancelled`` ones included);
- per milestone, from the write-ahead log of the runs with the WAL policy on (the others leave
  none): its successful attempts and their median and 95th percentile duration (intent to
  outcome, as :mod:`journeys.planning.history` learns estimates), its retries (``retrying``
  outcomes), its failures for good, and its compensations run and failed;
- the queue: how many runs are due for a worker and how long the oldest of them has been due.
  A run is due when it is ``pending`` (queued: due since its due time, or else since it was
  last written), ``waiting`` with a due time that has come (a parked retry, a sleep, a
  deadline: due since then), or ``running`` or ``compensating`` under a lease that expired (its
  worker died: due since the expiry). A run moved without a lease is not counted: nothing
  says its process is gone.

Every figure counts the same runs: those of ``journey``, of ``tenant``, created since ``since``.
The database does the counting (``GROUP BY``; the percentiles with window functions), so the
answer is a few rows however large the store. The log is asked for the entries of the runs
selected (:func:`journeys.planning.history.entries_of`), which SQLite reads through the log's
``(run_id, seq)`` index, never scanning the log; PostgreSQL chooses by its costs (a scan of the
log when many runs are selected).
"""

from __future__ import annotations

import time
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from journeys.definitions import durations as durations_module
from journeys.engine import schema, texts
from journeys.engine.run import FINISHED, Status
from journeys.engine.sqlstore import SqlStore
from journeys.engine.store import Store
from journeys.errors import JourneyError
from journeys.planning import history

__all__ = ["FAILED", "MilestoneStats", "Stats", "since_time", "stats"]

Since = datetime | timedelta | str | float | None
"""When the runs counted were created, at the earliest: see :func:`since_time`."""

FAILED: Final = frozenset({"failed", "compensated", "compensation_failed"})
"""The finished statuses that count as failures in the failure rate."""

_STATUSES: Final[tuple[Status, ...]] = typing.get_args(Status)
_HANDLED: Final = ("operation", "compensation")  # the log's kinds of handler attempts


@dataclass(frozen=True, slots=True)
class MilestoneStats:
    """What a milestone's attempts came to in the runs counted.

    ``succeeded``, ``retries`` and ``failures`` count attempts by outcome (``completed``,
    ``retrying``, ``failed`` for good); ``median`` and ``p95`` (nearest rank) are the durations
    of the successful attempts in seconds, None without one; ``compensated`` and
    ``compensation_failures`` count its compensations that succeeded and that failed for good.
    """

    journey: str
    milestone: str
    succeeded: int
    retries: int
    failures: int
    median: float | None
    p95: float | None
    compensated: int
    compensation_failures: int

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-ready data."""
        return {
            "journey": self.journey,
            "milestone": self.milestone,
            "succeeded": self.succeeded,
            "retries": self.retries,
            "failures": self.failures,
            "median_seconds": self.median,
            "p95_seconds": self.p95,
            "compensated": self.compensated,
            "compensation_failures": self.compensation_failures,
        }


@dataclass(frozen=True, slots=True)
class Stats:
    """The figures of a store's runs at ``at``: see :mod:`journeys.engine.stats`.

    ``journey``, ``tenant`` and ``since`` say which runs were counted (None: all). ``runs``
    maps every status to its number of runs (0 included). ``failure_rate`` is from 0 to 1, None
    when no run finished. ``queue_depth`` counts the runs due for a worker and
    ``oldest_due_seconds`` says how long the oldest of them has been due (None with none).
    ``compensations_run`` counts the compensations that ended (succeeded or failed for good) and
    ``compensations_failed`` those that failed. ``milestones`` are ordered by journey, then
    as their runs first reached them.
    """

    at: datetime
    journey: str | None
    tenant: str | None
    since: datetime | None
    runs: Mapping[str, int]
    failure_rate: float | None
    queue_depth: int
    oldest_due_seconds: float | None
    compensations_run: int
    compensations_failed: int
    milestones: tuple[MilestoneStats, ...]

    @property
    def total(self) -> int:
        """How many runs were counted."""
        return sum(self.runs.values())

    @property
    def finished(self) -> int:
        """How many of them finished (``completed``, ``failed``, ``compensated``,
        ``compensation_failed`` or ``cancelled``)."""
        return sum(n for status, n in self.runs.items() if status in FINISHED)

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-ready data (what ``journeys stats --json`` prints)."""
        return {
            "at": self.at.isoformat(),
            "journey": self.journey,
            "tenant": self.tenant,
            "since": self.since.isoformat() if self.since is not None else None,
            "runs": {"total": self.total, "finished": self.finished, "by_status": dict(self.runs)},
            "failure_rate": self.failure_rate,
            "queue": {"depth": self.queue_depth, "oldest_due_seconds": self.oldest_due_seconds},
            "compensations": {"run": self.compensations_run, "failed": self.compensations_failed},
            "milestones": [m.to_dict() for m in self.milestones],
        }


def stats(
    store: Store,
    *,
    journey: str | None = None,
    since: Since = None,
    tenant: str | None = None,
    now: float | None = None,
) -> Stats:
    """The figures of the runs in ``store`` (of ``journey``, of ``tenant``, created since
    ``since``: see :func:`since_time`), as they stand at ``now`` (seconds since the epoch;
    default: the clock's time). Needs a SQL store: a ``memory:`` store lives and dies with the
    process that made it, which has its runs at hand."""
    if not isinstance(store, SqlStore):
        raise JourneyError(
            f"stats are read from a SQL store (sqlite:///file.db or postgresql://...); the runs"
            f" of {store.url} live only in the process that made them"
        )
    at = time.time() if now is None else now
    earliest = since_time(since, at)
    runs = schema.runs
    where: list[ColumnElement[bool]] = []
    if journey is not None:
        where.append(runs.c.journey == texts.check(journey, "journey", None, verb="looked up"))
    if tenant is not None:
        where.append(runs.c.tenant_id == texts.check(tenant, "tenant", None, verb="looked up"))
    if earliest is not None:
        where.append(runs.c.created_at >= earliest)
    with store.transaction() as connection:
        by_status = dict(
            connection.execute(
                select(runs.c.status, func.count()).where(*where).group_by(runs.c.status)
            ).all()
        )
        depth, oldest = connection.execute(_queue(where, at)).one()
        outcomes = connection.execute(_outcomes(where)).all()
        timed = history.durations(connection, *where)
    counts: dict[str, int] = {status: int(by_status.get(status, 0)) for status in _STATUSES}
    counts.update((status, int(n)) for status, n in by_status.items())  # any status to come
    finished = sum(counts[s] for s in FINISHED)
    milestones, compensated, compensations_failed = _milestones(outcomes, timed)
    return Stats(
        at=datetime.fromtimestamp(at, UTC),
        journey=journey,
        tenant=tenant,
        since=datetime.fromtimestamp(earliest, UTC) if earliest is not None else None,
        runs=MappingProxyType(counts),
        failure_rate=sum(counts[s] for s in FAILED) / finished if finished else None,
        queue_depth=int(depth),
        oldest_due_seconds=max(0.0, at - oldest) if oldest is not None else None,
        compensations_run=compensated + compensations_failed,
        compensations_failed=compensations_failed,
        milestones=milestones,
    )


def since_time(since: Since, now: float) -> float | None:
    """``since`` in seconds since the epoch: a :class:`~datetime.datetime` (naive ones are UTC),
    ISO 8601 text (``2026-05-01T12:00``, UTC unless it gives an offset), a duration meaning that
    long before ``now`` (a :class:`~datetime.timedelta`, or text: ``30m``, ``1h``, ``7d``), or a
    number of seconds since the epoch."""
    if since is None:
        return None
    if isinstance(since, timedelta):
        return now - since.total_seconds()
    if isinstance(since, datetime):
        return (since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp()
    if isinstance(since, int | float) and not isinstance(since, bool):
        return float(since)
    if isinstance(since, str):
        try:
            return now - durations_module.parse(since)
        except ValueError:
            pass
        try:
            return since_time(datetime.fromisoformat(since.strip()), now)
        except ValueError:
            pass
    raise JourneyError(
        f"since {since!r} is not a time: give an ISO 8601 time (2026-05-01T12:00, UTC unless"
        " it says otherwise) or a duration meaning that long ago (30m, 1h, 7d)"
    )


def _queue(where: list[ColumnElement[bool]], now: float) -> Any:
    """How many runs are due, and since when the oldest is: one row."""
    runs = schema.runs
    status = runs.c.status
    due = or_(
        status == "pending",
        and_(status == "waiting", runs.c.due_at <= now),
        and_(status.in_(("running", "compensating")), runs.c.lease_expires_at < now),
    )
    since = case(
        (status == "pending", func.coalesce(runs.c.due_at, runs.c.updated_at)),
        (status == "waiting", runs.c.due_at),
        else_=runs.c.lease_expires_at,
    )
    return select(func.count(), func.min(since)).where(*where, due)


def _outcomes(where: list[ColumnElement[bool]]) -> Any:
    """The handler attempts' outcomes, counted by journey, kind, milestone and status, with
    where in its runs each milestone first came (to list milestones in that order)."""
    wal = schema.wal
    journey, of_runs = history.entries_of(*where)
    group = (journey, wal.c.kind, wal.c.milestone, wal.c.status)
    return (
        select(*group, func.count(), func.min(wal.c.seq))
        .where(of_runs, wal.c.kind.in_(_HANDLED), wal.c.status != "pending")
        .group_by(*group)
    )


def _milestones(
    outcomes: list[Any], timed: Mapping[tuple[str, str], history.Learned]
) -> tuple[tuple[MilestoneStats, ...], int, int]:
    """Each milestone's figures, and the compensations that succeeded and failed in all."""
    counts: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
    first: dict[tuple[str, str], int] = {}
    for journey, kind, milestone, status, count, seq in outcomes:
        if milestone is None:
            continue
        key = (journey, milestone)
        counts.setdefault(key, {})[(kind, status)] = int(count)
        if kind == "operation":
            first[key] = min(first.get(key, seq), seq)
    found = []
    for key in sorted(counts, key=lambda k: (k[0], first.get(k, 0), k[1])):
        of = counts[key]
        learned = timed.get(key)
        found.append(
            MilestoneStats(
                journey=key[0],
                milestone=key[1],
                succeeded=of.get(("operation", "completed"), 0),
                retries=of.get(("operation", "retrying"), 0),
                failures=of.get(("operation", "failed"), 0),
                median=learned.median if learned else None,
                p95=learned.p95 if learned else None,
                compensated=of.get(("compensation", "completed"), 0),
                compensation_failures=of.get(("compensation", "failed"), 0),
            )
        )
    compensated = sum(m.compensated for m in found)
    failed = sum(m.compensation_failures for m in found)
    return tuple(found), compensated, failed

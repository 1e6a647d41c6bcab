"""Estimates learned from the runs a store has seen (``planning.learn_from_results``).

A milestone's observed duration is that of its successful attempt: from the attempt's intent
(the ``operation`` entry written ``pending`` before the handler is called) to its outcome (the
``completed`` entry written when the handler returned), both in the run's write-ahead log. Only
runs with the WAL policy on have them. Retries and their delays are not in the figure: like a
declared ``estimate``, it is what one attempt takes, and the plan adds retries for the worst case.

The SQL stores are read with one query on the log joined to the journey's most recent runs
(:data:`RECENT` of them), the database computing the figures (:func:`durations`, which
``journeys stats`` shares); other stores are read through the :class:`~journeys.engine.store.Store`
interface and the figures computed here.
"""

from __future__ import annotations

import statistics
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import ColumnElement, Connection, and_, distinct, func, or_, select

from journeys.engine import schema
from journeys.engine.run import Entry, Status
from journeys.engine.store import Store

__all__ = ["RECENT", "Learned", "durations", "entries_of", "learn"]

RECENT: Final = 1000
"""How many of a journey's latest runs the estimates rest on, at most."""

_ALL_STATUSES: Final = typing.get_args(Status)  # every run, finished or not
_P95: Final = 95


@dataclass(frozen=True, slots=True)
class Learned:
    """What a milestone took in the runs observed: median and 95th percentile (nearest rank),
    in seconds, over ``samples`` successful attempts in ``runs`` runs."""

    median: float
    p95: float
    runs: int
    samples: int


def learn(
    store: Store, journey: str, *, recent: int = RECENT, tenant: str | None = None
) -> dict[str, Learned]:
    """The observed durations of ``journey``'s milestones in ``store``, by milestone id: of
    ``tenant``'s runs only, when one is given."""
    transaction = getattr(store, "transaction", None)
    if transaction is None:
        return _estimates(_store_rows(store, journey, recent, tenant))
    runs = schema.runs
    of: list[ColumnElement[bool]] = [runs.c.journey == journey]
    if tenant is not None:
        of.append(runs.c.tenant_id == tenant)
    latest = (
        select(runs.c.id).where(*of).order_by(runs.c.created_at.desc()).limit(recent)
    ).scalar_subquery()
    with transaction() as connection:
        found = durations(connection, *of, runs.c.id.in_(latest))
    return {milestone: learned for (_journey, milestone), learned in found.items()}


def durations(
    connection: Connection, *where: ColumnElement[bool]
) -> dict[tuple[str, str], Learned]:
    """The durations of the successful attempts of the runs matching ``where`` (conditions on
    :data:`~journeys.engine.schema.runs`), by journey and milestone, computed by the database:
    one query whose answer is at most three rows per milestone, however many runs there are.

    An attempt's intent is the latest ``pending`` operation entry of its run, milestone and
    attempt before its ``completed`` outcome (found through the log's ``(run_id, seq)`` index);
    the median and 95th percentile (nearest rank) are the same as :func:`_estimates` gives.
    """
    wal, intent = schema.wal, schema.wal.alias("intent")
    started = (
        select(intent.c.created_at)
        .where(
            intent.c.run_id == wal.c.run_id,
            intent.c.seq < wal.c.seq,
            intent.c.kind == "operation",
            intent.c.status == "pending",
            intent.c.milestone == wal.c.milestone,
            intent.c.attempt == wal.c.attempt,
        )
        .order_by(intent.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    journey, of_runs = entries_of(*where)
    successes = (
        select(
            journey,
            wal.c.milestone,
            wal.c.run_id,
            # NULL for an outcome without its intent (no sample); below 0 if a clock was set
            # back, counted as 0 once ranked (ranks do not change)
            (wal.c.created_at - started).label("seconds"),
        )
        .where(of_runs, wal.c.kind == "operation", wal.c.status == "completed")
        .cte("successes")
    )
    group = (successes.c.journey, successes.c.milestone)
    timed = successes.c.seconds.is_not(None)
    ranked = (
        select(
            *group,
            successes.c.seconds,
            func.row_number().over(partition_by=group, order_by=successes.c.seconds).label("rank"),
            func.count().over(partition_by=group).label("n"),
        )
        .where(timed)
        .subquery("ranked")
    )
    counted = (
        select(*group, func.count(distinct(successes.c.run_id)).label("runs"))
        .where(timed)
        .group_by(*group)
        .subquery("counted")
    )
    n, rank = ranked.c.n, ranked.c.rank
    query = (
        select(ranked.c.journey, ranked.c.milestone, ranked.c.seconds, rank, n, counted.c.runs)
        .join(
            counted,
            and_(counted.c.journey == ranked.c.journey, counted.c.milestone == ranked.c.milestone),
        )
        # the median's one or two middle ranks, and the 95th percentile's: ceil(0.95 n)
        .where(or_(rank == (n + 1) // 2, rank == n // 2 + 1, rank == (n * _P95 + 99) // 100))
    )
    picked: dict[tuple[str, str], tuple[int, int, dict[int, float]]] = {}
    for name, milestone, seconds, at, count, in_runs in connection.execute(query):
        picked.setdefault((name, milestone), (count, in_runs, {}))[2][at] = max(0.0, seconds)
    return {
        key: Learned(
            median=(values[(count + 1) // 2] + values[count // 2 + 1]) / 2,
            p95=values[_rank(count, _P95)],
            runs=runs_seen,
            samples=count,
        )
        for key, (count, runs_seen, values) in picked.items()
    }


def entries_of(*where: ColumnElement[bool]) -> tuple[ColumnElement[str], ColumnElement[bool]]:
    """The journey of a log entry's run, and a condition on log entries: of the runs matching
    ``where`` (conditions on :data:`~journeys.engine.schema.runs`).

    Spelt ``run_id IN (SELECT id FROM journeys_runs WHERE ...)`` rather than as a join, so that
    the databases go from the runs selected to their entries by the log's ``(run_id, seq)``
    index (SQLite, free to choose the order of a join, would scan the whole log instead).
    """
    runs, wal = schema.runs, schema.wal
    journey = select(runs.c.journey).where(runs.c.id == wal.c.run_id).scalar_subquery()
    return journey.label("journey"), wal.c.run_id.in_(select(runs.c.id).where(*where))


def _store_rows(
    store: Store, journey: str, recent: int, tenant: str | None = None
) -> list[tuple[str, str | None, int | None, str, float]]:
    found = []
    for run_id in store.find(_ALL_STATUSES):
        record = store.load(run_id)
        if (
            record is not None
            and record.journey == journey
            and (tenant is None or record.tenant == tenant)
        ):
            found.append((record.created_at, run_id))
    rows = []
    for _created, run_id in sorted(found, reverse=True)[:recent]:
        rows += [_row(e) for e in store.history(run_id) if e.kind == "operation"]
    return rows


def _row(entry: Entry) -> tuple[str, str | None, int | None, str, float]:
    return (entry.run_id, entry.milestone, entry.attempt, entry.status, entry.created_at)


def _estimates(
    rows: Iterable[tuple[str, str | None, int | None, str, float]],
) -> dict[str, Learned]:
    started: dict[tuple[str, str, int | None], float] = {}
    durations: dict[str, list[float]] = {}
    runs: dict[str, set[str]] = {}
    for run_id, milestone, attempt, status, created_at in rows:
        if milestone is None:
            continue
        key = (run_id, milestone, attempt)
        if status == "pending":
            started[key] = created_at
        elif status == "completed" and key in started:
            durations.setdefault(milestone, []).append(max(0.0, created_at - started.pop(key)))
            runs.setdefault(milestone, set()).add(run_id)
    return {
        milestone: Learned(
            median=statistics.median(values),
            p95=_percentile(values, _P95),
            runs=len(runs[milestone]),
            samples=len(values),
        )
        for milestone, values in durations.items()
    }


def _percentile(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[_rank(len(ordered), percent) - 1]


def _rank(count: int, percent: int) -> int:
    """The nearest rank (from 1) of the ``percent``-th percentile of ``count`` values:
    ceil(percent * count / 100), in whole numbers, as the SQL of :func:`durations` has it."""
    return max(1, (count * percent + 99) // 100)

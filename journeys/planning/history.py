"""Estimates learned from the runs a store has seen (``planning.learn_from_results``).

A milestone's observed duration is that of its successful attempt: from the attempt's intent
(the ``operation`` entry written ``pending`` before the handler is called) to its outcome (the
``completed`` entry written when the handler returned), both in the run's write-ahead log. Only
runs with the WAL policy on have them. Retries and their delays are not in the figure: like a
declared ``estimate``, it is what one attempt takes, and the plan adds retries for the worst case.

The SQL stores are read with one query on the log joined to the journey's most recent runs
(:data:`RECENT` of them); other stores through the :class:`~journeys.engine.store.Store`
interface.
"""

from __future__ import annotations

import math
import statistics
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select

from journeys.engine import schema
from journeys.engine.run import Entry, Status
from journeys.engine.store import Store

__all__ = ["RECENT", "Learned", "learn"]

RECENT: Final = 1000
"""How many of a journey's latest runs the estimates rest on, at most."""

_ALL_STATUSES: Final = typing.get_args(Status)  # every run, finished or not


@dataclass(frozen=True, slots=True)
class Learned:
    """What a milestone took in the runs observed: median and 95th percentile (nearest rank),
    in seconds, over ``samples`` successful attempts in ``runs`` runs."""

    median: float
    p95: float
    runs: int
    samples: int


def learn(store: Store, journey: str, *, recent: int = RECENT) -> dict[str, Learned]:
    """The observed durations of ``journey``'s milestones in ``store``, by milestone id."""
    rows: Iterable[tuple[str, str | None, int | None, str, float]]
    transaction = getattr(store, "transaction", None)
    if transaction is not None:
        rows = _sql_rows(transaction, journey, recent)
    else:
        rows = _store_rows(store, journey, recent)
    return _estimates(rows)


def _sql_rows(
    transaction: Any, journey: str, recent: int
) -> list[tuple[str, str | None, int | None, str, float]]:
    runs, wal = schema.runs, schema.wal
    latest = (
        select(runs.c.id)
        .where(runs.c.journey == journey)
        .order_by(runs.c.created_at.desc())
        .limit(recent)
        .scalar_subquery()
    )
    query = (
        select(wal.c.run_id, wal.c.milestone, wal.c.attempt, wal.c.status, wal.c.created_at)
        .where(wal.c.run_id.in_(latest), wal.c.kind == "operation")
        .order_by(wal.c.run_id, wal.c.seq)
    )
    with transaction() as connection:
        return [tuple(row) for row in connection.execute(query)]


def _store_rows(
    store: Store, journey: str, recent: int
) -> list[tuple[str, str | None, int | None, str, float]]:
    found = []
    for run_id in store.find(_ALL_STATUSES):
        record = store.load(run_id)
        if record is not None and record.journey == journey:
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
            p95=_percentile(values, 0.95),
            runs=len(runs[milestone]),
            samples=len(values),
        )
        for milestone, values in durations.items()
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]

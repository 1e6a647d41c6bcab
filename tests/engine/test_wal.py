"""The write-ahead protocol: with the WAL policy on, the intent of every call is committed before
the call, its outcome and the transition after; with it off, nothing but the run is written."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import pytest
import sqlalchemy

import journeys
from journeys.engine import store as store_module
from journeys.engine.run import Entry, RunRecord, Status

JOURNEY = """
journey: ledger
kind: saga
policies: {saga: {enabled: true}, wal: {enabled: WAL, operations: [pay]}}
milestones:
  - id: reserve
    action: t.peek
    compensation: t.undo
  - id: pay
    action: t.peek
    with: {amount: "{{ inputs.amount }}", fail: "{{ inputs.fail }}"}
    retry: {retries: 1, delay: 0s}
"""


def ledger(wal: bool) -> journeys.Definition:
    return journeys.load_definition(JOURNEY.replace("WAL", "true" if wal else "false"))


class Counting(journeys.Store):
    """A real store, with a note of every write the engine asks of it."""

    def __init__(self, inner: journeys.Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.writes: list[tuple[str, int]] = []

    def save_definition(self, definition: journeys.Definition) -> None:
        self.writes.append(("definition", 1))
        self.inner.save_definition(definition)

    def definition_text(self, content_hash: str) -> str | None:
        return self.inner.definition_text(content_hash)

    def create(self, record: RunRecord, entries: Sequence[Entry]) -> RunRecord | None:
        self.writes.append(("create", len(entries)))
        return self.inner.create(record, entries)

    def save(self, record: RunRecord, entries: Sequence[Entry]) -> None:
        self.writes.append(("save", len(entries)))
        self.inner.save(record, entries)

    def append(self, entries: Sequence[Entry], record: RunRecord | None = None) -> None:
        self.writes.append(("append", len(entries)))
        self.inner.append(entries, record)

    def load(self, run_id: str) -> RunRecord | None:
        return self.inner.load(run_id)

    def history(self, run_id: str) -> list[Entry]:
        return self.inner.history(run_id)

    def find(self, statuses: Iterable[Status], due_before: float | None = None) -> list[str]:
        return self.inner.find(statuses, due_before)

    def claim(self, owner: str, now: float, until: float, **options: Any) -> list[str]:
        self.writes.append(("claim", 0))
        return self.inner.claim(owner, now, until, **options)

    def holders(self) -> set[str]:
        return self.inner.holders()

    def renew(self, owner: str, run_ids: Collection[str], until: float) -> None:
        self.writes.append(("renew", len(run_ids)))
        self.inner.renew(owner, run_ids, until)

    def release(self, owner: str, run_ids: Collection[str]) -> None:
        self.writes.append(("release", len(run_ids)))
        self.inner.release(owner, run_ids)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def counting(store_url: str) -> Counting:
    return Counting(store_module.open(store_url))


@pytest.fixture
def peeks(registry: journeys.Registry, recorder: Any, counting: Counting) -> list[Entry | None]:
    """``t.peek``: records the last history entry committed when it is called (the intent)."""
    seen: list[Entry | None] = []

    def peek(ctx: journeys.Context) -> Any:
        history = counting.history(ctx.run_id)
        seen.append(history[-1] if history else None)
        return recorder.step(ctx)

    registry.register("t.peek", peek)
    return seen


def brief(history: list[Entry]) -> list[tuple[Any, ...]]:
    return [
        (e.kind, e.milestone, e.status, e.attempt)
        if e.kind != "transition"
        else (e.kind, e.trigger, e.source, e.dest)
        for e in history
        if e.kind != "event"  # the outbox's, checked on their own
    ]


def test_with_the_wal_on_each_call_is_written_ahead_then_its_outcome_and_transition(
    make_engine: Any, counting: Counting, peeks: list[Entry | None], recorder: Any
) -> None:
    engine = make_engine(store=counting)
    run = engine.start(ledger(True), {"amount": 12, "fail": 1})
    assert run.status == "completed"
    history = engine.history(run.id)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert brief(history) == [
        ("policy", None, "completed", None),
        ("operation", "reserve", "pending", 1),
        ("operation", "reserve", "completed", 1),
        ("transition", "succeed", "reserve", "pay"),
        ("operation", "pay", "pending", 1),
        ("operation", "pay", "retrying", 1),
        ("transition", "retry", "pay", "pay"),
        ("operation", "pay", "pending", 2),
        ("operation", "pay", "completed", 2),
        ("transition", "succeed", "pay", "completed"),
    ]
    intents = [e for e in history if e.status == "pending" and e.kind != "event"]
    # each handler saw its own intent already committed: written ahead, not after
    assert peeks == intents
    assert [e.idempotency_key for e in intents] == [
        f"{run.id}:reserve",
        f"{run.id}:pay",
        f"{run.id}:pay",
    ]
    assert intents[0].payload is None  # reserve is not in wal.operations
    assert intents[1].payload == {"args": {"amount": 12, "fail": 1}}
    outcomes = [e for e in history if e.status == "completed" and e.kind == "operation"]
    assert [e.payload for e in outcomes] == [None, {"done": "pay"}]
    assert history[0].payload["wal"] == {
        "enabled": True,
        "operations": ["pay"],
        "namespace": "ledger",
    }
    # each intent is committed before its call, together with the outcome and transition of
    # the call before it: one commit per milestone (plus one per failed attempt, before the
    # delay, and one when the run stops)
    assert counting.writes == [
        ("definition", 1),
        ("create", 2),  # the run, its policy entry and the intent of reserve: one commit
        ("save", 4),  # completed + succeed + its event, intent: pay attempt 1
        ("save", 2),  # retrying + retry, before the delay
        ("save", 1),  # intent: pay attempt 2
        ("save", 4),  # completed + succeed to the end + milestone_completed, run_completed
    ]
    events = [(e.trigger, e.milestone) for e in history if e.kind == "event"]
    assert events == [
        ("milestone_completed", "reserve"),
        ("milestone_completed", "pay"),
        ("run_completed", "pay"),
    ]


def test_with_the_wal_on_compensations_and_failures_are_logged(
    make_engine: Any, counting: Counting, peeks: list[Entry | None], recorder: Any
) -> None:
    engine = make_engine(store=counting)
    run = engine.start(ledger(True), {"amount": 12, "fail": 2})
    assert run.status == "compensated"
    assert brief(engine.history(run.id))[8:] == [
        ("operation", "pay", "failed", 2),
        ("transition", "fail", "pay", "undo:reserve"),
        ("compensation", "reserve", "pending", 1),
        ("compensation", "reserve", "completed", 1),
        ("transition", "undone", "undo:reserve", "compensated"),
    ]
    failed = [e for e in engine.history(run.id) if e.kind != "event"][8]
    assert failed.error is not None and "pay do broke" in failed.error
    undo = [e for e in engine.history(run.id) if e.kind != "event"][10]
    assert undo.idempotency_key == f"{run.id}:reserve:undo"


def table_rows(store_url: str) -> dict[str, int]:
    engine = sqlalchemy.create_engine(store_url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(
                    sqlalchemy.text(f"SELECT count(*) FROM {table}")
                ).scalar_one()
                for table in ("journeys_runs", "journeys_wal", "journeys_definitions")
            }
    finally:
        engine.dispose()


def test_with_the_wal_off_history_is_empty_and_only_the_run_is_written(
    make_engine: Any, counting: Counting, peeks: list[Entry | None], recorder: Any, store_url: str
) -> None:
    engine = make_engine(store=counting)
    run = engine.start(ledger(False), {"amount": 12, "fail": 1})
    assert run.status == "completed" and recorder.of("do") == ["reserve", "pay", "pay"]
    assert engine.history(run.id) == []
    assert peeks == [None, None, None]
    # the pinned definition (once per engine and definition), the run created, the run saved
    assert counting.writes == [("definition", 1), ("create", 0), ("save", 0)]
    if store_url != "memory:":
        assert table_rows(store_url) == {
            "journeys_runs": 1,
            "journeys_wal": 0,
            "journeys_definitions": 1,
        }


def test_with_the_wal_off_a_waiting_run_writes_once_per_stop(
    make_engine: Any, counting: Counting, recorder: Any
) -> None:
    engine = make_engine(store=counting)
    definition = journeys.load_definition(
        """
journey: quiet
milestones:
  - {id: a, action: t.step}
  - {id: b}
  - {id: c, action: t.step}
"""
    )
    run = engine.start(definition)
    run = engine.advance(run.id, "b", {"ok": 1})
    assert run.status == "completed"
    assert engine.history(run.id) == []
    # start: the run, then its stop; advance: the claim (so a second advance cannot also
    # run c), then the stop; no history entries at all
    assert counting.writes == [
        ("definition", 1),
        ("create", 0),
        ("save", 0),
        ("save", 0),
        ("save", 0),
    ]


def test_a_signal_records_who_made_it_not_who_started_the_run(
    make_engine: Any, registry: journeys.Registry
) -> None:
    registry.register("t.noop", lambda ctx: None)
    engine = make_engine()
    approval = journeys.load_definition(
        "journey: approval\nmilestones:\n  - {id: prepare, action: t.noop}\n"
        "  - {id: approve}\n  - {id: publish, action: t.noop}\n"
        "policies: {wal: {enabled: true}}\n"
    )
    run = engine.start(approval, tenant="acme", user="ann")
    assert engine.advance(run.id, "approve", {"ok": True}, user="bob").status == "completed"
    history = engine.history(run.id)
    (signal,) = [e for e in history if e.kind == "signal"]
    assert (signal.trigger, signal.milestone, signal.user) == ("advance", "approve", "bob")
    assert all(e.user is None for e in history if e.kind != "signal")
    if engine.store.url.startswith(("sqlite", "postgresql")):
        # in the log the run's own entries are ann's (who started it); the signal is bob's
        mine = {
            (e.kind, e.user)
            for e in engine.wal.replay_log("approval", filters={"correlation_id": run.id})
        }
        assert ("signal", "bob") in mine and ("operation", "ann") in mine
        assert ("signal", "ann") not in mine

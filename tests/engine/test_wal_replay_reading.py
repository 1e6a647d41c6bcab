"""A replay reads its rows past SQLAlchemy's result processing (statements compiled once, JSON
decoded only where there is some, entries built straight into their slots): every entry it
returns is the one SQLAlchemy's own types read (``get``), whatever the column holds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

import journeys
from journeys.engine import wal as wal_module
from tests.engine.conftest import Clock, waiting_after_one_step

PAYLOADS: list[Any] = [
    {"rows": 3, "nested": {"list": [1, 2.5, None, True, "café ✓"]}},
    [1, "two", {"three": 3}],
    "text",
    "5",  # text that looks like a number stays text
    5,  # SQLite's JSON column keeps a number as a number, not as JSON text
    2.5,
    True,
    None,  # SQL NULL
    {},
    [],
]


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.25)  # a time with a fraction of a second, read back exactly


def _fields(entry: journeys.LogEntry) -> list[tuple[str, Any, type]]:
    return [
        (field.name, getattr(entry, field.name), type(getattr(entry, field.name)))
        for field in dataclasses.fields(entry)
    ]


def test_replayed_entries_are_those_sqlalchemy_reads(
    wal: journeys.WriteAheadLog, clock: Clock
) -> None:
    ids = wal.write_to_log_batch(
        [
            {
                "namespace": "steward",
                "payload": payload,
                "target": f"t{index % 3}",
                "lifecycle": {"retry_count": 1, "ttl": "1d"} if index % 2 else None,
                "user_context": {"tenant": "acme", "user": "alice"} if index % 3 else None,
                "operation": "ingest" if index % 4 else None,
                "correlation_id": f"job-{index % 2}",
            }
            for index, payload in enumerate(PAYLOADS)
        ]
    )
    clock.now += 1.5
    wal.update_log_status(ids[0], "completed", result={"ok": [1, None]})
    wal.update_log_status(ids[1], "failed", error="bad header")
    wal.schedule_retry(ids[2], "later")  # next_attempt_at
    wal.update_log_status(ids[3], "completed", result=7)
    replayed = wal.replay_log("steward")
    assert [entry.log_id for entry in replayed] == ids
    for entry in replayed:
        assert type(entry) is journeys.LogEntry
        assert _fields(entry) == _fields(wal.get(entry.log_id))
        assert entry == wal.get(entry.log_id)
    assert [entry.payload for entry in replayed] == PAYLOADS
    assert replayed[0].result == {"ok": [1, None]} and replayed[3].result == 7
    assert replayed[2].next_attempt_at is not None and replayed[2].retry_count == 1
    assert replayed[1].created_at == datetime.fromtimestamp(1_800_000_000.25, UTC)
    assert replayed[1].updated_at == datetime.fromtimestamp(1_800_000_001.75, UTC)
    assert replayed[4].updated_at == replayed[4].created_at  # never updated
    with pytest.raises(dataclasses.FrozenInstanceError):
        replayed[0].status = "dead"  # type: ignore[misc]


def test_a_run_s_entries_replay_as_sqlalchemy_reads_them(sql_url: str) -> None:
    registry, definition = waiting_after_one_step("replayed")
    with journeys.Engine(sql_url, registry=registry) as engine:
        run = engine.start(definition, tenant="acme")
        replayed = engine.wal.replay_log("replayed", filters={"correlation_id": run.id})
        assert len(replayed) > 1 and {entry.correlation_id for entry in replayed} == {run.id}
        assert any(entry.milestone == "a" and entry.seq is not None for entry in replayed)
        for entry in replayed:
            assert _fields(entry) == _fields(engine.wal.get(entry.log_id))


def test_a_filter_of_none_matches_no_value(wal: journeys.WriteAheadLog) -> None:
    # SQL's `= NULL` matches nothing: a None filter keeps meaning "has none", as it did
    # when SQLAlchemy turned `column == None` into IS NULL
    named = wal.write_to_log("n", 1, "t", operation="ingest")
    unnamed = wal.write_to_log("n", 2, "t")
    assert [e.log_id for e in wal.replay_log("n", filters={"operation": None})] == [unnamed]
    assert [e.log_id for e in wal.replay_log("n", filters={"operation": "ingest"})] == [named]
    assert [e.log_id for e in wal.replay_log("n", filters={"correlation_id": None})] == [
        named,
        unnamed,
    ]


def test_one_statement_serves_filters_in_any_order_and_limits(
    wal: journeys.WriteAheadLog,
) -> None:
    for n in range(6):
        wal.write_to_log("n", n, f"t{n % 2}", operation=f"op{n % 3}")
    both = [e.payload for e in wal.replay_log("n", filters={"target": "t0", "operation": "op0"})]
    again = [e.payload for e in wal.replay_log("n", filters={"operation": "op0", "target": "t0"})]
    assert both == again == [0]
    assert [e.payload for e in wal.replay_log("n", limit=2)] == [0, 1]
    assert [e.payload for e in wal.replay_log("n", limit=4)] == [0, 1, 2, 3]
    assert wal.replay_log("n", limit=0) == []
    assert [e.payload for e in wal.replay_log("n", filters={"target": "t1"}, limit=2)] == [1, 3]


def test_entries_built_past_init_equal_those_built_by_it() -> None:
    names = [field.name for field in dataclasses.fields(journeys.LogEntry)]
    values = [f"value of {name}" for name in names]
    made = wal_module._new_entry(*values)
    built = journeys.LogEntry(*values)
    assert type(made) is journeys.LogEntry
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert dataclasses.astuple(made) == tuple(values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.status = "dead"  # type: ignore[misc]

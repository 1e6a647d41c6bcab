"""The write-ahead log as a service uses it: write, batch, status, replay, retries, pruning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import journeys
from tests.engine.conftest import Clock


def test_write_update_and_replay(wal: journeys.WriteAheadLog, clock: Clock) -> None:
    alice = {"tenant": "acme", "user": "alice"}
    first = wal.write_to_log(
        "steward",
        {"rows": 3},
        "sales.csv",
        user_context=alice,
        operation="ingest",
        correlation_id="job-1",
    )
    clock.now += 10
    second = wal.write_to_log(
        "steward", {"rows": 5}, "stock.csv", user_context=alice, operation="map"
    )
    wal.update_log_status(first, "completed", result={"ok": True})
    wal.update_log_status(second, "failed", error="bad header")
    entries = wal.replay_log("steward")
    assert [(e.log_id, e.status, e.target) for e in entries] == [
        (first, "completed", "sales.csv"),
        (second, "failed", "stock.csv"),
    ]
    assert entries[0].result == {"ok": True} and entries[0].payload == {"rows": 3}
    assert entries[0].correlation_id == "job-1"
    assert (entries[0].tenant, entries[0].user) == ("acme", "alice")  # who wrote it
    assert entries[1].error == "bad header"
    assert entries[0].created_at == datetime.fromtimestamp(1_800_000_000, UTC)
    assert wal.replay_log("steward", filters={"status": "failed"}) == [entries[1]]
    assert wal.replay_log("steward", filters={"operation": "ingest"}) == [entries[0]]
    assert wal.replay_log("steward", filters={"correlation_id": "job-1"}) == [entries[0]]
    assert wal.replay_log("steward", from_timestamp=clock.now) == [entries[1]]
    assert wal.replay_log("steward", to_timestamp=datetime.fromtimestamp(clock.now, UTC)) == [
        entries[0]
    ]
    assert wal.replay_log("steward", from_timestamp="2027-01-15T08:00:05+00:00") == [entries[1]]
    assert wal.replay_log("elsewhere") == []


def test_a_tenant_replays_only_its_own_entries(wal: journeys.WriteAheadLog) -> None:
    wal.write_to_log("shared", 1, "a", user_context={"tenant": "acme"})
    wal.write_to_log("shared", 2, "b", user_context={"tenant": "globex"})
    wal.write_to_log("shared", 3, "c")
    assert [e.payload for e in wal.replay_log("shared", user_context={"tenant": "acme"})] == [1]
    assert [e.payload for e in wal.replay_log("shared", user_context={"tenant": "x"})] == []
    assert len(wal.replay_log("shared")) == 3


def test_status_updates_say_who_and_when_and_stay_within_the_tenant(
    wal: journeys.WriteAheadLog, clock: Clock
) -> None:
    acme = {"tenant": "acme", "user": "alice"}
    entry = wal.write_to_log("steward", {"rows": 1}, "a.csv", user_context=acme)
    other = wal.write_to_log("steward", {}, "b.csv", user_context={"tenant": "globex"})
    clock.now += 5
    wal.update_log_status(entry, "completed", {"ok": 1}, user_context={**acme, "user": "bob"})
    done = wal.get(entry)
    assert (done.user, done.updated_by) == ("alice", "bob")  # who wrote it, who changed it
    assert done.updated_at == datetime.fromtimestamp(1_800_000_005, UTC)
    # another tenant's entry is not there for acme: not to read, change or retry
    for call in (
        lambda: wal.get(other, acme),
        lambda: wal.update_log_status(other, "failed", user_context=acme),
        lambda: wal.schedule_retry(other, "boom", acme),
    ):
        with pytest.raises(journeys.JourneyError, match="of tenant 'acme'"):
            call()
    assert wal.get(other).status == "pending" and wal.get(other).updated_by is None
    seen: list[str] = []
    assert wal.consume("steward", lambda e: seen.append(e.target), user_context=acme) == 0
    wal.update_log_status(entry, "pending")
    assert wal.consume("steward", lambda e: seen.append(e.target), user_context=acme) == 1
    assert seen == ["a.csv"] and wal.get(entry).updated_by == "alice"


def test_a_batch_is_one_transaction(wal: journeys.WriteAheadLog) -> None:
    ids = wal.write_to_log_batch(
        {"namespace": "bulk", "payload": {"n": n}, "target": f"t{n}"} for n in range(10_000)
    )
    assert len(set(ids)) == 10_000
    replayed = wal.replay_log("bulk")
    assert [e.payload["n"] for e in replayed] == list(range(10_000))
    with pytest.raises(journeys.JourneyError, match="entry 1: payload is not JSON data"):
        wal.write_to_log_batch(
            [
                {"namespace": "half", "payload": 1, "target": "a"},
                {"namespace": "half", "payload": {1j}, "target": "b"},
            ]
        )
    assert wal.replay_log("half") == []  # nothing half-written


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda w: w.write_to_log("", 1, "t"), "namespace must be a non-empty string"),
        (lambda w: w.write_to_log("n", 1, None), "target must be a string"),
        (
            lambda w: w.write_to_log("n", 1, "t", {"retries": 2}),
            "unknown lifecycle field 'retries'; the fields are retry_count",
        ),
        (lambda w: w.write_to_log("n", 1, "t", {"delay": "soon"}), "not a duration"),
        (lambda w: w.write_to_log("n", 1, "t", {"backoff": "cubic"}), "backoff must be one of"),
        (lambda w: w.update_log_status("nope", "completed"), "no log entry 'nope'"),
        (lambda w: w.update_log_status("nope", "done"), "unknown status 'done'"),
        (lambda w: w.replay_log("n", filters={"staus": "x"}), "did you mean 'status'"),
        (lambda w: w.replay_log("n", from_timestamp="yesterday"), "is not a time"),
    ],
)
def test_bad_calls_say_what_is_wrong(wal: journeys.WriteAheadLog, call: Any, message: str) -> None:
    with pytest.raises(journeys.JourneyError, match=message):
        call(wal)


def test_retries_follow_the_lifecycle_then_the_entry_is_dead(
    wal: journeys.WriteAheadLog, clock: Clock
) -> None:
    log_id = wal.write_to_log(
        "jobs", {"x": 1}, "t", {"retry_count": 2, "delay": "10s", "backoff": "exponential"}
    )
    first = wal.schedule_retry(log_id, "timeout")
    assert (first.status, first.retry_count) == ("retrying", 1)
    assert first.next_attempt_at == datetime.fromtimestamp(clock.now + 10, UTC)
    second = wal.schedule_retry(log_id, "timeout")
    assert second.next_attempt_at == datetime.fromtimestamp(clock.now + 20, UTC)
    third = wal.schedule_retry(log_id, "timeout")
    assert (third.status, third.retry_count, third.error) == ("dead", 3, "timeout")


def test_consume_processes_due_entries_with_their_retries(
    wal: journeys.WriteAheadLog, clock: Clock
) -> None:
    flaky = wal.write_to_log("queue", {"fail": 1}, "a", {"retry_count": 1, "delay": "5s"})
    fine = wal.write_to_log("queue", {"fail": 0}, "b")
    attempts: dict[str, int] = {}

    def handle(entry: journeys.LogEntry) -> Any:
        attempts[entry.target or ""] = attempts.get(entry.target or "", 0) + 1
        if entry.payload["fail"] >= attempts[entry.target or ""]:
            raise ConnectionError("down")
        return {"handled": entry.target}

    assert wal.consume("queue", handle) == 2
    assert wal.get(fine).status == "completed" and wal.get(fine).result == {"handled": "b"}
    assert wal.get(flaky).status == "retrying"
    assert wal.consume("queue", handle) == 0  # not due yet
    clock.now += 5
    assert wal.consume("queue", handle) == 1
    assert wal.get(flaky).status == "completed"


def test_prune_deletes_what_outlived_its_ttl(wal: journeys.WriteAheadLog, clock: Clock) -> None:
    short = wal.write_to_log("p", 1, "a", {"ttl": "1h"})
    default = wal.write_to_log("p", 2, "b")  # 7 days
    clock.now += 3601
    assert wal.prune() == 1
    assert [e.log_id for e in wal.replay_log("p")] == [default]
    assert wal.prune(now=clock.now + 7 * 86400) == 1
    with pytest.raises(journeys.JourneyError):
        wal.get(short)


def test_a_run_s_entries_replay_in_its_namespace(sql_url: str) -> None:
    registry = journeys.Registry()
    registry.register("x.do", lambda ctx: {"ok": True})
    engine = journeys.Engine(sql_url, registry=registry)
    definition = journeys.load_definition(
        "journey: audited\nnamespace: finance\nmilestones:\n  - {id: a, action: x.do}\n"
        "policies: {wal: {enabled: true, ttl: 30d}}\n"
    )
    run = engine.start(definition, tenant="acme", user="ann")
    engine.wal.write_to_log("finance", {"note": 1}, "ledger", user_context={"tenant": "acme"})
    replayed = engine.wal.replay_log("finance", user_context={"tenant": "acme"})
    assert [e.kind for e in replayed] == [
        "policy",
        "operation",
        "operation",
        "transition",
        "event",  # milestone_completed
        "event",  # run_completed
        "log",
    ]
    assert [e.operation for e in replayed if e.kind == "event"] == [
        "milestone_completed",
        "run_completed",
    ]
    assert all(e.tenant == "acme" for e in replayed)
    assert [e.correlation_id for e in replayed[:6]] == [run.id] * 6
    assert replayed[3].operation == "succeed" and replayed[3].target == "a"
    assert replayed[0].expires_at is not None
    assert engine.wal.replay_log("finance", user_context={"tenant": "globex"}) == []
    engine.close()


def test_the_wal_needs_a_sql_store() -> None:
    with pytest.raises(journeys.JourneyError, match="needs a SQL store"):
        _ = journeys.Engine("memory:").wal


def test_a_lineage_recorder_hears_of_every_write(sql_url: str) -> None:
    registry = journeys.Registry()
    registry.register("x.do", lambda ctx: None)
    engine = journeys.Engine(sql_url, registry=registry)
    heard: list[journeys.engine.events.Lineage] = []
    engine.wal.on_write(heard.append)
    engine.wal.on_write(lambda record: 1 / 0)  # a broken recorder changes nothing
    definition = journeys.load_definition(
        "journey: traced\nmilestones:\n  - {id: a, action: x.do}\n"
        "policies: {wal: {enabled: true}}\n"
    )
    run = engine.start(definition, tenant="acme")
    engine.wal.write_to_log("steward", {}, "sales.csv", operation="ingest")
    assert run.status == "completed"
    assert [(h.operation, h.asset, h.namespace) for h in heard] == [
        ("policy", None, "traced"),
        ("operation", "a", "traced"),
        ("operation", "a", "traced"),
        ("succeed", "a", "traced"),
        ("milestone_completed", "a", "traced"),
        ("run_completed", "a", "traced"),
        ("ingest", "sales.csv", "steward"),
    ]
    assert {h.tenant for h in heard[:6]} == {"acme"} and heard[0].run_id == run.id
    engine.close()

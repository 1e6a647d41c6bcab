"""An ``authorize`` hook refusing each kind of call that changes state, on SQLite and PostgreSQL
(issue 8, point 4): the call raises :class:`journeys.AuthorizationError` (a ``PermissionError``)
and not one row of the database changes (compared before and after). The rounds that take runs
(recover, resume_due, work) leave a refused run untouched, not even leased, for an engine that
may take it. Each case then runs again allowed, to show the setup was one the call changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

import journeys

Rows = dict[str, list[tuple[Any, ...]]]
WHO = {"tenant": "acme", "user": "eve"}
GUARDED = """
journey: guarded
kind: saga
milestones:
  - {id: book, action: t.step, compensation: t.step, checkpoint: true}
  - {id: review}
  - {id: after, action: t.step}
policies:
  wal: {enabled: true}
  saga: {enabled: true}
  rollback: {enabled: true, checkpoints: [book]}
"""
LOUNGE = """
journey: lounge
kind: session
milestones:
  - {id: a}
  - {id: b, action: t.step}
policies: {wal: {enabled: true}}
"""
NAPPING = """
journey: napping
milestones:
  - {id: nap, action: builtin.sleep, with: {seconds: 0.05}}
policies: {wal: {enabled: true}}
"""
DYING = """
journey: dying
milestones:
  - {id: die, action: t.die}
policies: {wal: {enabled: true}}
"""


@dataclass
class Gate:
    """An ``authorize`` hook refusing the actions in ``refuse``, recording what it is asked."""

    refuse: set[str] = field(default_factory=set)
    asked: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)

    def __call__(self, user_context: Mapping[str, Any], action: str, resource: str) -> bool:
        self.asked.append((dict(user_context), action, resource))
        return action not in self.refuse


@pytest.fixture
def registry() -> journeys.Registry:
    found = journeys.Registry()
    found.register("t.step", lambda ctx: {"done": ctx.milestone})
    died: list[str] = []

    def die(ctx: journeys.Context) -> Any:
        if ctx.run_id not in died:  # the first call "kills the process"; a recovery completes
            died.append(ctx.run_id)
            raise KeyboardInterrupt
        return {"survived": True}

    found.register("t.die", die)
    return found


@dataclass
class Setting:
    engine: journeys.Engine
    gate: Gate
    guarded: journeys.Definition
    lounge: journeys.Definition


@pytest.fixture
def setting(sql_url: str, registry: journeys.Registry) -> Iterator[Setting]:
    gate = Gate()
    with journeys.Engine(sql_url, registry=registry, authorize=gate, inline_delay=0) as engine:
        yield Setting(
            engine,
            gate,
            journeys.load_definition(GUARDED),
            journeys.load_definition(LOUNGE),
        )


def waiting(s: Setting) -> str:
    return s.engine.start(s.guarded, **WHO).id


def rolled_back(s: Setting) -> str:
    return s.engine.rollback(waiting(s), to="book", **WHO).id


def session(s: Setting) -> str:
    return s.engine.start(s.lounge, **WHO).id


def entry(s: Setting) -> str:
    return s.engine.wal.write_to_log("books", {"n": 1}, "ledger", user_context=WHO)


def expired_entry(s: Setting) -> str:
    return s.engine.wal.write_to_log("books", {}, "old", lifecycle={"ttl": "1ms"}, user_context=WHO)


def nothing(s: Setting) -> str:
    return ""


# name: (action asked, resource, setup, the call) -- resource None: the setup's value
CALLS: dict[
    str, tuple[str, str | None, Callable[[Setting], str], Callable[[Setting, str], Any]]
] = {
    "start": ("start", "guarded", nothing, lambda s, _: s.engine.start(s.guarded, **WHO)),
    "start queued": (
        "start",
        "guarded",
        nothing,
        lambda s, _: s.engine.start(s.guarded, wait=False, **WHO),
    ),
    "start with an id": (
        "start",
        "guarded",
        nothing,
        lambda s, _: s.engine.start(s.guarded, run_id="mine", **WHO),
    ),
    "astart": (
        "start",
        "guarded",
        nothing,
        lambda s, _: asyncio.run(s.engine.astart(s.guarded, **WHO)),
    ),
    "advance": (
        "advance",
        None,
        waiting,
        lambda s, i: s.engine.advance(i, "review", {"ok": 1}, **WHO),
    ),
    "aadvance": (
        "advance",
        None,
        waiting,
        lambda s, i: asyncio.run(s.engine.aadvance(i, "review", **WHO)),
    ),
    "fail": ("fail", None, waiting, lambda s, i: s.engine.fail(i, "review", "no", **WHO)),
    "afail": (
        "fail",
        None,
        waiting,
        lambda s, i: asyncio.run(s.engine.afail(i, "review", "no", **WHO)),
    ),
    "cancel": ("cancel", None, waiting, lambda s, i: s.engine.cancel(i, **WHO)),
    "acancel": ("cancel", None, waiting, lambda s, i: asyncio.run(s.engine.acancel(i, **WHO))),
    "rollback": ("rollback", None, waiting, lambda s, i: s.engine.rollback(i, to="book", **WHO)),
    "resume": ("resume", None, rolled_back, lambda s, i: s.engine.resume(i, **WHO)),
    "navigate": ("navigate", None, session, lambda s, i: s.engine.navigate(i, to="b", **WHO)),
    "complete": ("complete", None, session, lambda s, i: s.engine.complete(i, **WHO)),
    "set_policy": (
        "set_policy",
        "guard*",
        nothing,
        lambda s, _: s.engine.set_policy("guard*", {"saga": {"enabled": False}}, **WHO),
    ),
    "write_to_log": (
        "write_to_log",
        "books",
        nothing,
        lambda s, _: s.engine.wal.write_to_log("books", {"n": 2}, "ledger", user_context=WHO),
    ),
    "write_to_log_batch": (
        "write_to_log",
        "books",
        nothing,
        lambda s, _: s.engine.wal.write_to_log_batch(
            [
                {"namespace": "books", "payload": n, "target": "t", "user_context": WHO}
                for n in (1, 2)
            ]
        ),
    ),
    "update_log_status": (
        "update_log",
        None,
        entry,
        lambda s, i: s.engine.wal.update_log_status(i, "completed", result=1, user_context=WHO),
    ),
    "schedule_retry": (
        "update_log",
        None,
        entry,
        lambda s, i: s.engine.wal.schedule_retry(i, "again", WHO),
    ),
    "consume": (
        "consume",
        "books",
        entry,
        lambda s, _: s.engine.wal.consume("books", lambda e: {"seen": e.log_id}, user_context=WHO),
    ),
    "prune": ("prune", "*", expired_entry, lambda s, _: s.engine.wal.prune(time.time() + 60)),
    "drain_events": (
        "drain_events",
        "*",
        waiting,
        lambda s, _: s.engine.drain_events(lambda e: None),
    ),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_refused_call_raises_and_writes_nothing(
    setting: Setting, sql_url: str, database_rows: Callable[[str], Rows], name: str
) -> None:
    action, resource, setup, call = CALLS[name]
    prepared = setup(setting)
    setting.engine.stats()  # the tables exist before the first comparison
    before = database_rows(sql_url)
    setting.gate.refuse = {action}
    setting.gate.asked.clear()
    with pytest.raises(journeys.AuthorizationError, match="nothing was written") as caught:
        call(setting, prepared)
    assert isinstance(caught.value, PermissionError)
    context = {"tenant": None, "user": None} if resource == "*" else WHO
    assert setting.gate.asked[-1] == (context, action, resource or prepared)
    assert database_rows(sql_url) == before
    setting.gate.refuse = set()  # allowed, the same call changes the database
    call(setting, prepared)
    assert database_rows(sql_url) != before


def parked(s: Setting) -> str:
    run = s.engine.start(journeys.load_definition(NAPPING), **WHO)
    assert run.status == "waiting" and run.due_at is not None
    time.sleep(0.1)  # due now
    return run.id


def queued(s: Setting) -> str:
    quick = journeys.load_definition("journey: quick\nmilestones:\n  - {id: a, action: t.step}\n")
    return s.engine.start(quick, wait=False, **WHO).id


def interrupted(s: Setting) -> str:
    """A run whose engine "died" inside a handler: running, its lease held by a closed
    engine (this process's, so recovery knows at once that it is gone)."""
    dead = journeys.Engine(s.engine.store.url, registry=s.engine.registry, inline_delay=0)
    with pytest.raises(KeyboardInterrupt):
        dead.start(journeys.load_definition(DYING), **WHO)
    dead.close()
    [run_id] = s.engine.store.find(["running"])
    return run_id


ROUNDS: dict[str, tuple[str, Callable[[Setting], str], Callable[[journeys.Engine], list[Any]]]] = {
    "recover": ("recover", interrupted, lambda e: e.recover()),
    "arecover": ("recover", interrupted, lambda e: asyncio.run(e.arecover())),
    "resume_due": ("resume", parked, lambda e: e.resume_due()),
    "work (due)": ("resume", parked, lambda e: e.work(limit=5)),
    "work (queued)": ("resume", queued, lambda e: e.work(limit=5)),
}


@pytest.mark.parametrize("name", list(ROUNDS))
def test_a_refused_run_is_left_untouched_by_the_rounds_that_take_runs(
    setting: Setting,
    sql_url: str,
    database_rows: Callable[[str], Rows],
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    """A refused run was claimed all the same (leased to the refusing engine until its lease
    expired, its row_version bumped): no other engine could take it meanwhile."""
    action, setup, take = ROUNDS[name]
    run_id = setup(setting)
    before = database_rows(sql_url)
    setting.gate.refuse = {action}
    setting.gate.asked.clear()
    with caplog.at_level(logging.WARNING, logger="journeys.engine"):
        assert take(setting.engine) == []
    assert setting.gate.asked == [(WHO, action, run_id)]
    assert f"run {run_id} left to others" in caplog.text
    assert database_rows(sql_url) == before
    setting.gate.refuse = set()  # allowed, the round takes it and finishes it
    [taken] = take(setting.engine)
    assert (taken.id, taken.status) == (run_id, "completed")


def test_a_refused_batch_writes_none_of_its_entries(
    setting: Setting, sql_url: str, database_rows: Callable[[str], Rows]
) -> None:
    """Every entry of a batch is asked about before any is written: one refused, none kept."""
    setting.engine.stats()
    before = database_rows(sql_url)

    def only_globex(context: Mapping[str, Any], action: str, resource: str) -> bool:
        return context["tenant"] == "globex"

    log = journeys.WriteAheadLog(setting.engine.store, authorize=only_globex)
    entries = [
        {"namespace": "books", "payload": 1, "target": "t", "user_context": {"tenant": "globex"}},
        {"namespace": "books", "payload": 2, "target": "t", "user_context": WHO},
    ]
    with pytest.raises(journeys.AuthorizationError, match=r"eve \(tenant acme\) may not"):
        log.write_to_log_batch(entries)
    assert database_rows(sql_url) == before

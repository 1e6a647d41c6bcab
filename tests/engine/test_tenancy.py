"""One tenant reading another's runs and log entries, through every read path of the API, on
SQLite and PostgreSQL (issue 8, point 4): each answers as if the other tenant's run or entry
did not exist (the same error, word for word, as for an id nobody used), and a tenant-scoped
figure (stats, learned plan estimates, replay, consume) counts only the tenant's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy

import journeys

Rows = dict[str, list[tuple[Any, ...]]]
JOURNEY = """
journey: shared
kind: saga
milestones:
  - {id: book, action: t.book, compensation: t.book, checkpoint: true}
  - {id: review}
  - {id: after, action: t.book}
policies:
  wal: {enabled: true}
  saga: {enabled: true}
  rollback: {enabled: true, checkpoints: [book]}
  planning: {enabled: true, validate_plan: false, learn_from_results: true}
"""
SESSION = "journey: lounge\nkind: session\nmilestones:\n  - {id: a}\n  - {id: b}\n"
MISSING = "01900000-0000-7000-8000-000000000000"  # an id no run has


@dataclass
class Tenants:
    """Two tenants' runs and log entries in one store: acme's three, globex's one."""

    engine: journeys.Engine
    definition: journeys.Definition
    acme: journeys.Run  # waiting at review
    acme_session: journeys.Run
    globex: journeys.Run
    acme_entry: str
    globex_entry: str


@pytest.fixture
def tenants(sql_url: str) -> Iterator[Tenants]:
    registry = journeys.Registry()
    registry.register("t.book", lambda ctx: {"secret": f"{ctx.tenant}-card"})
    with journeys.Engine(sql_url, registry=registry, inline_delay=0) as engine:
        definition = journeys.load_definition(JOURNEY)
        acme = [engine.start(definition, {"n": i}, tenant="acme", user="ann") for i in range(3)]
        for done in acme[1:]:
            engine.advance(done.id, "review", tenant="acme")
        session = engine.start(journeys.load_definition(SESSION), tenant="acme")
        globex = engine.start(definition, tenant="globex", user="gus")
        acme_entry = engine.wal.write_to_log(
            "shared", {"card": "4111"}, "ledger", user_context={"tenant": "acme"}
        )
        globex_entry = engine.wal.write_to_log(
            "shared", {"card": "5500"}, "ledger", user_context={"tenant": "globex"}
        )
        yield Tenants(engine, definition, acme[0], session, globex, acme_entry, globex_entry)


def _same_as_missing(call: Callable[[str], Any], run_id: str) -> None:
    """``call(run_id)`` fails exactly as ``call`` of an id nobody used does."""
    with pytest.raises(journeys.RunNotFound) as hidden:
        call(run_id)
    with pytest.raises(journeys.RunNotFound) as missing:
        call(MISSING)
    assert str(hidden.value).replace(run_id, "ID") == str(missing.value).replace(MISSING, "ID")
    assert (hidden.value.run_id, hidden.value.milestone) == (run_id, missing.value.milestone)


def test_another_tenant_s_run_is_a_missing_run_on_every_path(
    tenants: Tenants, sql_url: str, database_rows: Callable[[str], Rows]
) -> None:
    engine, acme = tenants.engine, tenants.acme
    before = database_rows(sql_url)
    as_globex: dict[str, Callable[[str], Any]] = {
        "get": lambda i: engine.get(i, tenant="globex"),
        "history": lambda i: engine.history(i, tenant="globex"),
        "definition": lambda i: engine.definition(i, tenant="globex"),
        "wait": lambda i: engine.wait(i, timeout=0, tenant="globex"),
        "advance": lambda i: engine.advance(i, "review", {"x": 1}, tenant="globex"),
        "fail": lambda i: engine.fail(i, "review", "no", tenant="globex"),
        "cancel": lambda i: engine.cancel(i, tenant="globex"),
        "rollback": lambda i: engine.rollback(i, to="book", tenant="globex"),
        "resume": lambda i: engine.resume(i, tenant="globex"),
        "navigate": lambda i: engine.navigate(i, to="b", tenant="globex"),
        "complete": lambda i: engine.complete(i, tenant="globex"),
    }
    for name, call in as_globex.items():
        run_id = tenants.acme_session.id if name in ("navigate", "complete") else acme.id
        _same_as_missing(call, run_id)
    assert database_rows(sql_url) == before
    # the tenant itself, and the operator (no tenant), see it
    assert engine.get(acme.id, tenant="acme") == engine.get(acme.id) == acme
    assert engine.history(acme.id, tenant="acme") == engine.history(acme.id)
    assert engine.definition(acme.id, tenant="acme") == tenants.definition


def test_a_start_with_another_tenant_s_run_id_gets_nothing_of_it(
    tenants: Tenants, sql_url: str, database_rows: Callable[[str], Rows]
) -> None:
    """An idempotent start with the id of another tenant's run returned that run (its inputs
    and results); with another journey, the error named that run's journey."""
    engine, acme = tenants.engine, tenants.acme
    before = database_rows(sql_url)
    other = journeys.load_definition("journey: other\nmilestones:\n  - {id: a}\n")
    for definition in (tenants.definition, other):
        with pytest.raises(journeys.StateError) as caught:
            engine.start(definition, tenant="globex", run_id=acme.id)
        assert str(caught.value) == (
            f"run id {acme.id!r} is already used; start with another id (or none: one is made)"
        )
    assert database_rows(sql_url) == before
    assert engine.start(tenants.definition, tenant="acme", run_id=acme.id) == acme


def test_a_tenant_s_figures_count_only_its_own_runs(tenants: Tenants) -> None:
    engine = tenants.engine
    globex, acme = engine.stats(tenant="globex"), engine.stats(tenant="acme")
    assert (globex.total, globex.runs["waiting"]) == (1, 1)
    assert (acme.total, acme.runs["completed"], acme.runs["waiting"]) == (4, 2, 2)
    book = {m.milestone: m for m in globex.milestones if m.journey == "shared"}["book"]
    assert book.succeeded == 1  # acme's three bookings are not in globex's figures
    assert engine.stats(tenant="nobody").total == 0


def test_plan_estimates_learn_only_from_the_tenant_s_runs(tenants: Tenants) -> None:
    engine, definition = tenants.engine, tenants.definition

    def learned_from(tenant: str | None) -> int | None:
        [book] = [s for s in engine.plan(definition, tenant=tenant).steps if s.id == "book"]
        assert book.estimate.source == "history"
        return book.estimate.runs

    assert learned_from("globex") == 1  # it was 4: acme's runs too
    assert learned_from("acme") == 3
    assert learned_from(None) == 4  # the operator's view: every run
    [book] = [s for s in engine.plan(definition, tenant="nobody").steps if s.id == "book"]
    assert book.estimate.source != "history"


def test_a_tenant_replays_consumes_and_updates_only_its_own_entries(
    tenants: Tenants, sql_url: str, database_rows: Callable[[str], Rows]
) -> None:
    wal, globex = tenants.engine.wal, {"tenant": "globex", "user": "gus"}
    replayed = wal.replay_log("shared", user_context=globex)
    assert {e.tenant for e in replayed} == {"globex"}
    assert tenants.globex_entry in {e.log_id for e in replayed}
    assert {e.correlation_id for e in replayed} == {tenants.globex.id, None}
    for filters in (
        {"correlation_id": tenants.acme.id},
        {"operation": "ledger", "target": "ledger"},
        {"kind": "operation", "correlation_id": tenants.acme.id},
    ):
        assert all(
            e.tenant == "globex" for e in wal.replay_log("shared", None, None, filters, globex)
        )
    assert (
        wal.replay_log("shared", filters={"correlation_id": tenants.acme.id}, user_context=globex)
        == []
    )

    before = database_rows(sql_url)
    for call in (
        lambda i: wal.get(i, globex),
        lambda i: wal.update_log_status(i, "completed", user_context=globex),
        lambda i: wal.schedule_retry(i, "again", globex),
    ):
        with pytest.raises(journeys.JourneyError) as hidden:
            call(tenants.acme_entry)
        with pytest.raises(journeys.JourneyError) as missing:
            call(MISSING)
        assert str(hidden.value).replace(tenants.acme_entry, "ID") == str(missing.value).replace(
            MISSING, "ID"
        )
    assert database_rows(sql_url) == before

    seen: list[journeys.LogEntry] = []
    assert wal.consume("shared", seen.append, user_context=globex) == 1
    assert [e.log_id for e in seen] == [tenants.globex_entry]
    assert wal.get(tenants.acme_entry).status == "pending"  # acme's is still to do


def test_a_missing_run_does_not_show_the_store_s_password(sql_url: str) -> None:
    """RunNotFound named the store by its URL, password included, to whoever asked for a run
    (a tenant's caller, the command line's output)."""
    url = sqlalchemy.make_url(sql_url)
    if url.get_backend_name() == "postgresql":  # the test server trusts: any password connects
        url = url.set(password="s3cret-pw")
    with journeys.Engine(url.render_as_string(hide_password=False)) as engine:
        with pytest.raises(journeys.RunNotFound) as caught:
            engine.get(MISSING, tenant="globex")
    assert "s3cret-pw" not in str(caught.value)
    assert str(caught.value) == f"no run {MISSING!r} in {url.render_as_string(hide_password=True)}"

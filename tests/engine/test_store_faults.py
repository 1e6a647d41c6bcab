"""The database failing under a run: a clear StoreError naming the run and what to do, and
recovery finishing the run once the database is back.

PostgreSQL lets a test cut a live connection (``pg_terminate_backend``), as a failover or a
restart of the server would; the error's translation is the same for SQLite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy

import journeys

from .conftest import POSTGRES_ENV, _postgres_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL NOT RUN: set {POSTGRES_ENV} to test the store's failures")
    yield from _postgres_schema(base)


DEFINITION = """
journey: flaky_store
milestones:
  - {id: a, action: t.step}
  - {id: b, action: t.cut}
  - {id: c, action: t.step}
policies: {wal: {enabled: true}}
"""


def test_a_connection_cut_mid_run_is_a_store_error_then_recover_finishes(pg_url: str) -> None:
    calls: list[str] = []
    name = f"journeys_cut_{uuid.uuid4().hex[:8]}"  # only this engine's connections are cut
    store_url = (
        sqlalchemy.make_url(pg_url)
        .update_query_dict({"application_name": name})
        .render_as_string(hide_password=False)
    )
    admin = sqlalchemy.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    cut = {"armed": True}

    def step(ctx: journeys.Context) -> None:
        calls.append(ctx.milestone)

    def cut_connections(ctx: journeys.Context) -> dict[str, Any]:
        calls.append(ctx.milestone)
        if cut["armed"]:  # the engine's connections die, as in a server restart
            cut["armed"] = False
            with admin.connect() as connection:
                connection.execute(
                    sqlalchemy.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = :name"
                    ),
                    {"name": name},
                )
        return {"cut": True}

    registry = journeys.Registry()
    registry.register("t.step", step)
    registry.register("t.cut", cut_connections)
    definition = journeys.load_definition(DEFINITION)
    with journeys.Engine(store_url, registry=registry) as engine:
        with pytest.raises(journeys.StoreError) as raised:
            engine.start(definition, run_id="r1")
    message = str(raised.value)
    assert raised.value.run_id == "r1"
    assert "failed: terminating connection" in message
    assert "run r1 is as its last commit left it" in message and "journeys recover" in message
    assert calls == ["a", "b"]
    with journeys.Engine(store_url, registry=registry) as engine:
        (recovered,) = engine.recover()
        assert (recovered.id, recovered.status) == ("r1", "completed")
    # b's outcome was never committed: it is called again (at least once), then c once
    assert calls == ["a", "b", "b", "c"]
    admin.dispose()


def test_the_same_engine_works_again_after_the_cut_and_recovery_keeps_effects_once(
    pg_url: str,
) -> None:
    """Cut during a compensation: the engine that saw the cut recovers the run itself (its
    pool of dead connections was let go), each compensation's effect applied once."""
    name = f"journeys_cut_{uuid.uuid4().hex[:8]}"
    store_url = (
        sqlalchemy.make_url(pg_url)
        .update_query_dict({"application_name": name})
        .render_as_string(hide_password=False)
    )
    admin = sqlalchemy.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    effects = Effects()
    armed = {"cut": True}

    def undo_and_cut(ctx: journeys.Context) -> None:
        effects.undo(ctx)
        if armed.pop("cut", False):
            _terminate(admin, name)

    def broken(ctx: journeys.Context) -> None:
        raise journeys.Fatal("c cannot be done")

    registry = journeys.Registry()
    registry.register("t.do", effects.do)
    registry.register("t.undo", effects.undo)
    registry.register("t.undo_cut", undo_and_cut)
    registry.register("t.broken", broken)
    definition = journeys.load_definition(SAGA)
    with journeys.Engine(store_url, registry=registry) as engine:
        with pytest.raises(journeys.StoreError) as raised:
            engine.start(definition, run_id="s1")
        assert raised.value.run_id == "s1" and "journeys recover" in str(raised.value)
        assert engine.get("s1").status == "compensating"
        (recovered,) = engine.recover()
        assert (recovered.id, recovered.status) == ("s1", "compensated")
    # b's compensation ran again (its outcome was cut), under the same key; a's once
    assert [m for m, _ in effects.undone] == ["b", "b", "a"]
    assert effects.undone[0][1] == effects.undone[1][1]
    assert effects.applied == {"do": ["a", "b"], "undo": ["b", "a"]}
    admin.dispose()


SAGA = """
journey: cut_saga
kind: saga
milestones:
  - {id: a, action: t.do, compensation: t.undo}
  - {id: b, action: t.do, compensation: t.undo_cut}
  - {id: c, action: t.broken}
policies: {wal: {enabled: true}, saga: {enabled: true}}
"""


class Effects:
    """Handlers whose effects are applied once per idempotency key, whatever the calls."""

    def __init__(self) -> None:
        self.undone: list[tuple[str, str]] = []
        self.keys: dict[str, dict[str, str]] = {"do": {}, "undo": {}}

    def do(self, ctx: journeys.Context) -> None:
        self.keys["do"].setdefault(ctx.idempotency_key, ctx.milestone)

    def undo(self, ctx: journeys.Context) -> None:
        self.undone.append((ctx.milestone, ctx.idempotency_key))
        self.keys["undo"].setdefault(ctx.idempotency_key, ctx.milestone)

    @property
    def applied(self) -> dict[str, list[str]]:
        return {kind: list(keys.values()) for kind, keys in self.keys.items()}


def _terminate(admin: sqlalchemy.Engine, name: str) -> None:
    """Cut every connection of the engine whose ``application_name`` is ``name``."""
    with admin.connect() as connection:
        connection.execute(
            sqlalchemy.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :name"
            ),
            {"name": name},
        )


def test_a_cut_between_calls_fails_one_call_that_wrote_nothing_then_the_engine_reconnects(
    pg_url: str,
) -> None:
    """A failover while the engine is idle: its pooled connections are dead. The next start
    fails before writing anything (a StoreError that says to start it again) and lets the
    pool go; the start after it works."""
    name = f"journeys_cut_{uuid.uuid4().hex[:8]}"
    store_url = (
        sqlalchemy.make_url(pg_url)
        .update_query_dict({"application_name": name})
        .render_as_string(hide_password=False)
    )
    admin = sqlalchemy.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    effects = Effects()
    registry = journeys.Registry()
    registry.register("t.do", effects.do)
    definition = journeys.load_definition(
        DEFINITION.replace("t.cut", "t.do").replace("t.step", "t.do")
    )
    with journeys.Engine(store_url, registry=registry) as engine:
        assert engine.start(definition, run_id="r1").status == "completed"
        _terminate(admin, name)
        # no run_id given: the create is the start's first statement (with one, a look for
        # an existing run comes first, and its failure says that nothing was written)
        with pytest.raises(journeys.StoreError) as raised:
            engine.start(definition)
        r2 = raised.value.run_id
        assert r2 is not None
        assert "failed: terminating connection" in str(raised.value)
        assert f"run {r2} may not have started" in str(raised.value)
        assert f"start it again with run_id {r2!r}" in str(raised.value)
        with pytest.raises(journeys.RunNotFound):
            engine.get(r2)
        assert engine.start(definition, run_id=r2).status == "completed"
        assert engine.recover() == []
    assert effects.applied["do"] == ["a", "b", "c"] * 2
    admin.dispose()

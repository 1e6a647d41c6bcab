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

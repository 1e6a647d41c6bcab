"""The hot statements go to the driver with plain values: what they store reads back the same
as what SQLAlchemy's own types would have stored (JSON, NULL, booleans, text)."""

from __future__ import annotations

import concurrent.futures
import copy
import json
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
import sqlalchemy.dialects.postgresql
from hypothesis import given
from hypothesis import strategies as st

import journeys
from journeys.engine import prepared, schema, sqlstore
from journeys.engine.prepared import DOLLAR, Prepared, driver_transaction
from journeys.engine.run import RunRecord
from journeys.engine.sqlstore import SqlStore
from tests.engine.conftest import RICH_RESULT, waiting_after_one_step


def test_a_run_s_rows_read_back_through_sqlalchemy_types(sql_url: str) -> None:
    registry, definition = waiting_after_one_step("prepared")
    with journeys.Engine(sql_url, registry=registry) as engine:
        run = engine.start(definition, tenant="acme")
        assert run.status == "waiting"
        sql = sqlalchemy.create_engine(sql_url)
        with sql.connect() as connection:
            row = connection.execute(
                sqlalchemy.select(schema.runs).where(schema.runs.c.id == run.id)
            ).one()
            entries = connection.execute(
                sqlalchemy.select(schema.wal)
                .where(schema.wal.c.run_id == run.id)
                .order_by(schema.wal.c.seq)
            ).all()
            # None is SQL NULL, not the JSON text 'null'
            nulls = connection.execute(
                sqlalchemy.select(sqlalchemy.func.count())
                .select_from(schema.wal)
                .where(schema.wal.c.run_id == run.id, schema.wal.c.payload.is_(None))
            ).scalar_one()
        sql.dispose()
    assert row.results == {"a": RICH_RESULT}
    assert row.wal is True and row.cancelling is False and row.tenant_id == "acme"
    outcome = next(e for e in entries if e.kind == "operation" and e.status == "completed")
    assert outcome.payload == RICH_RESULT
    assert all(e.tenant_id == "acme" and e.namespace == "prepared" for e in entries)
    assert nulls == sum(1 for e in entries if e.payload is None) > 0


def _count(engine: sqlalchemy.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM prepared_t").scalar_one())


def test_a_driver_transaction_commits_rolls_back_and_raises_sqlalchemy_s_errors(
    sql_url: str,
) -> None:
    """The hot path's transaction: committed when the block ends, rolled back when it
    raises, a conflict raised as SQLAlchemy's IntegrityError (what the store turns into
    'changed by another process'), and a connection that failed is not given out again."""
    engine = sqlalchemy.create_engine(sql_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE prepared_t (k INTEGER PRIMARY KEY)")
        insert = Prepared(
            sqlalchemy.text("INSERT INTO prepared_t (k) VALUES (:k)"), engine.dialect, ["k"]
        )
        with driver_transaction(engine) as cursor:
            insert.run_many(cursor, [{"k": 1}, {"k": 2}])
        assert _count(engine) == 2
        with pytest.raises(RuntimeError), driver_transaction(engine) as cursor:
            insert.run(cursor, {"k": 3})
            raise RuntimeError("the caller changed its mind")
        assert _count(engine) == 2
        seen: list[object] = []
        sqlalchemy.event.listen(engine, "invalidate", lambda *args: seen.append(args[0]))
        with pytest.raises(sqlalchemy.exc.IntegrityError), driver_transaction(engine) as cursor:
            insert.run(cursor, {"k": 4})
            insert.run(cursor, {"k": 1})
        assert _count(engine) == 2  # the whole transaction, k=4 too
        assert seen == []  # a conflict leaves the connection sound
        with pytest.raises(sqlalchemy.exc.DBAPIError), driver_transaction(engine) as cursor:
            cursor.execute("SELECT * FROM no_such_table")
        assert len(seen) == 1  # discarded, not pooled
        with driver_transaction(engine) as cursor:
            insert.run(cursor, {"k": 5})
        assert _count(engine) == 3
    finally:
        engine.dispose()


def test_one_statement_commits_alone_and_gives_the_connection_back_transactional(
    sql_url: str,
) -> None:
    """On PostgreSQL a one-statement block runs in autocommit (one round trip); the pooled
    connection must come back as the others expect it: a later block's statements are again
    one transaction, rolled back together."""
    engine = sqlalchemy.create_engine(sql_url, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE prepared_t (k INTEGER PRIMARY KEY)")
        dialect = engine.dialect
        if dialect.name == "postgresql":
            dialect = sqlalchemy.dialects.postgresql.psycopg.dialect(paramstyle=DOLLAR)
        insert = Prepared(
            sqlalchemy.text("INSERT INTO prepared_t (k) VALUES (:k), (:j)"), dialect, ["k", "j"]
        )
        with driver_transaction(engine, one_statement=True) as cursor:
            insert.run(cursor, {"k": 1, "j": 2})
        assert _count(engine) == 2
        with (
            pytest.raises(sqlalchemy.exc.IntegrityError),
            driver_transaction(engine, one_statement=True) as cursor,
        ):
            insert.run(cursor, {"k": 3, "j": 1})  # the statement is all or nothing
        assert _count(engine) == 2
        plain = Prepared(
            sqlalchemy.text("INSERT INTO prepared_t (k) VALUES (:k)"), engine.dialect, ["k"]
        )
        with pytest.raises(RuntimeError), driver_transaction(engine) as cursor:
            plain.run(cursor, {"k": 4})
            raise RuntimeError("rolled back, not autocommitted")
        assert _count(engine) == 2
        with engine.connect() as connection:  # SQLAlchemy's own use of the same connection
            connection.exec_driver_sql("INSERT INTO prepared_t (k) VALUES (5)")
            connection.rollback()
        assert _count(engine) == 2
    finally:
        engine.dispose()


def _records(url: str, run_id: str) -> tuple[SqlStore, RunRecord, RunRecord]:
    store = SqlStore(url)
    first, second = store.load(run_id), store.load(run_id)
    assert first is not None and second is not None
    return store, first, second


def test_a_stale_save_or_a_second_create_writes_nothing(sql_url: str) -> None:
    """Whatever path a commit takes (one statement on PostgreSQL, a transaction on SQLite),
    a save from a stale copy of the run writes neither its row nor its entries, and creating
    an existing run writes no entries."""
    definition = journeys.load_definition(
        "journey: stale\nmilestones:\n  - {id: a}\n  - {id: b}\npolicies: {wal: {enabled: true}}\n"
    )
    with journeys.Engine(sql_url) as engine:
        run = engine.start(definition)
    store, first, second = _records(sql_url, run.id)
    try:
        logged = len(store.history(run.id))
        for count in (1, 3, 20):  # one statement, and the long way past its limit
            first.state = "b"
            store.save(first, [first.entry("signal", trigger=f"s{count}") for _ in range(count)])
            logged += count
            with pytest.raises(journeys.StateError, match="changed by another process"):
                second.status = "failed"  # a change of the indexed status too
                store.save(second, [second.entry("signal", trigger="lost")])
            assert len(store.history(run.id)) == logged
            assert all(entry.trigger != "lost" for entry in store.history(run.id))
            second = store.load(run.id)
            assert second is not None and second.status == first.status
        again = copy.copy(first)
        again.row_version = 0
        existing = store.create(again, [again.entry("signal", trigger="twice")])
        assert existing is not None and existing.id == run.id
        assert len(store.history(run.id)) == logged
    finally:
        store.close()


def test_saves_that_keep_the_status_leave_the_indexes_right(tmp_path: Path) -> None:
    """A save that changes neither status nor due time does not set them (SQLite rewrites
    the index entries of every column set); the indexes still match the rows after runs
    that wait, time out, finish and fail."""
    url = f"sqlite:///{tmp_path}/indexes.db"
    registry = journeys.Registry()
    registry.register("t.ok", lambda ctx: None)

    def boom(ctx: journeys.Context) -> None:
        raise journeys.Fatal("no")

    registry.register("t.boom", boom)
    definition = journeys.load_definition(
        "journey: kept\nmilestones:\n"
        "  - {id: a, action: t.ok}\n  - {id: b, action: t.ok}\n  - {id: w, timeout: 1h}\n"
        "  - {id: c, action: t.boom}\n"
        "policies: {wal: {enabled: true}}\n"
    )
    with journeys.Engine(url, registry=registry) as engine:
        waiting = [engine.start(definition) for _ in range(3)]
        failed = engine.advance(waiting[0].id, "w")
    assert failed.status == "failed"
    database = sqlite3.connect(tmp_path / "indexes.db")
    try:
        assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        by_index = dict(
            database.execute(
                "SELECT status, count(*) FROM journeys_runs INDEXED BY journeys_runs_status_due"
                " WHERE status IN ('waiting', 'failed') GROUP BY status"
            ).fetchall()
        )
        due = database.execute(
            "SELECT count(*) FROM journeys_runs INDEXED BY journeys_runs_claim"
            " WHERE status = 'waiting' AND priority = 1 AND due_at > 0"
        ).fetchone()
    finally:
        database.close()
    assert by_index == {"waiting": 2, "failed": 1}
    assert due == (2,)


def test_sqlite_hot_writes_take_turns_on_one_connection(tmp_path: Path) -> None:
    """A SQLite store's hot writes share one connection kept out of the pool, one thread at
    a time: runs started from several threads at once all finish, each written whole, and a
    connection that failed is replaced rather than used again."""
    registry = journeys.Registry()
    registry.register("t.ok", lambda ctx: {"n": ctx.inputs["n"]})
    definition = journeys.load_definition(
        "journey: turns\nmilestones:\n  - {id: a, action: t.ok}\n  - {id: b, action: t.ok}\n"
        "policies: {wal: {enabled: true}}\n"
    )
    url = f"sqlite:///{tmp_path}/turns.db"
    with journeys.Engine(url, registry=registry) as engine:
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            runs = list(pool.map(lambda n: engine.start(definition, inputs={"n": n}), range(60)))
        assert {run.status for run in runs} == {"completed"}
        assert sorted(run.results["b"]["n"] for run in runs) == list(range(60))
        writer = engine.store._writer  # type: ignore[attr-defined]
        with writer.held() as connection:
            first = connection.dbapi_connection
            connection.invalidate()  # as driver_transaction does after a failure
        engine.start(definition, inputs={"n": 60})
        with writer.held() as connection:
            assert connection.dbapi_connection is not first
        assert len(engine.history(runs[0].id)) == len(engine.history(runs[-1].id))
    database = sqlite3.connect(tmp_path / "turns.db")
    try:
        assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert database.execute("SELECT count(*) FROM journeys_runs").fetchone() == (61,)
    finally:
        database.close()


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_JSON_VALUES)
def test_json_columns_are_written_as_json_dumps_writes_them(value: object) -> None:
    """The hot path's encoder (json's C encoder, made once) writes what json.dumps writes."""
    assert prepared._json(value) == (None if value is None else json.dumps(value))


def test_a_forked_child_writes_on_a_connection_and_lock_of_its_own(tmp_path: Path) -> None:
    """A fork taken while the parent holds its writer (another thread mid-commit) gives the
    child a writer of its own: it writes, the parent's connection is untouched and goes on."""
    definition = journeys.load_definition(
        "journey: forked\nmilestones:\n  - {id: a}\npolicies: {wal: {enabled: true}}\n"
    )
    with journeys.Engine(f"sqlite:///{tmp_path}/fork.db") as engine:
        engine.start(definition)
        writer = engine.store._writer  # type: ignore[attr-defined]
        held = writer.take()  # as a thread would hold it mid-commit
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports by its exit status
            signal.alarm(20)  # a child stuck on the parent's lock dies, and the test fails
            try:
                status = engine.start(definition).status
                os._exit(0 if status == "waiting" else 1)
            except BaseException:
                os._exit(2)
        _, code = os.waitpid(child, 0)
        writer.give_back()
        assert os.waitstatus_to_exitcode(code) == 0
        assert held.is_valid
        assert engine.start(definition).status == "waiting"
    database = sqlite3.connect(tmp_path / "fork.db")
    try:
        assert database.execute("SELECT count(*) FROM journeys_runs").fetchone() == (3,)
        assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        database.close()


@pytest.fixture
def adapters() -> Iterator[dict[object, object]]:
    """sqlite3's adapters as the process had them before the test, and after it."""
    before = dict(sqlite3.adapters)
    yield sqlite3.adapters
    sqlite3.adapters.clear()
    sqlite3.adapters.update(before)


def test_none_and_booleans_bind_as_null_and_integers_through_their_quick_adapters(
    tmp_path: Path, adapters: dict[object, object]
) -> None:
    for kind in (type(None), bool):
        adapters.pop((kind, sqlite3.PrepareProtocol), None)
    url = f"sqlite:///{tmp_path / 'binds.db'}"
    registry = journeys.Registry()
    registry.register("t.step", lambda ctx: None)
    saga = journeys.load_definition(
        "journey: binds\nkind: saga\nmilestones:\n  - {id: a, action: t.step, compensation: t.step}"
        "\n  - {id: b}\npolicies: {wal: {enabled: true}, saga: {enabled: true}}\n"
    )
    with journeys.Engine(url, registry=registry) as engine:
        run = engine.start(saga)
        assert (type(None), sqlite3.PrepareProtocol) in adapters
        assert (bool, sqlite3.PrepareProtocol) in adapters
        assert engine.get(run.id).error is None
    with sqlite3.connect(tmp_path / "binds.db") as connection:
        saga_flag, cancelling, error = connection.execute(
            "SELECT typeof(saga) || ':' || saga, typeof(cancelling) || ':' || cancelling,"
            " typeof(error) FROM journeys_runs"
        ).fetchone()
        kinds = {row[0] for row in connection.execute("SELECT typeof(error) FROM journeys_wal")}
    assert (saga_flag, cancelling, error) == ("integer:1", "integer:0", "null")
    assert kinds == {"null"}
    # and any connection of the process binds them as before
    probe = sqlite3.connect(":memory:")
    assert probe.execute("SELECT typeof(?), typeof(?), ?", (None, True, False)).fetchone() == (
        "null",
        "integer",
        0,
    )


def test_an_adapter_the_application_registered_is_kept(
    tmp_path: Path, adapters: dict[object, object]
) -> None:
    def theirs(value: object) -> str:
        return "none"

    sqlite3.register_adapter(type(None), theirs)
    SqlStore(f"sqlite:///{tmp_path / 'theirs.db'}")
    assert adapters[(type(None), sqlite3.PrepareProtocol)] is theirs


def test_a_driver_without_sqlite3_s_adapters_is_left_alone() -> None:
    registered: list[object] = []

    class Driver:  # a DB-API module with a register_adapter of its own, but not sqlite3's
        paramstyle = "qmark"
        PrepareProtocol = object

        @staticmethod
        def register_adapter(kind: type, adapt: object) -> None:
            registered.append(kind)

    sqlstore._quick_binds(Driver)  # no registry of adapters to look in: nothing registered
    assert registered == []
    sqlstore._quick_binds(sqlite3)  # and the stdlib's twice: the second changes nothing
    first = dict(sqlite3.adapters)
    sqlstore._quick_binds(sqlite3)
    assert dict(sqlite3.adapters) == first

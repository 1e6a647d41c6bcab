"""The numbered migrations bring a new database to exactly the schema declared in schema.py."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

import journeys
from journeys.engine import migrations, schema
from journeys.engine.migrations import m0001_initial

from .conftest import POSTGRES_ENV, _postgres_schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sqlalchemy.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/m.db"
        engine = sqlalchemy.create_engine(url)
        yield engine
        engine.dispose()
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL variant NOT RUN: set {POSTGRES_ENV} to test it")
    for url in _postgres_schema(base):
        engine = sqlalchemy.create_engine(url)
        yield engine
        engine.dispose()


def described(engine: sqlalchemy.Engine) -> dict[str, object]:
    """Tables, their columns (name, nullability), indexes and unique constraints, as the
    database reports them."""
    inspector = sqlalchemy.inspect(engine)
    found: dict[str, object] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "journeys_schema":
            continue
        found[table] = {
            "columns": sorted((c["name"], c["nullable"]) for c in inspector.get_columns(table)),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), _where(i.get("dialect_options", {})))
                for i in inspector.get_indexes(table)
                if not i["name"].startswith("sqlite_autoindex")
                and "duplicates_constraint" not in i  # PostgreSQL: the index behind a UNIQUE
            ),
            "unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
        }
    return found


def declared() -> dict[str, object]:
    found: dict[str, object] = {}
    for table in sorted(schema.metadata.tables.values(), key=lambda t: t.name):
        found[table.name] = {
            "columns": sorted((c.name, bool(c.nullable)) for c in table.columns),
            "indexes": sorted(
                (i.name, tuple(c.name for c in i.columns), _where(i.dialect_kwargs))
                for i in table.indexes
            ),
            "unique": sorted(
                tuple(c.name for c in constraint.columns)
                for constraint in table.constraints
                if isinstance(constraint, sqlalchemy.UniqueConstraint)
            ),
        }
    return found


def _where(options: dict[str, object]) -> str | None:
    """A partial index's condition, spelt alike whichever database reports it (PostgreSQL
    adds casts and parentheses)."""
    where = options.get("sqlite_where", options.get("postgresql_where"))
    if where is None:
        return None
    text = re.sub(r"::\w+|[()]", "", str(where)).replace("journeys_wal.", "")
    return " ".join(text.lower().split())


def test_a_migrated_database_equals_the_declared_schema(database: sqlalchemy.Engine) -> None:
    assert migrations.migrate(database) == len(migrations.MIGRATIONS)
    assert described(database) == declared()
    with database.connect() as connection:
        assert migrations.current(connection) == len(migrations.MIGRATIONS)


def test_migrating_again_changes_nothing(database: sqlalchemy.Engine) -> None:
    migrations.migrate(database)
    before = described(database)
    migrations.migrate(database)
    assert described(database) == before
    with database.connect() as connection:
        rows = connection.execute(sqlalchemy.select(migrations.versions)).all()
    assert [row.version for row in rows] == list(range(1, len(migrations.MIGRATIONS) + 1))


def test_two_processes_opening_a_new_store_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/race.db"
    errors: list[BaseException] = []

    def open_and_use() -> None:
        try:
            engine = journeys.Engine(url)
            engine.recover()
            engine.close()
        except BaseException as error:  # the test reports it below
            errors.append(error)

    threads = [threading.Thread(target=open_and_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_store_from_before_migrations_is_refused_clearly(database: sqlalchemy.Engine) -> None:
    with database.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE journeys_runs (id TEXT)"))
    with pytest.raises(journeys.JourneyError, match="before migrations existed"):
        migrations.migrate(database)


@pytest.mark.parametrize(("query", "expected"), [("", 2), ("?synchronous=normal", 1)])
def test_sqlite_is_durable_by_default_and_normal_on_request(
    tmp_path: Path, query: str, expected: int
) -> None:
    engine = journeys.Engine(f"sqlite:///{tmp_path}/s.db{query}")
    engine.recover()
    store = engine.store
    with store.transaction() as connection:  # type: ignore[attr-defined]
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == expected
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.close()


def test_a_bad_synchronous_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(journeys.JourneyError, match="synchronous=off; use full"):
        journeys.Engine(f"sqlite:///{tmp_path}/s.db?synchronous=off")


def test_a_store_made_by_the_first_release_is_brought_up_to_date_with_what_it_holds(
    database: sqlalchemy.Engine,
) -> None:
    # a store as migration 0001 alone left it, holding a service's log entry written then
    with migrations._exclusive(database) as connection:
        migrations.current(connection)
        migrations.MIGRATIONS[0](connection)
        connection.execute(sqlalchemy.insert(migrations.versions).values(version=1, applied_at=0))
        connection.execute(
            sqlalchemy.insert(m0001_initial.wal).values(
                log_id="old-entry",
                namespace="steward",
                kind="log",
                operation="ingest",
                target="file.csv",
                status="pending",
                payload={"rows": 3},
                created_at=1.0,
                tenant_id="acme",
            )
        )
    url = database.url.render_as_string(hide_password=False)
    with journeys.Engine(url) as engine:  # its first use migrates
        (old,) = engine.wal.replay_log("steward", user_context={"tenant": "acme"})
        assert (old.log_id, old.payload, old.status) == ("old-entry", {"rows": 3}, "pending")
        seen: list[str] = []
        assert engine.wal.consume("steward", lambda entry: seen.append(entry.log_id)) == 1
        assert seen == ["old-entry"]
        assert engine.wal.get("old-entry").status == "completed"
    assert described(database) == declared()

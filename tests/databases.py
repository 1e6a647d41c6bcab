"""The real databases the tests use: a fresh PostgreSQL schema per test (shared by the engine's
and the acceptance tests' fixtures)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import sqlalchemy

POSTGRES_ENV = "JOURNEYS_TEST_POSTGRES_URL"


def postgres_schema(base: str) -> Iterator[str]:
    """A fresh schema in the test database, and a URL whose connections use it; dropped after."""
    name = f"journeys_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{name}"'))
        url = sqlalchemy.make_url(base).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{name}" CASCADE'))
    finally:
        admin.dispose()

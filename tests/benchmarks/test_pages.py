"""benchmarks.pages: the frames a commit appends to SQLite's WAL, counted on a real file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from benchmarks import pages


@pytest.fixture
def database(tmp_path: Path) -> tuple[str, sqlite3.Connection]:
    path = str(tmp_path / "pages.db")
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, key TEXT UNIQUE, body TEXT)")
    connection.execute("CREATE INDEX t_body ON t (body)")
    return path, connection


def test_one_row_a_commit_writes_the_table_and_each_index_it_enters(
    database: tuple[str, sqlite3.Connection],
) -> None:
    path, connection = database
    count = iter(range(1000))

    def insert() -> None:
        n = next(count)
        connection.execute("INSERT INTO t (key, body) VALUES (?, ?)", (f"k{n:04}", f"b{n:04}"))

    written = pages.per_commit(path, insert, calls=5)

    assert written.commits == 5
    # each commit: the table's leaf, the UNIQUE constraint's index, t_body; the first commit
    # also the header (the file grew by the page each B-tree was given)
    assert written.trees["t"] == 5
    assert written.trees["t(key)"] == 5
    assert written.trees["t_body"] == 5
    assert written.pages == sum(written.trees.values())
    assert written.text().startswith(f"{written.pages / 5:.1f} pages a commit (")


def test_a_transaction_of_many_statements_is_one_commit(
    database: tuple[str, sqlite3.Connection],
) -> None:
    path, connection = database

    def transaction() -> None:
        connection.execute("BEGIN")
        for n in range(3):
            connection.execute("INSERT INTO t (body) VALUES (?)", (str(n),))
        connection.execute("COMMIT")

    written = pages.per_commit(path, transaction, calls=4)

    assert written.commits == 4
    assert written.trees["t"] == 4  # one leaf a commit, however many rows went in it


def test_a_checkpoint_in_the_middle_is_refused_rather_than_miscounted(
    database: tuple[str, sqlite3.Connection],
) -> None:
    path, connection = database
    calls = iter(range(1000))

    def insert_then_checkpoint() -> None:
        connection.execute("INSERT INTO t (body) VALUES ('x')")
        if next(calls) == 1:
            connection.execute("PRAGMA wal_checkpoint(RESTART)")

    with pytest.raises(RuntimeError, match="checkpointed"):
        pages.per_commit(path, insert_then_checkpoint, calls=4)


def test_nothing_committed_is_an_error(database: tuple[str, sqlite3.Connection]) -> None:
    path, _ = database
    with pytest.raises(RuntimeError, match="committed nothing"):
        pages.per_commit(path, lambda: None, calls=2)


@pytest.mark.parametrize("wal", [b"", b"\x00" * 10])
def test_frames_of_a_wal_too_short_for_its_header_are_none(wal: bytes) -> None:
    assert pages.frames(wal) == []

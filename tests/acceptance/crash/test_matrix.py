"""The crash matrix (matrix.py): a 4-milestone saga whose m4 fails is killed with SIGKILL at every
point of the write-ahead protocol (journeys/engine/faults.py), for every milestone, forward and
compensating, in ``journeys run`` and in ``journeys recover``; a new ``journeys recover`` must
finish it with every effect and every compensation applied exactly once and a coherent history.

It lives with the acceptance tests because it drives the real ``journeys`` command (through a
fork server, forkserver.py, so that the 91 cells and their ~230 processes fit in CI's time) and
shares the blind crash tests' effect ledger (crash_handlers.py) and backends (harness.py).

Backends: every cell on SQLite. On PostgreSQL (``JOURNEYS_TEST_POSTGRES_URL``; skipped, saying
so, without it) a subset: in ``journeys run``, every point at m2, m4 (the failing step) and
undo:m2; in ``journeys recover``, every point at m3 and undo:m2. ``JOURNEYS_CRASH_MATRIX=full``
runs every cell on PostgreSQL too, and on both the phase ``again`` (the run and its first
recovery killed at the same point). ``python tests/acceptance/crash/matrix.py`` prints the matrix.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import matrix  # noqa: E402

from journeys.engine import faults  # noqa: E402

POSTGRES_URL = os.environ.get("JOURNEYS_TEST_POSTGRES_URL")
FULL = os.environ.get("JOURNEYS_CRASH_MATRIX") == "full"

ALL = matrix.cells(matrix.CI_PHASES)
AGAIN = matrix.cells(("again",)) if FULL else []
POSTGRES_SUBSET = [
    c
    for c in ALL
    if (c.phase == "run" and c.state in ("m2", "m4", "undo:m2"))
    or (c.phase == "recover" and c.state in ("m3", "undo:m2"))
]


@pytest.fixture(scope="module")
def forks() -> Iterator[matrix.Forks]:
    server = matrix.Forks()
    yield server
    server.close()


@pytest.fixture(scope="module")
def postgres() -> Iterator[matrix.Stores]:
    if not POSTGRES_URL:
        pytest.skip(
            "JOURNEYS_TEST_POSTGRES_URL is not set: the crash matrix did NOT run on PostgreSQL"
        )
    stores = matrix.Stores("postgres", POSTGRES_URL)
    yield stores
    stores.close()


def _check(cell: matrix.Cell, stores: matrix.Stores, forks: matrix.Forks) -> None:
    result = matrix.Trial(cell, stores, forks).run()
    assert not result.problems, result.report()


@pytest.mark.slow
@pytest.mark.parametrize("cell", ALL + AGAIN, ids=[c.id for c in ALL + AGAIN])
def test_sqlite(cell: matrix.Cell, forks: matrix.Forks) -> None:
    _check(cell, matrix.Stores("sqlite"), forks)


PG_CELLS = ALL + AGAIN if FULL else POSTGRES_SUBSET


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("cell", PG_CELLS, ids=[c.id for c in PG_CELLS])
def test_postgres(cell: matrix.Cell, postgres: matrix.Stores, forks: matrix.Forks) -> None:
    _check(cell, postgres, forks)


def test_the_matrix_covers_every_point_state_and_phase() -> None:
    """A point added to faults.POINTS joins the matrix by itself; this says it did, and that
    the only cell thought unreachable is m4's after_effect (m4 fails before its effect)."""
    assert {c.point for c in ALL} == set(faults.POINTS)
    assert {c.point for c in ALL if c.phase == "run"} == set(faults.POINTS) - {"after_claim"}
    assert {c.state for c in ALL} == {"m1", "m2", "m3", "m4", "undo:m3", "undo:m2", "undo:m1"}
    assert len(ALL) == len(set(ALL)) == 6 * 7 + 7 * 7
    unreached = [c.id for c in ALL if not c.reached]
    assert unreached == ["run-after_effect-m4", "recover-after_effect-m4"]


def test_the_table_shows_each_cell_where_it_belongs() -> None:
    results = [matrix.Result(c, "sqlite") for c in ALL]
    results[0].problems.append("made up")
    results[1].notes.append("made up")
    text = matrix.table(results)
    lines = text.splitlines()
    assert lines[0].split()[-7:] == list(matrix.ORDER)
    before_intent = next(line for line in lines if line.strip().startswith("before_intent"))
    assert before_intent.split() == ["before_intent", "FAIL", "ok*", "ok", "ok", "ok", "ok", "ok"]
    after_effect = next(line for line in lines if line.strip().startswith("after_effect"))
    assert after_effect.split()[4] == "n/r"
    assert "91 cells, 88 killed and recovered, 1 failed, 2 n/r" in text

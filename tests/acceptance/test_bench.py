"""``journeys bench``: the performance suite through the real command, in its quick mode.

These check that the suite runs and reports every figure with its anchor and mark; they assert
nothing about the figures themselves (the machines are shared and noisy).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import Run

RATIO = re.compile(r"\d+\.\d\dx \(\d+\.\d\d\.\.\d+\.\d\d\)|[+-]\d+\.\d% \(")


def _rows(stdout: str) -> dict[str, str]:
    """The table's rows by figure name (the text before the first run of two spaces)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("figure  "))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows[line.split("  ")[0]] = line
    return rows


def test_bench_prints_each_figure_beside_its_anchor_with_its_mark(
    journeys_cli: Run, tmp_path: Path
) -> None:
    done = journeys_cli(
        "bench", "--quick", "--only", "engine", "--only", "replay", "--cache", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout)
    replay = next(name for name in rows if name.startswith("replay of "))
    assert re.fullmatch(r"replay of 1,00\d entries from 20,000 \(SQLite\)", replay), replay
    assert set(rows) - {replay} == {
        "in-memory runs/s, 5 no-op milestones, policies off",
        "start, 1,000 milestones (in memory)",
    }
    for row in rows.values():
        assert RATIO.search(row), row
        assert row.rstrip().endswith(("met", "NOT MET")), row
    assert "raw transitions" in rows["in-memory runs/s, 5 no-op milestones, policies off"]
    assert "USING INDEX journeys_wal_namespace_created" in done.stdout
    assert list(tmp_path.glob("replay-20000-schema*.db")), "the filled log is kept in the cache"
    assert "wall time of the suite" in done.stdout


@pytest.mark.slow
def test_without_dbos_its_rows_say_how_to_install_it(journeys_cli: Run, tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "dbos"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'dbos'\")\n")
    done = journeys_cli(
        "bench",
        "--quick",
        "--only",
        "durability",
        "--postgres",
        "",
        env={"PYTHONPATH": str(tmp_path / "shadow")},
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout)
    for name in ("durable runs/s, SQLite, vs DBOS 5 steps", "saga, step 4 fails, 3 undone, SQLite"):
        assert "not installed (pip install -e '.[bench]')" in rows[name], rows[name]
        assert rows[name].endswith("not run"), rows[name]
    postgres = [row for name, row in rows.items() if "PostgreSQL" in name]
    assert len(postgres) == 3, rows
    for row in postgres:
        assert "no PostgreSQL" in row and row.endswith("not run"), row
    for name in (
        "durable runs/s, SQLite (WAL, FULL), 5 no-op milestones",
        "WAL + saga on, handlers of 10 ms (SQLite)",
        "compensation of 4 steps (10 ms each), SQLite",
    ):
        assert RATIO.search(rows[name]), rows[name]
    assert "DBOS Transact: not installed" in done.stdout


def test_bench_refuses_an_unknown_option_as_a_usage_error(journeys_cli: Run) -> None:
    done = journeys_cli("bench", "--no-such-option")
    assert done.returncode == 2
    assert "usage: journeys bench" in done.stderr

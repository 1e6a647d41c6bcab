"""`journeys stats`, end to end on a real SQLite file that `journeys run` filled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Run

HANDLERS = """
import journeys

@journeys.handler("shop.do")
def do(ctx):
    if ctx.milestone == "payment" and ctx.attempt <= int(ctx.inputs.get("fail", 0)):
        raise ValueError(f"{ctx.milestone} broke on attempt {ctx.attempt}")
    return {"done": ctx.milestone}

@journeys.handler("shop.undo")
def undo(ctx):
    return None
"""

SHOP = """
journey: shop
kind: saga
inputs: {type: object, properties: {fail: {type: integer}}}
policies: {wal: {enabled: true}, saga: {enabled: true}}
milestones:
  - {id: order, action: shop.do, compensation: shop.undo}
  - {id: payment, action: shop.do, retry: {retries: 1, delay: 0s}}
"""


@pytest.fixture
def store(tmp_path: Path, journeys_cli: Run) -> str:
    """A store with three runs of the shop: one completed, one completed after a retry of its
    payment, one whose payment failed twice and whose order was compensated."""
    (tmp_path / "handlers.py").write_text(HANDLERS)
    (tmp_path / "shop.yaml").write_text(SHOP)
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    for fail, code in ((0, 0), (1, 0), (2, 1)):
        done = journeys_cli(
            "run",
            str(tmp_path / "shop.yaml"),
            "-i",
            f"fail={fail}",
            "--handlers",
            str(tmp_path / "handlers.py"),
            "--db",
            db,
        )
        assert done.returncode == code, done.stderr
    return db


def test_a_table_of_the_runs(journeys_cli: Run, store: str) -> None:
    done = journeys_cli("stats", "--db", store)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "runs: 3"
    assert [line.split() for line in lines[1:3]] == [["completed", "2"], ["compensated", "1"]]
    assert "failure rate: 33.3% of 3 finished" in done.stdout
    assert "queue: 0 due" in done.stdout and "compensations: 1 run, 0 failed" in done.stdout
    header = next(i for i, line in enumerate(lines) if line.startswith("JOURNEY"))
    rows = [line.split() for line in lines[header + 1 :]]
    # the journey, the milestone, OK, median, p95, RETRIES, FAILED, UNDONE, UNDO FAILED
    assert [(r[0], r[1], r[2], *r[5:]) for r in rows] == [
        ("shop", "order", "3", "0", "0", "1", "0"),
        ("shop", "payment", "2", "2", "1", "0", "0"),
    ]


def test_json_and_the_filters(journeys_cli: Run, store: str) -> None:
    done = journeys_cli("stats", "--db", store, "--journey", "shop", "--since", "1h", "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["journey"] == "shop" and figures["since"] is not None
    assert figures["runs"]["total"] == 3 and figures["runs"]["by_status"]["compensated"] == 1
    assert figures["failure_rate"] == pytest.approx(1 / 3)
    assert figures["queue"] == {"depth": 0, "oldest_due_seconds": None}
    assert figures["compensations"] == {"run": 1, "failed": 0}
    payment = figures["milestones"][1]
    assert (payment["milestone"], payment["succeeded"], payment["retries"]) == ("payment", 2, 2)
    assert payment["failures"] == 1 and payment["median_seconds"] >= 0

    other = json.loads(journeys_cli("stats", "--db", store, "--journey", "other", "--json").stdout)
    assert other["runs"]["total"] == 0 and other["milestones"] == []
    later = journeys_cli("stats", "--db", store, "--since", "2999-01-01T00:00:00+00:00")
    assert later.returncode == 0 and later.stdout.startswith("runs: 0 (since 2999-01-01")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "since 'yesterday' is not a time"),
        (("--since", "3600"), "ISO 8601 time"),
        (("--db", "memory:"), "stats are read from a SQL store"),
    ],
)
def test_bad_input_is_one_line(
    journeys_cli: Run, store: str, args: tuple[str, ...], message: str
) -> None:
    if "--db" not in args:
        args = (*args, "--db", store)
    done = journeys_cli("stats", *args)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_a_missing_store_is_one_line(journeys_cli: Run, tmp_path: Path) -> None:
    done = journeys_cli("stats", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert done.returncode == 1
    assert done.stderr.startswith("error: no store at ") and done.stderr.count("\n") == 1
    assert not (tmp_path / "none.db").exists()

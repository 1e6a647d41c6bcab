"""One tenant reading another's runs and entries through the real `journeys` command, on a
SQLite file and a PostgreSQL schema: every read command that takes ``--tenant`` (status,
history, wal replay, stats, plan --db) answers as if the other tenant's run did not exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import journeys

from .conftest import Run

JOURNEY = """
journey: shared
milestones:
  - {id: book, action: t.book}
  - {id: review}
policies:
  wal: {enabled: true}
  planning: {enabled: true, validate_plan: false, learn_from_results: true}
"""
MISSING = "01900000-0000-7000-8000-000000000000"


@pytest.fixture
def runs(db: str, tmp_path: Path) -> dict[str, str]:
    """acme's two runs and globex's one, each with a log entry, written through the API."""
    registry = journeys.Registry()
    registry.register("t.book", lambda ctx: {"card": f"{ctx.tenant}-secret"})
    (tmp_path / "shared.yaml").write_text(JOURNEY)
    definition = journeys.load_definition(JOURNEY)
    with journeys.Engine(db, registry=registry) as engine:
        acme = [engine.start(definition, tenant="acme").id for _ in range(2)]
        globex = engine.start(definition, tenant="globex").id
        for tenant in ("acme", "globex"):
            engine.wal.write_to_log("shared", {"of": tenant}, "x", user_context={"tenant": tenant})
    return {"acme": acme[0], "globex": globex}


@pytest.mark.parametrize("command", ["status", "history"])
def test_another_tenant_s_run_is_no_run(
    journeys_cli: Run, db: str, runs: dict[str, str], command: str
) -> None:
    hidden = journeys_cli(command, runs["acme"], "--tenant", "globex", "--db", db)
    missing = journeys_cli(command, MISSING, "--tenant", "globex", "--db", db)
    assert hidden.returncode == missing.returncode == 1
    assert hidden.stdout == missing.stdout == ""
    assert hidden.stderr.replace(runs["acme"], "ID") == missing.stderr.replace(MISSING, "ID")
    assert "acme" not in hidden.stderr
    own = journeys_cli(command, runs["acme"], "--tenant", "acme", "--db", db, "--json")
    assert own.returncode == 0, own.stderr
    shown = json.loads(own.stdout)
    if command == "status":
        assert (shown["id"], shown["results"]["book"]) == (runs["acme"], {"card": "acme-secret"})
    else:
        assert [e["kind"] for e in shown][:2] == ["policy", "operation"]


def test_replay_stats_and_plan_count_only_the_tenant_s_own(
    journeys_cli: Run, db: str, runs: dict[str, str], tmp_path: Path
) -> None:
    replay = journeys_cli(
        "wal", "replay", "--namespace", "shared", "--tenant", "globex", "--db", db, "--json"
    )
    assert replay.returncode == 0, replay.stderr
    entries = json.loads(replay.stdout)
    assert entries and {e["tenant"] for e in entries} == {"globex"}
    assert {e["correlation_id"] for e in entries} == {runs["globex"], None}
    assert "acme" not in replay.stdout
    by_run = journeys_cli(
        "wal", "replay", "--namespace", "shared", "--tenant", "globex",
        "--run", runs["acme"], "--db", db, "--json",
    )  # fmt: skip
    assert (by_run.returncode, json.loads(by_run.stdout)) == (0, [])

    stats = journeys_cli("stats", "--tenant", "globex", "--db", db, "--json")
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert (figures["runs"]["total"], figures["tenant"]) == (1, "globex")

    plan = journeys_cli(
        "plan", str(tmp_path / "shared.yaml"), "--db", db, "--tenant", "globex", "-f", "json"
    )
    assert plan.returncode == 0, plan.stderr
    [book] = [s for s in json.loads(plan.stdout)["steps"] if s["id"] == "book"]
    assert (book["estimate"]["source"], book["estimate"]["runs"]) == ("history", 1)

"""Hostile text given to the `journeys` command as run ids, tenants and namespaces, on a SQLite
file and a PostgreSQL schema: an id that is no run's is "no run" (exit 1, no traceback), text no
store can look up is refused naming the option, and nothing else changes."""

from __future__ import annotations

import journeys

from .conftest import Run

JOURNEY = "journey: kept\nmilestones:\n  - {id: review}\npolicies: {wal: {enabled: true}}\n"
SQL = ["'; DROP TABLE journeys_runs; --", '" OR 1=1 --', "x' UNION SELECT * FROM journeys_wal --"]
UNDECODABLE = "\udcff"  # the byte 0xff in argv: not UTF-8, Python hands it on as a lone surrogate


def test_hostile_run_ids_and_tenants_find_nothing_and_change_nothing(
    journeys_cli: Run, db: str
) -> None:
    with journeys.Engine(db) as engine:
        run = engine.start(journeys.load_definition(JOURNEY), tenant="acme")
        history = engine.history(run.id)
    for text in (SQL[0], UNDECODABLE):  # each command is a process: a few, not all of SQL
        for args in (
            ["status", text],
            ["history", text],
            ["advance", text, "review"],
            ["status", run.id, "--tenant", text + "x" * 300],
        ):
            done = journeys_cli(*args, "--db", db)
            assert done.returncode == 1, (args, done.stderr)
            assert "no run " in done.stderr and "Traceback" not in done.stderr
            assert done.stdout == ""
    for text in SQL[1:]:
        replay = journeys_cli("wal", "replay", "--namespace", text, "--tenant", text, "--db", db)
        assert (replay.returncode, replay.stdout) == (0, ""), replay.stderr
        stats = journeys_cli("stats", "--tenant", text, "--journey", text, "--db", db, "--json")
        assert stats.returncode == 0, stats.stderr
    for args in (
        ["stats", "--tenant", UNDECODABLE],
        ["wal", "replay", "--namespace", "kept", "--tenant", UNDECODABLE],
    ):
        done = journeys_cli(*args, "--db", db)
        assert done.returncode == 1, (args, done.stderr)
        assert "cannot be looked up" in done.stderr and "Traceback" not in done.stderr
    with journeys.Engine(db) as engine:  # the run, its history and every table as they were
        assert engine.get(run.id, tenant="acme") == run
        assert engine.history(run.id) == history
        assert engine.stats().total == 1

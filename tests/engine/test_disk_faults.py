"""SQLite on a disk that fills up or turns read-only: a clear StoreError naming the file and
what to do, a log that stays intact, and a run that recovery finishes once the disk is fixed.

The disk is a real file system (a small tmpfs, see ``small_disk``), so SQLite meets the
operating system's own ``ENOSPC`` (SQLITE_FULL) and ``EROFS``, not a simulation of them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import journeys

from ..conftest import Disk

DEFINITION = """
journey: big_results
milestones:
  - {id: a, action: t.effect}
  - {id: b, action: t.effect, with: {size: 2000000}}
  - {id: c, action: t.effect}
policies: {wal: {enabled: true}}
"""


class Effects:
    """A handler whose effect is applied once per idempotency key, whatever the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.applied: dict[str, str] = {}

    def __call__(self, ctx: journeys.Context) -> dict[str, Any]:
        self.calls.append((ctx.milestone, ctx.idempotency_key))
        self.applied.setdefault(ctx.idempotency_key, ctx.milestone)
        return {"data": "x" * int(ctx.args.get("size", 10))}


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def test_a_full_disk_is_a_store_error_the_log_survives_and_recover_finishes(
    small_disk: Disk,
) -> None:
    path = small_disk.path / "j.db"
    url = f"sqlite:///{path}"
    effects = Effects()
    registry = journeys.Registry()
    registry.register("t.effect", effects)
    definition = journeys.load_definition(DEFINITION)
    with journeys.Engine(url, registry=registry) as engine:
        with pytest.raises(journeys.StoreError) as raised:  # b's result does not fit in 1 MB
            engine.start(definition, run_id="r1")
        message = str(raised.value)
        assert raised.value.run_id == "r1"
        assert f"the store {url} failed: database or disk is full" in message
        assert "free space on the disk" in message and "journeys recover" in message
        assert engine.get("r1").status == "running"  # as its last commit (b's intent) left it
    assert _integrity(path) == "ok"
    small_disk.remount("size=16m")  # space is back
    with journeys.Engine(url, registry=registry) as engine:
        (recovered,) = engine.recover()
        assert (recovered.id, recovered.status) == ("r1", "completed")
        assert len(recovered.results["b"]["data"]) == 2_000_000
    assert _integrity(path) == "ok"
    # b's outcome never reached the disk: b is called again under the same key, then c once;
    # every effect, keyed by its idempotency key, was applied once
    assert [m for m, _ in effects.calls] == ["a", "b", "b", "c"]
    assert effects.calls[1][1] == effects.calls[2][1]
    assert sorted(effects.applied.values()) == ["a", "b", "c"]


def test_a_read_only_file_system_is_a_store_error_and_nothing_is_written(
    small_disk: Disk,
) -> None:
    path = small_disk.path / "j.db"
    url = f"sqlite:///{path}"
    effects = Effects()
    registry = journeys.Registry()
    registry.register("t.effect", effects)
    small_definition = journeys.load_definition(DEFINITION.replace("2000000", "10"))
    with journeys.Engine(url, registry=registry) as engine:
        engine.start(small_definition, run_id="r1")
    before = path.read_bytes()
    small_disk.remount("ro")
    with journeys.Engine(url, registry=registry) as engine:
        with pytest.raises(journeys.StoreError) as raised:
            engine.start(small_definition, run_id="r2")
    message = str(raised.value)
    assert f"the store {url} cannot be opened: unable to open database file" in message
    assert "writable" in message and "nothing was written" in message
    assert [m for m, _ in effects.calls] == ["a", "b", "c"]  # r2 ran nothing
    small_disk.remount("rw")
    assert path.read_bytes() == before and _integrity(path) == "ok"

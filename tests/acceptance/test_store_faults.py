"""`journeys run` on a SQLite file that cannot be written: exit 1, a clear error naming the file
and what to do, no traceback, nothing written (the file is byte for byte as before)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Run

HANDLERS = """
import os, pathlib
import journeys

@journeys.handler("t.effect")
def effect(ctx):
    with pathlib.Path(os.environ["JOURNEYS_TEST_LOG"]).open("a") as log:
        log.write(ctx.milestone + "\\n")
"""

DEFINITION = """
journey: flow
milestones:
  - {id: a, action: t.effect}
  - {id: b, action: t.effect}
policies: {wal: {enabled: true}}
"""


@pytest.fixture
def flow(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    (tmp_path / "flow.yaml").write_text(DEFINITION)
    return {
        "file": str(tmp_path / "flow.yaml"),
        "handlers": str(tmp_path / "handlers.py"),
        "JOURNEYS_TEST_LOG": str(tmp_path / "effects.log"),
    }


def _run(journeys_cli: Run, flow: dict[str, str], db: str) -> tuple[int, str]:
    done = journeys_cli(
        "run",
        flow["file"],
        "--handlers",
        flow["handlers"],
        "--db",
        db,
        env={"JOURNEYS_TEST_LOG": flow["JOURNEYS_TEST_LOG"]},
    )
    return done.returncode, done.stderr


def test_run_on_a_read_only_file_system_exits_1_and_writes_nothing(
    journeys_cli: Run,
    flow: dict[str, str],
    small_disk: Any,  # tests/conftest.py's Disk
) -> None:
    path = small_disk.path / "j.db"
    assert _run(journeys_cli, flow, f"sqlite:///{path}")[0] == 0
    before = path.read_bytes()
    Path(flow["JOURNEYS_TEST_LOG"]).unlink()
    small_disk.remount("ro")
    code, stderr = _run(journeys_cli, flow, f"sqlite:///{path}")
    assert code == 1, stderr
    assert stderr.startswith(f"error: the store sqlite:///{path} cannot be opened:")
    assert "writable" in stderr and "nothing was written" in stderr
    assert "Traceback" not in stderr
    assert not Path(flow["JOURNEYS_TEST_LOG"]).exists()  # no handler ran
    small_disk.remount("rw")
    assert path.read_bytes() == before


def test_run_on_a_file_opened_read_only_exits_1_and_writes_nothing(
    journeys_cli: Run, flow: dict[str, str], tmp_path: Path
) -> None:
    """``mode=ro`` (SQLite's URI): read-only whoever runs it, root included."""
    path = tmp_path / "j.db"
    assert _run(journeys_cli, flow, f"sqlite:///{path}")[0] == 0
    before = path.read_bytes()
    Path(flow["JOURNEYS_TEST_LOG"]).unlink()
    code, stderr = _run(journeys_cli, flow, f"sqlite:///file:{path}?mode=ro&uri=true")
    assert code == 1, stderr
    first = stderr.splitlines()[0]
    assert first.startswith("error: the store sqlite:///file") and str(path) in first
    assert "attempt to write a readonly database" in first and "writable" in first
    assert "nothing of this call was written" in first and "Traceback" not in stderr
    assert not Path(flow["JOURNEYS_TEST_LOG"]).exists()
    assert path.read_bytes() == before

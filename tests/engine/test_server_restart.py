"""A PostgreSQL server restarted under a run: a clear StoreError, then the same engine recovers
the run, each effect once.

The shared server of the test suite is never touched: each test starts a throwaway cluster of
its own (``initdb`` and ``pg_ctl`` as the ``postgres`` user, on a free port, in a temporary
folder) and removes it after. Where that cannot be done (no PostgreSQL binaries, not root, no
``postgres`` user) the test is skipped, saying why.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import journeys

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@dataclass
class Server:
    """A private PostgreSQL cluster."""

    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def tool(self, name: str, *args: str, check: bool = True) -> None:
        """Run one of PostgreSQL's programs as the ``postgres`` user."""
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / name), *args],
            check=check,
            capture_output=True,
            timeout=120,
        )

    def ctl(self, *args: str) -> None:
        log = str(self.data.parent / "log")
        self.tool("pg_ctl", "-D", str(self.data), "-l", log, "-w", *args)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server() -> Iterator[Server]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found or os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip(
            "PostgreSQL restart NOT TESTED: needs root, runuser and /usr/lib/postgresql/*/bin"
            " to start a private cluster"
        )
    folder = Path(tempfile.mkdtemp(prefix="journeys-pg-"))
    try:
        shutil.chown(folder, "postgres")
        made = Server(Path(found[-1]).parent, folder / "data", _free_port())
        made.tool("initdb", "-D", str(made.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {made.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        made.ctl("-o", options, "start")
    except (OSError, LookupError, subprocess.SubprocessError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"PostgreSQL restart NOT TESTED: cannot start a private cluster ({error})")
    try:
        yield made
    finally:
        made.tool("pg_ctl", "-D", str(made.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)


DEFINITION = """
journey: restarted
milestones:
  - {id: a, action: t.effect}
  - {id: b, action: t.restart}
  - {id: c, action: t.effect}
policies: {wal: {enabled: true}}
"""


def test_a_server_restart_mid_run_is_a_store_error_then_recover_finishes(
    server: Server,
) -> None:
    calls: list[tuple[str, str]] = []
    applied: dict[str, str] = {}  # effects, once per idempotency key
    restarts = [server]

    def effect(ctx: journeys.Context) -> None:
        calls.append((ctx.milestone, ctx.idempotency_key))
        applied.setdefault(ctx.idempotency_key, ctx.milestone)

    def restart(ctx: journeys.Context) -> None:
        effect(ctx)
        if restarts:  # the server goes down and comes back while b works
            restarts.pop().ctl("-m", "fast", "restart")

    registry = journeys.Registry()
    registry.register("t.effect", effect)
    registry.register("t.restart", restart)
    definition = journeys.load_definition(DEFINITION)
    with journeys.Engine(server.url, registry=registry) as engine:
        with pytest.raises(journeys.StoreError) as raised:
            engine.start(definition, run_id="r1")
        message = str(raised.value)
        assert raised.value.run_id == "r1"
        assert f"127.0.0.1:{server.port}/postgres failed: " in message
        assert "run r1 is as its last commit left it" in message and "journeys recover" in message
        # the same engine, on the restarted server: no stale connection, no lease in the way
        assert engine.get("r1").status == "running"
        (recovered,) = engine.recover()
        assert (recovered.id, recovered.status) == ("r1", "completed")
    assert [m for m, _ in calls] == ["a", "b", "b", "c"]
    assert calls[1][1] == calls[2][1]  # b again, under the same key
    assert sorted(applied.values()) == ["a", "b", "c"]

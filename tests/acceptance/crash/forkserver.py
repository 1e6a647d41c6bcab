"""A fork server for the crash matrix: each ``journeys`` command in a new process, without
paying the interpreter's start-up and imports each time.

The crash matrix needs a few hundred processes (each cell kills one, then recovers in another).
A fresh ``journeys`` costs about 1.5 s on a loaded CI machine, nearly all of it importing
SQLAlchemy, jsonschema, Jinja and the package: a few hundred of those do not fit the suite's
time. This server imports everything once, then forks a child per command. The child is a new
process (its own pid, its own database connections: the parent never opened one), re-reads
``JOURNEYS_FAULTS`` as a process starting would (it reloads ``journeys.engine.faults``), and runs
the real command line, ``journeys.cli.main``, with the given arguments. So the command and the
fault switch are the real ones; only the interpreter start-up is shared.

Protocol, one JSON object per line: the parent writes ``{"argv": [...], "env": {...}, "cwd":
"...", "out": PATH, "err": PATH}``; the server answers ``{"started": PID}`` (the client may kill
a hung child by its pid), then ``{"pid": PID, "rc": RC}``, where RC is the exit code, or minus
the signal that killed the child (``-9`` for SIGKILL), as ``subprocess`` reports it. The
server must have no threads and no open connections when it forks: the warm-up closes its
engine and checks.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any


def _preload() -> None:
    # what a command imports anyway, loaded once here, before any fork
    import psycopg  # noqa: F401
    import sqlalchemy.dialects.postgresql
    import sqlalchemy.dialects.sqlite  # noqa: F401

    import journeys.cli  # noqa: F401

    _warm_up()


def _warm_up() -> None:
    """Run a small saga once here, so that what a command does lazily the first time (the
    loader's and the schema's set-up, SQLAlchemy's dialect initialisation) is done before the
    forks; then close everything: no thread and no connection may cross a fork."""
    import tempfile
    import threading

    import journeys

    registry = journeys.Registry()
    registry.register("warm.step", lambda ctx: {"ok": True})
    definition = journeys.load_definition(
        "journey: warm\nkind: saga\nmilestones:\n"
        "  - {id: a, action: warm.step, compensation: warm.step}\n"
        "policies: {wal: {enabled: true}, saga: {enabled: true}}\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        engine = journeys.Engine(f"sqlite:///{folder}/warm.db", registry=registry)
        engine.get(engine.start(definition).id)
        engine.close()
    if threading.active_count() != 1:
        raise RuntimeError("the warm-up left a thread behind: forking now is unsafe")


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the command, then exit without running the parent's
    clean-up (``os._exit``)."""
    code = 70
    try:
        os.chdir(request["cwd"])
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd, path in ((1, request["out"]), (2, request["err"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        os.environ.clear()
        os.environ.update(request["env"])
        from journeys.engine import faults

        importlib.reload(faults)  # the switch as this process's environment sets it
        from journeys.cli import main

        sys.argv = ["journeys", *request["argv"]]
        try:
            main(request["argv"])
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # a bug of the harness: say so in the child's stderr
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def serve() -> None:
    _preload()
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"started": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"pid": pid, "rc": rc}), flush=True)


if __name__ == "__main__":
    serve()

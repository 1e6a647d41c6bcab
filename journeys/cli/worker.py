"""``journeys worker``: claim due work from the store and run it until told to stop."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

import click

from journeys.cli.group import cli
from journeys.cli.options import db_option, handlers_option, open_engine
from journeys.engine.worker import Worker

__all__ = ["worker"]


@cli.command()
@handlers_option
@db_option
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1, max=256),
    default=1,
    show_default=True,
    help="How many runs this worker moves at once (threads).",
)
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="Only runs of journeys in this namespace (a journey's, by default its name). Repeatable.",
)
@click.option(
    "--lease",
    type=click.FloatRange(min=0.5),
    default=30.0,
    show_default=True,
    help="Seconds a run stays this worker's without news from it (renewed while it works).",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.01),
    default=0.5,
    show_default=True,
    help="Seconds to wait when nothing is due.",
)
@click.option("--until-idle", is_flag=True, help="Stop once nothing is due (for batch jobs).")
def worker(
    handler_modules: tuple[str, ...],
    db: str,
    concurrency: int,
    namespaces: tuple[str, ...],
    lease: float,
    poll: float,
    until_idle: bool,
) -> None:
    """Run what is due in the store: runs started with --detach, parked retries and sleeps
    whose time has come, waits whose deadline passed, and runs whose worker died (once its
    lease expired). Many workers may share one PostgreSQL; on SQLite, one machine.

    Logs one JSON line per claim and outcome on stderr; a store that fails is logged and
    tried again (with --until-idle: exit 1). SIGTERM or Ctrl-C: stop claiming,
    finish the runs in hand, exit 0; a second one exits at once (the leases then expire and
    other workers take over).
    """
    stop = threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            print("journeys worker: stopping now; leases will expire", file=sys.stderr)
            os._exit(1)
        print(
            f"journeys worker: {signal.Signals(number).name}: finishing the runs in hand"
            " (again to stop at once)",
            file=sys.stderr,
            flush=True,
        )
        stop.set()

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, on_signal)
    with open_engine(db, handler_modules, quiet=True, new=True, lease=lease) as engine:
        running = Worker(engine, concurrency=concurrency, namespaces=namespaces, poll=poll)
        running.run(stop, until_idle=until_idle)
    if until_idle and running.failures:
        sys.exit(1)  # the store failed: what was due may not have run

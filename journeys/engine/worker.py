"""Workers: processes that run what is due in a store, many of them sharing one PostgreSQL.

PostgreSQL is the coordinator; there is none of our own. A worker claims due work (runs
started with ``wait=False``, parked retries and sleeps whose time has come, waits whose deadline
passed, runs whose mover died) with ``SELECT ... FOR UPDATE SKIP LOCKED`` in a short transaction
that leases them to it (see :meth:`journeys.engine.store.Store.claim`), drives each through the
write-ahead protocol, and renews its leases while it works. If it dies, its leases expire and
another worker takes its runs and goes on from their last commit. On SQLite the same worker
serves one machine (the claim holds SQLite's write lock instead of row locks).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from journeys.engine.engine import WORK, Engine
from journeys.errors import StateError

__all__ = ["Worker"]

Log = Callable[[Mapping[str, Any]], None]


def json_lines(event: Mapping[str, Any]) -> None:
    """One JSON object per line on stderr: the worker's default log."""
    print(json.dumps(event, default=str), file=sys.stderr, flush=True)


class Worker:
    """Runs what is due in ``engine``'s store, ``concurrency`` runs at a time, until stopped.

    ``namespaces`` limits it to the runs of journeys in those namespaces (a journey's
    ``namespace``, by default its name). ``poll`` is how long it sleeps when nothing is due.
    ``log`` is called with one mapping per claim and outcome (default: JSON lines on stderr).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        concurrency: int = 1,
        namespaces: Sequence[str] = (),
        poll: float = 0.5,
        log: Log | None = json_lines,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.engine = engine
        self.concurrency = concurrency
        self.namespaces = tuple(namespaces)
        self.poll = poll
        self._log = log
        self._count = 0
        self._count_lock = threading.Lock()
        self.failures = 0
        """How many rounds failed on the store (each logged as an ``error`` event)."""

    def run(self, stop: threading.Event | None = None, *, until_idle: bool = False) -> int:
        """Work until ``stop`` is set (or, with ``until_idle``, until nothing is due); the runs
        in hand are finished first. Returns how many runs it moved. A store that fails is
        logged and tried again, ever less often (with ``until_idle``, the worker stops)."""
        stop = stop if stop is not None else threading.Event()
        threads = [
            threading.Thread(
                target=self._loop, args=(stop, until_idle), name=f"journeys-worker-{n}"
            )
            for n in range(self.concurrency)
        ]
        self._tell("started", concurrency=self.concurrency, namespaces=list(self.namespaces))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._tell("stopped", runs=self._count)
        return self._count

    def _loop(self, stop: threading.Event, until_idle: bool) -> None:
        pause = self.poll
        while not stop.is_set():
            try:
                moved = self.run_one()
            except Exception as error:  # the store is unreachable, or refuses: say so, retry
                self.failures += 1
                self._tell("error", error=str(error).split("\n", 1)[0], retry_in=pause)
                if until_idle:
                    return
                stop.wait(pause)
                pause = min(pause * 2, 30.0)  # a store that is down is not hammered
                continue
            pause = self.poll
            if not moved:
                if until_idle:
                    return
                stop.wait(self.poll)

    def run_one(self) -> bool:
        """Claim one due run and drive it until it stops; False when nothing was due."""
        engine = self.engine
        # the engine's own claim-and-take (the same as recover and resume_due use)
        claimed = engine._claim_runs(WORK, limit=1, namespaces=self.namespaces)
        if not claimed:
            return False
        prepared = claimed[0]
        record = prepared[1]
        self._tell("claimed", run_id=record.id, journey=record.journey, status=record.status)
        began = time.perf_counter()
        try:
            run = engine._drive(prepared)
        except StateError as error:  # its lease ran out and another worker took it
            self._tell("lost", run_id=record.id, journey=record.journey, error=str(error))
            return True
        except Exception as error:  # a store failure: the lease expires, someone goes on
            self._tell("failed", run_id=record.id, journey=record.journey, error=repr(error))
            return True
        with self._count_lock:
            self._count += 1
        self._tell(
            "moved",
            run_id=run.id,
            journey=run.journey,
            status=run.status,
            state=run.state,
            seconds=round(time.perf_counter() - began, 6),
        )
        return True

    def _tell(self, event: str, **fields: Any) -> None:
        if self._log is not None:
            self._log(
                {
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "worker": self.engine.owner,
                    "event": event,
                    **fields,
                }
            )

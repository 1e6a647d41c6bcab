"""Leases: how an engine holds the runs it moves, so that no other worker takes them while it
lives, and every other worker may once it has died (:mod:`journeys.engine.worker`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from journeys.engine.store import Store

__all__ = ["Heartbeat"]

_LOGGER = logging.getLogger("journeys.engine")


class Heartbeat:
    """Renews the leases of the runs an engine holds, every third of a lease, on a daemon
    thread that exists only while the engine holds some: a handler may take longer than a
    lease without another worker taking its run."""

    def __init__(self, store: Store, owner: str, lease: float, clock: Callable[[], float]) -> None:
        self._store, self._owner, self._lease, self._clock = store, owner, lease, clock
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def hold(self, run_ids: Iterable[str]) -> None:
        with self._lock:
            self._held.update(run_ids)
            if self._held and self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._beat, name="journeys-leases", daemon=True
                )
                self._thread.start()

    def drop(self, run_ids: Iterable[str]) -> None:
        with self._lock:
            self._held.difference_update(run_ids)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._wake.wait(self._lease / 3):
            with self._lock:
                held = list(self._held)
                if not held:
                    self._thread = None  # started again by the next hold
                    return
            try:
                self._store.renew(self._owner, held, self._clock() + self._lease)
            except Exception:  # the store is down: the next beat tries again
                _LOGGER.warning("could not renew the leases of %d runs", len(held), exc_info=True)

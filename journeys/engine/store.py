"""Where runs live: a small interface, an in-memory store, and :func:`open` picking one by URL.

The engine asks little of a store: keep definitions by content hash, create a run once, save it
together with its new history entries in one transaction, append write-ahead intents, load it
back, and lease runs to the engine moving them (claim, renew, release: see
:mod:`journeys.engine.worker`). SQLite and PostgreSQL (:mod:`journeys.engine.sqlstore`) and
memory implement the same contract; the test suite runs against each.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from typing import Literal

from journeys.definitions.model import Definition
from journeys.engine.run import Entry, RunRecord, Status
from journeys.errors import JourneyError, StateError

__all__ = ["Claimable", "MemoryStore", "Store", "claimable", "open", "shown"]

Claimable = Literal["new", "due", "interrupted"]
"""What a worker takes: see :meth:`Store.claim`."""


class Store(ABC):
    """The storage contract of the engine."""

    url: str

    @abstractmethod
    def save_definition(self, definition: Definition) -> None:
        """Keep the exact text of a definition under its content hash (once)."""

    @abstractmethod
    def definition_text(self, content_hash: str) -> str | None:
        """The text stored under a content hash, or None."""

    @abstractmethod
    def create(self, record: RunRecord, entries: Sequence[Entry]) -> RunRecord | None:
        """Insert a new run and its first entries; if the id exists, change nothing and return
        the stored run instead (so starting with the same id twice runs nothing twice)."""

    @abstractmethod
    def save(self, record: RunRecord, entries: Sequence[Entry]) -> None:
        """Update a run and append entries in one transaction.

        Raises :class:`StateError` if the run was changed by someone else since it was loaded.
        """

    @abstractmethod
    def append(self, entries: Sequence[Entry], record: RunRecord | None = None) -> None:
        """Append entries (a write-ahead intent) of ``record`` in one transaction."""

    @abstractmethod
    def load(self, run_id: str) -> RunRecord | None:
        """The stored run, or None."""

    @abstractmethod
    def history(self, run_id: str) -> list[Entry]:
        """The run's entries, in order."""

    @abstractmethod
    def find(self, statuses: Iterable[Status], due_before: float | None = None) -> list[str]:
        """Ids of runs in these statuses (and, if given, due before that time), oldest first."""

    @abstractmethod
    def claim(
        self,
        owner: str,
        now: float,
        until: float,
        *,
        what: Collection[Claimable],
        limit: int,
        namespaces: Collection[str] = (),
        dead_owners: Collection[str] = (),
        only: Collection[str] | None = None,
    ) -> list[str]:
        """Take up to ``limit`` runs that nobody holds (no lease, or an expired one) and that
        are ``what`` asks for: ``new`` (``pending`` and never held: started with
        ``wait=False``), ``due`` (``waiting`` whose ``due_at`` has passed: a parked retry, a
        sleep, a wait's deadline) or ``interrupted`` (``pending``, ``running`` or
        ``compensating`` whose holder's lease expired: it died). Highest priority first,
        then the oldest due. Each taken run is leased to ``owner`` until ``until`` and gets a
        new ``row_version``, so a holder that only seemed dead can no longer save it. Two
        claimers never take the same run. A lease held by one of ``dead_owners`` (engines
        known to be gone) counts as expired. ``only``: of these runs only (the ones
        ``authorize`` allowed, among the :meth:`candidates`)."""

    def candidates(
        self,
        now: float,
        *,
        what: Collection[Claimable],
        limit: int,
        namespaces: Collection[str] = (),
        dead_owners: Collection[str] = (),
    ) -> list[tuple[str, Status, str | None, str | None]]:
        """The runs :meth:`claim` would take, in its order, as ``(id, status, tenant, user)``,
        without taking them: the engine asks ``authorize`` about each before it claims any,
        so that a refused run is not written to (not even leased). Only an engine with an
        ``authorize`` hook asks: a store made before it need not have it."""
        raise NotImplementedError(f"{type(self).__name__} cannot list the runs it would lease")

    @abstractmethod
    def holders(self) -> set[str]:
        """The owners of the leases on unfinished runs (``pending``, ``running``,
        ``compensating``): recovery asks which of them are dead."""

    @abstractmethod
    def renew(self, owner: str, run_ids: Collection[str], until: float) -> None:
        """Extend ``owner``'s leases of ``run_ids`` (those it still holds) to ``until``."""

    @abstractmethod
    def release(self, owner: str, run_ids: Collection[str]) -> None:
        """Let go of ``owner``'s leases of ``run_ids`` without moving the runs."""

    def close(self) -> None:  # noqa: B027 - most stores have nothing to release
        """Release connections."""


class MemoryStore(Store):
    """Runs in this process's memory: for tests, embedding, and runs nobody needs to resume."""

    def __init__(self) -> None:
        self.url = "memory:"
        self._lock = threading.Lock()
        self._definitions: dict[str, str] = {}
        self._runs: dict[str, RunRecord] = {}
        self._entries: dict[str, list[Entry]] = {}

    def save_definition(self, definition: Definition) -> None:
        self._definitions.setdefault(definition.content_hash, definition.text)

    def definition_text(self, content_hash: str) -> str | None:
        return self._definitions.get(content_hash)

    def create(self, record: RunRecord, entries: Sequence[Entry]) -> RunRecord | None:
        with self._lock:
            existing = self._runs.get(record.id)
            if existing is not None:
                return _copy(existing)
            record.row_version = 1
            self._runs[record.id] = _copy(record)
            self._entries[record.id] = list(entries)
            return None

    def save(self, record: RunRecord, entries: Sequence[Entry]) -> None:
        with self._lock:
            stored = self._runs.get(record.id)
            if stored is None or stored.row_version != record.row_version:
                raise StateError(
                    f"run {record.id} was changed by another caller; load it again",
                    run_id=record.id,
                )
            record.row_version += 1
            self._runs[record.id] = _copy(record)
            self._entries.setdefault(record.id, []).extend(entries)

    def append(self, entries: Sequence[Entry], record: RunRecord | None = None) -> None:
        with self._lock:
            for entry in entries:
                self._entries.setdefault(entry.run_id, []).append(entry)

    def load(self, run_id: str) -> RunRecord | None:
        with self._lock:
            stored = self._runs.get(run_id)
            if stored is None:
                return None
            record = _copy(stored)
            logged = self._entries.get(run_id)
            if logged:  # as in SQL: intents are appended without saving the run
                record.seq = max(record.seq, logged[-1].seq)
            return record

    def history(self, run_id: str) -> list[Entry]:
        with self._lock:
            return list(self._entries.get(run_id, ()))

    def find(self, statuses: Iterable[Status], due_before: float | None = None) -> list[str]:
        wanted = set(statuses)
        with self._lock:
            found = [
                r
                for r in self._runs.values()
                if r.status in wanted
                and (due_before is None or (r.due_at is not None and r.due_at <= due_before))
            ]
        return [r.id for r in sorted(found, key=lambda r: r.created_at)]

    def claim(
        self,
        owner: str,
        now: float,
        until: float,
        *,
        what: Collection[Claimable],
        limit: int,
        namespaces: Collection[str] = (),
        dead_owners: Collection[str] = (),
        only: Collection[str] | None = None,
    ) -> list[str]:
        with self._lock:
            found = self._claimable(now, what, namespaces, dead_owners)
            if only is not None:
                found = [r for r in found if r.id in only]
            for record in found[:limit]:
                record.lease_owner, record.lease_expires_at = owner, until
                record.row_version += 1
            return [r.id for r in found[:limit]]

    def candidates(
        self,
        now: float,
        *,
        what: Collection[Claimable],
        limit: int,
        namespaces: Collection[str] = (),
        dead_owners: Collection[str] = (),
    ) -> list[tuple[str, Status, str | None, str | None]]:
        with self._lock:
            found = self._claimable(now, what, namespaces, dead_owners)[:limit]
            return [(r.id, r.status, r.tenant, r.user) for r in found]

    def _claimable(
        self,
        now: float,
        what: Collection[Claimable],
        namespaces: Collection[str],
        dead_owners: Collection[str],
    ) -> list[RunRecord]:
        found = [
            r
            for r in self._runs.values()
            if claimable(r, now, what, dead_owners=dead_owners)
            and (not namespaces or r.namespace in namespaces)
        ]
        found.sort(key=lambda r: (-r.priority, r.due_at or r.created_at))
        return found

    def holders(self) -> set[str]:
        with self._lock:
            return {
                r.lease_owner
                for r in self._runs.values()
                if r.lease_owner is not None and r.status in ("pending", "running", "compensating")
            }

    def renew(self, owner: str, run_ids: Collection[str], until: float) -> None:
        with self._lock:
            for run_id in run_ids:
                record = self._runs.get(run_id)
                if record is not None and record.lease_owner == owner:
                    record.lease_expires_at = until

    def release(self, owner: str, run_ids: Collection[str]) -> None:
        with self._lock:
            for run_id in run_ids:
                record = self._runs.get(run_id)
                if record is not None and record.lease_owner == owner:
                    record.lease_owner = record.lease_expires_at = None


def claimable(
    record: RunRecord,
    now: float,
    what: Collection[Claimable],
    *,
    dead_owners: Collection[str] = (),
) -> bool:
    """Whether a worker may take ``record`` now (see :meth:`Store.claim`)."""
    held = record.lease_owner is not None
    expired = held and ((record.lease_expires_at or 0.0) < now or record.lease_owner in dead_owners)
    if record.status == "pending":  # queued (nobody ever held it), or its starter died
        return ("new" in what and not held) or ("interrupted" in what and expired)
    if record.status == "waiting":
        return (
            "due" in what
            and record.due_at is not None
            and record.due_at <= now
            and (not held or expired)
        )
    # running or compensating: its mover died (or it predates leases)
    return (
        "interrupted" in what
        and record.status in ("running", "compensating")
        and (not held or expired)
    )


def _copy(record: RunRecord) -> RunRecord:
    return record.clone()


def shown(url: str) -> str:
    """A store's URL as errors show it: with its password, if any, as ``***``."""
    from sqlalchemy.engine import make_url  # not for memory: stores

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a database URL (memory:): nothing to hide
        return url


def open(url: str | Store | None) -> Store:
    """The store for a URL: ``memory:``, ``sqlite:///path.db`` or ``postgresql://...``."""
    if isinstance(url, Store):
        return url
    if url is None or url in ("memory:", "memory://"):
        return MemoryStore()
    if url.startswith(("sqlite:", "postgresql:", "postgresql+", "postgres:")):
        from journeys.engine import sqlstore

        return sqlstore.SqlStore(url)
    raise JourneyError(
        f"unknown store URL {url!r}: use sqlite:///journeys.db, postgresql://user@host/db"
        " or memory:"
    )

"""The SQL store: SQLite (embedded, the default) and PostgreSQL, through SQLAlchemy Core.

SQLite runs in WAL journal mode with ``synchronous=FULL``: a committed transition survives a power
cut, and readers do not block the writer. ``sqlite:///runs.db?synchronous=normal`` trades that for
speed: a power cut (not a crash of the process) may lose the last commits, never corrupt. The
two backends differ only where they must: creating a run once (``INSERT ... ON CONFLICT DO
NOTHING``, spelled per dialect), migrating one process at a time, and a milestone's commit:
on PostgreSQL one statement (each statement is a round trip), on SQLite the run's row and its
log rows through the store's one writing connection (SQLite writes one transaction at a time).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final

from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError

from journeys.definitions import durations
from journeys.definitions.model import Definition
from journeys.engine import ids, migrations, schema
from journeys.engine.events import Lineage
from journeys.engine.prepared import DOLLAR, Prepared, Writer, driver_transaction
from journeys.engine.run import Entry, RunRecord, Status
from journeys.engine.store import Claimable, Store
from journeys.errors import JourneyError, StateError, StoreError

__all__ = ["SqlStore"]

_LOGGER = logging.getLogger("journeys.store")

_RUN_FIELDS = (
    "journey",
    "version",
    "definition_hash",
    "status",
    "state",
    "inputs",
    "results",
    "completed",
    "error",
    "attempt",
    "saga",
    "cancelling",
    "wal",
    "policy",
    "checkpoints",
    "rollback_to",
    "generations",
    "created_at",
    "updated_at",
    "due_at",
    "seq",
    "lease_owner",
    "lease_expires_at",
    "priority",
    "namespace",
    "sleep_until",
)


class SqlStore(Store):
    """Runs and their history in SQLite or PostgreSQL."""

    def __init__(self, url: str) -> None:
        if url.startswith("postgres:"):
            url = "postgresql:" + url.removeprefix("postgres:")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        self.url = url
        synchronous = "FULL"
        try:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite" and "synchronous" in parsed.query:
                synchronous = str(parsed.query["synchronous"]).upper()
                if synchronous not in ("FULL", "NORMAL", "EXTRA"):
                    raise JourneyError(
                        f"bad store URL {url!r}: synchronous={parsed.query['synchronous']}; use"
                        " full (the default: a commit survives a power cut), normal (faster: a"
                        " power cut may lose the last commits, never corrupt) or extra"
                    )
                parsed = parsed.difference_update_query(["synchronous"])
            self._engine: Engine = create_engine(parsed, future=True)
        except (ArgumentError, ValueError) as error:
            raise JourneyError(f"bad store URL {url!r}: {error}") from error
        except ImportError as error:
            raise JourneyError(
                f"the store {url!r} needs a driver that is not installed ({error});"
                " for PostgreSQL: pip install 'journeys[postgres]'"
            ) from error
        self.dialect = self._engine.dialect.name
        if self.dialect == "sqlite":
            event.listen(
                self._engine,
                "connect",
                lambda connection, _record: _sqlite_pragmas(connection, synchronous),
            )
            _quick_binds(self._engine.dialect.dbapi)
        self.lineage: list[Callable[[Lineage], None]] = []
        dialect = self._engine.dialect
        self._update_run = Prepared(
            _UPDATE_RUN, dialect, (*_CHANGING, "loaded_id", "loaded_version")
        )
        self._update_same = Prepared(
            _UPDATE_SAME, dialect, (*_SAME_CHANGING, "loaded_id", "loaded_version")
        )
        self._insert_entries = Prepared(_INSERT_ENTRIES, dialect, _ENTRY_KEYS)
        self._insert_run: Prepared | None = None
        if dialect.insert_returning:  # else (SQLite before 3.35) create takes the long way
            self._insert_run = Prepared(
                self._insert_ignore(schema.runs, ["id"]).returning(schema.runs.c.id),
                dialect,
                [column.key for column in schema.runs.columns],
            )
        # PostgreSQL: a milestone's commit as one statement (see _one_statement), by the
        # number of log entries it holds
        self._saves: dict[int, Prepared] = {}
        self._creates: dict[int, Prepared] = {}
        # SQLite: the hot writes take turns on one connection (prepared.Writer); PostgreSQL
        # commits them concurrently, on the pool's
        self._writer = Writer(self._engine) if self.dialect == "sqlite" else None
        self._schema_lock = threading.Lock()
        self._ready = False

    @contextlib.contextmanager
    def _connect(self, run_id: str | None = None, *, starting: bool = False) -> Iterator[Any]:
        """A connection in a transaction; the database's own failures (unreachable, a dropped
        connection, a full disk) become a :class:`StoreError` that says what is safe.
        ``starting``: the transaction creates the run ``run_id``."""
        with self._translated(run_id, starting), self._engine.begin() as connection:
            yield connection

    def _hot(
        self,
        run_id: str,
        *,
        starting: bool = False,
        one_statement: bool = False,
        taken: bool = False,
    ) -> _Hot:
        """A driver cursor in a transaction, for the statements every milestone of a durable
        run sends (prepared.driver_transaction); failures as :meth:`_connect` tells them,
        and with ``taken`` a conflict as :func:`_taken` does."""
        return _Hot(self, run_id, starting, one_statement, taken)

    def _one_statement(self, count: int, kind: str) -> Prepared | None:
        """On PostgreSQL, the run's row and ``count`` log entries written by one statement
        (``kind``: ``save`` or ``create``), else None.

        Each statement sent in a transaction is a round trip, and so are ``BEGIN`` and
        ``COMMIT``: a milestone's commit took four or more, each waiting for the server. One
        statement whose common table expressions update (or insert) the run's row and insert
        its entries only if that row was written, run in autocommit, takes one, with the same
        all-or-nothing outcome. SQLite has no such statements and no round trips to save.
        """
        if self.dialect != "postgresql" or not 0 < count <= _MAX_ONE_STATEMENT:
            return None
        cache = self._saves if kind == "save" else self._creates
        prepared = cache.get(count)
        if prepared is None:
            build = _moved if kind == "save" else _started
            statement, keys = build(count)
            dialect = postgresql.psycopg.dialect(paramstyle=DOLLAR)  # type: ignore[no-untyped-call]
            prepared = cache[count] = Prepared(statement, dialect, keys)
        return prepared

    @contextlib.contextmanager
    def _translated(self, run_id: str | None, starting: bool = False) -> Iterator[None]:
        self._make_ready()
        try:
            yield
        except IntegrityError:
            raise  # a conflict with another writer: the callers say what it means
        except DBAPIError as error:
            raise self._failure(error, run_id, starting) from error

    def _make_ready(self) -> None:
        if not self._ready:
            with self._schema_lock:
                if not self._ready:
                    self._create_tables()
                    self._ready = True

    def _failure(self, error: DBAPIError, run_id: str | None, starting: bool) -> StoreError:
        """The database's own failure as a :class:`StoreError` saying what is safe."""
        if run_id is None:
            safe = "nothing of this call was written"
        elif starting:  # its first commit: the run may not exist, or (ack lost) may
            safe = (
                f"run {run_id} may not have started; once the store is back, start it"
                f" again with run_id {run_id!r} (an id never runs twice), then"
                " `journeys recover` (engine.recover()) finishes it if it had started"
            )
        else:
            safe = (
                f"run {run_id} is as its last commit left it; once the store is back,"
                " `journeys recover` (engine.recover()) finishes it"
            )
        return StoreError(
            f"the store {self._where()} failed: {_first_line(error.orig)}"
            f"{_advice(error.orig)}; {safe}",
            run_id=run_id,
        )

    def _where(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def _create_tables(self) -> None:
        """Bring the schema up to date; a store that cannot even be opened (unreachable, a
        read-only file or folder, a full disk) is a :class:`StoreError` naming it."""
        try:
            migrations.migrate(self._engine)
        except JourneyError as error:
            cause = error.__cause__
            if not isinstance(cause, DBAPIError):
                raise
            raise StoreError(
                f"the store {self._where()} cannot be opened: {_first_line(cause.orig)}"
                f"{_advice(cause.orig)}; nothing was written"
            ) from cause

    def tell_lineage(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Tell the lineage recorders (``engine.wal.on_write``) of committed log rows; with
        none registered, nothing is built."""
        if not self.lineage or not rows:
            return
        for row in rows:
            record = Lineage(
                asset=row.get("target"),
                operation=row.get("operation"),
                namespace=row.get("namespace"),
                target=row.get("target"),
                time=row["created_at"],
                run_id=row.get("run_id"),
                tenant=row.get("tenant_id"),
            )
            for recorder in self.lineage:
                try:
                    recorder(record)
                except Exception:  # lineage is a side record: it must not fail a run
                    _LOGGER.exception("lineage recorder %r failed", recorder)

    def transaction(self) -> Any:
        """A connection inside one transaction (``with store.transaction() as c:``), on the
        store's schema, brought up to date on first use."""
        return self._connect()

    def save_definition(self, definition: Definition) -> None:
        row = {
            "content_hash": definition.content_hash,
            "journey": definition.journey,
            "version": definition.version,
            "text": definition.text,
            "created_at": 0.0,
        }
        with self._connect() as connection:
            connection.execute(self._insert_ignore(schema.definitions, ["content_hash"]), [row])

    def definition_text(self, content_hash: str) -> str | None:
        with self._connect() as connection:
            text: str | None = connection.execute(
                select(schema.definitions.c.text).where(
                    schema.definitions.c.content_hash == content_hash
                )
            ).scalar_one_or_none()
        return text

    def create(self, record: RunRecord, entries: Sequence[Entry]) -> RunRecord | None:
        record.row_version = 1
        if self._insert_run is not None:
            # Whether the row went in: psycopg reports rowcount -1 for INSERT ... ON CONFLICT
            # DO NOTHING, so on PostgreSQL an existing id looked inserted (a second start with
            # the same run_id ran the journey again, then failed on the WAL's unique key).
            # RETURNING gives a row only when one was inserted.
            rows = _entry_values(entries, record)
            one = self._one_statement(len(rows), "create")
            with self._hot(record.id, starting=True, one_statement=one is not None) as cursor:
                if one is not None:
                    one.run(cursor, _numbered(_run_row(record), rows))
                    inserted = cursor.fetchone() is not None
                else:
                    self._insert_run.run(cursor, _run_row(record))
                    inserted = cursor.fetchone() is not None
                    if inserted and rows:
                        self._insert_rows(cursor, rows)
            if not inserted:
                record.row_version = 0
                with self._connect(record.id) as connection:
                    row = connection.execute(
                        select(schema.runs).where(schema.runs.c.id == record.id)
                    ).one()
                return _record(row._mapping)
            record.indexed = (record.status, record.due_at)
            self._tell_values(rows)
            return None
        with self._connect(record.id, starting=True) as connection:  # pragma: no cover - old SQLite
            statement = self._insert_ignore(schema.runs, ["id"])
            inserted = connection.execute(statement, _run_row(record)).rowcount == 1
            if not inserted:
                record.row_version = 0
                row = connection.execute(
                    select(schema.runs).where(schema.runs.c.id == record.id)
                ).one()
                return _record(row._mapping)
            logged = self._append_txn(connection, entries, record)
        self.tell_lineage(logged)
        return None

    def save(self, record: RunRecord, entries: Sequence[Entry]) -> None:
        row = {name: getattr(record, name) for name in _CHANGING}
        row["row_version"] = record.row_version + 1
        row["loaded_id"], row["loaded_version"] = record.id, record.row_version
        rows = _entry_values(entries, record)
        one = self._one_statement(len(rows), "save")
        with self._hot(record.id, one_statement=one is not None, taken=True) as cursor:
            if one is not None:  # the entries went in only if the row was updated
                one.run(cursor, _numbered(row, rows))
                updated = cursor.fetchone()[0]
            else:
                # SQLite rewrites the index entries of every column a statement sets, even to
                # its old value: two pages more per commit, of the ~8 a milestone writes
                same = record.indexed == (record.status, record.due_at)
                updated = (self._update_same if same else self._update_run).run(cursor, row)
                if updated == 1 and rows:
                    self._insert_rows(cursor, rows)
            if updated != 1:  # another process saved it since it was loaded
                raise _conflict(record.id)
        record.row_version += 1
        record.indexed = (record.status, record.due_at)
        self._tell_values(rows)

    def append(self, entries: Sequence[Entry], record: RunRecord | None = None) -> None:
        if entries:
            with _taken(entries[0].run_id), self._connect(entries[0].run_id) as connection:
                rows = self._append_txn(connection, entries, record)
            self.tell_lineage(rows)

    def _append_txn(
        self, connection: Any, entries: Sequence[Entry], record: RunRecord | None
    ) -> list[dict[str, Any]]:
        rows = self._entry_rows(entries, record)
        if rows:
            self._insert_entries.execute_many(connection, rows)
        return rows

    def _insert_rows(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert log rows of :func:`_entry_values` on a driver cursor."""
        if self._insert_entries.names == _ENTRY_KEYS:  # SQLite's ?: the tuples as they are
            self._insert_entries.run_many_ordered(cursor, rows)
        else:
            self._insert_entries.run_many(
                cursor, [dict(zip(_ENTRY_KEYS, row, strict=True)) for row in rows]
            )

    def _tell_values(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if self.lineage and rows:
            self.tell_lineage([dict(zip(_ENTRY_KEYS, row, strict=True)) for row in rows])

    @staticmethod
    def _entry_rows(entries: Sequence[Entry], record: RunRecord | None) -> list[dict[str, Any]]:
        """The log rows of ``entries``, as the WAL table stores them, by column."""
        return [
            dict(zip(_ENTRY_KEYS, values, strict=True)) for values in _entry_values(entries, record)
        ]

    def load(self, run_id: str) -> RunRecord | None:
        wal = schema.wal
        with self._connect() as connection:
            row = connection.execute(
                select(schema.runs).where(schema.runs.c.id == run_id)
            ).one_or_none()
            if row is None:
                return None
            # intents are appended without touching the run's row: after a crash between an
            # intent and the next save, the row's seq is behind the log's
            logged = connection.execute(
                select(func.max(wal.c.seq)).where(wal.c.run_id == run_id)
            ).scalar_one()
        record = _record(row._mapping)
        record.seq = max(record.seq, logged or 0)
        return record

    def history(self, run_id: str) -> list[Entry]:
        wal = schema.wal
        with self._connect() as connection:
            rows = connection.execute(
                select(wal).where(wal.c.run_id == run_id).order_by(wal.c.seq, wal.c.id)
            ).all()
        return [
            Entry(
                run_id=r.run_id,
                seq=r.seq,
                kind=r.kind,
                created_at=r.created_at,
                trigger=r.trigger,
                source=r.source,
                dest=r.dest,
                milestone=r.milestone,
                attempt=r.attempt,
                status=r.status,
                payload=r.payload,
                error=r.error,
                idempotency_key=r.idempotency_key,
                user=r.user_id if r.kind == "signal" else None,
            )
            for r in rows
        ]

    def find(self, statuses: Iterable[Status], due_before: float | None = None) -> list[str]:
        runs = schema.runs
        query = select(runs.c.id).where(runs.c.status.in_(list(statuses)))
        if due_before is not None:
            query = query.where(runs.c.due_at <= due_before)
        with self._connect() as connection:
            return list(connection.execute(query.order_by(runs.c.created_at)).scalars())

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
        runs = schema.runs
        pick = self._claimable(now, what, namespaces, dead_owners, only)
        if pick is None or limit <= 0:
            return []
        pick = pick.limit(limit)
        if self.dialect == "postgresql":
            # rows another worker is claiming are skipped, not waited for
            pick = pick.with_for_update(skip_locked=True)
        # One statement: on SQLite it holds the write lock from the pick to the update, on
        # PostgreSQL the picked rows are locked; either way no two claimers take one run.
        statement = (
            update(runs)
            .where(runs.c.id.in_(pick.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=until, row_version=runs.c.row_version + 1)
            .returning(runs.c.id)
        )
        with self._connect() as connection:
            return list(connection.execute(statement).scalars())

    def candidates(
        self,
        now: float,
        *,
        what: Collection[Claimable],
        limit: int,
        namespaces: Collection[str] = (),
        dead_owners: Collection[str] = (),
    ) -> list[tuple[str, Status, str | None, str | None]]:
        runs = schema.runs
        pick = self._claimable(now, what, namespaces, dead_owners, None)
        if pick is None or limit <= 0:
            return []
        query = pick.with_only_columns(
            runs.c.id, runs.c.status, runs.c.tenant_id, runs.c.user_id
        ).limit(limit)
        with self._connect() as connection:
            return [
                (i, status, tenant, user) for i, status, tenant, user in connection.execute(query)
            ]

    def _claimable(
        self,
        now: float,
        what: Collection[Claimable],
        namespaces: Collection[str],
        dead_owners: Collection[str],
        only: Collection[str] | None,
    ) -> Any:
        """The ids of the runs :meth:`claim` may take, in the order it takes them (None: none)."""
        runs = schema.runs
        # the same rules as store.claimable, in SQL
        held, free = runs.c.lease_owner.is_not(None), runs.c.lease_owner.is_(None)
        gone = runs.c.lease_expires_at < now
        if dead_owners:
            gone = or_(gone, runs.c.lease_owner.in_(list(dead_owners)))
        expired = and_(held, gone)
        wanted = []
        if "new" in what:
            wanted.append(and_(runs.c.status == "pending", free))
        if "due" in what:
            wanted.append(
                and_(runs.c.status == "waiting", runs.c.due_at <= now, or_(free, expired))
            )
        if "interrupted" in what:
            wanted.append(and_(runs.c.status == "pending", expired))
            wanted.append(and_(runs.c.status.in_(["running", "compensating"]), or_(free, expired)))
        if not wanted or (only is not None and not only):
            return None
        pick = select(runs.c.id).where(or_(*wanted))
        if namespaces:
            pick = pick.where(runs.c.namespace.in_(list(namespaces)))
        if only is not None:
            pick = pick.where(runs.c.id.in_(list(only)))
        return pick.order_by(
            runs.c.priority.desc(), func.coalesce(runs.c.due_at, runs.c.created_at), runs.c.id
        )

    def holders(self) -> set[str]:
        runs = schema.runs
        with self._connect() as connection:
            return set(
                connection.execute(
                    select(runs.c.lease_owner)
                    .where(
                        runs.c.lease_owner.is_not(None),
                        runs.c.status.in_(["pending", "running", "compensating"]),
                    )
                    .distinct()
                ).scalars()
            )

    def renew(self, owner: str, run_ids: Collection[str], until: float) -> None:
        if run_ids:
            runs = schema.runs
            with self._connect() as connection:
                connection.execute(
                    update(runs)
                    .where(runs.c.id.in_(list(run_ids)), runs.c.lease_owner == owner)
                    .values(lease_expires_at=until)
                )

    def release(self, owner: str, run_ids: Collection[str]) -> None:
        if run_ids:
            runs = schema.runs
            with self._connect() as connection:
                connection.execute(
                    update(runs)
                    .where(runs.c.id.in_(list(run_ids)), runs.c.lease_owner == owner)
                    .values(lease_owner=None, lease_expires_at=None)
                )

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._engine.dispose()

    def _insert_ignore(self, table: Any, keys: list[str]) -> Any:
        if self.dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
        if self.dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
        raise JourneyError(f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL")


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().split("\n", 1)[0] if error is not None else "unknown error"


_ADVICE: Final = (
    ("disk is full", " (free space on the disk that holds the database)"),
    (
        "readonly database",
        " (the file, or the folder beside it, is read-only: SQLite writes the file and its"
        " -wal and -shm files; make them writable, or mount the file system read-write)",
    ),
    (
        "unable to open database file",
        " (check that the folder exists and is writable: SQLite writes the file and its -wal"
        " and -shm files beside it)",
    ),
)
"""What to do about the database errors a user can fix, by a piece of SQLite's message."""


def _advice(error: BaseException | None) -> str:
    text = str(error).lower()
    return next((advice for found, advice in _ADVICE if found in text), "")


class _Hot:
    """:meth:`SqlStore._hot`'s block, written out as a class (entered once per milestone):
    the store made ready, a driver transaction, and its failures told as the store tells
    them."""

    __slots__ = ("_one_statement", "_run_id", "_starting", "_store", "_taken", "_transaction")

    def __init__(
        self, store: SqlStore, run_id: str, starting: bool, one_statement: bool, taken: bool
    ) -> None:
        self._store, self._run_id, self._starting = store, run_id, starting
        self._one_statement, self._taken = one_statement, taken

    def __enter__(self) -> Any:
        store = self._store
        store._make_ready()
        self._transaction = driver_transaction(
            store._engine, one_statement=self._one_statement, writer=store._writer
        )
        try:
            return self._transaction.__enter__()
        except DBAPIError as error:
            raise store._failure(error, self._run_id, self._starting) from error

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self._transaction.__exit__(kind, error, trace)
        except IntegrityError as conflict:
            if self._taken:
                raise _conflict(self._run_id) from conflict
            raise
        except DBAPIError as failure:
            raise self._store._failure(failure, self._run_id, self._starting) from failure


def _conflict(run_id: str) -> StateError:
    return StateError(
        f"run {run_id} was changed by another process since it was loaded; nothing was"
        " written: look at it again (journeys status)",
        run_id=run_id,
    )


@contextlib.contextmanager
def _taken(run_id: str) -> Iterator[None]:
    """A history entry numbered like one already written means someone else moved the run
    since it was loaded (a concurrent call, or a process that died mid-run)."""
    try:
        yield
    except IntegrityError as error:
        raise _conflict(run_id) from error


def _same(value: Any) -> Any:
    return value


def _quick_binds(driver: Any) -> None:
    """Adapters to sqlite3 for None and bool that bind them as it does without one: NULL, and
    an integer. Without one, sqlite3 binds a value of any type but int, float, str and
    bytearray by first asking that type, then the value, for an adapter, and each miss is an
    AttributeError whose message is formatted and thrown away: 0.8 us a parameter, where a
    durable run binds about 220 Nones (a tenth of its instructions, callgrind). Found in the
    registry, they cost a call. Registered for the process (sqlite3 has no other place for
    them), and only where the application registered none of its own."""
    register = getattr(driver, "register_adapter", None)
    protocol = getattr(driver, "PrepareProtocol", None)
    known = getattr(driver, "adapters", None)
    if register is None or protocol is None or not isinstance(known, dict):
        return  # not the stdlib's sqlite3: its binding is its own
    for kind, adapt in ((type(None), _same), (bool, int)):
        if (kind, protocol) not in known:
            register(kind, adapt)


def _sqlite_pragmas(connection: Any, synchronous: str) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")  # one of three fixed words
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


# Built once: SQLAlchemy spends more time building a statement from scratch than SQLite
# spends committing it (DBOS's lesson in shared/BASELINES.md); the two that every milestone
# sends are compiled once per store (journeys.engine.prepared), the rest once and cached.
_CHANGING = (
    "status",
    "state",
    "results",
    "completed",
    "error",
    "attempt",
    "saga",
    "cancelling",
    "checkpoints",
    "rollback_to",
    "generations",
    "updated_at",
    "due_at",
    "seq",
    "row_version",
    "lease_owner",
    "lease_expires_at",
    "sleep_until",
)
"""What a save can change; inputs, policy and the run's identity are written once, at create."""


def _update_of(columns: Sequence[str]) -> Any:
    """A save setting ``columns``, if the run's row is still the version loaded."""
    return (
        update(schema.runs)
        .where(schema.runs.c.id == bindparam("loaded_id"))
        .where(schema.runs.c.row_version == bindparam("loaded_version"))
        .values({name: bindparam(name) for name in columns})
    )


_UPDATE_RUN = _update_of(_CHANGING)
_SAME_CHANGING = tuple(name for name in _CHANGING if name not in ("status", "due_at"))
_UPDATE_SAME = _update_of(_SAME_CHANGING)
"""A save that leaves ``status`` and ``due_at`` as they are (RunRecord.indexed)."""
_INSERT_ENTRIES = insert(schema.wal)
_ENTRY_KEYS = (
    "log_id",
    "run_id",
    "seq",
    "namespace",
    "kind",
    "operation",
    "target",
    "trigger",
    "source",
    "dest",
    "milestone",
    "attempt",
    "status",
    "payload",
    "error",
    "idempotency_key",
    "created_at",
    "updated_at",
    "expires_at",
    "tenant_id",
    "user_id",
)
"""The columns of a run's log entry (the others keep their defaults), in the table's order:
:func:`_entry_values` builds rows in it, which a positional driver takes as they are."""


_MAX_ONE_STATEMENT: Final = 16
"""The most log entries a commit writes in one statement (a milestone writes 3 to 5): one
statement is compiled and kept per count; a rarer, larger commit takes the long way."""


def _entries_of(count: int, written: Any) -> Any:
    """``INSERT INTO journeys_wal`` of ``count`` entries (bound as ``KEY_0``, ``KEY_1``, ...),
    as a common table expression, each row only if the CTE ``written`` holds a row. Every
    value is cast to its column's type: PostgreSQL cannot infer the type of a NULL in a
    ``UNION``."""
    wal = schema.wal
    rows = [
        select(
            *(
                cast(bindparam(f"{key}_{index}", type_=wal.c[key].type), wal.c[key].type)
                for key in _ENTRY_KEYS
            )
        ).where(select(written.c.id).exists())
        for index in range(count)
    ]
    return (
        insert(wal).from_select(list(_ENTRY_KEYS), union_all(*rows) if count > 1 else rows[0])
    ).cte("logged")


def _entry_keys(count: int) -> list[str]:
    return [f"{key}_{index}" for index in range(count) for key in _ENTRY_KEYS]


def _moved(count: int) -> tuple[Any, list[str]]:
    """A save on PostgreSQL in one statement: the run's row updated if it is still the
    version loaded, and its ``count`` entries logged if it was; it returns how many rows it
    updated (0 or 1)."""
    moved = _UPDATE_RUN.returning(schema.runs.c.id).cte("moved")
    statement = select(func.count()).select_from(moved).add_cte(_entries_of(count, moved))
    return statement, [*_CHANGING, "loaded_id", "loaded_version", *_entry_keys(count)]


def _started(count: int) -> tuple[Any, list[str]]:
    """A create on PostgreSQL in one statement: the run's row inserted unless its id exists,
    and its ``count`` entries logged if it was; it returns the id when it inserted it."""
    runs = schema.runs
    keys = [column.key for column in runs.columns]
    started = (
        postgresql.insert(runs)
        .values({key: bindparam(key, type_=runs.c[key].type) for key in keys})
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(runs.c.id)
        .cte("started")
    )
    statement = select(started.c.id).add_cte(_entries_of(count, started))
    return statement, [*keys, *_entry_keys(count)]


def _numbered(row: dict[str, Any], entries: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """``row``'s values and those of ``entries`` (:func:`_entry_values`) as
    :func:`_entries_of` binds them."""
    values = dict(row)
    for index, entry in enumerate(entries):
        values.update(zip(_NUMBERED[index], entry, strict=True))
    return values


_NUMBERED: Final = [
    tuple(f"{key}_{index}" for key in _ENTRY_KEYS) for index in range(_MAX_ONE_STATEMENT)
]


def _entry_values(entries: Sequence[Entry], record: RunRecord | None) -> list[tuple[Any, ...]]:
    """The log rows of ``entries``, each a tuple in :data:`_ENTRY_KEYS`' order, JSON not yet
    encoded: a durable run writes about four a milestone, and a mapping made and read per
    row cost as much as SQLite's own insert."""
    if not entries:
        return []
    wal = (record.policy.get("wal") if record else None) or {}
    namespace = wal.get("namespace") or (record.journey if record else None)
    ttl = durations.parse(wal["ttl"]) if wal.get("ttl") else None
    tenant = record.tenant if record else None
    starter = record.user if record else None
    new_id = ids.new_id
    return [
        (
            new_id(),
            e.run_id,
            e.seq,
            namespace,
            e.kind,
            e.trigger if e.kind in ("transition", "event") else e.kind,  # operation
            e.milestone,  # target
            e.trigger,
            e.source,
            e.dest,
            e.milestone,
            e.attempt,
            e.status,
            e.payload,
            e.error,
            e.idempotency_key,
            e.created_at,
            e.created_at,  # updated_at
            e.created_at + ttl if ttl is not None else None,  # expires_at
            tenant,
            # a signal is the caller's doing; the rest, the run's (its starter's)
            e.user if e.kind == "signal" else starter,
        )
        for e in entries
    ]


def _run_row(record: RunRecord) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in _RUN_FIELDS}
    row.update(
        id=record.id,
        tenant_id=record.tenant,
        user_id=record.user,
        row_version=record.row_version,
    )
    return row


def _record(row: Any) -> RunRecord:
    record = RunRecord(
        id=row["id"],
        journey=row["journey"],
        version=row["version"],
        definition_hash=row["definition_hash"],
        state=row["state"],
    )
    for name in _RUN_FIELDS:
        setattr(record, name, row[name])
    record.tenant = row["tenant_id"]
    record.user = row["user_id"]
    record.row_version = row["row_version"]
    record.indexed = (record.status, record.due_at)
    return record

"""The write-ahead log as a service's own tool: :class:`WriteAheadLog`.

The engine writes each run's transitions here; a service writes its own operations with
:meth:`~WriteAheadLog.write_to_log` (the Data Steward's ``write_to_log`` / ``replay_log`` of the
design), in the same table, so one replay shows both. Entries carry the tenant and user of the
``user_context`` that wrote them; a replay given a tenant returns only that tenant's entries.
An entry's ``lifecycle`` sets its retries (``retry_count``, ``delay``, ``backoff``, ``factor``,
``max_delay``) and its ``ttl``; :meth:`~WriteAheadLog.consume` processes due entries with those
retries, and :meth:`~WriteAheadLog.prune` deletes expired ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Integer, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from journeys.definitions import durations
from journeys.definitions.model import Retry
from journeys.engine import ids, moves, schema, slots, texts
from journeys.engine.events import Lineage
from journeys.engine.runner import check_json
from journeys.engine.sqlstore import SqlStore
from journeys.engine.store import Store
from journeys.errors import JourneyError, did_you_mean

__all__ = ["STATUSES", "LogEntry", "WriteAheadLog"]

STATUSES: Final = ("pending", "completed", "failed", "retrying", "dead")
_FILTERS: Final = ("operation", "target", "status", "correlation_id", "kind")
_LIFECYCLE: Final = ("retry_count", "delay", "backoff", "factor", "max_delay", "ttl")
_BACKOFFS: Final = ("fixed", "linear", "exponential")
_TARGET_LIMIT: Final = 500  # the target column's length

Timestamp = datetime | float | int | str | None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of the log, as replayed."""

    log_id: str
    namespace: str | None
    kind: str
    operation: str | None
    target: str | None
    payload: Any
    result: Any
    lifecycle: Mapping[str, Any] | None
    status: str
    retry_count: int
    error: str | None
    created_at: datetime
    updated_at: datetime | None
    updated_by: str | None
    next_attempt_at: datetime | None
    expires_at: datetime | None
    tenant: str | None
    user: str | None
    correlation_id: str | None
    seq: int | None
    milestone: str | None


class WriteAheadLog:
    """The log of a SQL store: ``WriteAheadLog("sqlite:///journeys.db")``, or ``engine.wal``.

    ``authorize`` (an engine's, for ``engine.wal``) is asked before each write, with the
    tenant and user of its ``user_context``: ``write_to_log`` (the namespace), ``update_log``
    (the ``log_id``: status updates and retries), ``consume`` (the namespace) and ``prune``
    (``*``); one refused writes nothing."""

    def __init__(
        self,
        store: str | Store,
        *,
        default_ttl: str | float = "7d",
        clock: Callable[[], float] = time.time,
        authorize: Callable[[Mapping[str, Any], str, str], bool] | None = None,
    ) -> None:
        self._owned = isinstance(store, str)
        opened = SqlStore(store) if isinstance(store, str) else store
        if not isinstance(opened, SqlStore):
            raise JourneyError(
                f"the write-ahead log needs a SQL store (sqlite:///... or postgresql://...),"
                f" not {opened.url}"
            )
        self._store = opened
        self.store = opened
        """The SQL store the log lives in."""
        self._default_ttl = durations.parse(default_ttl)
        self._clock = clock
        self._authorize = authorize
        self._replays: _Replays | None = None  # made on the first replay, for the dialect

    def close(self) -> None:
        """Release the connections of a log opened by URL (an engine's log is the engine's)."""
        if self._owned:
            self._store.close()

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------------

    def write_to_log(
        self,
        namespace: str,
        payload: Any,
        target: str,
        lifecycle: Mapping[str, Any] | None = None,
        user_context: Mapping[str, Any] | None = None,
        *,
        operation: str | None = None,
        correlation_id: str | None = None,
    ) -> str:
        """Write one entry (status ``pending``); return its ``log_id``."""
        return self.write_to_log_batch(
            [
                {
                    "namespace": namespace,
                    "payload": payload,
                    "target": target,
                    "lifecycle": lifecycle,
                    "user_context": user_context,
                    "operation": operation,
                    "correlation_id": correlation_id,
                }
            ]
        )[0]

    def write_to_log_batch(self, entries: Iterable[Mapping[str, Any]]) -> list[str]:
        """Write many entries in one transaction (all or none); return their ``log_id`` s.

        Each entry is a mapping with the arguments of :meth:`write_to_log`.
        """
        now = self._clock()
        rows = [self._row(index, entry, now) for index, entry in enumerate(entries)]
        for row in rows:  # every entry allowed, or none written
            self._ask("write_to_log", row["namespace"], row["tenant_id"], row["user_id"])
        if rows:
            with self._store.transaction() as connection:
                connection.execute(insert(schema.wal), rows)
            self._store.tell_lineage(rows)
        return [row["log_id"] for row in rows]

    def note(
        self,
        kind: str,
        namespace: str,
        payload: Any,
        target: str,
        *,
        operation: str,
        user_context: Mapping[str, Any] | None = None,
        ttl: str | None = None,
    ) -> str:
        """Record something the engine did outside any run (a ``policy`` set at run time, ...):
        one entry of ``kind``, already ``completed``, in one commit; return its ``log_id``."""
        row = self._row(
            0,
            {
                "namespace": namespace,
                "payload": payload,
                "target": target,
                "lifecycle": {"ttl": ttl} if ttl is not None else None,
                "user_context": user_context,
                "operation": operation,
            },
            self._clock(),
        )
        row.update(kind=kind, status="completed")
        with self._store.transaction() as connection:
            connection.execute(insert(schema.wal), [row])
        self._store.tell_lineage([row])
        return str(row["log_id"])

    def on_write(self, recorder: Callable[[Lineage], None]) -> None:
        """Tell ``recorder`` of every write to this store's log once committed (the runs'
        entries and the service's own): asset, operation, namespace, target, time, as the
        Data Steward records lineage. A recorder that raises is logged and ignored."""
        self._store.lineage.append(recorder)

    def update_log_status(
        self,
        log_id: str,
        status: str,
        result: Any = None,
        error: str | None = None,
        user_context: Mapping[str, Any] | None = None,
    ) -> None:
        """Record an entry's outcome: ``completed`` (with ``result``), ``failed`` (with
        ``error``), ``retrying``, ``dead`` or back to ``pending``; ``updated_at`` and
        ``updated_by`` (the user of ``user_context``) say when and by whom. With a tenant in
        ``user_context``, only that tenant's entry can be changed."""
        _check_status(status)
        check_json(result, "result")
        self._ask_context("update_log", log_id, user_context)
        values = {"status": status, "result": result, "error": error}
        self._update(log_id, values, user_context)

    def schedule_retry(
        self,
        log_id: str,
        error: str | None = None,
        user_context: Mapping[str, Any] | None = None,
    ) -> LogEntry:
        """Count a failed attempt of an entry: ``retrying`` with its next attempt's time, as
        its lifecycle says, or ``dead`` once its retries are spent."""
        self._ask_context("update_log", log_id, user_context)
        return self._retry(log_id, error, user_context)

    def _retry(
        self, log_id: str, error: str | None, user_context: Mapping[str, Any] | None
    ) -> LogEntry:
        entry = self.get(log_id, user_context)
        lifecycle = dict(entry.lifecycle or {})
        retry = Retry(
            retries=int(lifecycle.get("retry_count", 3)),
            delay=durations.parse(lifecycle.get("delay", 1)),
            backoff=lifecycle.get("backoff", "exponential"),
            factor=float(lifecycle.get("factor", 2)),
            max_delay=durations.parse(lifecycle["max_delay"]) if "max_delay" in lifecycle else None,
        )
        count = entry.retry_count + 1
        now = self._clock()
        values: dict[str, Any] = {"retry_count": count, "error": error}
        if count > retry.retries:
            values.update(status="dead", next_attempt_at=None)
        else:
            values.update(status="retrying", next_attempt_at=now + retry.delay_before(count))
        self._update(log_id, values, user_context, now)
        return self.get(log_id, user_context)

    def _update(
        self,
        log_id: str,
        values: dict[str, Any],
        user_context: Mapping[str, Any] | None,
        now: float | None = None,
    ) -> None:
        wal = schema.wal
        values.update(
            updated_at=now if now is not None else self._clock(),
            updated_by=_context(user_context, "update").get("user"),
        )
        if values.get("error") is not None:  # an outcome is recorded whatever it says
            values["error"] = texts.escaped(str(values["error"]))
        statement = update(wal).where(wal.c.log_id == _sought(log_id, "log_id"))
        tenant = _tenant(user_context)
        if tenant is not None:
            statement = statement.where(wal.c.tenant_id == tenant)
        with self._store.transaction() as connection:
            changed = connection.execute(statement.values(values)).rowcount
        if changed != 1:
            raise JourneyError(f"no log entry {log_id!r}" + _of(tenant))

    def consume(
        self,
        namespace: str,
        handler: Callable[[LogEntry], Any],
        *,
        limit: int = 100,
        user_context: Mapping[str, Any] | None = None,
    ) -> int:
        """Process the namespace's due entries (``pending``, or ``retrying`` whose time has
        come), oldest first: what ``handler`` returns completes the entry; what it raises
        schedules a retry (or ends it ``dead``). Returns how many were processed."""
        self._ask_context("consume", namespace, user_context)
        wal = schema.wal
        now = self._clock()
        query = (
            _select()
            .where(wal.c.namespace == _sought(namespace, "namespace"), schema.SERVICE_ENTRY)
            .where(
                or_(
                    wal.c.status == "pending",
                    and_(wal.c.status == "retrying", wal.c.next_attempt_at <= now),
                )
            )
            .order_by(wal.c.id)
            .limit(limit)
        )
        tenant = _tenant(user_context)
        if tenant is not None:
            query = query.where(wal.c.tenant_id == tenant)
        with self._store.transaction() as connection:
            due = _entries(connection.execute(query).all(), None)
        for entry in due:  # the outcomes are consume's own writes: authorize was asked for it
            try:
                result = handler(entry)
            except Exception as error:
                self._retry(entry.log_id, f"{type(error).__name__}: {error}", user_context)
            else:
                check_json(result, "result")
                values = {"status": "completed", "result": result, "error": None}
                self._update(entry.log_id, values, user_context)
        return len(due)

    def prune(self, now: Timestamp = None) -> int:
        """Delete the entries whose time to live has passed; return how many."""
        self._ask("prune", "*", None, None)
        moment = _seconds(now, "now") if now is not None else self._clock()
        with self._store.transaction() as connection:
            return int(
                connection.execute(
                    delete(schema.wal).where(schema.wal.c.expires_at <= moment)
                ).rowcount
                or 0
            )

    # --- reading -----------------------------------------------------------------------------

    def get(self, log_id: str, user_context: Mapping[str, Any] | None = None) -> LogEntry:
        """One entry by its ``log_id`` (with a tenant in ``user_context``: that tenant's only)."""
        query = _select().where(schema.wal.c.log_id == _sought(log_id, "log_id"))
        tenant = _tenant(user_context)
        if tenant is not None:
            query = query.where(schema.wal.c.tenant_id == tenant)
        with self._store.transaction() as connection:
            row = connection.execute(query).one_or_none()
        if row is None:
            raise JourneyError(f"no log entry {log_id!r}" + _of(tenant))
        return _entries([row], None)[0]

    def replay_log(
        self,
        namespace: str,
        from_timestamp: Timestamp = None,
        to_timestamp: Timestamp = None,
        filters: Mapping[str, Any] | None = None,
        user_context: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> list[LogEntry]:
        """The namespace's entries written in ``[from_timestamp, to_timestamp)``, in the order
        they were written. ``filters`` narrow by ``operation``, ``target``, ``status``,
        ``correlation_id`` (a run id) or ``kind``. With a tenant in ``user_context``, only
        that tenant's entries."""
        # checked in the order the arguments come, so the first wrong one is the one named
        values: dict[str, Any] = {"namespace": _sought(namespace, "namespace")}
        if from_timestamp is not None:
            values["since"] = _seconds(from_timestamp, "from_timestamp")
        if to_timestamp is not None:
            values["until"] = _seconds(to_timestamp, "to_timestamp")
        sought: dict[str, Any] = {}
        for name, value in (filters or {}).items():
            if name not in _FILTERS:
                raise JourneyError(
                    f"unknown replay filter {name!r}{did_you_mean(name, _FILTERS)}; the filters"
                    f" are {', '.join(_FILTERS)}"
                )
            sought[name] = _sought(value, f"filter {name}")
        # in one order whatever the caller's, so one statement serves each set of filters
        values.update((name, sought[name]) for name in _FILTERS if name in sought)
        tenant = _tenant(user_context)
        if tenant is not None:
            values["tenant"] = tenant
        if limit is not None:
            values["limit"] = int(limit)  # as SQLAlchemy's limit() takes it
        with self._store.transaction() as connection:
            if self._replays is None:
                self._replays = _Replays(connection.dialect)
            return self._replays.run(connection, values)

    # --- internals ---------------------------------------------------------------------------

    def _ask(self, action: str, resource: str, tenant: str | None, user: str | None) -> None:
        moves.ask(self._authorize, action, resource, tenant, user)

    def _ask_context(
        self, action: str, resource: str, user_context: Mapping[str, Any] | None
    ) -> None:
        context = _context(user_context, action)
        self._ask(action, resource, context.get("tenant"), context.get("user"))

    def _row(self, index: int, entry: Mapping[str, Any], now: float) -> dict[str, Any]:
        where = f"entry {index}"
        unknown = set(entry) - {
            "namespace",
            "payload",
            "target",
            "lifecycle",
            "user_context",
            "operation",
            "correlation_id",
        }
        if unknown:
            raise JourneyError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        namespace, target = entry.get("namespace"), entry.get("target")
        if not isinstance(namespace, str) or not namespace:
            raise JourneyError(f"{where}: namespace must be a non-empty string")
        if not isinstance(target, str):
            raise JourneyError(f"{where}: target must be a string")
        # what PostgreSQL's columns keep, checked the same on every store
        texts.check(namespace, f"{where}: namespace")
        texts.check(target, f"{where}: target", _TARGET_LIMIT)
        for name in ("operation", "correlation_id"):
            if entry.get(name) is not None:
                texts.check(entry[name], f"{where}: {name}")
        payload = entry.get("payload")
        check_json(payload, f"{where}: payload")
        lifecycle = _lifecycle(entry.get("lifecycle"), where)
        ttl = durations.parse(lifecycle["ttl"]) if "ttl" in lifecycle else self._default_ttl
        context = _context(entry.get("user_context"), where)
        return {
            "log_id": ids.new_id(),
            "run_id": entry.get("correlation_id"),
            "seq": None,
            "namespace": namespace,
            "kind": "log",
            "operation": entry.get("operation"),
            "target": target,
            "status": "pending",
            "payload": payload,
            "lifecycle": lifecycle or None,
            "retry_count": 0,
            "created_at": now,
            "updated_at": now,
            "expires_at": now + ttl,
            "tenant_id": context.get("tenant"),
            "user_id": context.get("user"),
        }


def _lifecycle(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise JourneyError(f"{where}: lifecycle must be a mapping")
    for key in value:
        if key not in _LIFECYCLE:
            raise JourneyError(
                f"{where}: unknown lifecycle field {key!r}{did_you_mean(str(key), _LIFECYCLE)};"
                f" the fields are {', '.join(_LIFECYCLE)}"
            )
    try:
        for key in ("delay", "max_delay", "ttl"):
            if key in value:
                durations.parse(value[key])
    except ValueError as error:
        raise JourneyError(f"{where}: lifecycle: {error}") from None
    if "backoff" in value and value["backoff"] not in _BACKOFFS:
        raise JourneyError(f"{where}: lifecycle backoff must be one of {', '.join(_BACKOFFS)}")
    count = value.get("retry_count", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise JourneyError(f"{where}: lifecycle retry_count must be a whole number >= 0")
    return dict(value)


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise JourneyError(
            f"unknown status {status!r}{did_you_mean(str(status), STATUSES)}; the statuses are"
            f" {', '.join(STATUSES)}"
        )


def _tenant(user_context: Mapping[str, Any] | None) -> str | None:
    tenant = (user_context or {}).get("tenant")
    return _sought(str(tenant), "user_context tenant") if tenant is not None else None


def _context(user_context: Mapping[str, Any] | None, where: str) -> Mapping[str, Any]:
    """The ``user_context`` of a write, its tenant and user checked as the store keeps them."""
    context = user_context or {}
    for name in ("tenant", "user"):
        if context.get(name) is not None:
            texts.check(context[name], f"{where}: user_context {name}")
    return context


def _sought(value: Any, what: str) -> Any:
    """A value looked up (a namespace, a filter's): text no store can hold is refused, as it
    is on writes, rather than left to fail in the database."""
    return texts.check(value, what, None, verb="looked up") if isinstance(value, str) else value


def _seconds(value: Timestamp, what: str) -> float:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return _seconds(datetime.fromisoformat(value), what)
        except ValueError:
            pass
    raise JourneyError(f"{what}: {value!r} is not a time (a datetime, ISO 8601 text or seconds)")


def _of(tenant: str | None) -> str:
    return "" if tenant is None else f" of tenant {tenant!r}"


_READ = (
    "log_id",
    "namespace",
    "kind",
    "operation",
    "target",
    "payload",
    "result",
    "lifecycle",
    "status",
    "retry_count",
    "error",
    "created_at",
    "updated_at",
    "updated_by",
    "next_attempt_at",
    "expires_at",
    "tenant_id",
    "user_id",
    "run_id",
    "seq",
    "milestone",
)


def _select() -> Any:
    """The columns an entry is read from, in the order of :class:`LogEntry`'s fields (read by
    position: a Row's attribute lookup costs more than the rest of building the entry)."""
    return select(*(schema.wal.c[name] for name in _READ))


class _Replays:
    """The statements of :meth:`WriteAheadLog.replay_log`, compiled once per shape.

    A replay reads thousands of rows, and SQLAlchemy's work around them cost as much as the
    database's: building the statement and its cache key on every call, a result processor
    called on every column of every row (JSON ones included where they are NULL), rows fetched
    one at a time. Each shape of replay (which of the time bounds, filters, tenant and limit
    it has, and which of its values are None: SQL's ``IS NULL``) is compiled once by
    SQLAlchemy Core for the store's dialect, as :mod:`journeys.engine.prepared` does for the
    hot writes; a call hands the values to the driver through the connection (its events and
    error handling as for any statement), fetches every row at once, and decodes only the JSON
    values there are, with SQLAlchemy's own decoder for the dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._compiled: dict[tuple[tuple[str, bool], ...], _Compiled] = {}
        json = schema.wal.c.payload.type.dialect_impl(dialect)
        # None where the driver decodes JSON itself (psycopg). Of the other columns' result
        # processors only SQLite's float() of the times does anything, and fromtimestamp
        # takes an integer as it takes the same float
        self._decode: Callable[[Any], Any] | None = json.result_processor(dialect, None)

    def run(self, connection: Connection, values: Mapping[str, Any]) -> list[LogEntry]:
        """The entries ``values`` select: ``namespace``, then any of ``since``, ``until``, the
        filters (in ``_FILTERS``' order), ``tenant`` and ``limit``."""
        shape = tuple((name, value is None) for name, value in values.items())
        compiled = self._compiled.get(shape)
        if compiled is None:
            compiled = self._compiled[shape] = _Compiled(_replay_statement(values), self._dialect)
        rows = connection.exec_driver_sql(compiled.sql, compiled.parameters(values)).all()
        return _entries(rows, self._decode)


class _Compiled:
    """A SELECT compiled for ``dialect``; its parameters in the driver's style."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        # the values SQLAlchemy bound itself (SQLite's OFFSET 0 after a LIMIT)
        self._defaults = {
            name: value for name, value in compiled.params.items() if value is not None
        }
        self._positions = compiled.positiontup if compiled.positional else None

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The parameters of ``values`` (those of :func:`_replay_statement`'s names)."""
        every = {**self._defaults, **values}
        if self._positions is None:
            return every
        return tuple(every[name] for name in self._positions)


_COLUMNS: Final = {"correlation_id": "run_id", "tenant": "tenant_id"}
"""The columns of a replay's values named otherwise."""


def _replay_statement(values: Mapping[str, Any]) -> Any:
    """The SELECT of a replay of ``values``' shape, a bound parameter named after each value
    (in the order ``replay_log`` always built it)."""
    wal = schema.wal
    query = _select()
    for name, value in values.items():
        if name == "limit":
            continue
        if name == "since":
            query = query.where(wal.c.created_at >= bindparam(name))
        elif name == "until":
            query = query.where(wal.c.created_at < bindparam(name))
        else:
            column = wal.c[_COLUMNS.get(name, name)]
            # what SQLAlchemy makes of `column == None`, which a bound NULL would not match
            query = query.where(column.is_(None) if value is None else column == bindparam(name))
    query = query.order_by(wal.c.created_at, wal.c.id)
    if "limit" in values:
        query = query.limit(bindparam("limit", type_=Integer))
    return query


class _Moments(dict[float | None, datetime | None]):
    """Seconds -> their UTC datetime, each converted once: the entries of one batch share
    their times (``created_at``, ``updated_at`` until a status update, ``expires_at``), and a
    dictionary lookup costs a fifth of ``datetime.fromtimestamp``. Datetimes are immutable, so
    entries can share one."""

    def __init__(self) -> None:
        super().__init__({None: None})

    def __missing__(self, seconds: float | None) -> datetime:
        assert seconds is not None  # None is in from the start
        moment = self[seconds] = datetime.fromtimestamp(seconds, UTC)
        return moment


def _entries(rows: Iterable[Sequence[Any]], decode: Callable[[Any], Any] | None) -> list[LogEntry]:
    """The entries of rows of :func:`_select`'s columns (:class:`LogEntry`'s fields, in order);
    ``decode`` the JSON columns' text (None: they come decoded)."""
    moments = _Moments()
    made = []
    for row in rows:
        values = list(row)
        if decode is not None:
            for index in _JSON_FIELDS:
                if values[index] is not None:
                    values[index] = decode(values[index])
        for index in _TIME_FIELDS:
            values[index] = moments[values[index]]
        made.append(_new_entry(*values))
    return made


_FIELDS: Final = [field.name for field in fields(LogEntry)]
_JSON_FIELDS: Final = tuple(_FIELDS.index(name) for name in ("payload", "result", "lifecycle"))
_TIME_FIELDS: Final = tuple(
    _FIELDS.index(name) for name in ("created_at", "updated_at", "next_attempt_at", "expires_at")
)
_new_entry: Final = slots.constructor(LogEntry)
"""``LogEntry(...)`` for the thousands a replay reads: see :mod:`journeys.engine.slots`."""

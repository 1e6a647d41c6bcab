"""The :class:`Engine`: the public API that starts runs and moves them, blocking or with asyncio.

Every call that changes a run follows one shape: check the caller is allowed and the call fits
the run's state (so a refused or misplaced call writes nothing), fire the move on the compiled
machine (:mod:`journeys.engine.moves` prepares those of runs that exist), then let the runner
drive the run until it waits, parks or finishes. ``start`` and ``astart`` (and each pair after
them) share that core; only the driver differs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Final, Literal

from journeys.definitions.loader import load_definition
from journeys.definitions.model import Definition
from journeys.engine import faults, ids, leases, moves, outbox, store
from journeys.engine import inputs as inputs_module
from journeys.engine import policy as policy_module
from journeys.engine import runner as runner_module
from journeys.engine import stats as stats_module
from journeys.engine.compiler import Compiled
from journeys.engine.events import EVENTS, Event, Listener
from journeys.engine.run import FINISHED, Entry, Run, RunRecord
from journeys.engine.store import Claimable
from journeys.engine.wal import WriteAheadLog
from journeys.errors import (
    AuthorizationError,
    JourneyError,
    PlanError,
    StateError,
    StoreError,
    WaitTimeout,
    did_you_mean,
)
from journeys.handlers import builtin
from journeys.handlers.registry import Registry, default_registry
from journeys.planning import builder as planning_builder
from journeys.planning.model import Plan

__all__ = ["DEFAULT_STORE", "WORK", "Authorize", "Engine", "Priority"]

_LOGGER = logging.getLogger("journeys.engine")

DEFAULT_STORE = "sqlite:///journeys.db"

Authorize = Callable[[Mapping[str, Any], str, str], bool]
"""``authorize(user_context, action, resource) -> bool``: asked before every call that changes
something, before anything is written; ``user_context`` holds ``tenant`` and ``user``.
``action`` is ``start``, ``advance``, ``fail``, ``navigate``, ``complete``, ``cancel``,
``rollback``, ``resume`` or ``set_policy`` (a call's own), ``recover`` or ``resume`` again when
the engine takes a run whose mover died or a queued or due run (asked with the run's tenant and
user; a refused run is left, unleased, for other engines), and ``write_to_log``,
``update_log``, ``consume``, ``prune`` or ``drain_events`` for the log (:attr:`Engine.wal`).
``resource`` is the journey name (for ``start``), the selector (for ``set_policy``), the
namespace (``write_to_log``, ``consume``), the ``log_id`` (``update_log``), ``*`` (``prune``,
``drain_events``) or the run id."""


class Engine:
    """Runs journeys over a store.

    ``store`` is a URL (``sqlite:///journeys.db``, the default, or ``JOURNEYS_DB``;
    ``postgresql://user@host/db``; ``memory:``) or a :class:`~journeys.engine.store.Store`.
    ``registry`` holds the handlers (default: the one :func:`journeys.handler` fills; the
    built-ins are always there). ``authorize`` is asked before anything is written.
    ``inline_delay``: retry delays up to this many seconds are waited in the call; a longer one
    parks the run as ``waiting`` until :meth:`resume_due`. ``listener`` is called with a
    :class:`~journeys.engine.events.Progress` at every step of every run. ``policies`` is a
    policy file (``default:`` and ``journeys:`` by name or glob) layered over each journey's own
    ``policies:`` (with none, ``JOURNEYS_POLICY_FILE`` names one); an edit to it, like a change
    of the ``JOURNEYS_<CAPABILITY>_...`` variables, applies to the next run started. A bad
    policy file or variable is an error here already. ``lease``: seconds a run this engine
    moves stays its without a sign of life (renewed while it works); after that, if the engine
    died, a worker or :meth:`recover` takes the run (:mod:`journeys.engine.worker`).
    """

    def __init__(
        self,
        store: str | store.Store | None = None,
        *,
        registry: Registry | None = None,
        authorize: Authorize | None = None,
        inline_delay: float = 5.0,
        listener: Listener | None = None,
        policies: str | os.PathLike[str] | None = None,
        lease: float = 30.0,
    ) -> None:
        url = store if store is not None else os.environ.get("JOURNEYS_DB", DEFAULT_STORE)
        self.store = _open_store(url)
        self.registry = registry if registry is not None else default_registry
        builtin.register(self.registry)
        self._authorize = authorize
        self._policies = policy_module.Policies(policies)
        if not lease > 0:
            raise JourneyError(f"lease={lease!r}: a lease is a number of seconds > 0")
        self.owner = ids.owner()
        """This engine in the leases of the runs it moves (host, process, a random part)."""
        self.lease = lease
        self._runner = runner_module.Runner(
            self.store,
            self.registry,
            inline_delay=inline_delay,
            listener=listener,
            owner=self.owner,
            lease=lease,
        )
        self._heart = leases.Heartbeat(self.store, self.owner, lease, self._runner.clock)
        self._moves = moves.Moves(self.store, self.registry, self._runner, authorize)
        self._saved_definitions: set[str] = set()
        self._wal: WriteAheadLog | None = None
        self._loops = threading.local()  # a private event loop per thread (workers have many)
        self._all_loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()
        self._abandoned: set[str] = set()  # runs it stopped moving when the store failed

    # --- starting ------------------------------------------------------------------------

    def start(
        self,
        definition: Definition | str | os.PathLike[str],
        inputs: Mapping[str, Any] | None = None,
        *,
        tenant: str | None = None,
        user: str | None = None,
        run_id: str | None = None,
        policy: Mapping[str, Any] | None = None,
        wait: bool = True,
        priority: Priority | None = None,
    ) -> Run:
        """Start a run and drive it until it waits or finishes; return it.

        ``definition`` is a :class:`Definition` or a path to one. ``run_id`` makes the start
        idempotent: starting an id that exists returns that run and runs nothing. ``policy``
        overrides the journey's policies for this run (``{"saga": {"enabled": False}}``).
        With ``wait=False`` the run is only recorded, ``pending``, for a worker
        (``journeys worker``) to run; :meth:`wait` waits for its outcome. ``priority``
        (``high``, ``normal``, ``low``; default the journey's) orders the workers' queue.
        Bad inputs raise :class:`~journeys.InputError`, unknown handlers
        :class:`~journeys.HandlerError` (not for a queued run: its handlers are the workers'),
        before anything is written.
        """
        prepared, existing = self._begin(
            definition,
            inputs,
            tenant,
            user,
            run_id,
            policy,
            blocking=wait,
            queued=not wait,
            priority=priority,
        )
        if existing is not None:
            return existing
        if not wait:
            return prepared[1].snapshot()
        try:
            return self._drive(prepared)
        except runner_module.AlreadyStarted as started:
            return _same_journey(started.existing, prepared[0].definition, tenant)

    async def astart(
        self,
        definition: Definition | str | os.PathLike[str],
        inputs: Mapping[str, Any] | None = None,
        *,
        tenant: str | None = None,
        user: str | None = None,
        run_id: str | None = None,
        policy: Mapping[str, Any] | None = None,
        wait: bool = True,
        priority: Priority | None = None,
    ) -> Run:
        """:meth:`start` for asyncio: async handlers run on the caller's loop."""
        prepared, existing = self._begin(
            definition,
            inputs,
            tenant,
            user,
            run_id,
            policy,
            blocking=False,
            queued=not wait,
            priority=priority,
        )
        if existing is not None:
            return existing
        if not wait:
            return prepared[1].snapshot()
        try:
            return await self._adrive(prepared)
        except runner_module.AlreadyStarted as started:
            return _same_journey(started.existing, prepared[0].definition, tenant)

    def _begin(
        self,
        definition: Definition | str | os.PathLike[str],
        inputs: Mapping[str, Any] | None,
        tenant: str | None,
        user: str | None,
        run_id: str | None,
        policy: Mapping[str, Any] | None,
        *,
        blocking: bool,
        queued: bool = False,
        priority: Priority | None = None,
    ) -> tuple[moves.Prepared, Run | None]:
        if not isinstance(definition, Definition):
            definition = load_definition(definition)
        if run_id is not None:
            _check_run_id(run_id)
        self._moves.check("start", definition.journey, tenant, user)
        compiled = self._moves.compile(definition)
        if not queued:  # a queued run's handlers are the workers' (they check them)
            self._moves.check_handlers(compiled)
        if blocking:  # refuse before the run is created, not after (it stayed `pending`)
            self._refuse_async_in_a_loop(compiled)
        data = inputs_module.validate(definition, inputs)
        # every field of every capability, with rollback.checkpoints and wal.namespace filled in
        # from the definition; the run keeps it whatever changes after
        resolved, values = self._policies.for_run(definition, policy)
        record = RunRecord(
            id=run_id if run_id is not None else ids.new_id(),
            journey=definition.journey,
            version=definition.version,
            definition_hash=definition.content_hash,
            state=compiled.first,
            inputs=data,
            tenant=tenant,
            user=user,
            saga=definition.kind == "saga" and bool(values["saga"]["enabled"]),
            wal=bool(values["wal"]["enabled"]),
            policy=values,
            priority=_priority(priority or definition.priority),
            namespace=definition.namespace,
        )
        entries = []
        if record.wal:  # the policy it started with, and where each value came from
            origins = {name: dict(fields) for name, fields in resolved.origins.items()}
            entries.append(record.entry("policy", payload={**values, "origins": origins}))
        forward, planning = values["forward_docs"], values["planning"]
        keeps_plan = forward["enabled"] and forward["generate_plan"]
        gated = planning["enabled"] and planning["validate_plan"]
        if keeps_plan or gated:  # with both off, no plan is made: it costs nothing
            plan = planning_builder.build(
                definition,
                inputs=data,
                tenant=tenant,
                policy=resolved,
                registry=self.registry,
                store=self.store,
                handlers_checked=not queued,  # a queued run: the workers have them
            )
            if gated and plan.errors:  # before anything is written
                raise PlanError(definition.journey, plan.errors, run_id=run_id)
            if keeps_plan:  # the forward documentation of the run, written with its start
                document = plan.to_dict()
                del document["diagram"]  # drawn again from the pinned definition when needed
                entries.append(record.entry("plan", payload=document))
        if run_id is not None:  # a start of an id that exists writes nothing, not even this
            existing = self.store.load(run_id)  # definition (the create below stays the guard)
            if existing is not None:
                return (compiled, record, [], False), _same_journey(existing, definition, tenant)
        if definition.content_hash not in self._saved_definitions:
            self.store.save_definition(definition)
            self._saved_definitions.add(definition.content_hash)
        if record.wal and not queued:
            # Created by the drive's first commit, with the first intent: nothing runs before
            # it, and a run that exists already stops the drive there (runner.AlreadyStarted).
            return (compiled, record, entries, False), None
        if queued:  # due now, held by nobody, for a worker
            record.due_at = record.created_at
        else:  # held while this call drives it: no worker takes it meanwhile
            self._runner.lease_for(record)
        existing = self.store.create(record, entries)
        if existing is not None:
            return (compiled, record, [], False), _same_journey(existing, definition, tenant)
        return (compiled, record, [], False), None

    # --- moving a run ----------------------------------------------------------------------

    def advance(
        self,
        run_id: str,
        milestone: str,
        data: Any = None,
        *,
        tenant: str | None = None,
        user: str | None = None,
    ) -> Run:
        """Complete the wait milestone ``milestone`` with ``data`` (it lands in ``results``)."""
        return self._drive(self._moves.advance(run_id, milestone, data, tenant, user))

    async def aadvance(
        self,
        run_id: str,
        milestone: str,
        data: Any = None,
        *,
        tenant: str | None = None,
        user: str | None = None,
    ) -> Run:
        """:meth:`advance` for asyncio."""
        return await self._adrive(self._moves.advance(run_id, milestone, data, tenant, user))

    def fail(
        self,
        run_id: str,
        milestone: str,
        error: str,
        *,
        tenant: str | None = None,
        user: str | None = None,
    ) -> Run:
        """Report that the wait milestone ``milestone`` failed (a saga then compensates)."""
        return self._drive(self._moves.fail(run_id, milestone, error, tenant, user))

    async def afail(
        self,
        run_id: str,
        milestone: str,
        error: str,
        *,
        tenant: str | None = None,
        user: str | None = None,
    ) -> Run:
        """:meth:`fail` for asyncio."""
        return await self._adrive(self._moves.fail(run_id, milestone, error, tenant, user))

    def navigate(
        self, run_id: str, to: str, *, tenant: str | None = None, user: str | None = None
    ) -> Run:
        """Move a session to the pillar ``to`` and run that pillar's action."""
        return self._drive(self._moves.navigate(run_id, to, tenant, user))

    async def anavigate(
        self, run_id: str, to: str, *, tenant: str | None = None, user: str | None = None
    ) -> Run:
        """:meth:`navigate` for asyncio."""
        return await self._adrive(self._moves.navigate(run_id, to, tenant, user))

    def complete(self, run_id: str, *, tenant: str | None = None, user: str | None = None) -> Run:
        """End a session."""
        return self._drive(self._moves.complete(run_id, tenant, user))

    async def acomplete(
        self, run_id: str, *, tenant: str | None = None, user: str | None = None
    ) -> Run:
        """:meth:`complete` for asyncio."""
        return await self._adrive(self._moves.complete(run_id, tenant, user))

    def cancel(self, run_id: str, *, tenant: str | None = None, user: str | None = None) -> Run:
        """Stop a run; a saga (saga policy on) first compensates what it completed."""
        return self._drive(self._moves.cancel(run_id, tenant, user))

    async def acancel(
        self, run_id: str, *, tenant: str | None = None, user: str | None = None
    ) -> Run:
        """:meth:`cancel` for asyncio."""
        return await self._adrive(self._moves.cancel(run_id, tenant, user))

    def rollback(
        self, run_id: str, to: str, *, tenant: str | None = None, user: str | None = None
    ) -> Run:
        """Roll a run back to the checkpoint ``to``: compensate, in reverse, the milestones
        completed after it, restore its results as they were there, and leave it
        ``rolled_back``; :meth:`resume` goes on from there. Needs the rollback policy."""
        return self._drive(self._moves.rollback(run_id, to, tenant, user))

    async def arollback(
        self, run_id: str, to: str, *, tenant: str | None = None, user: str | None = None
    ) -> Run:
        """:meth:`rollback` for asyncio."""
        return await self._adrive(self._moves.rollback(run_id, to, tenant, user))

    def resume(self, run_id: str, *, tenant: str | None = None, user: str | None = None) -> Run:
        """Go on forward from the checkpoint a run was rolled back to."""
        return self._drive(self._moves.resume(run_id, tenant, user))

    async def aresume(
        self, run_id: str, *, tenant: str | None = None, user: str | None = None
    ) -> Run:
        """:meth:`resume` for asyncio."""
        return await self._adrive(self._moves.resume(run_id, tenant, user))

    def resume_due(self) -> list[Run]:
        """Continue every run that is due (a parked retry or sleep whose time has come, a
        wait whose deadline passed) and nobody holds; return them. Workers do this
        continuously (``journeys worker``)."""
        return self._drive_all(self._claim_runs({"due"}))

    async def aresume_due(self) -> list[Run]:
        """:meth:`resume_due` for asyncio."""
        return await self._adrive_all(self._claim_runs({"due"}))

    def wait(self, run_id: str, *, timeout: float | None = None, tenant: str | None = None) -> Run:
        """Wait until the run stops moving: finished, or waiting for a call from outside
        (advance, navigate...); a run parked until a due time is still moving. Returns it;
        raises :class:`~journeys.WaitTimeout` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.01
        while True:
            run = self.get(run_id, tenant=tenant)
            if run.status in FINISHED or (run.status == "waiting" and run.due_at is None):
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"run {run_id} is still {run.status} at {run.state!r} after {timeout:g} s",
                    run_id=run_id,
                )
            time.sleep(pause if deadline is None else min(pause, deadline - time.monotonic()))
            pause = min(pause * 2, 0.5)

    def work(self, *, limit: int = 1, namespaces: Sequence[str] = ()) -> list[Run]:
        """Claim up to ``limit`` runs that are due for a worker (queued, due, or whose mover
        died), highest priority first, and drive each; return them. One round of what
        :class:`~journeys.Worker` does in a loop. A run this engine cannot take (its handlers
        are not loaded here, ``authorize`` refuses) is left for another worker."""
        return self._drive_all(self._claim_runs(WORK, limit=limit, namespaces=namespaces))

    def recover(self) -> list[Run]:
        """Finish every run a crash left unfinished (``pending``, ``running`` or
        ``compensating``); return them.

        With the WAL policy on, a milestone whose outcome was committed is never called again;
        one whose outcome was not (its intent is the last entry) is called again, with the same
        idempotency key: handlers are called at least once, outcomes recorded exactly once. A
        saga caught compensating goes on compensating. With the WAL off, a run resumes from its
        last stop (start, wait), calling again what it did since.

        It takes only runs whose mover is gone: a process of this machine that has exited
        (it is asked at once), or any whose lease has expired (``lease`` seconds after its
        last sign of life). So it is safe beside live workers, engines and other recoverers;
        workers do the same by themselves.
        """
        self._let_go()
        return self._drive_all(self._claim_runs({"interrupted"}, dead_owners=self._dead()))

    async def arecover(self) -> list[Run]:
        """:meth:`recover` for asyncio."""
        self._let_go()
        return await self._adrive_all(self._claim_runs({"interrupted"}, dead_owners=self._dead()))

    def _let_go(self) -> None:
        """Release the leases of the runs this engine stopped moving when the store failed
        under them: they are still its own (its process lives), and without this its
        :meth:`recover` would leave them until their lease expired."""
        with self._lock:
            abandoned, self._abandoned = self._abandoned, set()
        try:
            self.store.release(self.owner, abandoned)
        except StoreError:
            with self._lock:
                self._abandoned |= abandoned
            raise

    def _dead(self) -> list[str]:
        """The lease holders known to be gone: engines of this machine whose process has
        exited. One on another machine is known to be gone only when its lease expires."""
        return [owner for owner in self.store.holders() if ids.process_gone(owner)]

    def _claim_runs(
        self,
        what: Collection[Claimable],
        *,
        limit: int = 100_000,
        namespaces: Sequence[str] = (),
        dead_owners: Sequence[str] = (),
    ) -> list[moves.Prepared]:
        now = self._runner.clock()
        only = None
        if self._moves.authorizes:  # asked before the claim: a refused run is not even leased
            only = self._allowed(now, what, limit, namespaces, dead_owners)
            if not only:
                return []
        claimed = self.store.claim(
            self.owner,
            now,
            now + self.lease,
            what=what,
            limit=limit,
            namespaces=namespaces,
            dead_owners=dead_owners,
            only=only,
        )
        self._heart.hold(claimed)  # renewed until driven: a long recovery keeps them all
        found = []
        for run_id in claimed:
            try:
                found.append(self._moves.take(run_id))
                if faults.ARMED:  # test-only: die holding the lease (see engine/faults.py)
                    faults.hit("after_claim", found[-1][1].state)
            except JourneyError as error:
                self._heart.drop([run_id])  # its lease runs out; another worker may take it
                _LOGGER.warning("run %s left to others: %s", run_id, error)
        return found

    def _allowed(
        self,
        now: float,
        what: Collection[Claimable],
        limit: int,
        namespaces: Sequence[str],
        dead_owners: Sequence[str],
    ) -> list[str]:
        """The runs due for this engine that ``authorize`` lets it take (``recover`` or
        ``resume``, asked with the run's tenant and user), up to ``limit``; the others are
        left, untouched, for an engine that may take them (past at most
        :data:`_REFUSED_LOOKED_PAST` of them a round)."""
        found = self.store.candidates(
            now,
            what=what,
            limit=limit + _REFUSED_LOOKED_PAST,
            namespaces=namespaces,
            dead_owners=dead_owners,
        )
        allowed: list[str] = []
        for run_id, status, tenant, user in found:
            try:
                self._moves.ask(moves.taking(status), run_id, tenant, user)
            except AuthorizationError as error:
                _LOGGER.warning("run %s left to others: %s", run_id, error)
                continue
            allowed.append(run_id)
            if len(allowed) == limit:
                break
        return allowed

    def _drive_all(self, prepared: list[moves.Prepared]) -> list[Run]:
        runs = []
        for one in prepared:
            try:
                runs.append(self._drive(one))
            except StateError:  # another process took it since (its lease had run out)
                continue
        return runs

    async def _adrive_all(self, prepared: list[moves.Prepared]) -> list[Run]:
        runs = []
        for one in prepared:
            try:
                runs.append(await self._adrive(one))
            except StateError:
                continue
        return runs

    # --- policies --------------------------------------------------------------------------

    def policy_for(
        self, journey: Definition | str | os.PathLike[str]
    ) -> policy_module.ResolvedPolicy:
        """The policy the next run of ``journey`` would start with, and where each value came
        from: a :class:`~journeys.ResolvedPolicy`. ``journey`` is a definition, a path to one,
        or a journey's name (then its own ``policies:`` play no part: give the definition)."""
        if isinstance(journey, str) and policy_module.is_journey_name(journey):
            return self._policies.resolve(journey)
        if not isinstance(journey, Definition):
            journey = load_definition(journey)
        return self._policies.resolve(journey)

    def set_policy(
        self,
        selector: str,
        policy: Mapping[str, Any] | None,
        *,
        tenant: str | None = None,
        user: str | None = None,
    ) -> None:
        """Override, from the next run on, the policies of the journeys ``selector`` (a name,
        or a glob such as ``operations_*``) matches: ``{"saga": {"enabled": False}}``.

        The override replaces the one ``selector`` had (``None`` removes it); it ranks above
        policy files and the environment and below a call's own ``policy=``; a more specific
        selector wins, as in policy files. It holds for this engine until the process ends.
        It is checked by the policy schema, and on a SQL store first written to the log
        (an entry of kind ``policy``, namespace ``journeys.policy``, operation ``set_policy``,
        target ``selector``, kept a year), with ``tenant`` and ``user``, whom ``authorize`` is
        asked about first.
        """
        self._moves.check("set_policy", selector, tenant, user)

        def record(checked: dict[str, Any]) -> None:
            try:
                log = self.wal
            except JourneyError:  # a store with no log (memory:): nothing to write to
                return
            log.note(
                "policy",
                policy_module.RUNTIME_NAMESPACE,
                {"selector": selector, "policy": checked},
                selector,
                operation="set_policy",
                user_context={"tenant": tenant, "user": user},
                ttl="365d",
            )

        self._policies.set(selector, policy, before=record)

    def on(self, event: str, subscriber: Callable[[Event], None]) -> None:
        """Call ``subscriber(event)`` in this process whenever a run of this engine causes
        ``event`` (``run_completed``, ``compensation_failed``, ... or ``*`` for all), once the
        move is saved. An application's alerting hangs here; a subscriber that raises is
        logged and does not disturb the run."""
        if event != "*" and event not in EVENTS:
            raise JourneyError(
                f"unknown event {event!r}{did_you_mean(event, EVENTS)}; the events are"
                f" {', '.join(EVENTS)} (or * for all)"
            )
        self._runner.subscribers.setdefault(event, []).append(subscriber)

    def drain_events(self, relay: Callable[[Event], None], *, limit: int = 1000) -> int:
        """Hand the outbox's undelivered events (runs with the WAL on) to ``relay`` in the order
        they were written, marking each delivered once ``relay`` returns: at least once, in
        order. Stops at the first event ``relay`` raises on (it stays undelivered); returns how
        many were delivered. Run one relay at a time per store. ``authorize`` is asked
        (``drain_events``, ``*``) first."""
        self._moves.ask("drain_events", "*", None, None)
        return outbox.drain(self.wal, relay, limit=limit)

    @property
    def wal(self) -> WriteAheadLog:
        """The store's write-ahead log, for a service's own entries and for replay (SQL stores
        only)."""
        if self._wal is None:
            self._wal = WriteAheadLog(self.store, authorize=self._authorize)
        return self._wal

    # --- reading ---------------------------------------------------------------------------

    def get(self, run_id: str, *, tenant: str | None = None) -> Run:
        """The run as it stands; :class:`~journeys.RunNotFound` if there is none (or, when
        ``tenant`` is given, none of that tenant's)."""
        return self._moves.load(run_id, tenant)[1].snapshot()

    def history(self, run_id: str, *, tenant: str | None = None) -> list[Entry]:
        """The run's history (write-ahead log) entries, in order; empty with the WAL off."""
        self._moves.load(run_id, tenant)
        return self.store.history(run_id)

    def stats(
        self,
        journey: str | None = None,
        *,
        since: stats_module.Since = None,
        tenant: str | None = None,
    ) -> stats_module.Stats:
        """What the store's runs add up to now: runs by status, failure rate, each milestone's
        attempts and durations, compensations, and the queue of due work: a
        :class:`~journeys.Stats`. Only the runs of ``journey``, of ``tenant``, created since
        ``since`` (a datetime, ISO 8601 text, or a duration such as ``"1h"`` meaning that long
        ago) are counted. SQL stores only."""
        return stats_module.stats(self.store, journey=journey, since=since, tenant=tenant)

    def definition(self, run_id: str, *, tenant: str | None = None) -> Definition:
        """The exact definition the run started with; :class:`~journeys.RunNotFound` as
        :meth:`get`."""
        return self._moves.load(run_id, tenant)[0].definition

    # --- planning --------------------------------------------------------------------------

    def plan(
        self,
        definition: Definition | str | os.PathLike[str],
        inputs: Mapping[str, Any] | None = None,
        *,
        tenant: str | None = None,
        policy: Mapping[str, Any] | None = None,
        deadline: float | None = None,
        planner: str | None = None,
        handlers_checked: bool | None = None,
    ) -> Plan:
        """The plan of a run of ``definition`` with these ``inputs``, as :meth:`start` would
        run it (this engine's policies, ``policy`` overriding them), without running anything:
        a :class:`~journeys.Plan` with its steps, compensations, estimates, errors and warnings.

        ``inputs`` None: not given (a preview). Handler names are checked against this
        engine's registry (a missing one is an error once it holds any handler besides the
        built-ins, or with ``handlers_checked=True``). With ``planning.learn_from_results``
        on, estimates come from the runs in this store (``tenant``'s only, when one is
        given). ``deadline`` (seconds): an error if the worst case is longer.
        """
        if not isinstance(definition, Definition):
            definition = load_definition(definition)
        return planning_builder.build(
            definition,
            inputs=inputs,
            tenant=tenant,
            policy=planning_builder.resolve_policy(self._policies, definition, policy),
            registry=self.registry,
            store=self.store,
            handlers_checked=handlers_checked,
            deadline=deadline,
            planner=planner,
        )

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the store's connections and the private event loop, if any."""
        self._heart.stop()
        ids.forget(self.owner)  # the runs it held (if a failure stopped it) are recoverable
        with self._lock:
            loops, self._all_loops = self._all_loops, []
        for loop in loops:
            if not loop.is_closed() and not loop.is_running():
                loop.close()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- internals -------------------------------------------------------------------------

    def _drive(self, prepared: moves.Prepared) -> Run:
        compiled, record, entries, claim = prepared
        # Every blocking call, not only start: inside a running loop the private loop cannot run
        # an async handler, and the RuntimeError was taken for the handler's own failure (the run
        # retried, then failed or compensated). The moves prepared so far are only in memory.
        self._refuse_async_in_a_loop(compiled)
        self._heart.hold([record.id])
        try:
            self._claim(compiled, record, entries, claim)
            drive = self._runner.drive(compiled, record, entries)
            runner_module.run_sync(drive, self._run_coroutine)
        except StoreError:
            with self._lock:
                self._abandoned.add(record.id)
            raise
        finally:
            self._heart.drop([record.id])
        return record.snapshot()

    async def _adrive(self, prepared: moves.Prepared) -> Run:
        compiled, record, entries, claim = prepared
        self._heart.hold([record.id])
        try:
            self._claim(compiled, record, entries, claim)
            await runner_module.run_async(self._runner.drive(compiled, record, entries))
        except StoreError:
            with self._lock:
                self._abandoned.add(record.id)
            raise
        finally:
            self._heart.drop([record.id])
        return record.snapshot()

    def _claim(
        self, compiled: Compiled, record: RunRecord, entries: list[Entry], claim: bool
    ) -> None:
        """Write the move a call made to an existing run before any handler runs.

        The write is conditional on the run being as it was loaded, so of two callers moving
        the same run at once (two advances, a cancel racing an advance, two resumers) one wins
        and the other gets a :class:`StateError` having run nothing; and ``journeys status``
        shows the run ``running`` while it runs, not still ``waiting``. It is written moving
        and leased to this engine, no longer due: until this engine stops it (or dies), no
        worker takes it again, whatever its WAL policy (with the WAL off nothing else is
        written before it stops).
        """
        if claim:
            record.updated_at = self._runner.clock()
            self._runner.moving(compiled, record)
            self._runner.lease_for(record)
            self.store.save(record, entries)
            entries.clear()

    def _run_coroutine(self, coroutine: Any) -> Any:
        """Run an async handler for the blocking API, on this thread's private event loop
        (one loop cannot run in two threads at once)."""
        loop: asyncio.AbstractEventLoop | None = getattr(self._loops, "loop", None)
        if loop is None or loop.is_closed():
            loop = self._loops.loop = asyncio.new_event_loop()
            with self._lock:
                self._all_loops.append(loop)
        return loop.run_until_complete(coroutine)

    def _refuse_async_in_a_loop(self, compiled: Compiled) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        for name in moves.handler_names(compiled):
            if self.registry.get(name).is_async:
                raise JourneyError(
                    f"journey {compiled.definition.journey!r} has async handlers ({name}) and"
                    " this thread runs an event loop: use await engine.astart(...) and the other"
                    " a-methods"
                )


def _same_journey(existing: RunRecord, definition: Definition, tenant: str | None) -> Run:
    """The run that already has the id a start asked for, if it is of the same journey (and
    of the tenant starting, if one is given).

    Another tenant's run is not handed over (it was: its inputs and results, to anyone who
    knew or guessed its id), nor is its journey named; that the id is taken cannot be hidden,
    since ids are unique in a store."""
    if tenant is not None and existing.tenant != tenant:
        raise StateError(
            f"run id {existing.id!r} is already used; start with another id (or none: one is made)",
            run_id=existing.id,
        )
    if existing.journey != definition.journey:
        raise StateError(
            f"run id {existing.id!r} is already used by a run of journey {existing.journey!r}",
            run_id=existing.id,
        )
    return existing.snapshot()


def _check_run_id(run_id: str) -> None:
    if (
        not isinstance(run_id, str)
        or not run_id
        or len(run_id) > 200
        or not run_id.isprintable()
        or any(c.isspace() for c in run_id)
    ):
        raise JourneyError(
            f"{run_id!r} cannot be a run id: use 1 to 200 printable characters without spaces"
        )


def _open_store(url: str | store.Store) -> store.Store:
    return store.open(url)


Priority = Literal["high", "normal", "low"]
_PRIORITIES: Final = {"high": 2, "normal": 1, "low": 0}
_REFUSED_LOOKED_PAST: Final = 1000
"""How many runs ``authorize`` refused an engine looks past in one round for runs it may take."""
WORK: Final[frozenset[Claimable]] = frozenset({"new", "due", "interrupted"})
"""What a worker takes: queued runs, due runs, runs whose mover died."""


def _priority(name: str) -> int:
    if name not in _PRIORITIES:
        raise JourneyError(f"priority {name!r}: use high, normal or low")
    return _PRIORITIES[name]

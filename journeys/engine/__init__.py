"""The engine: a Definition compiled into a `transitions` machine, run over a store.

One module an idea, in the order data flows: :mod:`compiler` (the machine), :mod:`runner` (one
drive of a run, blocking or asyncio), :mod:`engine` (the public :class:`~journeys.Engine`),
:mod:`policy` (which capabilities a run has), :mod:`inputs`, :mod:`run` (the run and its
history entries), :mod:`events` (progress, events, lineage), the stores (:mod:`store`,
:mod:`sqlstore`, :mod:`schema`, :mod:`migrations`), the log as an API (:mod:`wal`), a run
rebuilt from its log alone (:mod:`replay`) and the outbox (:mod:`outbox`).
"""

"""journeys: declarative journeys and sagas in YAML, run by one durable engine.

The public face of the package; everything else is internal::

    import journeys

    definition = journeys.load_definition("definitions/data_ingest_pipeline.yaml")

    @journeys.handler("storage.upload")
    def upload(ctx):
        return {"file_id": ctx.idempotency_key}

    engine = journeys.Engine("sqlite:///journeys.db")
    run = engine.start(definition, inputs={...})
    engine.history(run.id); engine.recover(); engine.wal.replay_log("data_solution")
    print(journeys.render(engine.plan(definition, inputs={...}), format="md"))
"""

from journeys.definitions.loader import load_definition, load_policy_file
from journeys.definitions.model import Definition, Estimate, Milestone, Retry
from journeys.engine.engine import Engine
from journeys.engine.policy import ResolvedPolicy
from journeys.engine.run import Entry, Run
from journeys.engine.stats import Stats
from journeys.engine.store import MemoryStore, Store
from journeys.engine.wal import LogEntry, WriteAheadLog
from journeys.engine.worker import Worker
from journeys.errors import (
    AuthorizationError,
    DefinitionError,
    Fatal,
    HandlerError,
    InputError,
    JourneyError,
    PlanError,
    Problem,
    RunNotFound,
    StateError,
    StoreError,
    WaitTimeout,
)
from journeys.handlers.context import Context
from journeys.handlers.registry import Registry, handler
from journeys.planning.builder import plan
from journeys.planning.model import Plan, PlanStep
from journeys.planning.planners import planner
from journeys.renderers import render

__version__ = "0.1.0"

__all__ = [
    "AuthorizationError",
    "Context",
    "Definition",
    "DefinitionError",
    "Engine",
    "Entry",
    "Estimate",
    "Fatal",
    "HandlerError",
    "InputError",
    "JourneyError",
    "LogEntry",
    "MemoryStore",
    "Milestone",
    "Plan",
    "PlanError",
    "PlanStep",
    "Problem",
    "Registry",
    "ResolvedPolicy",
    "Retry",
    "Run",
    "RunNotFound",
    "StateError",
    "Stats",
    "Store",
    "StoreError",
    "WaitTimeout",
    "Worker",
    "WriteAheadLog",
    "__version__",
    "handler",
    "load_definition",
    "load_policy_file",
    "plan",
    "planner",
    "render",
]

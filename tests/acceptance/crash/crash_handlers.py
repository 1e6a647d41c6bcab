"""Handlers for the blind crash tests: an idempotent effect ledger, and a log of every call.

The ledger is a SQLite file of our own, named by the environment variable ``CRASH_LEDGER``
(synchronous=FULL, so a committed row survives the ``kill -9`` of the process that wrote it).

Tables:

- ``calls``: one row per handler call (written, and committed, when the call starts): the
  idempotency key, run, milestone, attempt, whether it is a compensation, the pid, the args;
  ``ended`` is set when the call returns or raises (``ok``, ``transient``, ``fatal``).
- ``effects``: one row per effect, keyed by the idempotency key (INSERT OR IGNORE: applying the
  same key twice is a no-op); ``undone_by`` is the key of the compensation that undid it.
- ``undos``: one row per compensation key (the effect it undid).
- ``anomalies``: anything a handler saw that should never happen (an undo of an effect that does
  not exist, a compensation without the result of the milestone it undoes, ...).

Handlers:

- ``fx.step``: args ``fail_until`` (attempts before this one fail with ConnectionError; the
  attempt ``fail_until`` succeeds; default 1), ``fatal`` (raise ``journeys.Fatal``; no effect),
  ``value`` (recorded with the effect and returned, for templated chains), ``ms`` (how long the
  call takes, split around the effect).
- ``fx.undo``: undoes the effect whose key is in ``ctx.result["key"]``; ``undo_fail_until``
  makes its first attempts fail transiently.

Both reach the fault points ``before_effect`` and ``after_effect`` of journeys/engine/faults.py
(``JOURNEYS_FAULTS=after_effect:undo:m2`` kills the process inside undo:m2, its undo applied):
the engine cannot see where a handler's effect is, so the crash matrix's handlers say it.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from typing import Any

import journeys
from journeys.engine import faults

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT, run_id TEXT, milestone TEXT, attempt INTEGER, compensating INTEGER,
    pid INTEGER, t REAL, args TEXT, ended TEXT, result_key TEXT);
CREATE TABLE IF NOT EXISTS effects (
    key TEXT PRIMARY KEY, run_id TEXT, milestone TEXT, value TEXT, pid INTEGER, t REAL,
    undone_by TEXT);
CREATE TABLE IF NOT EXISTS undos (
    key TEXT PRIMARY KEY, target TEXT, run_id TEXT, milestone TEXT, pid INTEGER, t REAL);
CREATE TABLE IF NOT EXISTS anomalies (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT, run_id TEXT, milestone TEXT, what TEXT);
"""


def connect(path: str | None = None) -> sqlite3.Connection:
    path = path or os.environ["CRASH_LEDGER"]
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA busy_timeout=30000")
    con.executescript(SCHEMA)
    return con


_con: sqlite3.Connection | None = None


def _db() -> sqlite3.Connection:
    global _con
    if _con is None:
        _con = connect()
    return _con


def _pause(total_ms: float) -> None:
    if total_ms > 0:
        time.sleep(random.uniform(0.3, 1.0) * total_ms / 1000.0)


def _log_start(ctx: Any) -> int:
    args = {k: v for k, v in dict(ctx.args).items()}
    cur = _db().execute(
        "INSERT INTO calls (key, run_id, milestone, attempt, compensating, pid, t, args)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ctx.idempotency_key,
            ctx.run_id,
            ctx.milestone,
            ctx.attempt,
            int(bool(ctx.compensating)),
            os.getpid(),
            time.time(),
            json.dumps(args, default=str),
        ),
    )
    return int(cur.lastrowid or 0)


def _log_end(call_id: int, how: str, result_key: str | None = None) -> None:
    _db().execute(
        "UPDATE calls SET ended = ?, result_key = ? WHERE id = ?", (how, result_key, call_id)
    )


def _fault_point(point: str, ctx: Any) -> None:
    """The handler's own fault points (engine/faults.py): the engine cannot see an effect."""
    if faults.ARMED:
        faults.hit(point, f"undo:{ctx.milestone}" if ctx.compensating else ctx.milestone)


def _anomaly(ctx: Any, what: str) -> None:
    _db().execute(
        "INSERT INTO anomalies (key, run_id, milestone, what) VALUES (?, ?, ?, ?)",
        (ctx.idempotency_key, ctx.run_id, ctx.milestone, what),
    )


@journeys.handler("fx.step")
def step(ctx: Any) -> dict[str, Any]:
    if ctx.compensating:
        _anomaly(ctx, "fx.step called as a compensation")
    call = _log_start(ctx)
    ms = float(ctx.args.get("ms", 12))
    _pause(ms / 2)
    _fault_point("before_effect", ctx)
    if ctx.args.get("fatal") in (True, "true", "True", 1, "1"):
        _log_end(call, "fatal")
        raise journeys.Fatal(f"{ctx.milestone} fails for good (on purpose)")
    fail_until = int(ctx.args.get("fail_until", 1) or 1)
    if ctx.attempt < fail_until:
        _log_end(call, "transient")
        raise ConnectionError(f"{ctx.milestone}: attempt {ctx.attempt} < {fail_until}")
    value = str(ctx.args.get("value", ctx.milestone))
    _db().execute(
        "INSERT OR IGNORE INTO effects (key, run_id, milestone, value, pid, t)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (ctx.idempotency_key, ctx.run_id, ctx.milestone, value, os.getpid(), time.time()),
    )
    _fault_point("after_effect", ctx)
    _pause(ms / 2)
    _log_end(call, "ok", ctx.idempotency_key)
    return {"key": ctx.idempotency_key, "value": value, "attempt": ctx.attempt}


@journeys.handler("fx.undo")
def undo(ctx: Any) -> dict[str, Any]:
    if not ctx.compensating:
        _anomaly(ctx, "fx.undo called as an action")
    call = _log_start(ctx)
    ms = float(ctx.args.get("ms", 12))
    _pause(ms / 2)
    fail_until = int(ctx.args.get("undo_fail_until", 1) or 1)
    if ctx.attempt < fail_until:
        _log_end(call, "transient")
        raise ConnectionError(f"undo {ctx.milestone}: attempt {ctx.attempt} < {fail_until}")
    _fault_point("before_effect", ctx)
    result = ctx.result
    target = result.get("key") if isinstance(result, dict) else None
    if target is None:
        _anomaly(ctx, f"compensation without the milestone's result: {result!r}")
        _log_end(call, "ok")
        return {"undone": None}
    con = _db()
    con.execute("BEGIN IMMEDIATE")
    try:
        row = con.execute(
            "SELECT undone_by, milestone FROM effects WHERE key = ?", (target,)
        ).fetchone()
        if row is None:
            _anomaly(ctx, f"undo of an effect never applied: {target}")
        elif row[0] is None:
            con.execute(
                "UPDATE effects SET undone_by = ? WHERE key = ?", (ctx.idempotency_key, target)
            )
        elif row[0] != ctx.idempotency_key:
            _anomaly(ctx, f"effect {target} already undone by another key {row[0]}")
        if row is not None and row[1] != ctx.milestone:
            _anomaly(ctx, f"compensation of {ctx.milestone} got the result of {row[1]}")
        con.execute(
            "INSERT OR IGNORE INTO undos (key, target, run_id, milestone, pid, t)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (ctx.idempotency_key, target, ctx.run_id, ctx.milestone, os.getpid(), time.time()),
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    _fault_point("after_effect", ctx)
    _pause(ms / 2)
    _log_end(call, "ok", target)
    return {"undone": target}

"""The built-in handlers, registered in every registry an engine uses.

- ``builtin.noop``: does nothing; returns ``None``.
- ``builtin.sleep``: waits ``seconds`` (an argument) and returns them; a sleep longer than the
  engine's ``inline_delay`` parks the run until it ends instead (the runner does it: no
  thread waits, and a worker wakes the run when due).
- ``builtin.fail``: fails with ``message``, to rehearse compensation; ``fatal: true`` skips
  retries, ``attempts: N`` fails only the first N attempts (so a retry succeeds).
- ``builtin.set``: returns its arguments, so they land in ``results``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from journeys.errors import Fatal
from journeys.handlers.context import Context
from journeys.handlers.registry import Registry

__all__ = ["register"]


class RehearsedFailure(Exception):
    """The failure ``builtin.fail`` raises: retryable unless ``fatal`` is set."""


def noop(ctx: Context) -> None:
    return None


async def sleep(ctx: Context) -> float:
    seconds = float(ctx.args.get("seconds", 0))
    await asyncio.sleep(seconds)
    return seconds


def fail(ctx: Context) -> Any:
    message = str(ctx.args.get("message", f"{ctx.milestone} failed (builtin.fail)"))
    attempts = ctx.args.get("attempts")
    if attempts is not None and ctx.attempt > int(attempts):
        return {"failed_attempts": int(attempts)}
    if ctx.args.get("fatal"):
        raise Fatal(message)
    raise RehearsedFailure(message)


def set_(ctx: Context) -> dict[str, Any]:
    return dict(ctx.args)


def register(registry: Registry) -> None:
    """Put the built-ins into ``registry`` (idempotent)."""
    for name, function in (
        ("builtin.noop", noop),
        ("builtin.sleep", sleep),
        ("builtin.fail", fail),
        ("builtin.set", set_),
    ):
        if name not in registry:
            registry.register(name, function)

"""asyncio: the a-methods run async handlers on the caller's loop; the blocking API refuses to
run them from inside a running loop, clearly, without writing anything."""

from __future__ import annotations

import asyncio
import threading
import typing
from typing import Any

import pytest

import journeys
from journeys.engine.run import Status

FLOW = """
journey: flow
kind: saga
policies: {saga: {enabled: true}}
milestones:
  - id: fetch
    action: t.afetch
    compensation: t.aundo
  - id: review
  - id: blocking
    action: t.block
  - id: publish
    action: t.afetch
"""

PANEL = """
journey: panel
kind: session
milestones:
  - id: start
  - id: fetch
    action: t.afetch
"""


class Seen:
    """What the handlers saw: the loop and thread they ran on."""

    def __init__(self) -> None:
        self.loops: list[tuple[str, asyncio.AbstractEventLoop]] = []
        self.threads: list[int] = []


@pytest.fixture
def seen(registry: journeys.Registry) -> Seen:
    found = Seen()

    async def afetch(ctx: journeys.Context) -> dict[str, Any]:
        found.loops.append((ctx.milestone, asyncio.get_running_loop()))
        await asyncio.sleep(0)
        return {"fetched": ctx.milestone, "attempt": ctx.attempt}

    async def aundo(ctx: journeys.Context) -> None:
        found.loops.append((f"undo {ctx.milestone}", asyncio.get_running_loop()))

    def block(ctx: journeys.Context) -> str:
        found.threads.append(threading.get_ident())
        return "blocked"

    registry.register("t.afetch", afetch)
    registry.register("t.aundo", aundo)
    registry.register("t.block", block)
    return found


def test_the_a_methods_run_async_handlers_on_the_caller_s_loop(
    engine: journeys.Engine, seen: Seen
) -> None:
    async def main() -> tuple[journeys.Run, asyncio.AbstractEventLoop]:
        run = await engine.astart(journeys.load_definition(FLOW))
        assert (run.status, run.state) == ("waiting", "review")
        run = await engine.aadvance(run.id, "review", {"ok": True})
        return run, asyncio.get_running_loop()

    run, loop = asyncio.run(main())
    assert run.status == "completed"
    assert [m for m, _ in seen.loops] == ["fetch", "publish"]
    assert all(found is loop for _, found in seen.loops)
    assert seen.threads and seen.threads[0] != threading.get_ident()  # off the loop's thread
    assert run.results["publish"] == {"fetched": "publish", "attempt": 1}


def test_afail_acancel_and_sessions_under_asyncio(engine: journeys.Engine, seen: Seen) -> None:
    async def main() -> list[journeys.Run]:
        failed = await engine.astart(journeys.load_definition(FLOW))
        failed = await engine.afail(failed.id, "review", "rejected")
        cancelled = await engine.astart(journeys.load_definition(FLOW))
        cancelled = await engine.acancel(cancelled.id)
        session = await engine.astart(journeys.load_definition(PANEL))
        session = await engine.anavigate(session.id, to="fetch")
        assert session.results["fetch"] == {"fetched": "fetch", "attempt": 1}
        session = await engine.acomplete(session.id)
        return [failed, cancelled, session]

    failed, cancelled, session = asyncio.run(main())
    assert (failed.status, failed.error) == ("compensated", "review failed: rejected")
    assert cancelled.status == "cancelled"
    assert session.status == "completed"
    assert [m for m, _ in seen.loops] == ["fetch", "undo fetch", "fetch", "undo fetch", "fetch"]


def test_async_handlers_of_concurrent_runs_interleave_on_one_loop(
    engine: journeys.Engine, registry: journeys.Registry
) -> None:
    order: list[str] = []

    async def ping(ctx: journeys.Context) -> None:
        order.append(f"{ctx.milestone} {ctx.inputs['name']}")
        await asyncio.sleep(0)

    registry.register("t.ping", ping)
    definition = journeys.load_definition(
        """
journey: pings
milestones:
  - {id: one, action: t.ping}
  - {id: two, action: t.ping}
  - {id: three, action: t.ping}
"""
    )

    async def main() -> list[journeys.Run]:
        runs = [engine.astart(definition, {"name": name}) for name in ("a", "b")]
        return list(await asyncio.wait_for(asyncio.gather(*runs), 30))

    runs = asyncio.run(main())
    assert [run.status for run in runs] == ["completed", "completed"]
    assert sorted(order) == sorted(f"{m} {n}" for m in ("one", "two", "three") for n in "ab")
    assert order[:2] == ["one a", "one b"]  # b started while a awaited: the loop was free


def test_aresume_due(make_engine: Any, registry: journeys.Registry) -> None:
    engine = make_engine(inline_delay=0.0)
    calls: list[int] = []

    async def flaky(ctx: journeys.Context) -> int:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("down")
        return ctx.attempt

    registry.register("t.flaky", flaky)
    definition = journeys.load_definition(
        """
journey: flaky
milestones:
  - id: call
    action: t.flaky
    retry: {retries: 1, delay: 10ms}
"""
    )

    async def main() -> journeys.Run:
        run = await engine.astart(definition)
        assert run.status == "waiting"
        for _ in range(500):
            resumed = await engine.aresume_due()
            if resumed:
                return resumed[0]
            await asyncio.sleep(0.01)
        raise AssertionError("never due")

    run = asyncio.run(main())
    assert run.status == "completed" and calls == [1, 2]


def test_the_blocking_api_runs_async_handlers_outside_a_loop(
    engine: journeys.Engine, seen: Seen
) -> None:
    run = engine.start(journeys.load_definition(FLOW))
    run = engine.advance(run.id, "review")
    assert run.status == "completed"
    assert [m for m, _ in seen.loops] == ["fetch", "publish"]


def test_the_blocking_start_inside_a_running_loop_is_a_clear_error_writing_nothing(
    engine: journeys.Engine, seen: Seen
) -> None:
    async def main() -> None:
        with pytest.raises(journeys.JourneyError, match=r"use await engine\.astart"):
            engine.start(journeys.load_definition(FLOW), run_id="in-loop")

    asyncio.run(main())
    assert seen.loops == []
    assert engine.store.find(typing.get_args(Status)) == []
    with pytest.raises(journeys.RunNotFound):
        engine.get("in-loop")


def test_every_blocking_call_inside_a_running_loop_is_a_clear_error_changing_nothing(
    engine: journeys.Engine, seen: Seen
) -> None:
    run = engine.start(journeys.load_definition(FLOW))
    session = engine.start(journeys.load_definition(PANEL))
    before = (engine.get(run.id), engine.get(session.id))

    async def main() -> None:
        for call in (
            lambda: engine.advance(run.id, "review"),
            lambda: engine.fail(run.id, "review", "no"),
            lambda: engine.cancel(run.id),
            lambda: engine.navigate(session.id, to="fetch"),
        ):
            with pytest.raises(journeys.JourneyError, match=r"use await engine\.a"):
                call()

    asyncio.run(main())
    assert (engine.get(run.id), engine.get(session.id)) == before
    assert [m for m, _ in seen.loops] == ["fetch"]


def test_a_journey_of_blocking_handlers_may_use_the_blocking_api_in_a_loop(
    engine: journeys.Engine, seen: Seen
) -> None:
    definition = journeys.load_definition(
        "journey: plain\nmilestones:\n  - {id: a, action: t.block}\n"
    )

    async def main() -> journeys.Run:
        return engine.start(definition)

    assert asyncio.run(main()).status == "completed"

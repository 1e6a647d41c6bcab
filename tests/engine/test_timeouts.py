"""Timeouts and retry delays: a timeout is a retryable failure; long delays park the run.

No assertion here is about elapsed time: a timed-out handler is released by the test itself, and a
parked run is resumed once it is due, however long that took.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import journeys


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of the test, so a handler abandoned by its timeout finishes at once."""
    event = threading.Event()
    yield event
    event.set()


def slow(retries: int, *, on: str = "", kind: str = "structured", action: str = "t.slow") -> str:
    retry_on = f", on: [{on}]" if on else ""
    return f"""
journey: slow_{kind}
kind: {kind}
policies: {{saga: {{enabled: true}}}}
milestones:
  - id: before
    action: t.step
    compensation: t.undo
  - id: call
    action: {action}
    timeout: 50ms
    retry: {{retries: {retries}, delay: 0s{retry_on}}}
"""


@pytest.fixture
def attempts(registry: journeys.Registry, release: threading.Event) -> list[int]:
    """``t.slow`` (blocking) and ``t.aslow`` (async) overrun their timeout on attempt 1 only."""
    seen: list[int] = []

    def blocking(ctx: journeys.Context) -> str:
        seen.append(ctx.attempt)
        if ctx.attempt == 1:
            release.wait(30)
        return "fast"

    async def awaiting(ctx: journeys.Context) -> str:
        seen.append(ctx.attempt)
        if ctx.attempt == 1:
            await asyncio.sleep(30)
        return "fast"

    registry.register("t.slow", blocking)
    registry.register("t.aslow", awaiting)
    return seen


@pytest.mark.parametrize("action", ["t.slow", "t.aslow"])
def test_a_timeout_is_a_retryable_failure(
    engine: journeys.Engine, recorder: Any, attempts: list[int], action: str
) -> None:
    run = engine.start(journeys.load_definition(slow(1, action=action)))
    assert run.status == "completed"
    assert attempts == [1, 2] and run.results["call"] == "fast"


@pytest.mark.parametrize("action", ["t.slow", "t.aslow"])
def test_a_timeout_retried_only_for_the_named_types(
    engine: journeys.Engine, recorder: Any, attempts: list[int], action: str
) -> None:
    run = engine.start(journeys.load_definition(slow(1, on="TimeoutError", action=action)))
    assert run.status == "completed" and attempts == [1, 2]


@pytest.mark.parametrize("action", ["t.slow", "t.aslow"])
def test_a_timeout_without_retries_fails_saying_so(
    engine: journeys.Engine, recorder: Any, attempts: list[int], action: str
) -> None:
    run = engine.start(journeys.load_definition(slow(0, kind="saga", action=action)))
    assert run.status == "compensated" and attempts == [1]
    assert run.error is not None
    assert "TimeoutError: call took longer than 0.05s" in run.error
    assert recorder.of("undo") == ["before"]


@pytest.mark.parametrize("action", ["t.slow", "t.aslow"])
def test_a_timeout_under_asyncio(
    engine: journeys.Engine,
    recorder: Any,
    attempts: list[int],
    action: str,
    release: threading.Event,
) -> None:
    async def main() -> journeys.Run:
        run = await engine.astart(journeys.load_definition(slow(1, action=action)))
        release.set()  # asyncio.run waits for the abandoned worker thread of a blocking handler
        return run

    run = asyncio.run(main())
    assert run.status == "completed" and attempts == [1, 2]


RETRYING = """
journey: retrying
kind: saga
policies: {saga: {enabled: true}}
milestones:
  - id: before
    action: t.step
    compensation: t.undo
  - id: flaky
    action: t.step
    with: {fail: 1}
    retry: {retries: 2, delay: DELAY, backoff: fixed}
"""


def retrying(delay: str) -> journeys.Definition:
    return journeys.load_definition(RETRYING.replace("DELAY", delay))


def test_a_short_delay_is_waited_inline(engine: journeys.Engine, recorder: Any) -> None:
    run = engine.start(retrying("10ms"))  # the fixture's inline_delay is 50ms
    assert run.status == "completed" and run.due_at is None
    assert [(c.milestone, c.attempt) for c in recorder.calls] == [
        ("before", 1),
        ("flaky", 1),
        ("flaky", 2),
    ]


def test_a_long_delay_parks_the_run_until_it_is_due(engine: journeys.Engine, recorder: Any) -> None:
    run = engine.start(retrying("1h"))
    assert (run.status, run.state) == ("waiting", "flaky")
    assert run.due_at is not None
    assert 3500 < (run.due_at - run.updated_at).total_seconds() <= 3600
    assert engine.get(run.id) == run
    assert engine.resume_due() == []  # not due yet
    assert engine.get(run.id) == run
    assert recorder.of("do") == ["before", "flaky"]


def resume_when_due(engine: journeys.Engine) -> list[journeys.Run]:
    for _ in range(200):
        resumed = engine.resume_due()
        if resumed:
            return resumed
        time.sleep(0.01)
    raise AssertionError("the parked run never became due")


def test_resume_due_continues_a_parked_run(make_engine: Any, recorder: Any) -> None:
    engine = make_engine(inline_delay=0.0)
    run = engine.start(retrying("100ms"))
    assert run.status == "waiting" and run.due_at is not None
    (resumed,) = resume_when_due(engine)
    assert resumed.id == run.id
    assert (resumed.status, resumed.due_at) == ("completed", None)
    flaky = [c for c in recorder.calls if c.milestone == "flaky"]
    assert [c.attempt for c in flaky] == [1, 2]
    assert len({c.key for c in flaky}) == 1
    assert engine.resume_due() == []


def test_a_parked_compensation_resumes_as_a_compensation(make_engine: Any, recorder: Any) -> None:
    engine = make_engine(inline_delay=0.0)
    definition = journeys.load_definition(
        """
journey: parked_undo
kind: saga
policies: {saga: {enabled: true}}
milestones:
  - id: a
    action: t.step
    compensation: t.undo
    with: {undo_fail: 1}
    retry: {retries: 1, delay: 100ms}
  - id: b
    action: t.step
    with: {fail: 1}
"""
    )
    run = engine.start(definition)
    assert (run.status, run.state) == ("waiting", "undo:a")
    (resumed,) = resume_when_due(engine)
    assert resumed.status == "compensated"
    assert [(c.kind, c.milestone, c.attempt) for c in recorder.calls] == [
        ("do", "a", 1),
        ("do", "b", 1),
        ("undo", "a", 1),
        ("undo", "a", 2),
    ]


def test_cancelling_a_parked_run_starts_its_compensations_at_attempt_one(
    engine: journeys.Engine, recorder: Any
) -> None:
    run = engine.start(retrying("1h"))
    assert run.status == "waiting"
    run = engine.cancel(run.id)
    assert (run.status, run.due_at) == ("cancelled", None)
    assert [(c.kind, c.milestone, c.attempt) for c in recorder.calls][-1] == ("undo", "before", 1)
    assert engine.resume_due() == []

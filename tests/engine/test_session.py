"""Sessions: free navigation among pillars, each pillar's action running on entry."""

from __future__ import annotations

from typing import Any

import pytest

import journeys

DESK = """
journey: desk
kind: session
milestones:
  - id: home
    action: t.step
  - id: search
    action: t.step
    with: {value: {query: "{{ inputs.query }}"}}
  - id: basket
  - id: broken
    action: t.step
    with: {fail: 99}
"""


@pytest.fixture
def desk() -> journeys.Definition:
    return journeys.load_definition(DESK)


def test_a_session_enters_its_first_pillar_and_navigates_anywhere(
    engine: journeys.Engine, recorder: Any, desk: journeys.Definition
) -> None:
    run = engine.start(desk, {"query": "socks"})
    assert (run.status, run.state) == ("waiting", "home")
    assert recorder.of("do") == ["home"]
    for pillar in ("search", "basket", "home", "basket", "search"):
        run = engine.navigate(run.id, to=pillar)
        assert (run.status, run.state) == ("waiting", pillar)
    assert recorder.of("do") == ["home", "search", "home", "search"]  # basket has no action
    assert run.results["search"] == {"query": "socks"}
    assert "basket" not in run.results  # nothing ran there
    assert engine.get(run.id) == run


def test_navigating_to_the_current_pillar_runs_its_action_again(
    engine: journeys.Engine, recorder: Any, desk: journeys.Definition
) -> None:
    run = engine.start(desk, {"query": "x"})
    run = engine.navigate(run.id, to="home")
    assert run.state == "home" and recorder.of("do") == ["home", "home"]


def test_complete_ends_the_session(
    engine: journeys.Engine, recorder: Any, desk: journeys.Definition
) -> None:
    run = engine.start(desk, {"query": "x"})
    run = engine.navigate(run.id, to="basket")
    run = engine.complete(run.id)
    assert (run.status, run.state) == ("completed", "completed")
    with pytest.raises(journeys.StateError, match="finished run cannot be changed"):
        engine.navigate(run.id, to="home")
    with pytest.raises(journeys.StateError):
        engine.complete(run.id)
    assert engine.get(run.id) == run


def test_an_unknown_pillar_is_an_error_and_changes_nothing(
    engine: journeys.Engine, recorder: Any, desk: journeys.Definition
) -> None:
    run = engine.start(desk, {"query": "x"})
    with pytest.raises(journeys.JourneyError, match=r"no pillar 'serach'.*did you mean 'search'"):
        engine.navigate(run.id, to="serach")
    assert engine.get(run.id) == run
    assert recorder.of("do") == ["home"]


def test_a_pillar_whose_action_fails_for_good_fails_the_session(
    engine: journeys.Engine, recorder: Any, desk: journeys.Definition
) -> None:
    run = engine.start(desk, {"query": "x"})
    run = engine.navigate(run.id, to="broken")
    assert (run.status, run.state) == ("failed", "failed")
    assert run.error is not None and "broken" in run.error


def test_sessions_and_forward_journeys_keep_to_their_own_calls(
    engine: journeys.Engine, recorder: Any, desk: journeys.Definition
) -> None:
    session = engine.start(desk, {"query": "x"})
    with pytest.raises(journeys.StateError, match="is a session"):
        engine.advance(session.id, "basket")
    forward = engine.start(
        journeys.load_definition("journey: line\nmilestones:\n  - id: wait_here\n")
    )
    with pytest.raises(journeys.StateError, match="navigate is for sessions"):
        engine.navigate(forward.id, to="wait_here")
    with pytest.raises(journeys.StateError, match="complete is for sessions"):
        engine.complete(forward.id)


def test_a_session_can_be_cancelled(
    engine: journeys.Engine, recorder: Any, desk: journeys.Definition
) -> None:
    run = engine.start(desk, {"query": "x"})
    run = engine.cancel(run.id)
    assert (run.status, run.state) == ("cancelled", "cancelled")


def test_each_visit_of_a_pillar_has_its_own_idempotency_key(
    engine: journeys.Engine, recorder: Any, desk: journeys.Definition
) -> None:
    run = engine.start(desk, {"query": "x"})
    engine.navigate(run.id, to="search")
    engine.navigate(run.id, to="home")
    keys = [c.key for c in recorder.calls if c.milestone == "home"]
    assert keys == [f"{run.id}:home:1", f"{run.id}:home:2"]

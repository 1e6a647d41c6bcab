"""The fault switch (journeys/engine/faults.py): how ``JOURNEYS_FAULTS`` is read, and that a
process dies where it says and only there. The crash matrix (tests/acceptance/crash) uses it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from journeys.engine import faults


def test_unset_or_empty_is_off() -> None:
    assert faults._parse("") == (None, None)
    assert faults._parse(" , ,") == (None, None)


def test_points_and_states_are_read_states_may_hold_colons() -> None:
    armed, error = faults._parse("after_intent:m2, before_effect:undo:m1,after_claim:*")
    assert error is None
    assert armed == {("after_intent", "m2"), ("before_effect", "undo:m1"), ("after_claim", "*")}


@pytest.mark.parametrize("spec", ["bogus", "after_intent", "after_intent:", "in_handler:m1"])
def test_a_malformed_switch_says_what_is_wrong(spec: str) -> None:
    armed, error = faults._parse(f"after_outcome:m1,{spec}")
    assert armed is None
    assert error is not None
    assert error.startswith(f"JOURNEYS_FAULTS: {spec!r} is not POINT:STATE")
    assert ", ".join(faults.POINTS) in error


def test_handler_points_are_points() -> None:
    assert set(faults.HANDLER_POINTS) <= set(faults.POINTS)


def _hit(spec: str, point: str, state: str) -> int:
    code = f"from journeys.engine import faults\nfaults.hit({point!r}, {state!r})\nprint('alive')\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "JOURNEYS_FAULTS": spec},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL or done.stdout == "alive\n", done.stderr
    return done.returncode


def test_a_process_dies_at_the_armed_point_and_state_only() -> None:
    assert _hit("after_intent:m2", "after_intent", "m2") == -signal.SIGKILL
    assert _hit("after_intent:*", "after_intent", "undo:m1") == -signal.SIGKILL
    assert _hit("after_intent:m2", "after_intent", "m1") == 0
    assert _hit("after_intent:m2", "after_outcome", "m2") == 0
    assert _hit("", "after_intent", "m2") == 0

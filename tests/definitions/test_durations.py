"""Durations: parsing what authors write, and writing seconds back."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeys import schemas
from journeys.definitions import durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("0s", 0.0),
        (90, 90.0),
        (0.25, 0.25),
    ],
)
def test_parse(text: str | float, seconds: float) -> None:
    assert durations.parse(text) == seconds


@pytest.mark.parametrize(
    "bad", ["", "5", "5 minutes", "-1s", "1.5.5s", "s", "1w", "ms", True, -1, float("nan")]
)
def test_parse_refuses_with_advice(bad: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        durations.parse(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.5, "500ms"), (30, "30s"), (300, "5m"), (5400, "1h30m"), (90061, "1d1h1m1s"), (0, "0ms")],
)
def test_format(seconds: float, text: str) -> None:
    assert durations.format(seconds) == text


@given(st.integers(min_value=0, max_value=10**8))
def test_format_then_parse_round_trips_whole_seconds(seconds: int) -> None:
    assert durations.parse(durations.format(seconds)) == seconds


@given(st.text(max_size=12))
def test_parse_accepts_exactly_what_the_schema_pattern_accepts(text: str) -> None:
    matches = re.search(durations.PATTERN, text) is not None
    try:
        durations.parse(text)
    except ValueError:
        assert not matches or text != text.strip()
    else:
        assert matches or text != text.strip()


def test_the_schema_uses_the_same_pattern() -> None:
    duration = schemas.schema("journey")["$defs"]["duration"]
    assert duration["pattern"] == durations.PATTERN

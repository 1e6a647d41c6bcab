"""The fast constructors make the very objects the dataclasses would."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeys.engine import slots
from journeys.engine.run import Entry
from journeys.engine.wal import LogEntry

_TEXT = st.one_of(st.none(), st.text(max_size=8))


@given(
    seq=st.integers(0, 10**6),
    created_at=st.floats(0, 2e9),
    trigger=_TEXT,
    status=st.sampled_from(["completed", "pending", "failed"]),
    payload=st.one_of(st.none(), st.dictionaries(st.text(max_size=3), st.integers())),
)
def test_entries_made_fast_are_the_dataclass_s_own(
    seq: int, created_at: float, trigger: str | None, status: str, payload: Any
) -> None:
    fast = slots.constructor(Entry)("r", seq, "operation", created_at, trigger=trigger)
    slow = Entry(run_id="r", seq=seq, kind="operation", created_at=created_at, trigger=trigger)
    assert type(fast) is Entry and fast == slow and hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
    both = dict(status=status, payload=payload)  # defaults given by name, as the runner does
    made = slots.constructor(Entry)("r", seq, "event", created_at, **both)
    assert made == Entry(run_id="r", seq=seq, kind="event", created_at=created_at, **both)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.seq = seq + 1  # type: ignore[misc]


def test_log_entries_made_fast_are_the_dataclass_s_own() -> None:
    values = {field.name: f"v{index}" for index, field in enumerate(dataclasses.fields(LogEntry))}
    fast = slots.constructor(LogEntry)(*values.values())
    assert fast == LogEntry(**values) and type(fast) is LogEntry


def test_classes_it_cannot_make_are_refused() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Listed:
        items: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            assert self.n >= 0

    for cls in (Listed, Checked):
        with pytest.raises(TypeError, match="use the class"):
            slots.constructor(cls)

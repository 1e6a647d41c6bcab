"""The fast constructors make the very objects the dataclasses would."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeys.engine import slots
from journeys.engine.run import Entry, RunRecord
from journeys.engine.wal import LogEntry
from journeys.handlers.context import Context

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


def test_a_copy_has_every_slot_of_the_original_and_shares_their_values() -> None:
    record = RunRecord(id="r", journey="j", version=2, definition_hash="h", state="a")
    record.results["a"] = {"x": 1}
    record.indexed = ("running", None)
    copied = slots.copier(RunRecord)(record)
    assert type(copied) is RunRecord and copied is not record
    for name in RunRecord.__slots__:
        assert getattr(copied, name) is getattr(record, name), name
    copied.state = "b"  # a shallow copy: the copy's own slots
    assert record.state == "a"


def test_a_frozen_class_is_copied_past_its_setattr() -> None:
    entry = Entry(run_id="r", seq=3, kind="event", created_at=1.0, trigger="go")
    copied = slots.copier(Entry)(entry)
    assert copied == entry and copied is not entry and hash(copied) == hash(entry)


def test_classes_with_a_dict_are_not_copied_slot_by_slot() -> None:
    @dataclasses.dataclass
    class Plain:
        n: int

    @dataclasses.dataclass(slots=True)
    class Slotted:
        n: int

    class Open(Slotted):  # no __slots__ of its own: its instances have a __dict__
        pass

    for cls in (Plain, Open):
        with pytest.raises(TypeError, match="slotted classes only"):
            slots.copier(cls)
    assert slots.copier(Slotted)(Slotted(4)) == Slotted(4)


def test_contexts_made_fast_are_the_class_s_own() -> None:
    values: dict[str, Any] = {
        "run_id": "r",
        "journey": "j",
        "milestone": "m",
        "inputs": {"a": 1},
        "args": {},
        "results": {},
        "attempt": 2,
        "idempotency_key": "r:m",
        "compensating": True,
    }
    fast = slots.constructor(Context)(**values)
    assert type(fast) is Context and fast == Context(**values)
    assert fast.logger is Context(**values).logger and fast.tenant is None

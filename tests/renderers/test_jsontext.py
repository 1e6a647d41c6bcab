"""``jsontext.dumps`` writes what ``json.dumps(value, indent=n, ensure_ascii=False)`` writes."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeys.renderers import jsontext

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(["m0", "undo:m1", 'a"b', "back\\slash", "tab\there", "\x00\x1f\x7f", "é☃"])
)
_keys = st.text() | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.none()
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children)
        | st.lists(children).map(tuple)
        | st.lists(st.text(alphabet='abc_0123456789"\\\n'), min_size=1)  # lists of names
        | st.dictionaries(st.text(), children)
        | st.dictionaries(_keys, children)
    ),
    max_leaves=40,
)


@given(value=_values, indent=st.integers(min_value=0, max_value=4))
def test_the_same_text_as_json_dumps(value: Any, indent: int) -> None:
    assert jsontext.dumps(value, indent) == json.dumps(value, indent=indent, ensure_ascii=False)


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


def test_subclasses_are_written_as_json_writes_them() -> None:
    value = {"colour": Colour.RED, "ratio": Ratio(0.5), "names": [Name("a"), "b"], Name("k"): 1}
    assert jsontext.dumps(value, 2) == json.dumps(value, indent=2, ensure_ascii=False)


class Ratio(float):
    def __repr__(self) -> str:
        return "not a number json would write"


def test_a_saga_plan_s_long_lists_of_names() -> None:
    value = {"compensation": [{"undo": [f"m{i}" for i in range(n, -1, -1)]} for n in range(50)]}
    assert jsontext.dumps(value, 2) == json.dumps(value, indent=2, ensure_ascii=False)


def test_what_json_refuses_is_refused_the_same_way() -> None:
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        jsontext.dumps({"a": circular}, 2)
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsontext.dumps({"a": [1, {2, 3}]}, 2)
    with pytest.raises(TypeError, match="keys must be"):
        jsontext.dumps({(1, 2): "tuple key"}, 2)

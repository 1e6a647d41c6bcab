"""The templates' filters: their shortcuts for plain text give what the long way gives."""

from __future__ import annotations

import re
from typing import Any

import jinja2
from hypothesis import given
from hypothesis import strategies as st
from jinja2.filters import do_wordwrap
from markupsafe import Markup

from journeys.renderers import templating

# text with the characters the filters care about: Markdown's, backticks, every kind of space
_texts = (
    st.text(alphabet=st.sampled_from(list("ab_*`[]<>|&\\ \t\n\r\x0b\x1c\xa0\u2028é-"))) | st.text()
)


def _markdown_the_long_way(value: Any) -> str:
    text = " ".join(str(value).split())
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text).replace("&", "&amp;")


def _code_the_long_way(value: Any) -> str:
    text = " ".join(str(value).split()).replace("|", "\\|")  # a pipe would end a table cell
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


@given(_texts)
def test_md_and_code_of_any_text(text: str) -> None:
    assert templating._markdown(text) == _markdown_the_long_way(text)
    assert templating._code(text) == _code_the_long_way(text)


@given(_texts, st.integers(min_value=1, max_value=30))
def test_wordwrap_of_any_text_is_jinja_s(text: str, width: int) -> None:
    environment = jinja2.Environment()
    expected = do_wordwrap(environment, text, width)
    assert templating._wordwrap(environment, text, width) == expected
    assert templating._wordwrap(environment, Markup(text), width) == expected


@given(
    st.dictionaries(
        st.text(alphabet=st.sampled_from(list("aAbB_*<&"))),
        st.integers(-(10**9), 10**9) | st.floats(allow_nan=False),
    )
)
def test_amounts_are_the_loop_they_replace(resources: dict[str, float]) -> None:
    source = (
        '{% for name, amount in resources | dictsort %}{{ name | md }} {{ "%g" | format(amount) }}'
        '{{ ", " if not loop.last }}{% endfor %}'
    )
    for format, escape in (("md", _markdown_the_long_way), ("text", str)):
        environment = jinja2.Environment(autoescape=False)
        environment.filters["md"] = escape
        loop = environment.from_string(source)
        assert templating._amounts(resources, format) == loop.render(resources=resources)

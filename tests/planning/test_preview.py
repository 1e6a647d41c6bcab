"""Doc sentences at plan time: the short way for plain lookups says what the template says."""

from __future__ import annotations

from typing import Any

import pytest

from journeys.planning import preview

DOCS = [
    "Upload {{ inputs.file_name }} to storage",
    "{{ inputs.file_name }}",
    "no template at all",
    "",
    "trailing newline {{ inputs.size }}\n",
    "windows\r\nline {{ run.journey }} for {{ run.tenant }}",
    "{{ results.ingest.file_id }} from {{ inputs.missing }}",
    "nested {{ inputs.meta.owner.name }} and {{ inputs.meta.nothing }}",
    "a method {{ inputs.items }} and a key {{ inputs.keys }}",
    "refused {{ inputs.__class__ }}",
    "refused deeper {{ inputs.meta.__class__.__mro__ }}",
    "Known's own attributes {{ inputs.prefix }} {{ inputs.strict }}",
    "not a scope name {{ other.thing }}",
    "{{ results.x | default('d') }} keeps its filter",
    "{% if results.ready %}used, not printed{% endif %}",
    "{{ inputs['file_name'] }} by key",
    "{{ range }} a global",
]


def _scopes() -> list[dict[str, Any]]:
    values = {"file_name": "a.csv", "size": 3, "meta": {"owner": {"name": "Ann"}}}
    return [
        preview.scope(values, given=given, journey="j", tenant=tenant)
        for given in (True, False)
        for tenant in (None, "acme")
    ]


def _outcome(render: Any) -> tuple[str, str]:
    try:
        return "text", render()
    except Exception as error:
        return type(error).__name__, str(error)


@pytest.mark.parametrize("text", DOCS)
def test_a_doc_reads_as_its_template_renders_it(text: str) -> None:
    template = preview._template(text)[0]
    for names in _scopes():

        def by_template(names: dict[str, Any] = names) -> str:
            try:
                return str(template.render(**names))
            except preview.Unknowable:
                return text

        assert _outcome(lambda names=names: preview.render_doc(text, names)) == _outcome(
            by_template
        )


def test_plain_lookups_take_the_short_way() -> None:
    assert preview._template("Upload {{ inputs.a.b }} now")[1] == (
        "Upload ",
        ("inputs", "a", "b"),
        " now",
    )
    for text in ("{{ inputs.a | upper }}", "{% if inputs.a %}x{% endif %}", "{{ other.a }}"):
        assert preview._template(text)[1] is None

"""Plan and render of a 1,000-milestone journey, in Markdown, HTML and JSON (the planning
issue's figures), against a bare Jinja template of the same size.

The journey is a saga whose milestones have a doc template, a retry policy, a timeout, an
estimate and, one in ten, a ``when`` guard. Each call plans (checks, estimates, the
compensation plan, every doc rendered) and renders. The anchor renders, with a cached Jinja
environment, a plain loop over 1,000 prepared rows whose output is as long as ours in that
format (each row padded to it): what any templating of that much text costs. A plan this size
leaves the state diagram out (more than ``diagrams.MOST_STATES`` states).
"""

from __future__ import annotations

import jinja2

import journeys
from benchmarks import _setup
from benchmarks._timing import Figure, at_most, ratios, rounds, time_text

N = 1000

_BARE = {
    "md": (
        "# {{ title }}\n\n{% for s in steps %}## {{ s.n }}. {{ s.title }}\n\n{{ s.doc }}\n\n"
        "- retry: {{ s.retry }}\n- timeout: {{ s.timeout }}\n- estimate: {{ s.estimate }}\n"
        "{{ s.pad }}\n\n{% endfor %}"
    ),
    "html": (
        "<!doctype html><html><body><h1>{{ title }}</h1><ol>{% for s in steps %}<li>"
        "<h2>{{ s.n }}. {{ s.title }}</h2><p>{{ s.doc }}</p><dl><dt>retry</dt>"
        "<dd>{{ s.retry }}</dd><dt>timeout</dt><dd>{{ s.timeout }}</dd><dt>estimate</dt>"
        "<dd>{{ s.estimate }}</dd></dl><p>{{ s.pad }}</p></li>\n{% endfor %}</ol></body></html>"
    ),
    "json": (
        '{"title": {{ title|tojson }}, "steps": [{% for s in steps %}{"n": {{ s.n }},'
        ' "title": {{ s.title|tojson }}, "doc": {{ s.doc|tojson }}, "retry":'
        ' {{ s.retry|tojson }}, "timeout": {{ s.timeout|tojson }}, "estimate":'
        ' {{ s.estimate|tojson }}, "pad": {{ s.pad|tojson }}}{{ "," if not loop.last }}\n'
        "{% endfor %}]}"
    ),
}


def _saga(n: int) -> str:
    lines = [
        f"journey: plan_{n}",
        "kind: saga",
        "inputs: {type: object, properties: {customer: {type: string}, size: {type: integer}}}",
        "defaults: {retry: {retries: 3, delay: 1s}, timeout: 30s}",
        "milestones:",
    ]
    for i in range(n):
        when = ', when: "inputs.size > 3"' if i % 10 == 5 else ""
        lines.append(
            f"  - {{id: m{i}, action: bench.step, compensation: bench.undo,"
            f' doc: "Step {i} for {{{{ inputs.customer }}}}",'
            f" estimate: {{duration: 2s, resources: {{api_calls: 1}}}}{when}}}"
        )
    lines.append("policies: {saga: {enabled: true}}")
    return "\n".join(lines) + "\n"


def bare(format: str, size: int) -> jinja2.Template | tuple[jinja2.Template, dict[str, object]]:
    """The anchor of ``format``: a compiled template and its data, rendering ``size`` chars."""
    environment = jinja2.Environment(autoescape=format == "html")
    template = environment.from_string(_BARE[format])
    steps = [
        {
            "n": i,
            "title": f"m{i}: bench.step",
            "doc": f"Step {i} for acme",
            "retry": "up to 3 retries, 1 s then 2 s then 4 s",
            "timeout": "30 s",
            "estimate": "2 s, api_calls 1",
            "pad": "",
        }
        for i in range(N)
    ]
    data: dict[str, object] = {"title": "plan_1000", "steps": steps}
    short = len(template.render(data))
    for step in steps:
        step["pad"] = "x" * max(0, (size - short) // N)
    return template, data


def figures(settings: _setup.Settings, notes: list[str]) -> list[Figure]:
    big = journeys.load_definition(_saga(N))
    inputs = {"customer": "acme", "size": 5}
    result = []
    for format in ("md", "html", "json"):
        size = len(journeys.render(journeys.plan(big, inputs), format=format))
        template, data = bare(format, size)  # type: ignore[misc]
        anchor_size = len(template.render(data))
        samples = rounds(
            {
                "ours": lambda format=format: journeys.render(
                    journeys.plan(big, inputs), format=format
                ),
                "bare": lambda template=template, data=data: template.render(data),
            },
            seconds=settings.seconds,
            count=max(3, settings.count - 2),  # a call of ours takes up to a second
            cpu=True,
        )
        notes.append(f"plan {format}: ours {size:,} chars, the bare template {anchor_size:,}")
        result.append(
            Figure(
                f"plan + render, 1,000 milestones, {format}",
                time_text(samples["ours"]),
                f"bare Jinja, same size {time_text(samples['bare'])}",
                ratios(samples["ours"], samples["bare"]),
                at_most(3),
            )
        )
    return result


def main() -> None:
    _setup.standalone(figures)


if __name__ == "__main__":
    main()

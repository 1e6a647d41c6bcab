"""Plan and render of a 1,000-milestone journey, in each format, against a bare Jinja template.

The journey is a saga whose milestones have a doc template, a retry policy, a timeout, an
estimate and, one in ten, a ``when`` guard. The figure is the issue's "plan + render of 1,000
milestones": each call plans (checks, estimates, the compensation plan, every doc rendered) and
renders that new plan, so nothing one plan computed can be reused by the next.

The anchor renders, through one cached Jinja environment with our options (``trim_blocks``,
``lstrip_blocks``, autoescape for HTML), a template per format that writes the same fields in
the same layout from plain dicts prepared beforehand (no planning, no filters beyond what the
format needs: autoescape for HTML, ``tojson`` for JSON strings). Its output is about as long as
ours (the sizes are printed beside the figures). The JSON anchor writes, as ours does, every
contingency's list of milestones to undo: the saga's JSON plan is quadratic in its size.

Contenders take turns within each round; a ratio is taken round by round, and the figures are
medians over the rounds. A plan this size leaves the state diagram out (more than
``diagrams.MOST_STATES`` states); the diagrams are timed apart: Mermaid source of the
1,000-milestone machine and an SVG drawn by Graphviz for 50 milestones.
"""

from __future__ import annotations

import gc
import platform
import re
import statistics
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import jinja2

import journeys
from benchmarks import _setup
from benchmarks._timing import Figure, at_most, ratios, table, time_text
from benchmarks._timing import rounds as suite_rounds
from journeys.engine import compiler
from journeys.planning import graph, words
from journeys.renderers import diagrams, templating

__all__ = ["MARK", "bare", "figures", "main", "measure"]

MILESTONES = 1000
MARK = 3.0
"""The issue's mark: plan + render at most this many times the bare template."""

FORMATS = ("md", "html", "text", "json")
_INPUTS = {"customer": "acme", "size": 5}


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


# The bare templates: our templates' layout, step by step, with every value prepared.
_BARE_MD = """\
# Plan: {{ plan.title }}

| | |
|---|---|
| Journey | `{{ plan.journey }}`, version {{ plan.version }} ({{ plan.kind }}) |
| Plan | `{{ plan.plan_id }}`, made {{ plan.created_at }} by the `{{ plan.planner }}` planner |
| Steps | {{ plan.steps | length }} |
| Expected duration | {{ plan.expected }} |
| Worst case | {{ plan.worst_case }} |
| Status | ready: no errors |

## Warnings

{% for issue in plan.warnings %}
- {{ issue.message }}
{% endfor %}

## Steps

{% for step in plan.steps %}
### {{ step.number }}. {{ step.title }} (`{{ step.id }}`)

{% if step.doc %}
{{ step.doc }}

{% endif %}
- Action: `{{ step.action }}`
{% if step.compensation %}
- Compensation: `{{ step.compensation }}`
{% endif %}
- Runs: {{ step.condition }}
- Retries: {{ step.retry }}
- Timeout: {{ step.timeout_text }}
- Estimate: {{ step.estimate_text }}
- Worst case: {{ step.worst_text }}

{% endfor %}
## Compensation plan

If a step fails for good (after its retries), the steps completed before it are undone, \
nearest first:

{% for item in plan.compensation %}
- {{ item.sentence }}

{% endfor %}

## Policy

| Capability | On | Settings | From |
|---|---|---|---|
{% for row in plan.policy_rows %}
| {{ row.name }} | {{ row.on }} | {{ row.settings }} | {{ row.origin }} |
{% endfor %}
"""

_BARE_TEXT = """\
PLAN  {{ plan.title }}
{{ plan.rule }}

Journey            {{ plan.journey }}, version {{ plan.version }} ({{ plan.kind }})
Plan               {{ plan.plan_id }}, made {{ plan.created_at }} by the {{ plan.planner }} planner
Steps              {{ plan.steps | length }}
Expected duration  {{ plan.expected }}
Worst case         {{ plan.worst_case }}
Status             ready: no errors

WARNINGS
{% for issue in plan.warnings %}
  - {{ issue.message }}
{% endfor %}

STEPS
{% for step in plan.steps %}

{{ step.number_text }}. {{ step.title }} [{{ step.id }}]
{% if step.doc %}
     {{ step.doc }}
{% endif %}
     action        {{ step.action }}
{% if step.compensation %}
     compensation  {{ step.compensation }}
{% endif %}
     runs          {{ step.condition }}
     retries       {{ step.retry }}
     timeout       {{ step.timeout_text }}
     estimate      {{ step.estimate_text }}
     worst case    {{ step.worst_text }}
{% endfor %}

COMPENSATION PLAN (the completed steps are undone, nearest first)
{% for item in plan.compensation %}
  {{ item.sentence }}
{% endfor %}

POLICY
{% for row in plan.policy_rows %}
  {{ row.name }} {{ row.on }}  {{ row.settings }}
{% endfor %}
"""

_BARE_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Plan: {{ plan.title }}</title>
<style>
%(style)s
</style>
</head>
<body>
<main>
<header class="plan">
  <div class="eyebrow">Plan of journey <span class="mono">{{ plan.journey }}</span> · version \
{{ plan.version }}</div>
  <h1 id="title">{{ plan.title }} <span class="badge kind">{{ plan.kind }}</span></h1>
  <div class="meta">Plan <span class="mono">{{ plan.plan_id }}</span> · made \
{{ plan.created_at }} by the <span class="mono">{{ plan.planner }}</span> planner</div>
</header>
<div class="cards" id="estimates">
  <div class="card"><div class="label">Steps</div><div class="value">{{ plan.steps | length }}\
</div></div>
  <div class="card"><div class="label">Expected</div><div class="value">{{ plan.expected }}\
</div></div>
  <div class="card"><div class="label">Worst case</div><div class="value">\
{{ plan.worst_case }}</div></div>
</div>
<section id="problems">
  <h2>Warnings</h2>
  <ul class="issues">
  {% for issue in plan.warnings %}<li class="warning"><strong>Warning:</strong> \
{{ issue.message }}</li>
  {% endfor %}
  </ul>
</section>
<section id="steps">
  <h2>Steps</h2>
  <ol class="timeline">
  {% for step in plan.steps %}
    <li class="step" id="step-{{ step.id }}">
      <div class="dot">{{ step.number }}</div>
      <div class="body">
        <h3><span class="step-title">{{ step.title }}</span> <code>{{ step.id }}</code>
        </h3>
        {% if step.doc %}<p class="doc">{{ step.doc }}</p>{% endif %}
        <dl class="facts">
          <dt>Action</dt><dd><code>{{ step.action }}</code></dd>
          {% if step.compensation %}<dt>Compensation</dt><dd><code>{{ step.compensation }}\
</code></dd>{% endif %}
          <dt>Runs</dt><dd>{{ step.condition }}</dd>
          <dt>Retries</dt><dd>{{ step.retry }}</dd>
          <dt>Timeout</dt><dd>{{ step.timeout_text }}</dd>
          <dt>Estimate</dt><dd>{{ step.estimate_text }}</dd>
          <dt>Worst case</dt><dd>{{ step.worst_text }}</dd>
        </dl>
      </div>
    </li>
  {% endfor %}
  </ol>
</section>
<section id="compensation">
  <h2>Compensation plan</h2>
  {% for item in plan.compensation %}
  <div class="contingency">
    <span class="when">if <code>{{ item.milestone }}</code> fails</span>
    {% for undo in item.undo[:6] %}{% if not loop.first %}<span class="arrow">→</span>\
{% endif %}<span class="chip" title="{{ item.compensation }}">undo {{ undo }}</span>\
{% else %}<span class="chip none">nothing to undo</span>{% endfor %}
    {% if item.more %}<span class="arrow">→ … {{ item.more }} more, to</span>\
<span class="chip">undo {{ item.last }}</span>{% endif %}
  </div>
  {% endfor %}
</section>
<section id="policy">
  <h2>Policy</h2>
  <table>
    <tbody>
    {% for row in plan.policy_rows %}
      <tr><td><code>{{ row.name }}</code></td><td>{{ row.on }}</td><td>{{ row.settings }}</td>\
<td>{{ row.origin }}</td></tr>
    {% endfor %}
    </tbody>
  </table>
</section>
</main>
</body>
</html>
"""

_BARE_JSON = """\
{
  "plan_id": {{ plan.plan_id | tojson }},
  "journey": {{ plan.journey | tojson }},
  "version": {{ plan.version }},
  "kind": {{ plan.kind | tojson }},
  "title": {{ plan.title | tojson }},
  "created_at": {{ plan.created_at | tojson }},
  "inputs": {{ plan.inputs | tojson(2) }},
  "policy": {{ plan.policy | tojson(2) }},
  "policy_origins": {{ plan.policy_origins | tojson(2) }},
  "steps": [
{% for step in plan.steps %}
    {
      "number": {{ step.number }},
      "id": {{ step.id | tojson }},
      "title": {{ step.title | tojson }},
      "doc": {{ step.doc | tojson }},
      "action": {{ step.action | tojson }},
      "compensation": {{ step.compensation | tojson }},
      "wait": false,
      "retry": {{ step.retry | tojson }},
      "retries": {{ step.retries }},
      "delays": {{ step.delays | tojson }},
      "timeout": {{ step.timeout }},
      "estimate": {{ step.estimate | tojson }},
      "worst_case": {{ step.worst_case }},
      "checkpoint": false,
      "when": {{ step.when | tojson }},
      "runs": {{ step.runs | tojson }},
      "condition": {{ step.condition | tojson }}
    }{{ "," if not loop.last }}
{% endfor %}
  ],
  "compensation": [
{% for item in plan.compensation %}
    {
      "milestone": {{ item.milestone | tojson }},
      "title": {{ item.title | tojson }},
      "undo": [{% if item.undo %}

        "{{ item.undo | join('",\n        "') }}"
      {%+ endif %}],
      "sentence": {{ item.sentence | tojson }}
    }{{ "," if not loop.last }}
{% endfor %}
  ],
  "diagram": {
    "initial": {{ plan.diagram.initial | tojson }},
    "nodes": [
{% for node in plan.diagram.nodes %}
      {
        "id": {{ node.id | tojson }},
        "label": {{ node.label | tojson }},
        "kind": {{ node.kind | tojson }}
      }{{ "," if not loop.last }}
{% endfor %}
    ],
    "edges": [
{% for edge in plan.diagram.edges %}
      {
        "source": {{ edge.source | tojson }},
        "dest": {{ edge.dest | tojson }},
        "triggers": {{ edge.triggers | tojson }},
        "kind": {{ edge.kind | tojson }}
      }{{ "," if not loop.last }}
{% endfor %}
    ]
  }
}
"""


def _style() -> str:
    """Our HTML template's style sheet, so that the bare page carries as much of it."""
    source = (resources.files("journeys.renderers") / "templates" / "plan.html.j2").read_text()
    found = re.search(r"{% block style %}\n(.*?){% endblock %}", source, re.S)
    return found.group(1) if found else ""


def _environment() -> jinja2.Environment:
    """One environment, made once, with the options and autoescape rule of ours."""
    return jinja2.Environment(
        loader=jinja2.DictLoader(
            {
                "bare.md.j2": _BARE_MD,
                "bare.txt.j2": _BARE_TEXT,
                "bare.html.j2": _BARE_HTML.replace("%(style)s", _style()),
                "bare.json.j2": _BARE_JSON,
            }
        ),
        undefined=jinja2.StrictUndefined,
        autoescape=lambda name: name is not None and ".html" in name,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _prepared(document: dict[str, Any], format: str) -> dict[str, Any]:
    """Plain dicts for the bare template of ``format``, every value it shows already in words
    (and only the JSON one with every contingency's whole list: a heap that holds more makes
    every full garbage collection longer, for both sides of the ratio)."""

    def seconds(value: float | None) -> str:
        return "unknown" if value is None else words.duration(value)

    steps = []
    for step in document["steps"]:
        estimate = step["estimate"]
        amounts = ", ".join(f"{k} {v:g}" for k, v in sorted(estimate["resources"].items()))
        steps.append(
            step
            | {
                "number_text": f"{step['number']:3d}",
                "timeout_text": f"{seconds(step['timeout'])} per attempt",
                "estimate_text": f"{seconds(estimate['duration'])}; {amounts}",
                "worst_text": seconds(step["worst_case"]),
            }
        )
    compensation = [
        item
        | {
            "undo": item["undo"] if format == "json" else item["undo"][:6],
            "compensation": "bench.undo",
            "more": max(0, len(item["undo"]) - 6),
            "last": item["undo"][-1] if item["undo"] else "",
        }
        for item in document["compensation"]
    ]
    rows = [
        {
            "name": name,
            "on": "yes" if fields.get("enabled") else "no",
            "settings": ", ".join(f"{k}: {v}" for k, v in sorted(fields.items())),
            "origin": document["policy_origins"].get(name, {}).get("enabled", ""),
        }
        for name, fields in sorted(document["policy"].items())
    ]
    durations = document["durations"]
    return {
        "plan": document
        | {
            "steps": steps,
            "compensation": compensation,
            "policy_rows": rows,
            "expected": seconds(durations["expected"]),
            "worst_case": seconds(durations["worst_case"]),
            "rule": "=" * (len(document["title"]) + 6),
        }
    }


def bare(format: str) -> tuple[jinja2.Template, dict[str, Any]]:
    """The anchor of ``format`` (md, html, text, json): its compiled template, from a cached
    environment, and the plain data it renders (prepared once, from a plan of the saga)."""
    environment = _environment()
    suffix = templating.FORMATS[format]
    document = journeys.plan(journeys.load_definition(_saga(MILESTONES)), _INPUTS).to_dict()
    return environment.get_template(f"bare.{suffix}.j2"), _prepared(document, format)


def _rounds(
    contenders: dict[str, Callable[[], object]],
    *,
    number: int,
    rounds: int,
    clock: Callable[[], float],
) -> dict[str, list[float]]:
    """Seconds per call of each contender, one sample per round; the contenders take turns,
    in reverse order every other round, so a neighbour's burst slows both sides of a ratio."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for function in contenders.values():
        function()
    order = list(contenders.items())
    for index in range(rounds):
        for name, function in order if index % 2 == 0 else order[::-1]:
            gc.collect()
            started = clock()
            for _ in range(number):
                function()
            samples[name].append((clock() - started) / number)
    return samples


def measure(
    *, number: int = 3, rounds: int = 5, clock: Callable[[], float] = time.process_time
) -> dict[str, Any]:
    """The plan + render figure of each format against its bare template, as data.

    Both sides are pure computation in this one thread, so they are timed by the process's
    CPU time (``clock``): on a shared machine the wall clock mostly measures how long the
    neighbours kept this process off the cores (four times its CPU time at a load of 9 on 2
    cores), and in bursts that do not hit both sides of a ratio alike.

    ``formats`` maps md, html, text and json to ``ours_ms`` (plan + render, median),
    ``bare_ms``, ``ratio`` (median of the per-round ratios), ``ratio_low``/``ratio_high``
    (their range), ``met`` (the median ratio at most :data:`MARK`) and the two outputs' sizes
    in characters; ``parts_ms`` times the plan and each render of one plan apart.
    """
    definition = journeys.load_definition(_saga(MILESTONES))
    result: dict[str, Any] = {"milestones": MILESTONES, "mark": MARK, "formats": {}}
    # one format at a time, with only its anchor's data alive
    for format in FORMATS:
        template, data = bare(format)
        samples = _rounds(
            {
                "ours": lambda format=format: journeys.render(
                    journeys.plan(definition, _INPUTS), format=format
                ),
                "bare": lambda t=template, d=data: t.render(d),
            },
            number=number,
            rounds=rounds,
            clock=clock,
        )
        ratios = [a / b for a, b in zip(samples["ours"], samples["bare"], strict=True)]
        result["formats"][format] = {
            "ours_ms": statistics.median(samples["ours"]) * 1000,
            "bare_ms": statistics.median(samples["bare"]) * 1000,
            "ratio": statistics.median(ratios),
            "ratio_low": min(ratios),
            "ratio_high": max(ratios),
            "met": statistics.median(ratios) <= MARK,
            "ours_chars": len(journeys.render(journeys.plan(definition, _INPUTS), format=format)),
            "bare_chars": len(template.render(data)),
        }
        del data
    plan = journeys.plan(definition, _INPUTS)
    parts: dict[str, Callable[[], object]] = {"plan": lambda: journeys.plan(definition, _INPUTS)}
    for format in FORMATS:
        parts[f"render {format}"] = lambda format=format: journeys.render(plan, format=format)
    samples = _rounds(parts, number=number, rounds=rounds, clock=clock)
    result["parts_ms"] = {
        name: statistics.median(values) * 1000 for name, values in samples.items()
    }
    return result


def figures(settings: _setup.Settings, notes: list[str]) -> list[Figure]:
    """The suite's rows (benchmarks.suite): plan + render of each format against its bare
    template, in the suite's rounds, timed in CPU time (both sides compute, nothing waits)."""
    definition = journeys.load_definition(_saga(MILESTONES))
    result = []
    for format in FORMATS:
        template, data = bare(format)
        samples = suite_rounds(
            {
                "ours": lambda format=format: journeys.render(
                    journeys.plan(definition, _INPUTS), format=format
                ),
                "bare": lambda t=template, d=data: t.render(d),
            },
            seconds=settings.seconds,
            count=max(3, settings.count - 2),
            cpu=True,
        )
        ours_size = len(journeys.render(journeys.plan(definition, _INPUTS), format=format))
        notes.append(
            f"plan {format}: ours {ours_size:,} chars, the bare template"
            f" {len(template.render(data)):,} (same fields, same layout)"
        )
        result.append(
            Figure(
                f"plan + render, 1,000 milestones, {format}",
                time_text(samples["ours"]),
                f"bare Jinja, same fields {time_text(samples['bare'])}",
                ratios(samples["ours"], samples["bare"]),
                at_most(MARK),
            )
        )
        del data
    return result


def main() -> None:
    measured = measure()
    rows = [
        (
            f"1,000-milestone saga, mark <= {MARK:g}x",
            "plan + render ms",
            "bare ms",
            "ratio (range)",
            "output ours / bare",
        )
    ]
    for format, row in measured["formats"].items():
        rows.append(
            (
                f"{format}{'' if row['met'] else '  NOT MET'}",
                f"{row['ours_ms']:,.1f}",
                f"{row['bare_ms']:,.1f}",
                f"{row['ratio']:.2f}x ({row['ratio_low']:.2f}..{row['ratio_high']:.2f})",
                f"{row['ours_chars'] / 1024:,.0f} / {row['bare_chars'] / 1024:,.0f} KiB",
            )
        )
    for name, ms in measured["parts_ms"].items():
        rows.append((f"  {name} (one plan)", f"{ms:,.1f}", "", "", ""))
    print(
        f"plan and render (Python {platform.python_version()}, {platform.machine()};"
        " CPU time per call, median of 5 rounds)"
    )
    print(_table(rows))
    definition = journeys.load_definition(_saga(MILESTONES))
    whole = graph.diagram(compiler.compile(definition))
    drawn = _per_call({"mermaid 1000": lambda: diagrams.mermaid(whole)}, number=5)
    small = journeys.plan(journeys.load_definition(_saga(50)), _INPUTS)
    if diagrams.dot_program() is not None:
        drawn |= _per_call(
            {"svg 50 (dot)": lambda: diagrams._svg.__wrapped__(diagrams.dot(small.diagram))},
            number=1,
        )
    rows = [("diagrams", "ms per call", "")]
    rows += [(name, f"{seconds * 1000:,.1f}", "") for name, seconds in drawn.items()]
    print(table(rows))


def _per_call(contenders: dict[str, Callable[[], object]], *, number: int) -> dict[str, float]:
    """Wall-clock seconds per call (the diagrams wait for Graphviz): medians of 3 rounds."""
    samples = _rounds(contenders, number=number, rounds=3, clock=time.perf_counter)
    return {name: statistics.median(values) for name, values in samples.items()}


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


if __name__ == "__main__":
    main()

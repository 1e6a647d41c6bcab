"""Plan and render of a 1,000-milestone journey, in each format (the planning issue's figures).

The journey is a saga whose milestones have a doc template, a retry policy, a timeout, an
estimate and, one in ten, a ``when`` guard. The templates are compiled once (the warm-up
rounds), so the figures are what each later plan and render costs. A plan this size leaves the
state diagram out (more than ``diagrams.MOST_STATES`` states); the diagrams are timed apart:
Mermaid source of the 1,000-milestone machine and an SVG drawn by Graphviz for 50 milestones.
"""

from __future__ import annotations

import platform

import journeys
from benchmarks._timing import per_call, table
from journeys.engine import compiler
from journeys.planning import graph
from journeys.renderers import diagrams


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


def main() -> None:
    big = journeys.load_definition(_saga(1000))
    inputs = {"customer": "acme", "size": 5}
    plan = journeys.plan(big, inputs)
    figures = per_call(
        {
            "plan": lambda: journeys.plan(big, inputs),
            **{
                f"render {format}": (lambda format=format: journeys.render(plan, format=format))
                for format in ("md", "html", "text", "json")
            },
        },
        number=5,
        rounds=5,
    )
    whole = graph.diagram(compiler.compile(big))
    figures |= per_call({"mermaid 1000": lambda: diagrams.mermaid(whole)}, number=5, rounds=3)
    small = journeys.plan(journeys.load_definition(_saga(50)), inputs)
    if diagrams.dot_program() is not None:
        figures |= per_call(
            {"svg 50 (dot)": lambda: diagrams._svg.__wrapped__(diagrams.dot(small.diagram))},
            number=1,
            rounds=3,
        )
    sizes = {
        f"render {f}": len(journeys.render(plan, format=f)) for f in ("md", "html", "text", "json")
    }
    rows = [("1,000-milestone saga", "ms per call", "output")]
    for name, seconds in figures.items():
        size = f"{sizes[name] / 1024:,.0f} KiB" if name in sizes else ""
        rows.append((name, f"{seconds * 1000:,.1f}", size))
    print(f"plan and render (Python {platform.python_version()}, {platform.machine()})")
    print(table(rows))


if __name__ == "__main__":
    main()

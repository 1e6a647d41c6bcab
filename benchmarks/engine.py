"""Engine overhead, start cost by journey size, and compile time (the engine issue's figures).

- a 5-milestone journey of no-op handlers, policies off, in memory, against the same five
  functions called directly and against raw transitions firing 5 transitions on one model;
- starting a 1,000-milestone journey against a 10-milestone one (the first milestone waits, so
  the figure is the start itself);
- compiling a 1,000-milestone definition, once.
"""

from __future__ import annotations

import platform
import time

from transitions import Machine

import journeys
from benchmarks._timing import per_call, table
from journeys.engine import compiler


def _chain(n: int, *, wait_first: bool = False) -> str:
    lines = [f"journey: chain_{n}", "milestones:"]
    for i in range(n):
        if i == 0 and wait_first:
            lines.append(f"  - id: m{i}")
        else:
            lines.append(f"  - {{id: m{i}, action: bench.noop, compensation: bench.noop}}")
    return "\n".join(lines) + "\n"


def main() -> None:
    registry = journeys.Registry()

    def noop(ctx: object) -> None:
        return None

    registry.register("bench.noop", noop)
    engine = journeys.Engine("memory:", registry=registry)
    five = journeys.load_definition(_chain(5))

    def direct() -> None:
        for _ in range(5):
            noop(None)

    machine = Machine(states=["a", "b", "c", "d", "e", "f"], initial="a", auto_transitions=False)
    for source, dest in zip("abcde", "bcdef", strict=True):
        machine.add_transition("go", source, dest)

    def raw_transitions() -> None:
        machine.set_state("a")
        for _ in range(5):
            machine.trigger("go")

    def engine_run() -> None:
        engine.start(five)

    overhead = per_call(
        {"direct": direct, "raw transitions": raw_transitions, "engine": engine_run},
        number=2000,
    )

    small = journeys.load_definition(_chain(10, wait_first=True))
    large = journeys.load_definition(_chain(1000, wait_first=True))
    starts = per_call(
        {"start 10": lambda: engine.start(small), "start 1000": lambda: engine.start(large)},
        number=2000,
    )

    text = _chain(1000)
    began = time.perf_counter()
    big = journeys.load_definition(text)
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    compiler._build(big)
    compiled = time.perf_counter() - began

    runs_per_second = 1 / overhead["engine"]
    raw_per_second = 1 / overhead["raw transitions"]
    rows = [
        ("figure", "value", "anchor / ratio"),
        (
            "in-memory runs/s, 5 no-op milestones",
            f"{runs_per_second:,.0f}",
            f"raw transitions {raw_per_second:,.0f}/s -> {runs_per_second / raw_per_second:.2f}x",
        ),
        (
            "engine time per run",
            f"{overhead['engine'] * 1e6:.1f} us",
            f"direct calls {overhead['direct'] * 1e6:.2f} us",
        ),
        ("start, 10 milestones", f"{starts['start 10'] * 1e6:.1f} us", ""),
        (
            "start, 1000 milestones",
            f"{starts['start 1000'] * 1e6:.1f} us",
            f"{starts['start 1000'] / starts['start 10']:.2f}x the 10-milestone start",
        ),
        ("load 1000-milestone definition", f"{loaded * 1e3:.1f} ms", "once per file"),
        ("compile 1000-milestone machine", f"{compiled * 1e3:.1f} ms", "once per definition"),
    ]
    print(f"# engine benchmark ({platform.python_version()}, {platform.machine()})")
    print(table(rows))


if __name__ == "__main__":
    main()

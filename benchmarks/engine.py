"""Engine overhead and start cost by journey size (the engine issue's figures).

- a 5-milestone journey of no-op handlers, policies off, in memory, against raw transitions
  firing 5 transitions on one model (the library our machines are built with: the floor of
  any engine on it);
- starting a 1,000-milestone journey against a 10-milestone one (the first milestone waits, so
  the figure is the start itself: checks, policy, the run's record, the first move).
"""

from __future__ import annotations

from transitions import Machine

import journeys
from benchmarks import _setup
from benchmarks._timing import (
    Figure,
    at_least,
    at_most,
    python_calls,
    rate_text,
    rates,
    ratios,
    rounds,
    time_text,
)


def raw_transitions() -> object:
    """A call firing 5 transitions on one model of a 6-state machine, from its first state."""
    machine = Machine(states=["a", "b", "c", "d", "e", "f"], initial="a", auto_transitions=False)
    for source, dest in zip("abcde", "bcdef", strict=True):
        machine.add_transition("go", source, dest)

    def run() -> None:
        machine.set_state("a")
        for _ in range(5):
            machine.trigger("go")

    return run


def figures(settings: _setup.Settings, notes: list[str]) -> list[Figure]:
    engine = journeys.Engine("memory:", registry=_setup.registry())
    five = journeys.load_definition(_setup.chain(5, compensation=None))
    samples = rounds(  # in memory: many short turns, so the neighbours' bursts hit both
        {"ours": lambda: engine.start(five), "raw": raw_transitions()},
        seconds=settings.seconds / 4,
        count=settings.count * 4,
        cpu=True,
    )
    notes.append(
        f"Python calls per run: ours {python_calls(lambda: engine.start(five)):,.0f},"
        f" raw transitions {python_calls(raw_transitions()):,.0f}"
    )
    small = journeys.load_definition(_setup.chain(10, wait_first=True))
    large = journeys.load_definition(_setup.chain(1000, wait_first=True))
    starts = rounds(
        {"10": lambda: engine.start(small), "1000": lambda: engine.start(large)},
        seconds=settings.seconds / 4,
        count=settings.count * 4,
        cpu=True,
    )
    return [
        Figure(
            "in-memory runs/s, 5 no-op milestones, policies off",
            rate_text(samples["ours"]),
            f"raw transitions {rate_text(samples['raw'])}",
            ratios(rates(samples["ours"]), rates(samples["raw"])),
            at_least(0.5),
        ),
        Figure(
            "start, 1,000 milestones (in memory)",
            time_text(starts["1000"]),
            f"10 milestones {time_text(starts['10'])}",
            ratios(starts["1000"], starts["10"]),
            at_most(1.5),
        ),
    ]


def main() -> None:
    _setup.standalone(figures)


if __name__ == "__main__":
    main()

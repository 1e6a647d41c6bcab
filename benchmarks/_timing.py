"""Interleaved, repeated timing, and the figures the suite reports.

The machine is shared and noisy, so no figure is one measurement: each is taken in several
rounds, and in every round each contender (ours, then its anchor, in alternating order) runs for
the same short slice of time. A neighbour's burst then slows both sides of a ratio alike. A
figure is the median of the rounds; its spread is the lowest and highest round.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "Figure",
    "Mark",
    "at_least",
    "at_most",
    "curve",
    "python_calls",
    "rounds",
    "table",
    "within",
]


def rounds(
    contenders: dict[str, Callable[[], object]],
    *,
    seconds: float = 0.4,
    count: int = 7,
    least: int = 1,
    cpu: bool = False,
) -> dict[str, list[float]]:
    """Seconds per call of each contender, one sample per round: in each of ``count`` rounds
    each contender is called for about ``seconds`` (at least ``least`` calls), the contenders
    taking turns, in reverse order every other round. One warm-up call each first (caches,
    compiled machines, a store's schema).

    ``cpu``: time the calls in this thread's CPU time rather than on the wall clock, for work
    that waits for nothing (in memory): on a loaded machine the wall clock also counts the
    slices the scheduler gave other processes, which have nothing to do with either side. A
    turn still ends on the wall clock, so the suite's length does not grow with the load."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for function in contenders.values():
        function()
    order = list(contenders.items())
    for index in range(count):
        gc.collect()  # once a round: a full collection costs more as a memory store fills up
        for name, function in order if index % 2 == 0 else order[::-1]:
            calls, started, used = 0, time.perf_counter(), time.thread_time()
            while True:
                function()
                calls += 1
                elapsed = time.perf_counter() - started
                if elapsed >= seconds and calls >= least:
                    break
            if cpu:
                elapsed = time.thread_time() - used
            samples[name].append(elapsed / calls)
    return samples


def python_calls(function: Callable[[], object], times: int = 50) -> float:
    """Python function calls per call of ``function`` (cProfile's count): a measure of work
    that no neighbour's load can move, to read beside the noisy timings of in-memory figures."""
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(times):
        function()
    profile.disable()
    return float(pstats.Stats(profile).total_calls) / times  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Mark:
    """Where a ratio must be: ``text`` for the table, ``check`` on the median ratio (None: the
    figure has no pass or fail, only a shape to explain)."""

    text: str
    check: Callable[[float], bool] | None


def at_least(bound: float, aim: float | None = None) -> Mark:
    text = f">= {bound:g}x" + (f" (aim {aim:g}x)" if aim is not None else "")
    return Mark(text, lambda ratio: ratio >= bound)


def at_most(bound: float) -> Mark:
    return Mark(f"<= {bound:g}x", lambda ratio: ratio <= bound)


def within(fraction: float) -> Mark:
    return Mark(f"within {fraction:.0%}", lambda ratio: abs(ratio - 1) <= fraction)


def curve() -> Mark:
    return Mark("the curve", None)


def ratios(ours: Sequence[float], anchor: Sequence[float]) -> list[float]:
    """Round by round, ours over the anchor (both as rates, or both as times)."""
    return [a / b for a, b in zip(ours, anchor, strict=True)]


def rates(seconds: Sequence[float]) -> list[float]:
    """Calls per second from seconds per call."""
    return [1 / s for s in seconds]


@dataclass
class Figure:
    """One row of the suite's table: our figure, its anchor measured beside it, their ratio
    round by round, and the mark the ratio must meet. ``ours`` and ``anchor`` are what the
    table shows (already formatted: a median and its spread); ``skipped`` says why a figure
    was not measured (the table shows it instead of a ratio)."""

    name: str
    ours: str
    anchor: str
    ratio: list[float]
    mark: Mark
    skipped: str = ""
    percent: bool = False  # show the ratio as an overhead (+3.1%) rather than 0.97x

    @property
    def met(self) -> str:
        if self.skipped:
            return "not run"
        if self.mark.check is None:
            return "-"
        return "met" if self.mark.check(statistics.median(self.ratio)) else "NOT MET"

    def ratio_text(self) -> str:
        if self.skipped:
            return self.skipped
        middle, low, high = statistics.median(self.ratio), min(self.ratio), max(self.ratio)
        if self.percent:
            return f"{(middle - 1) * 100:+.1f}% ({(low - 1) * 100:+.1f}..{(high - 1) * 100:+.1f})"
        return f"{middle:.2f}x ({low:.2f}..{high:.2f})"


def spread(values: Sequence[float]) -> str:
    """The spread of a figure's rounds: half their range, as a share of the median."""
    middle = statistics.median(values)
    return f"±{(max(values) - min(values)) / 2 / middle * 100:.0f}%" if middle else ""


def rate_text(seconds: Sequence[float], unit: str = "/s") -> str:
    """A rate's median over rounds given seconds per call, and its spread."""
    values = rates(seconds)
    return f"{statistics.median(values):,.0f}{unit} {spread(values)}"


def time_text(seconds: Sequence[float]) -> str:
    """A duration's median over rounds, in a unit that suits it, and its spread."""
    middle = statistics.median(seconds)
    if middle >= 1:
        shown = f"{middle:.2f} s"
    elif middle >= 1e-3:
        shown = f"{middle * 1e3:.2f} ms"
    else:
        shown = f"{middle * 1e6:.1f} us"
    return f"{shown} {spread(seconds)}"


def table(rows: list[tuple[str, ...]]) -> str:
    """Rows of cells as aligned columns; the first row is the header, underlined."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def figures_table(figures: Sequence[Figure]) -> str:
    """The suite's one table."""
    rows = [("figure", "ours", "anchor, measured beside it", "ratio (range)", "mark", "")]
    rows += [(f.name, f.ours, f.anchor, f.ratio_text(), f.mark.text, f.met) for f in figures]
    return table(rows)

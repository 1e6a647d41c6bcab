"""Interleaved, repeated timing: medians of rounds, so noise hits every contender alike."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable


def per_call(
    contenders: dict[str, Callable[[], object]], *, number: int, rounds: int = 7
) -> dict[str, float]:
    """Seconds per call of each contender: the median over ``rounds`` of ``number`` calls, the
    contenders taking turns within each round."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for function in contenders.values():  # warm up caches and compiled machines
        for _ in range(max(1, number // 10)):
            function()
    for _ in range(rounds):
        for name, function in contenders.items():
            gc.collect()
            started = time.perf_counter()
            for _ in range(number):
                function()
            samples[name].append((time.perf_counter() - started) / number)
    return {name: statistics.median(values) for name, values in samples.items()}


def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    )

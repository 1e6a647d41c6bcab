"""Durations and retry policies in the words a plan uses: "up to 3 retries, 60 s then 120 s then
240 s"."""

from __future__ import annotations

import functools
import math

from journeys.definitions.model import Retry

__all__ = ["duration", "retry"]

_MOST_LISTED = 5


@functools.lru_cache(maxsize=4096, typed=True)
def duration(seconds: float | None) -> str:
    """``500 ms``, ``60 s``, ``240 s``, ``12 min``, ``1 h 30 min``, ``2 d 4 h``; "unknown" for None.

    Seconds up to ten minutes stay seconds (a retry schedule reads best in one unit); longer
    ones are written in their two largest units. (Kept per value: a plan writes the same few
    durations for every step.)
    """
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    if seconds < 1:
        return f"{round(seconds * 1000):g} ms" if seconds else "0 s"
    if seconds < 600:
        return f"{round(seconds, 2):g} s"
    parts = []
    remaining = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        whole, remaining = divmod(remaining, size)
        if whole:
            parts.append(f"{whole} {unit}")
    return " ".join(parts[:2])


def retry(policy: Retry) -> str:
    """A retry policy in words: ``no retries``, ``up to 1 retry, after 5 s``, ``up to 3 retries,
    60 s then 120 s then 240 s``, with ``, with ±50% jitter`` and ``, only on ConnectionError,
    TimeoutError`` when they apply."""
    if policy.retries <= 0:
        return "no retries"
    delays = policy.delays()
    count = f"up to {policy.retries} retr{'y' if policy.retries == 1 else 'ies'}"
    if len(delays) == 1:
        schedule = f"after {duration(delays[0])}"
    elif len(set(delays)) == 1:
        schedule = f"{duration(delays[0])} apart"
    elif len(delays) <= _MOST_LISTED:
        schedule = " then ".join(duration(d) for d in delays)
    else:
        head = " then ".join(duration(d) for d in delays[:3])
        schedule = f"{head} ... then {duration(delays[-1])}"
    text = f"{count}, {schedule}"
    if policy.jitter:
        text += ", with ±50% jitter"
    if policy.on:
        text += f", only on {', '.join(policy.on)}"
    return text

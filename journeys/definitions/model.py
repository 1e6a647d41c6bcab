"""The typed, frozen form of a valid definition: what the compiler, runner and renderers read.

A :class:`Definition` is built only from a document that passed the schema and the checks, with
defaults applied and durations in seconds, so nothing downstream re-validates or re-parses it.
Every mapping in it is read-only (``types.MappingProxyType``) and every list a tuple: a definition
shared by many runs cannot be changed by one of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from journeys.definitions import durations
from journeys.errors import JourneyError, did_you_mean

__all__ = ["Definition", "Estimate", "Kind", "Milestone", "Retry", "build", "freeze", "thaw"]

Kind = Literal["structured", "saga", "session"]
Backoff = Literal["fixed", "linear", "exponential"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


@dataclass(frozen=True, slots=True)
class Retry:
    """When and how often a failed attempt is tried again.

    ``retries`` counts the retries after the first attempt. The delay before retry ``n`` (from 1)
    is ``delay`` (fixed), ``delay * n`` (linear) or ``delay * factor ** (n - 1)`` (exponential),
    never more than ``max_delay``.
    """

    retries: int = 0
    delay: float = 1.0
    backoff: Backoff = "exponential"
    factor: float = 2.0
    max_delay: float | None = None
    jitter: bool = False
    on: tuple[str, ...] = ()
    name: str | None = None

    def delay_before(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 is the first retry), without jitter."""
        if retry < 1:
            raise ValueError("retries are numbered from 1")
        if self.backoff == "fixed":
            seconds = self.delay
        elif self.backoff == "linear":
            seconds = self.delay * retry
        else:
            seconds = self.delay * self.factor ** (retry - 1)
        return min(seconds, self.max_delay) if self.max_delay is not None else seconds

    def delays(self) -> tuple[float, ...]:
        """The delay before each retry, in order: ``(60.0, 120.0, 240.0)``."""
        return tuple(self.delay_before(n) for n in range(1, self.retries + 1))

    def applies_to(self, error_name: str) -> bool:
        """Whether an error of this class name may be retried (``on`` empty: any error)."""
        return not self.on or error_name in self.on


@dataclass(frozen=True, slots=True)
class Estimate:
    """What one attempt of a milestone is expected to take: seconds, and resources by name."""

    duration: float | None = None
    resources: Mapping[str, float] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True, eq=False)
class Milestone:
    """One step of a journey, with the journey's defaults applied.

    ``args`` is the ``with:`` mapping (its strings are Jinja templates); ``action`` is ``None`` for
    a wait milestone, which pauses the run until it is advanced; ``line`` is where the milestone
    starts in its file, for messages.
    """

    id: str
    index: int
    title: str
    action: str | None = None
    compensation: str | None = None
    args: Mapping[str, Any] = field(default_factory=_empty)
    retry: Retry = field(default_factory=Retry)
    timeout: float | None = None
    estimate: Estimate = field(default_factory=Estimate)
    checkpoint: bool = False
    doc: str | None = None
    when: str | bool | None = None
    line: int = 0

    @property
    def is_wait(self) -> bool:
        """True for a milestone with no action: someone completes it with ``advance``."""
        return self.action is None


@dataclass(frozen=True, slots=True, eq=False)
class Definition:
    """A validated journey definition: what :func:`journeys.load_definition` returns.

    Two definitions are equal when their source text is: ``content_hash`` (SHA-256 of the exact
    text) is what a run is pinned to, so editing the file never changes a run in flight.
    """

    journey: str
    milestones: tuple[Milestone, ...]
    version: int = 1
    kind: Kind = "structured"
    title: str = ""
    description: str = ""
    namespace: str = ""
    priority: str = "normal"
    inputs: Mapping[str, Any] = field(default_factory=_empty)
    policies: Mapping[str, Any] = field(default_factory=_empty)
    retries: Mapping[str, Retry] = field(default_factory=_empty)
    source: str = "<string>"
    content_hash: str = ""
    text: str = field(default="", repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Definition):
            return NotImplemented
        return self.content_hash == other.content_hash

    def __hash__(self) -> int:
        return hash(self.content_hash)

    @property
    def ids(self) -> tuple[str, ...]:
        """The milestone ids, in order."""
        return tuple(m.id for m in self.milestones)

    def milestone(self, ident: str) -> Milestone:
        """The milestone named ``ident``; a :class:`JourneyError` naming the closest if none is."""
        for milestone in self.milestones:
            if milestone.id == ident:
                return milestone
        raise JourneyError(
            f"journey {self.journey!r} has no milestone {ident!r}{did_you_mean(ident, self.ids)}"
        )


def freeze(value: Any) -> Any:
    """A read-only deep copy of JSON-like data: mappings become proxies, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """Plain, mutable JSON-like data from frozen data (for JSON encoding or a handler's use)."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(item) for item in value]
    return value


def build(
    data: dict[str, Any],
    *,
    source: str,
    text: str,
    lines: Mapping[int, int] | None = None,
) -> Definition:
    """A :class:`Definition` from a document that passed the schema and the checks.

    ``lines`` maps a milestone's index to the line it starts on.
    """
    named = {name: _retry(spec, name=name) for name, spec in (data.get("retries") or {}).items()}
    defaults = data.get("defaults") or {}
    milestones = tuple(
        _milestone(index, spec, defaults, named, (lines or {}).get(index, 0))
        for index, spec in enumerate(data["milestones"])
    )
    journey = data["journey"]
    return Definition(
        journey=journey,
        milestones=milestones,
        version=int(data.get("version", 1)),  # JSON Schema calls 2.0 an integer too
        kind=data.get("kind", "structured"),
        title=data.get("title") or _humanize(journey),
        description=data.get("description", ""),
        namespace=data.get("namespace") or journey,
        priority=data.get("priority", "normal"),
        inputs=freeze(data.get("inputs") or {}),
        policies=freeze(data.get("policies") or {}),
        retries=MappingProxyType(named),
        source=source,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
    )


def _milestone(
    index: int,
    spec: dict[str, Any],
    defaults: dict[str, Any],
    named: Mapping[str, Retry],
    line: int,
) -> Milestone:
    estimate = spec.get("estimate") or {}
    timeout = spec.get("timeout", defaults.get("timeout"))
    return Milestone(
        id=spec["id"],
        index=index,
        title=spec.get("title") or _humanize(spec["id"]),
        action=spec.get("action"),
        compensation=spec.get("compensation"),
        args=freeze(spec.get("with") or {}),
        retry=_merged_retry(spec.get("retry"), defaults.get("retry"), named),
        timeout=durations.parse(timeout) if timeout is not None else None,
        estimate=Estimate(
            duration=_seconds(estimate.get("duration")),
            resources=MappingProxyType(
                {k: float(v) for k, v in (estimate.get("resources") or {}).items()}
            ),
        ),
        checkpoint=bool(spec.get("checkpoint", defaults.get("checkpoint", False))),
        doc=spec.get("doc"),
        when=spec.get("when"),
        line=line,
    )


def _merged_retry(own: Any, default: Any, named: Mapping[str, Retry]) -> Retry:
    """A milestone's retry: a named policy whole, or its own fields over the default's."""
    if isinstance(own, str):
        return named[own]
    base = named[default] if isinstance(default, str) else _retry(default or {})
    return base if own is None else _retry(own, base=base)


_NO_RETRY = Retry()


def _retry(spec: dict[str, Any], *, base: Retry = _NO_RETRY, name: str | None = None) -> Retry:
    max_delay = spec.get("max_delay")
    return Retry(
        retries=int(spec.get("retries", base.retries)),
        delay=durations.parse(spec["delay"]) if "delay" in spec else base.delay,
        backoff=cast(Backoff, spec.get("backoff", base.backoff)),
        factor=float(spec.get("factor", base.factor)),
        max_delay=durations.parse(max_delay) if max_delay is not None else base.max_delay,
        jitter=bool(spec.get("jitter", base.jitter)),
        on=tuple(spec.get("on", base.on)),
        name=name,
    )


def _seconds(value: Any) -> float | None:
    return durations.parse(value) if value is not None else None


def _humanize(name: str) -> str:
    words = name.replace("_", " ").replace("-", " ").replace(".", " ").strip()
    return words[:1].upper() + words[1:]

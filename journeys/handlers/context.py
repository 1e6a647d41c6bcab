"""What a handler is given: the :class:`Context` of one attempt of one milestone."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Context"]

_LOGGER = logging.getLogger("journeys.handlers")


@dataclass(frozen=True, slots=True)
class Context:
    """The call's context: which run and milestone, the inputs, the rendered arguments.

    ``results`` holds what the milestones before this one returned, by milestone id.
    ``idempotency_key`` is the same on every attempt of the milestone, after a crash and recovery
    too, so a handler can make its effect happen once (pass it to the payment API, name the file
    after it). A compensation gets its own key and, in ``result``, what the milestone it undoes
    returned. ``compensating`` tells the two apart. In a session, each visit of a pillar is new
    work with its own key (``run:pillar:visit``).
    """

    run_id: str
    journey: str
    milestone: str
    inputs: Mapping[str, Any]
    args: Mapping[str, Any]
    results: Mapping[str, Any]
    attempt: int
    idempotency_key: str
    tenant: str | None = None
    user: str | None = None
    compensating: bool = False
    result: Any = None
    logger: logging.Logger = field(default=_LOGGER)

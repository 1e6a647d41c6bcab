"""Which capabilities a run has: the journey's policies, a policy file, per-call overrides.

Resolution, lowest to highest: built-in defaults (every capability off) < the journey's
``policies:`` < the policy file's ``default:`` < its ``journeys:`` entries that match the journey
(a glob before a longer glob before the exact name) < the overrides of the call. Each layer
changes only the fields it names. A policy file is read again when it changes (its size, inode or
nanosecond modification time), so an edit applies to the next run without a restart.

(Environment variables join this resolution with the policy issue.)
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Mapping
from typing import Any, Final

from journeys import schemas
from journeys.definitions import source, validation
from journeys.definitions.loader import load_policy_file
from journeys.definitions.model import Definition, thaw
from journeys.errors import JourneyError, did_you_mean

__all__ = ["CAPABILITIES", "PolicyFile", "resolve"]

CAPABILITIES: Final = ("wal", "saga", "rollback", "forward_docs", "planning")

Resolved = dict[str, dict[str, Any]]


class PolicyFile:
    """A policy file, re-read (and re-validated) only when it has changed on disk."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._data: Mapping[str, Any] = {}
        self.data()  # a bad file is an error now, not at the first run

    def data(self) -> Mapping[str, Any]:
        """The file's validated content, as it is on disk now."""
        try:
            status = os.stat(self.path)
        except OSError as error:
            raise JourneyError(f"policy file {self.path}: {error.strerror or error}") from None
        stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
        with self._lock:
            if stamp != self._stamp:
                self._data = load_policy_file(self.path)
                self._stamp = stamp
            return self._data


def resolve(
    definition: Definition,
    policy_file: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Resolved:
    """The resolved policy of a run of ``definition``: every capability, with its fields."""
    resolved: Resolved = {name: {"enabled": False} for name in CAPABILITIES}
    layers: list[Mapping[str, Any]] = [definition.policies]
    if policy_file:
        layers.append(policy_file.get("default") or {})
        entries = policy_file.get("journeys") or {}
        layers += [entries[p] for p in _matching(definition.journey, entries)]
    if overrides:
        _check_overrides(overrides)
    layers.append(overrides or {})
    for layer in layers:
        for name, values in layer.items():
            if name not in resolved or not isinstance(values, Mapping):
                raise JourneyError(
                    f"unknown policy capability {name!r}{did_you_mean(name, CAPABILITIES)};"
                    f" the capabilities are {', '.join(CAPABILITIES)}"
                )
            resolved[name].update(thaw(values))
    return resolved


def _check_overrides(overrides: Mapping[str, Any]) -> None:
    """Per-call overrides obey the policy schema, as policy files do (``enabled: "yes"`` or a
    misspelt field would otherwise be ignored, and a capability stay as it was)."""
    document = source.Document("policy=", "", {"default": thaw(overrides)}, {}, {})
    found = validation.problems(document, schemas.validator("policy"))
    if found:
        listed = "; ".join(f"{p.path.removeprefix('/default') or '/'}: {p.message}" for p in found)
        raise JourneyError(f"the policy overrides are not valid: {listed}")


def _matching(journey: str, entries: Mapping[str, Any]) -> list[str]:
    """The entries matching ``journey``, least specific first: globs by length, then the name."""
    globs = sorted(
        (p for p in entries if p != journey and fnmatch.fnmatchcase(journey, p)), key=len
    )
    return [*globs, journey] if journey in entries else globs

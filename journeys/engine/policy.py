"""Which capabilities a run has, and where each setting came from.

Resolution, lowest to highest; each layer changes only the fields it names:

1. built-in defaults (:data:`BUILT_IN`: every capability off);
2. the journey's own ``policies:``;
3. the policy file's ``default:`` (the file given to the engine, else ``JOURNEYS_POLICY_FILE``);
4. its ``journeys:`` entries matching the journey: globs by length, then the exact name;
5. the environment: ``JOURNEYS_<CAPABILITY>_ENABLED=true|false``, then
   ``JOURNEYS_<CAPABILITY>_JOURNEYS=a,b*`` (the capability off for every journey not listed);
6. runtime overrides (``engine.set_policy(selector, ...)``), ordered like the file's entries;
7. the overrides of the call (``engine.start(..., policy=...)``).

Then two values are derived from the journey: ``wal.namespace`` left null becomes the journey's
namespace, and the milestones marked ``checkpoint: true`` join ``rollback.checkpoints`` (with
``rollback.auto_checkpoint`` on, every milestone is a checkpoint: :func:`is_checkpoint`). Every
value keeps its origin (``built-in``, ``journey <file>``, ``policy file <path>
journeys['ops_*']``, ``env JOURNEYS_SAGA_ENABLED``, ``runtime set_policy('ops_*')``,
``override``): :class:`ResolvedPolicy`.

What is read when, so a change counts from the next run without a restart, cheaply:

- the policy file is checked at every start with one ``stat``; it is read again only when its
  modification or change time (nanoseconds), size, inode or device differ, and validated again
  only when its text did change. File systems stamp times with a coarse clock (a few
  milliseconds on Linux, a second or two on some), so an edit right after the last read can
  keep every stamp: while the file's stamp is that recent, its text is compared too (git's
  "racily clean" check);
- the environment is read at every start: the eleven variable names above, a few microseconds,
  so a service that changes ``os.environ`` sees it at its next run. Names that look like policy
  variables but name no capability (``JOURNEYS_SAGAS_ENABLED``) are looked for when the engine
  is made and whenever the number of variables changes;
- what the layers resolve to is cached by the journey's content hash, the file's version, the
  variables' values and the runtime overrides' version: an unchanged start costs a stat, eleven
  lookups and a copy.
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from journeys import schemas
from journeys.definitions import source, validation
from journeys.definitions.loader import load_policy_file
from journeys.definitions.model import Definition, freeze, thaw
from journeys.errors import JourneyError, did_you_mean

__all__ = [
    "BUILT_IN",
    "CAPABILITIES",
    "ENVIRONMENT",
    "RUNTIME_NAMESPACE",
    "Policies",
    "PolicyFile",
    "ResolvedPolicy",
    "Subject",
    "check",
    "is_checkpoint",
    "is_journey_name",
    "matching",
    "resolve",
]

CAPABILITIES: Final = ("wal", "saga", "rollback", "forward_docs", "planning")

BUILT_IN: Final[Mapping[str, Mapping[str, Any]]] = freeze(
    {
        "wal": {"enabled": False, "operations": [], "namespace": None},
        "saga": {"enabled": False},
        "rollback": {"enabled": False, "checkpoints": [], "auto_checkpoint": True},
        "forward_docs": {"enabled": False, "generate_plan": True, "document_steps": True},
        "planning": {
            "enabled": False,
            "validate_plan": True,
            "planner": "template",
            "learn_from_results": False,
        },
    }
)
"""Every field of every capability as it is when no policy names it (the schema's defaults),
but ``wal.ttl``, which has none: unset, a run's log entries are kept until deleted. A resolved
policy is itself valid under the policy schema."""

_FIELDS: Final = {
    name: tuple(schemas.schema("policy")["$defs"][name]["properties"]) for name in CAPABILITIES
}
"""Each capability's fields in the schema's order, the order resolved values are shown in."""

POLICY_FILE_VARIABLE: Final = "JOURNEYS_POLICY_FILE"
ENVIRONMENT: Final = (
    *(f"JOURNEYS_{name.upper()}_ENABLED" for name in CAPABILITIES),
    *(f"JOURNEYS_{name.upper()}_JOURNEYS" for name in CAPABILITIES),
    POLICY_FILE_VARIABLE,
)
"""The environment variables resolution reads, in the order :class:`Environment` reads them."""

RUNTIME_NAMESPACE: Final = "journeys.policy"
"""The log namespace of :meth:`journeys.Engine.set_policy`'s records."""

_JOURNEY = re.compile(r"[a-z][a-z0-9_.-]*")
_LOOKS_LIKE_OURS = re.compile(r"JOURNEYS_(\w+?)_(ENABLED|JOURNEYS)")
_NAME_LIMIT = 200  # journey.schema.json's maxLength of a journey's name
_SELECTOR = re.compile(r"[a-z0-9_.*?\[\]!-]+")  # as the policy schema's journeys: keys
_RACY_NS: Final = 2_000_000_000  # the coarsest file time stamps in use (FAT: 2 s)
_CACHE_SIZE: Final = 4096

Layer = tuple[str, Mapping[str, Any]]
"""One layer of resolution: its origin, and the policies it sets (capability -> fields)."""


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    """The policy a run of ``journey`` gets, and where each value came from.

    ``values`` maps each capability to all of its fields (``values["saga"]["enabled"]``);
    ``origins`` has the same shape, each value's origin in words: ``built-in``, ``journey
    definitions/x.yaml``, ``policy file policies/audit.yaml default``, ``policy file p.yaml
    journeys['ops_*']``, ``env JOURNEYS_SAGA_ENABLED``, ``runtime set_policy('ops_*')`` or
    ``override``. Both are read-only.
    """

    journey: str
    values: Mapping[str, Mapping[str, Any]]
    origins: Mapping[str, Mapping[str, str]]

    def enabled(self, capability: str) -> bool:
        """Whether ``capability`` (``wal``, ``saga``, ...) is on."""
        return bool(self.values[_known(capability)]["enabled"])

    def origin(self, capability: str, name: str = "enabled") -> str:
        """Where the value of ``capability.name`` came from."""
        return self.origins[_known(capability)][name]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: ``{"journey", "policy", "origins"}``."""
        return {"journey": self.journey, "policy": thaw(self.values), "origins": thaw(self.origins)}


@dataclass(frozen=True, slots=True)
class Subject:
    """What resolution needs to know of a journey."""

    journey: str
    origin: str
    namespace: str
    policies: Mapping[str, Any] = field(default_factory=dict)
    checkpoints: tuple[str, ...] = ()

    @classmethod
    def of(cls, definition: Definition) -> Subject:
        """A journey definition (its ``policies:``, namespace and checkpoint milestones)."""
        where = definition.journey if definition.source == "<string>" else definition.source
        return cls(
            definition.journey,
            f"journey {where}",
            definition.namespace or definition.journey,
            definition.policies,
            tuple(m.id for m in definition.milestones if m.checkpoint),
        )

    @classmethod
    def named(cls, journey: str) -> Subject:
        """A journey known by name only: the layers above its own ``policies:``."""
        return cls(journey, f"journey {journey}", journey)


def resolve(subject: Subject | Definition, layers: Iterable[Layer] = ()) -> ResolvedPolicy:
    """The resolved policy of ``subject`` under ``layers`` (lowest first) over its own."""
    if isinstance(subject, Definition):
        subject = Subject.of(subject)
    values = {name: dict(fields) for name, fields in BUILT_IN.items()}
    origins = {name: dict.fromkeys(fields, "built-in") for name, fields in BUILT_IN.items()}
    for origin, policies in ((subject.origin, subject.policies), *layers):
        for name, given in policies.items():
            if name not in values or not isinstance(given, Mapping):
                raise JourneyError(
                    f"{origin}: unknown policy capability {name!r}{did_you_mean(name, values)};"
                    f" the capabilities are {', '.join(CAPABILITIES)}"
                )
            for key, value in given.items():
                values[name][key] = thaw(value)
                origins[name][key] = origin
    wal = values["wal"]
    if wal["namespace"] is None:
        wal["namespace"] = subject.namespace
        origins["wal"]["namespace"] = f"{subject.origin} namespace"
    rollback = values["rollback"]
    named = list(rollback["checkpoints"])
    marked = [m for m in subject.checkpoints if m not in named]
    if marked:
        rollback["checkpoints"] = named + marked
        was = origins["rollback"]["checkpoints"] if named else subject.origin
        origins["rollback"]["checkpoints"] = f"{was} + milestones marked checkpoint: true"
    return ResolvedPolicy(subject.journey, freeze(_ordered(values)), freeze(_ordered(origins)))


def is_checkpoint(rollback: Mapping[str, Any] | None, milestone: str) -> bool:
    """Whether a run whose resolved rollback policy is ``rollback`` takes a snapshot after
    ``milestone``: with the policy on, after every milestone when ``auto_checkpoint`` is on,
    else after those in ``checkpoints`` (named there or marked ``checkpoint: true``)."""
    return bool(
        rollback
        and rollback.get("enabled")
        and (rollback.get("auto_checkpoint") or milestone in rollback.get("checkpoints", ()))
    )


def _ordered(resolved: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: {key: fields[key] for key in _FIELDS[name] if key in fields}
        for name, fields in resolved.items()
    }


def check(policy: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """``policy`` (capability -> fields) if the policy schema accepts it, read-only; else a
    :class:`JourneyError` listing every problem (``enabled: "yes"`` or a misspelt field would
    otherwise be ignored, and the capability stay as it was)."""
    if not isinstance(policy, Mapping):
        raise JourneyError(f"{what} must be a mapping of capabilities to settings")
    document = source.Document(what, "", {"default": thaw(policy)}, {}, {})
    found = validation.problems(document, schemas.validator("policy"))
    if found:
        listed = "; ".join(f"{p.path.removeprefix('/default') or '/'}: {p.message}" for p in found)
        raise JourneyError(f"{what} is not valid: {listed}")
    frozen: Mapping[str, Any] = freeze(policy)
    return frozen


def is_journey_name(text: str) -> bool:
    """Whether ``text`` is a journey's name rather than a definition's path (or YAML text)."""
    return (
        bool(_JOURNEY.fullmatch(text))
        and not text.endswith((".yaml", ".yml"))
        and not os.path.exists(text)
    )


def matching(journey: str, selectors: Iterable[str]) -> list[str]:
    """The selectors matching ``journey``, least specific first: globs by length (then in
    order), then the exact name."""
    chosen = list(selectors)
    globs = sorted((s for s in chosen if s != journey and fnmatch.fnmatchcase(journey, s)), key=len)
    return [*globs, journey] if journey in chosen else globs


class PolicyFile:
    """A policy file, read and validated again only when it has changed on disk."""

    def __init__(self, path: str | os.PathLike[str], *, chosen_by: str | None = None) -> None:
        self.path = os.fspath(path)
        self.label = f"policy file {self.path}" + (f" ({chosen_by})" if chosen_by else "")
        """How origins name it: ``policy file <path>``, and the variable that chose it."""
        self.version = 0
        """How many times it was read and validated (a cache key: it changes with the file)."""
        self._chosen_by = chosen_by
        self._lock = threading.Lock()
        self._stamp: tuple[int, ...] | None = None
        self._racy = True
        self._text: str | None = None
        self._data: Mapping[str, Any] = {}
        self.data()  # a bad file is an error now, not at the first run

    def data(self) -> Mapping[str, Any]:
        """The file's validated content, as it is on disk now."""
        try:
            status = os.stat(self.path)
        except OSError as error:
            where = f"{self._chosen_by}: " if self._chosen_by else ""
            raise JourneyError(
                f"{where}policy file {self.path}: {error.strerror or error}"
            ) from None
        stamp = (
            status.st_mtime_ns,
            status.st_ctime_ns,
            status.st_size,
            status.st_ino,
            status.st_dev,
        )
        with self._lock:
            if stamp == self._stamp and not self._racy:
                return self._data
            now = time.time_ns()
            text = source.read(self.path)
            if text != self._text:  # not merely touched
                self._data = load_policy_file(text, name=self.path)
                self._text = text
                self.version += 1
            self._stamp = stamp
            # A stamp older than the coarsest clock tick before this read cannot be kept by a
            # later edit; a newer one can, so the text is compared until the stamp is old.
            self._racy = max(status.st_mtime_ns, status.st_ctime_ns) >= now - _RACY_NS
            return self._data

    def layers(self, journey: str) -> list[Layer]:
        """The file's layers for ``journey``: ``default:``, then its matching entries."""
        data = self.data()
        found: list[Layer] = []
        if data.get("default"):
            found.append((f"{self.label} default", data["default"]))
        entries = data.get("journeys") or {}
        found += [(f"{self.label} journeys[{s!r}]", entries[s]) for s in matching(journey, entries)]
        return found


@dataclass(frozen=True, slots=True)
class _Settings:
    """What the policy variables say, parsed."""

    enabled: tuple[tuple[str, str, bool], ...] = ()  # (capability, variable, on)
    only: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (capability, variable, selectors)
    policy_file: str | None = None

    def layers(self, journey: str) -> list[Layer]:
        found: list[Layer] = [(f"env {v}", {c: {"enabled": on}}) for c, v, on in self.enabled]
        for capability, variable, selectors in self.only:
            if not any(fnmatch.fnmatchcase(journey, s) for s in selectors):
                found.append((f"env {variable}", {capability: {"enabled": False}}))
        return found


class Environment:
    """The policy variables of the environment, read at every start (see the module's doc)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._size = -1
        self._parsed: dict[tuple[str | None, ...], _Settings] = {}
        # os.environ.get is Python code that raises and catches a KeyError for every name
        # not set (most of them): 37 us for the eleven, a tenth of an in-memory run. CPython's
        # os.environ keeps its values in a dict of encoded names, which answers in 2 us.
        self._data: dict[Any, Any] | None = None
        data = getattr(self._environ, "_data", None)
        encode = getattr(self._environ, "encodekey", None)
        decode = getattr(self._environ, "decodevalue", None)
        if isinstance(self._environ, os._Environ) and isinstance(data, dict) and encode and decode:
            self._data, self._decode = data, decode
            self._keys = tuple(map(encode, ENVIRONMENT))
        self._unset: tuple[None, ...] = (None,) * len(ENVIRONMENT)

    def _values(self) -> tuple[str | None, ...]:
        if self._data is None:
            return tuple(map(self._environ.get, ENVIRONMENT))
        found = tuple(map(self._data.get, self._keys))
        if found == self._unset:  # the usual case: none of them set
            return self._unset
        decode = self._decode
        return tuple(None if value is None else decode(value) for value in found)

    def read(self) -> tuple[tuple[str | None, ...], _Settings]:
        """The raw values of :data:`ENVIRONMENT` (a cache key) and what they say."""
        environ = self._environ
        if len(environ) != self._size:
            self.check_names()
            self._size = len(environ)
        raw = self._values()
        settings = self._parsed.get(raw)
        if settings is None:
            settings = _parse(dict(zip(ENVIRONMENT, raw, strict=True)))
            if len(self._parsed) >= _CACHE_SIZE:
                self._parsed.clear()
            self._parsed[raw] = settings
        return raw, settings

    def check_names(self) -> None:
        """A :class:`JourneyError` for a variable that looks like a policy variable but names
        no capability (``JOURNEYS_SAGAS_ENABLED`` would otherwise be ignored in silence)."""
        known = {name.upper(): name for name in CAPABILITIES}
        for variable in self._environ:
            shape = _LOOKS_LIKE_OURS.fullmatch(variable)
            if shape is None or shape.group(1) in known:
                continue
            guess = did_you_mean(shape.group(1), known)
            raise JourneyError(
                f"{variable}: there is no capability {shape.group(1).lower()!r}"
                f"{guess.lower() if guess else ''}; the policy variables are"
                f" JOURNEYS_<CAPABILITY>_ENABLED and JOURNEYS_<CAPABILITY>_JOURNEYS with"
                f" CAPABILITY one of {', '.join(known)}"
            )


def _parse(values: Mapping[str, str | None]) -> _Settings:
    enabled, only = [], []
    for name in CAPABILITIES:
        variable = f"JOURNEYS_{name.upper()}_ENABLED"
        text = values[variable]
        if text is not None:
            enabled.append((name, variable, _boolean(variable, text)))
        variable = f"JOURNEYS_{name.upper()}_JOURNEYS"
        text = values[variable]
        if text is not None:
            only.append((name, variable, _selectors(variable, text, name)))
    return _Settings(tuple(enabled), tuple(only), values[POLICY_FILE_VARIABLE] or None)


def _boolean(variable: str, text: str) -> bool:
    word = text.strip().lower()
    if word in ("true", "1"):
        return True
    if word in ("false", "0"):
        return False
    raise JourneyError(f"{variable}={text!r}: write true or false (or 1 or 0)")


def _selectors(variable: str, text: str, capability: str) -> tuple[str, ...]:
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise JourneyError(
            f"{variable} is empty: list the journeys (names or globs, comma-separated) that keep"
            f" the {capability} capability; to switch it off for all, set"
            f" JOURNEYS_{capability.upper()}_ENABLED=false"
        )
    for item in items:
        if not _SELECTOR.fullmatch(item):
            shown = repr(item) if item else "an empty item"
            raise JourneyError(
                f"{variable}={text!r}: {shown} is not a journey name or glob (lower-case"
                " letters, digits, _ . - and * ? [ ] !, comma-separated)"
            )
    return tuple(items)


class Policies:
    """The layers above a journey's own ``policies:`` that an engine applies, and their cache.

    ``file`` is the policy file; with none, ``JOURNEYS_POLICY_FILE`` names one (read at every
    start like the other variables). ``set`` adds runtime overrides.
    """

    def __init__(
        self,
        file: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._file = PolicyFile(file) if file is not None else None
        self._environment = Environment(environ)
        self._by_variable: dict[str, PolicyFile] = {}
        self._runtime: dict[str, Mapping[str, Any]] = {}
        self._runtime_version = 0
        self._subjects: dict[tuple[str, str], Subject] = {}
        self._cache: dict[tuple[Any, ...], tuple[ResolvedPolicy, dict[str, Any]]] = {}
        self._source(self._environment.read()[1])  # a bad variable or file is an error now

    def resolve(
        self, journey: Definition | str, overrides: Mapping[str, Any] | None = None
    ) -> ResolvedPolicy:
        """The resolved policy of a journey (a definition, or a name: then without its own
        ``policies:``), with the call's ``overrides``."""
        return self.for_run(journey, overrides)[0]

    def for_run(
        self, journey: Definition | str, overrides: Mapping[str, Any] | None = None
    ) -> tuple[ResolvedPolicy, dict[str, Any]]:
        """:meth:`resolve`, and its values as plain data for one run (its own copy)."""
        if isinstance(journey, Definition):
            key: tuple[str, str] = (journey.content_hash, journey.source)
        else:
            key = ("", journey)
        raw, settings = self._environment.read()
        file = self._source(settings)
        if file is not None:
            file.data()  # a stat: is the version below still the file's?
        version = (file.path, file.version) if file is not None else None
        cache_key = (key, version, raw, self._runtime_version)
        found = None if overrides else self._cache.get(cache_key)
        if found is None:
            subject = self._subject(key, journey)
            layers = [
                *(file.layers(subject.journey) if file is not None else ()),
                *settings.layers(subject.journey),
                *self._runtime_layers(subject.journey),
            ]
            if overrides:
                layers.append(("override", check(overrides, "the policy overrides")))
            resolved = resolve(subject, layers)
            found = (resolved, thaw(resolved.values))
            if not overrides:
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.clear()
                self._cache[cache_key] = found
        resolved, plain = found
        return resolved, {name: dict(fields) for name, fields in plain.items()}

    def set(
        self,
        selector: str,
        policy: Mapping[str, Any] | None,
        *,
        before: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Make ``policy`` the runtime override of the journeys ``selector`` (a name or a glob)
        matches, replacing the one it had; ``None`` or ``{}`` removes it. Once it is checked,
        ``before(policy)`` is called first (to log it): if that raises, nothing changes."""
        if not isinstance(selector, str) or not _SELECTOR.fullmatch(selector):
            raise JourneyError(
                f"{selector!r} is not a journey name or glob (lower-case letters, digits,"
                " _ . - and * ? [ ] !)"
            )
        if len(selector) > _NAME_LIMIT:  # as journey names; the log keeps no longer
            raise JourneyError(
                f"selector {selector[:40]!r}... is {len(selector)} characters long; the most"
                f" is {_NAME_LIMIT}, as for journey names"
            )
        checked = check(policy or {}, f"the policy set for {selector!r}")
        if before is not None:
            before(thaw(checked))
        if checked:
            self._runtime[selector] = checked
        else:
            self._runtime.pop(selector, None)
        self._runtime_version += 1

    def _source(self, settings: _Settings) -> PolicyFile | None:
        if self._file is not None or settings.policy_file is None:
            return self._file
        path = settings.policy_file
        file = self._by_variable.get(path)
        if file is None:
            file = self._by_variable[path] = PolicyFile(path, chosen_by=POLICY_FILE_VARIABLE)
        return file

    def _runtime_layers(self, journey: str) -> Iterator[Layer]:
        for selector in matching(journey, self._runtime):
            yield (f"runtime set_policy({selector!r})", self._runtime[selector])

    def _subject(self, key: tuple[str, str], journey: Definition | str) -> Subject:
        found = self._subjects.get(key)
        if found is None:
            found = (
                Subject.of(journey) if isinstance(journey, Definition) else Subject.named(journey)
            )
            if len(self._subjects) >= _CACHE_SIZE:
                self._subjects.clear()
            self._subjects[key] = found
        return found


def _known(capability: str) -> str:
    if capability not in CAPABILITIES:
        raise JourneyError(
            f"unknown policy capability {capability!r}{did_you_mean(capability, CAPABILITIES)};"
            f" the capabilities are {', '.join(CAPABILITIES)}"
        )
    return capability

"""The handler registry: the only way a definition's names reach code.

A definition names handlers (``action: storage.upload``); the application decides which code those
names mean, by registering functions with :func:`journeys.handler` in modules it loads itself
(``--handlers MODULE_OR_PATH`` on the command line) or through the ``journeys.handlers`` entry-point
group of installed packages. A definition can never import code by itself.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

from journeys.errors import HandlerError, did_you_mean

__all__ = ["ENTRY_POINT_GROUP", "Handler", "Registry", "default_registry", "handler"]

ENTRY_POINT_GROUP = "journeys.handlers"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Handler:
    """A registered handler: its name, the function, and whether it is a coroutine function."""

    name: str
    function: Callable[..., Any]
    is_async: bool


class Registry:
    """Handlers by name. Most applications use the default one through :func:`journeys.handler`."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self.version = 0
        """Counts registrations, so a check that every handler of a journey exists can be
        remembered until the registry changes."""

    def register(self, name: str, function: Callable[..., Any], *, replace: bool = False) -> None:
        """Register ``function`` under ``name``; registering a name twice needs ``replace=True``."""
        if not _NAME.fullmatch(name):
            raise HandlerError(
                f"{name!r} is not a handler name: use dotted identifiers such as storage.upload"
            )
        existing = self._handlers.get(name)
        if existing is not None and existing.function is not function and not replace:
            raise HandlerError(
                f"handler {name!r} is already registered (by {_where(existing.function)});"
                " pass replace=True to replace it"
            )
        self._handlers[name] = Handler(name, function, inspect.iscoroutinefunction(function))
        self.version += 1

    def handler(self, name: str, *, replace: bool = False) -> Callable[[F], F]:
        """Decorator: ``@registry.handler("storage.upload")`` registers the function below it."""

        def register(function: F) -> F:
            self.register(name, function, replace=replace)
            return function

        return register

    def get(self, name: str) -> Handler:
        """The handler called ``name``; a :class:`HandlerError` naming the closest if none is."""
        try:
            return self._handlers[name]
        except KeyError:
            raise HandlerError(self.unknown(name)) from None

    def unknown(self, name: str) -> str:
        """The message for an unknown handler name."""
        hint = did_you_mean(name, self._handlers)
        if not hint and self._handlers:
            shown = ", ".join(sorted(self._handlers)[:8])
            more = ", ..." if len(self._handlers) > 8 else ""
            hint = f" (registered: {shown}{more})"
        elif not self._handlers:
            hint = " (no handlers are registered: load your handler modules with --handlers)"
        return f"no handler is registered as {name!r}{hint}"

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))

    def __len__(self) -> int:
        return len(self._handlers)

    def load(self, module_or_path: str) -> None:
        """Import a handler module by dotted name or file path, so that its handlers register.

        This is the application's choice, made on the command line or in code: never a
        definition's.
        """
        path = Path(module_or_path)
        try:
            dotted = _package_module(path)
            if dotted is not None:  # a file or folder inside a package: import it as such
                name = importlib.import_module(dotted).__name__
            elif module_or_path.endswith(".py") or path.is_file():
                if not path.is_file():
                    raise HandlerError(f"{module_or_path}: no such handler file")
                name = f"journeys_handlers_{path.stem}_{abs(hash(path.resolve()))}"
                if name in sys.modules:
                    self._adopt(name)
                    return
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None:
                    raise HandlerError(f"{module_or_path}: cannot be loaded as a Python module")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[name]
                    raise
            else:
                name = importlib.import_module(module_or_path).__name__
        except HandlerError:
            raise
        except ImportError as error:
            raise HandlerError(
                f"cannot import handler module {module_or_path!r}: {error}"
            ) from error
        except Exception as error:
            raise HandlerError(
                f"handler module {module_or_path!r} failed while loading:"
                f" {type(error).__name__}: {error}"
            ) from error
        self._adopt(name)

    def _adopt(self, module: str) -> None:
        """Take the handlers that ``module`` registered with :func:`handler`.

        A module registers with ``@journeys.handler``, into the default registry; without this,
        ``Registry().load(...)`` imported the module and the registry stayed empty. Adopting by
        the functions' module also works when the module was imported before (it does not run
        twice).
        """
        if self is default_registry:
            return
        for found in list(default_registry._handlers.values()):
            owner = getattr(found.function, "__module__", None) or ""
            if owner == module or owner.startswith(module + "."):  # a package's modules too
                self.register(found.name, found.function)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load the handler modules that installed packages declare in the entry-point group."""
        for entry in entry_points(group=group):
            try:
                loaded = entry.load()
            except Exception as error:
                raise HandlerError(
                    f"entry point {entry.name!r} ({entry.value}) of group {group} failed to load:"
                    f" {type(error).__name__}: {error}"
                ) from error
            if callable(loaded) and not inspect.ismodule(loaded):
                loaded(self)  # a function that registers into the registry it is given


def _package_module(path: Path) -> str | None:
    """The dotted name of a ``.py`` file or a folder that lives in a package (folders with
    ``__init__.py``), with the package's parent put on the import path; None otherwise.

    So ``--handlers examples`` or ``--handlers examples/data_ingest.py`` imports
    ``examples.data_ingest``, whose own ``from examples import ...`` then works, from any
    working directory.
    """
    if path.is_dir():
        if not (path / "__init__.py").is_file():
            return None
        parts, folder = [], path.resolve()
    elif path.suffix == ".py" and path.is_file():
        folder = path.resolve().parent
        parts = [] if path.stem == "__init__" else [path.stem]
        if not (folder / "__init__.py").is_file():
            return None
    else:
        return None
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if not all(part.isidentifier() for part in parts):
        return None
    dotted = ".".join(parts)
    root = str(folder)
    if root not in sys.path:
        sys.path.insert(0, root)
    loaded = sys.modules.get(dotted)
    if loaded is not None:
        where = getattr(loaded, "__file__", None)
        expected = path.resolve() / "__init__.py" if path.is_dir() else path.resolve()
        if where is not None and Path(where).resolve() != expected:
            raise HandlerError(
                f"{path}: another module named {dotted!r} is already imported (from {where})"
            )
    return dotted


def _where(function: Callable[..., Any]) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}"


default_registry = Registry()
"""The registry that :func:`handler` registers into and engines use unless given another."""


def handler(name: str, *, replace: bool = False) -> Callable[[F], F]:
    """Register a handler in the default registry::

        @journeys.handler("storage.upload")
        def upload(ctx):
            return {"file_id": ...}

    Plain and ``async def`` functions both work. What it returns (JSON-like data) becomes
    ``ctx.results[<milestone id>]`` for the milestones after it.
    """
    return default_registry.handler(name, replace=replace)

"""The handler registry: registering, naming errors, loading handler modules, the built-ins."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

import journeys
from journeys.handlers import builtin
from journeys.handlers import registry as registry_module


@pytest.fixture
def registry() -> journeys.Registry:
    return journeys.Registry()


@pytest.fixture
def default_untouched() -> Iterator[None]:
    """Loading a module registers into the default registry too: undo that after the test."""
    before = dict(registry_module.default_registry._handlers)
    modules = set(sys.modules)
    yield
    registry_module.default_registry._handlers.clear()
    registry_module.default_registry._handlers.update(before)
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def context(**fields: Any) -> journeys.Context:
    values: dict[str, Any] = {
        "run_id": "r",
        "journey": "j",
        "milestone": "m",
        "inputs": {},
        "args": {},
        "results": {},
        "attempt": 1,
        "idempotency_key": "r:m",
    }
    values.update(fields)
    return journeys.Context(**values)


def test_register_and_get(registry: journeys.Registry) -> None:
    def upload(ctx: journeys.Context) -> str:
        return "up"

    async def fetch(ctx: journeys.Context) -> str:
        return "fetched"

    registry.register("storage.upload", upload)

    @registry.handler("storage.fetch")
    async def decorated(ctx: journeys.Context) -> str:
        return await fetch(ctx)

    assert registry.get("storage.upload").function is upload
    assert registry.get("storage.upload").is_async is False
    assert registry.get("storage.fetch").is_async is True
    assert asyncio.run(registry.get("storage.fetch").function(context())) == "fetched"
    assert "storage.upload" in registry and "storage.nope" not in registry
    assert list(registry) == ["storage.fetch", "storage.upload"] and len(registry) == 2


def test_a_duplicate_name_is_refused_unless_replaced(registry: journeys.Registry) -> None:
    def one(ctx: journeys.Context) -> int:
        return 1

    def two(ctx: journeys.Context) -> int:
        return 2

    registry.register("x.one", one)
    registry.register("x.one", one)  # the same function again: harmless
    with pytest.raises(
        journeys.HandlerError, match=r"'x\.one' is already registered.*replace=True"
    ):
        registry.register("x.one", two)
    assert registry.get("x.one").function is one
    registry.register("x.one", two, replace=True)
    assert registry.get("x.one").function is two


@pytest.mark.parametrize("name", ["", "has space", "1st", "a..b", "a.", "a-b"])
def test_a_handler_name_must_be_dotted_identifiers(registry: journeys.Registry, name: str) -> None:
    with pytest.raises(journeys.HandlerError, match="is not a handler name"):
        registry.register(name, lambda ctx: None)


def test_an_unknown_handler_names_the_closest(registry: journeys.Registry) -> None:
    with pytest.raises(journeys.HandlerError, match="no handlers are registered"):
        registry.get("storage.upload")
    for name in ("storage.upload", "storage.delete", "parser.parse"):
        registry.register(name, lambda ctx: None)
    with pytest.raises(journeys.HandlerError, match=r"did you mean 'storage\.upload'"):
        registry.get("storage.uplaod")
    with pytest.raises(journeys.HandlerError) as caught:
        registry.get("zzz")
    assert "registered: parser.parse, storage.delete, storage.upload" in str(caught.value)


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


HANDLERS = """
import journeys

@journeys.handler("NAME.upload")
def upload(ctx):
    return {"uploaded": ctx.args.get("name")}

@journeys.handler("NAME.fetch")
async def fetch(ctx):
    return "fetched"
"""


def unique() -> str:
    return f"h{uuid.uuid4().hex[:10]}"


@pytest.mark.usefixtures("default_untouched")
def test_loading_a_module_by_path(registry: journeys.Registry, tmp_path: Path) -> None:
    name = unique()
    path = write(tmp_path / "my_handlers.py", HANDLERS.replace("NAME", name))
    registry.load(str(path))
    assert list(registry) == [f"{name}.fetch", f"{name}.upload"]
    assert registry.get(f"{name}.fetch").is_async
    registry.load(str(path))  # loading again neither re-runs nor loses anything
    assert len(registry) == 2
    other = journeys.Registry()
    other.load(str(path))  # another registry, same (already imported) module
    assert list(other) == list(registry)
    assert other.get(f"{name}.upload").function is registry.get(f"{name}.upload").function


@pytest.mark.usefixtures("default_untouched")
def test_loading_a_module_by_dotted_name(
    registry: journeys.Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique()
    package = tmp_path / name
    package.mkdir()
    write(package / "__init__.py", "")
    write(package / "steps.py", HANDLERS.replace("NAME", name))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.load(f"{name}.steps")
    assert list(registry) == [f"{name}.fetch", f"{name}.upload"]
    engine = journeys.Engine("memory:", registry=registry)
    definition = journeys.load_definition(
        f"journey: loaded\nmilestones:\n  - id: up\n    action: {name}.upload\n"
        "    with: {name: a.csv}\n  - id: down\n    action: " + f"{name}.fetch\n"
    )
    run = engine.start(definition)
    engine.close()
    assert run.status == "completed"
    assert run.results == {"up": {"uploaded": "a.csv"}, "down": "fetched"}


@pytest.mark.usefixtures("default_untouched")
def test_loading_a_package_folder_or_a_file_inside_it_by_path(
    registry: journeys.Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file in a package is imported as the package's module, so its own
    `from package import helper` works, whatever the working directory."""
    name = unique()
    package = tmp_path / "project" / name
    package.mkdir(parents=True)
    write(package / "_helper.py", "PREFIX = 'from-helper'\n")
    write(package / "__init__.py", "from . import steps\n")
    write(
        package / "steps.py",
        HANDLERS.replace("NAME", name).replace(
            "import journeys", f"import journeys\nfrom {name} import _helper"
        ),
    )
    monkeypatch.chdir(tmp_path)  # not the package's parent
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    registry.load(str(package / "steps.py"))
    assert list(registry) == [f"{name}.fetch", f"{name}.upload"]
    assert registry.get(f"{name}.upload").function.__module__ == f"{name}.steps"
    whole = journeys.Registry()
    whole.load(str(package))  # the folder: its __init__ imports the modules
    assert list(whole) == list(registry)


@pytest.mark.usefixtures("default_untouched")
@pytest.mark.parametrize(
    ("filename", "source", "message"),
    [
        ("broken.py", "def oops(:\n", "failed while loading: SyntaxError"),
        ("raising.py", "raise RuntimeError('no config')\n", "RuntimeError: no config"),
        ("importing.py", "import no_such_module_xyz\n", "cannot import handler module"),
        ("notes.txt", "just text\n", "cannot be loaded as a Python module"),
    ],
)
def test_a_bad_module_is_a_handler_error(
    registry: journeys.Registry, tmp_path: Path, filename: str, source: str, message: str
) -> None:
    path = write(tmp_path / filename, source)
    modules = set(sys.modules)
    with pytest.raises(journeys.HandlerError, match=message):
        registry.load(str(path))
    assert set(sys.modules) == modules  # a failed load leaves nothing half-imported
    assert len(registry) == 0


@pytest.mark.usefixtures("default_untouched")
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing_handlers.py", "no such handler file"),
        ("no_such_package_xyz.steps", "cannot import handler module 'no_such_package_xyz.steps'"),
    ],
)
def test_a_missing_module_is_a_handler_error(
    registry: journeys.Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(journeys.HandlerError, match=message):
        registry.load(target)


@pytest.mark.usefixtures("default_untouched")
def test_entry_points_register_into_the_registry(
    registry: journeys.Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique()
    write(
        tmp_path / f"{name}.py",
        f"def register(registry):\n    registry.register('{name}.hello', lambda ctx: 'hi')\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    good = EntryPoint(name="good", value=f"{name}:register", group="journeys.handlers")
    bad = EntryPoint(name="bad", value=f"{name}:nothing_here", group="journeys.handlers")
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [good])
    registry.load_entry_points()
    assert list(registry) == [f"{name}.hello"]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [bad])
    with pytest.raises(journeys.HandlerError, match=r"entry point 'bad'.*failed to load"):
        registry.load_entry_points()


def test_the_builtins_join_every_engine_s_registry(registry: journeys.Registry) -> None:
    with journeys.Engine("memory:", registry=registry):
        assert list(registry) == ["builtin.fail", "builtin.noop", "builtin.set", "builtin.sleep"]
    builtin.register(registry)  # idempotent
    assert len(registry) == 4


def test_the_builtins(registry: journeys.Registry) -> None:
    builtin.register(registry)
    assert registry.get("builtin.noop").function(context()) is None
    assert registry.get("builtin.set").function(context(args={"a": 1})) == {"a": 1}
    sleep = registry.get("builtin.sleep")
    assert sleep.is_async and asyncio.run(sleep.function(context(args={"seconds": 0}))) == 0.0
    fail = registry.get("builtin.fail").function
    with pytest.raises(builtin.RehearsedFailure, match=r"m failed \(builtin\.fail\)"):
        fail(context())
    with pytest.raises(journeys.Fatal, match="stop"):
        fail(context(args={"message": "stop", "fatal": True}))
    with pytest.raises(builtin.RehearsedFailure):
        fail(context(args={"attempts": 2}, attempt=2))
    assert fail(context(args={"attempts": 2}, attempt=3)) == {"failed_attempts": 2}


def test_builtin_fail_succeeds_after_its_attempts_in_a_run(registry: journeys.Registry) -> None:
    definition = journeys.load_definition(
        """
journey: rehearse
milestones:
  - id: flaky
    action: builtin.fail
    with: {attempts: 2}
    retry: {retries: 2, delay: 0s}
"""
    )
    with journeys.Engine("memory:", registry=registry) as engine:
        run = engine.start(definition)
    assert run.status == "completed" and run.results == {"flaky": {"failed_attempts": 2}}


def test_the_decorator_registers_in_the_default_registry(default_untouched: None) -> None:
    name = f"{unique()}.hello"

    @journeys.handler(name)
    def hello(ctx: journeys.Context) -> str:
        return "hi"

    assert registry_module.default_registry.get(name).function is hello

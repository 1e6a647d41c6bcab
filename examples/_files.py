"""Helpers shared by the example handlers: the data folder, atomic JSON files, locks, undo.

Every effect of the examples is a file in the data folder: ``./journeys-data`` by default, or the
folder named by the environment variable ``JOURNEYS_DATA_DIR`` (read on every call, so a test or
a service can point it elsewhere at any time). Relative output paths given as inputs
(``output_dir``, ``output_path``, ``workspace_dir``) are taken inside the data folder too, so one
folder holds everything a run did; absolute paths are used as they are.

So that a retried or recovered attempt never duplicates an effect and every compensation really
undoes its milestone: what a milestone creates is named from ``ctx.idempotency_key``
(:func:`key_id`), often one JSON record per file (:class:`Records`); files are written atomically
(temporary file, then ``os.replace``); shared JSON files (an index, a ledger) change under a lock
(:func:`update_json`) and are deleted when they become empty; a compensation deletes what its
milestone created, prunes the folders it leaves empty (:func:`remove`, :meth:`Records.undo`) and
is harmless when run twice; an output that replaces a file keeps the old one in ``backups/``
until the compensation puts it back (:func:`replace_file`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import journeys
from journeys.handlers.registry import default_registry

if sys.platform != "win32":  # POSIX: shared files are changed under a lock
    import fcntl

DATA_ENV = "JOURNEYS_DATA_DIR"
DEFAULT_DATA = "journeys-data"


def data_dir() -> Path:
    """The data folder, read from ``JOURNEYS_DATA_DIR`` at call time (absolute)."""
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA).expanduser().absolute()


def in_data(*parts: str) -> Path:
    """A path inside the data folder."""
    return data_dir().joinpath(*parts)


def output_path(path: str) -> Path:
    """An output path given as an input: relative paths are taken inside the data folder."""
    given = Path(path).expanduser()
    return given if given.is_absolute() else data_dir() / given


def digest(text: str | bytes, size: int = 12) -> str:
    """A short stable hex digest."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:size]


def key_id(ctx: Any, prefix: str) -> str:
    """An identifier derived from the attempt's idempotency key: the same on every attempt."""
    return f"{prefix}-{digest(ctx.idempotency_key)}"


def slug(text: str) -> str:
    """``"Invoice Approval (v2)"`` -> ``"invoice-approval-v2"``."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "untitled"


# --- handlers ------------------------------------------------------------------------------------


def handler(name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register an example handler in the default registry. When the run's ``fail_at`` input
    names the milestone, the action raises :class:`journeys.Fatal` before doing anything, so the
    saga compensates what came before (compensations never fail on purpose)."""

    def register(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
        @functools.wraps(function)
        def run(ctx: Any) -> Any:
            if not ctx.compensating and ctx.inputs.get("fail_at") == ctx.milestone:
                raise journeys.Fatal(f"failing {ctx.milestone} on purpose (fail_at)")
            return function(ctx)

        default_registry.register(name, run)
        return function

    return register


# --- files ---------------------------------------------------------------------------------------


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except FileNotFoundError:  # the folder was just pruned by a concurrent undo: once more
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def dump(data: Any, indent: int | None = 2) -> bytes:
    """Stable JSON bytes: the same data always gives the same file."""
    text = json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode()


def write_json(path: Path, data: Any, indent: int | None = 2) -> None:
    write_bytes(path, dump(data, indent))


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def need_json(path: Path, what: str) -> Any:
    """Read a file an earlier milestone wrote; a :class:`journeys.Fatal` if it is gone."""
    data = read_json(path)
    if data is None:
        raise journeys.Fatal(f"{what} not found at {path}")
    return data


def read_text(path: str | Path, what: str) -> str:
    """Read an input file; a missing one is a :class:`journeys.Fatal` (retrying cannot help)."""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise journeys.Fatal(f"{what} {str(path)!r} is not a readable file") from None


def read_json_input(path: str | Path, what: str) -> Any:
    """Read a JSON input file; a missing or malformed one is a :class:`journeys.Fatal`."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except ValueError as error:
        raise journeys.Fatal(f"{path}: not JSON: {error}") from None


def remove(path: Path) -> bool:
    """Delete ``path`` if it exists, then prune the folders it leaves empty (inside the data
    folder only). True if something was deleted; harmless when run twice."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    prune(path.parent)
    return True


def prune(folder: Path) -> None:
    """Remove ``folder`` and its parents while they are empty, up to (not including) the data
    folder."""
    root = data_dir()
    folder = folder.absolute()
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): stop
            return
        folder = folder.parent


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for changes to ``path`` (a lock on its folder: no lock files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":  # pragma: no cover - no flock: run one process at a time
        yield
        return
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def update_json(path: Path, change: Callable[[dict[str, Any]], Any]) -> Any:
    """Change the JSON object in ``path`` under a lock; ``change`` edits it in place and returns
    what this returns. The file is written only if it changed, and deleted when it becomes empty
    (so undoing the first change leaves no file, as before)."""
    with locked(path):
        document = read_json(path, {})
        before = dump(document)
        outcome = change(document)
        if not document:
            path.unlink(missing_ok=True)
        elif dump(document) != before:
            write_json(path, document)
    if not path.exists():
        prune(path.parent)
    return outcome


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def replace_file(path: Path, content: bytes, key: str) -> dict[str, Any]:
    """Write an output file, keeping a file of other content in ``backups/`` first; the result
    is for :func:`restore_file`. A retry (same ``key``) finding its content in place changes
    nothing; a file that already held this exact content is not this run's to delete."""
    sha = hashlib.sha256(content).hexdigest()
    backup = in_data("backups", digest(key, 16))
    existing = _sha(path)
    if existing is not None and existing != sha and not backup.exists():
        write_bytes(backup, path.read_bytes())
    if existing != sha:
        write_bytes(path, content)
    saved = str(backup) if backup.exists() else None
    return {"path": str(path), "sha256": sha, "created": existing is None, "backup": saved}


def restore_file(written: Any) -> bool:
    """Undo :func:`replace_file`: put the backup back, or delete the file it created. Only a
    file that still holds what was written is touched, so running it twice is harmless."""
    if not isinstance(written, dict) or not written.get("path"):
        return False
    path = Path(written["path"])
    if _sha(path) != written["sha256"]:
        return False
    backup = Path(written["backup"]) if written.get("backup") else None
    if backup is not None and backup.exists():
        os.replace(backup, path)
        prune(backup.parent)
        return True
    return bool(written.get("created")) and remove(path)


# --- records: one JSON file per thing a milestone made -------------------------------------------


class Records:
    """An example's records, one JSON file each below its folder of the data folder:
    ``Records("business", "poc").path("drafts", draft_id)`` is
    ``<data folder>/business/poc/drafts/<draft_id>.json``."""

    def __init__(self, *folder: str) -> None:
        self.folder = folder

    def path(self, *parts: str) -> Path:
        """The file of a record: ``parts`` are subfolders, then the record's identifier."""
        *kinds, ident = parts
        return in_data(*self.folder, *kinds, f"{ident}.json")

    def undo(self, ctx: Any, field: str, *kinds: str) -> dict[str, Any]:
        """Undo a milestone that wrote one record: delete the record (in the subfolders
        ``kinds``) named by ``field`` of the milestone's result, if it has one. Harmless when run
        twice."""
        ident = (ctx.result or {}).get(field, "")
        return {"deleted": bool(ident) and remove(self.path(*kinds, ident))}


# --- drafts that a milestone validates (status "draft", then "validated") ------------------------


def mark_validated(path: Path, draft: dict[str, Any], run_id: str) -> None:
    """Record in ``path`` that ``draft`` (read from it) passed validation, unless it says so."""
    if draft["status"] != "validated":
        draft.update(status="validated", validated_by=run_id)
        write_json(path, draft)


def unmark_validated(path: Path) -> dict[str, Any]:
    """Undo :func:`mark_validated`: a validated draft becomes a draft again. Harmless when run
    twice or when the draft is gone."""
    draft = read_json(path)
    if not draft or draft.get("status") != "validated":
        return {"changed": False}
    draft["status"] = "draft"
    draft.pop("validated_by", None)
    write_json(path, draft)
    return {"changed": True}


def need_validated(path: Path, what: str) -> dict[str, Any]:
    """Read a draft that must have passed validation; a :class:`journeys.Fatal` otherwise."""
    draft = need_json(path, what)
    if draft["status"] != "validated":
        raise journeys.Fatal(f"{what} {draft['draft_id']} has not been validated")
    return draft


# --- what the pillars hold (for summaries, roadmaps and the MVP session) -------------------------


_PILLARS = {
    "insights": {
        "source_profiles": "mapping/profiles",
        "validation_reports": "mapping/reports",
        "coexistence_analyses": "operations/coexistence/analyses",
    },
    "operations": {
        "sop_drafts": "operations/sop_drafts",
        "wizard_sessions": "operations/wizard",
        "workflow_drafts": "operations/workflow_drafts",
        "blueprint_drafts": "operations/coexistence/blueprints",
    },
    "business_outcomes": {
        "summary_drafts": "business/summaries/drafts",
        "roadmap_drafts": "business/roadmap/drafts",
        "poc_drafts": "business/poc/drafts",
    },
}


def survey() -> dict[str, dict[str, Any]]:
    """Count what the examples have produced in the data folder, pillar by pillar."""

    def count(folder: str) -> int:
        where = in_data(*folder.split("/"))
        return sum(1 for p in where.iterdir() if p.is_file()) if where.is_dir() else 0

    datasets = read_json(in_data("semantic_layer", "index.json"), {}).get("datasets", {})
    content = {
        "datasets": sorted(datasets),
        "embedded_datasets": sorted(n for n, v in datasets.items() if v[-1]["embeddings"]),
        "stored_files": count("storage"),
        "parsed_files": count("parsed"),
    }
    counted = {p: {n: count(f) for n, f in kinds.items()} for p, kinds in _PILLARS.items()}
    return {"content": content, **counted}


# --- SOP documents (for workflow generation and coexistence analysis) ----------------------------

_STEP = re.compile(r"\s*(\d+)[.)]\s+(.+)")


def sop_structure(text: str) -> dict[str, Any]:
    """The title, sections and numbered steps of a Markdown SOP. A step may name its owner and
    outcome: ``3. Approve the invoice. Owner: Budget Holder. Outcome: approval decision.``"""
    lines = text.splitlines()
    steps: list[dict[str, Any]] = []
    for line in lines:
        match = _STEP.fullmatch(line)
        if not match:
            continue
        body = match.group(2).strip()
        owner = re.search(r"\bOwner:\s*([^.;]+)", body, re.IGNORECASE)
        outcome = re.search(r"\bOutcome:\s*([^.;]+)", body, re.IGNORECASE)
        title = re.split(r"\s*\b(?:Owner|Outcome):", body, flags=re.IGNORECASE)[0]
        steps.append({
            "number": len(steps) + 1,
            "title": title.strip().rstrip("."),
            "owner": owner.group(1).strip() if owner else None,
            "outcome": outcome.group(1).strip() if outcome else None,
        })  # fmt: skip
    return {
        "title": next((line[2:].strip() for line in lines if line.startswith("# ")), "Untitled"),
        "sections": [line[3:].strip() for line in lines if line.startswith("## ")],
        "steps": steps,
        "roles": sorted({step["owner"] for step in steps if step["owner"]}),
    }

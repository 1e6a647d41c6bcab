"""The ``journeys`` command.

Exit status: 0 on success, 1 on a user error (an invalid definition, a missing file), 2 on a usage
error. Errors are printed without a traceback; ``journeys --debug ...`` (or ``JOURNEYS_DEBUG=1``)
shows one.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import click

from journeys import __version__, schemas
from journeys.definitions import loader, source
from journeys.engine.engine import DEFAULT_STORE, Engine
from journeys.engine.events import Progress
from journeys.engine.run import Entry, Run
from journeys.engine.wal import LogEntry
from journeys.errors import DefinitionError, InputError, JourneyError, Problem
from journeys.handlers.registry import default_registry

__all__ = ["main"]

_YAML_SUFFIXES = (".yaml", ".yml")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="journeys")
@click.option(
    "--debug",
    is_flag=True,
    envvar="JOURNEYS_DEBUG",
    help="Show a traceback for errors (also JOURNEYS_DEBUG=1).",
)
@click.pass_context
def cli(context: click.Context, debug: bool) -> None:
    """Declarative journeys and sagas: validate, plan and run YAML definitions."""
    context.obj = {"debug": debug}


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the results as JSON (for editors and CI)."
)
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check definitions and policy files; folders are searched for *.yaml and *.yml.

    Prints file:line:column: /json/pointer: message for every problem and a summary line; exits
    1 if any file is invalid or missing.
    """
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    for file in _yaml_files(paths):
        entry: dict[str, Any] = {"file": str(file), "valid": True, "kind": None, "problems": []}
        try:
            entry["kind"] = loader.check_file(file)
        except DefinitionError as error:
            entry["valid"] = False
            entry["problems"] = list(error.problems)
        results.append(entry)
    elapsed = time.perf_counter() - started
    invalid = [entry for entry in results if not entry["valid"]]
    if as_json:
        _print_json(results, elapsed)
    else:
        for entry in invalid:
            shown = entry["problems"][:_MOST_SHOWN]
            for problem in shown:
                click.echo(_printable(str(problem)))
                excerpt = problem.excerpt()
                if excerpt:
                    click.echo(_printable(excerpt))
            if len(entry["problems"]) > len(shown):
                more = len(entry["problems"]) - len(shown)
                click.echo(f"{entry['file']}: ... and {more} more problems (--json lists all)")
        click.echo(_summary(results, elapsed))
    if invalid:
        sys.exit(1)


_MOST_SHOWN = 50
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F) if chr(c) not in "\n\t"}


def _printable(text: str) -> str:
    """Text safe for a terminal: control characters (escape sequences) and lone surrogates
    from a hostile file are shown escaped, never interpreted or crashing the output."""
    text = text.translate(_CONTROL)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _yaml_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Files as named, and folders' YAML files recursively, in order; a missing one yields itself
    (so the loader reports it like any other problem)."""
    for path in paths:
        if path.is_dir():
            found = sorted(
                file
                for file in path.rglob("*")
                if file.suffix in _YAML_SUFFIXES
                and (file.is_file() or (file.is_symlink() and not file.is_dir()))
                and not any(part.startswith(".") for part in file.relative_to(path).parts)
            )
            if not found:
                raise JourneyError(f"{path}: no *.yaml or *.yml files in this folder")
            yield from found
        else:
            yield path


def _summary(results: list[dict[str, Any]], elapsed: float) -> str:
    invalid = [entry for entry in results if not entry["valid"]]
    count = sum(len(entry["problems"]) for entry in invalid)
    files = f"{len(results)} file{'s' if len(results) != 1 else ''}"
    if not invalid:
        return f"{files} checked: all valid ({elapsed:.2f}s)"
    return (
        f"{files} checked: {len(results) - len(invalid)} valid, {len(invalid)} invalid,"
        f" {count} problem{'s' if count != 1 else ''} ({elapsed:.2f}s)"
    )


def _print_json(results: list[dict[str, Any]], elapsed: float) -> None:
    def problem(p: Problem) -> dict[str, Any]:
        return {"line": p.line, "column": p.column, "path": p.path, "message": p.message}

    document = {
        "valid": all(entry["valid"] for entry in results),
        "files": [
            {**entry, "problems": [problem(p) for p in entry["problems"]]} for entry in results
        ],
        "summary": _summary(results, elapsed),
    }
    click.echo(json.dumps(document, indent=2))  # ensure_ascii: hostile text arrives escaped


@cli.command()
@click.option("--policy", is_flag=True, help="The schema of policy files instead of definitions.")
@click.option(
    "--path", "show_path", is_flag=True, help="Print the schema file's path, for $schema=."
)
def schema(policy: bool, show_path: bool) -> None:
    """Print the JSON Schema of definitions (or of policy files), for editors.

    Put `# yaml-language-server: $schema=<path>` at the top of a YAML file (the path that
    `journeys schema --path` prints) for completion, help and checking as you type.
    """
    name: schemas.SchemaName = "policy" if policy else "journey"
    click.echo(schemas.path(name) if show_path else schemas.text(name), nl=show_path)


# --- running journeys ---------------------------------------------------------------------------

_db_option = click.option(
    "--db",
    "db",
    envvar="JOURNEYS_DB",
    default=DEFAULT_STORE,
    show_default=True,
    help="The store: sqlite:///file.db or postgresql://user@host/db (also JOURNEYS_DB).",
)
_handlers_option = click.option(
    "--handlers",
    "handler_modules",
    multiple=True,
    metavar="MODULE_OR_PATH",
    help="Import a handler module (dotted name or .py path) so its handlers register. Repeatable.",
)
_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print only the run as JSON on stdout."
)


def _engine(
    db: str,
    handler_modules: Sequence[str] = (),
    *,
    quiet: bool = False,
    new: bool = False,
    policies: Path | None = None,
) -> Engine:
    """An engine on ``db`` with the handler modules loaded. Only ``run`` (``new=True``) may
    create a store: the other commands read runs that must already exist."""
    if not new:
        _existing(db)
    if handler_modules and "" not in sys.path and os.getcwd() not in sys.path:
        # as `python -m` does: --handlers myapp.handlers finds the project's own packages
        sys.path.insert(0, os.getcwd())
    for module in handler_modules:
        default_registry.load(module)
    default_registry.load_entry_points()
    listener = None if quiet else _Progress().show
    return Engine(db, listener=listener, policies=policies)


def _existing(db: str) -> None:
    if db.startswith("sqlite:///") and db not in ("sqlite:///", "sqlite:///:memory:"):
        path = Path(db.removeprefix("sqlite:///"))
        if not path.exists():
            raise JourneyError(
                f"no store at {path}: no run was started with --db {db} (or JOURNEYS_DB)"
            )


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--input",
    "-i",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An input; the value is read as YAML (3 is a number, true a boolean). Repeatable.",
)
@click.option(
    "--inputs",
    "inputs_file",
    type=click.Path(path_type=Path),
    help="A YAML or JSON file of inputs (--input values override it).",
)
@click.option("--run-id", help="The run's id; starting an id that exists returns that run.")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path),
    help="A policy file layered over the journey's own policies (see policies/).",
)
@_handlers_option
@_db_option
@_json_option
def run(
    file: Path,
    pairs: tuple[str, ...],
    inputs_file: Path | None,
    run_id: str | None,
    policy_file: Path | None,
    handler_modules: tuple[str, ...],
    db: str,
    as_json: bool,
) -> None:
    """Run the journey defined in FILE until it completes, waits or fails.

    Each milestone is shown on stderr as it starts, succeeds, retries, fails or is compensated.
    Exit status 0 when the run completed or waits (for advance), 1 for any other end.
    """
    definition = loader.load_definition(file)
    inputs = _inputs(inputs_file, pairs)
    with _engine(db, handler_modules, new=True, policies=policy_file) as engine:
        result = engine.start(definition, inputs, run_id=run_id)
    _report(result, as_json, session=definition.kind == "session")


@cli.command()
@click.argument("run_id")
@_db_option
@_json_option
def status(run_id: str, db: str, as_json: bool) -> None:
    """Show a run: its status, state, results and error."""
    with _engine(db, quiet=True) as engine:
        _report(engine.get(run_id), as_json, exit_code=False)


@cli.command()
@click.argument("run_id")
@_db_option
@_json_option
def history(run_id: str, db: str, as_json: bool) -> None:
    """Show a run's history (its write-ahead log entries), in order."""
    with _engine(db, quiet=True) as engine:
        entries = engine.history(run_id)
    if as_json:
        click.echo(json.dumps([_entry_dict(e) for e in entries], indent=2))
        return
    if not entries:
        click.echo(f"run {run_id} has no history entries (its WAL policy was off)")
    for e in entries:
        what = f"{e.trigger}: {e.source} -> {e.dest}" if e.kind == "transition" else e.status
        attempt = f" attempt {e.attempt}" if e.attempt else ""
        error = f"  ({e.error})" if e.error else ""
        click.echo(
            _printable(
                f"{e.seq:>4}  {e.timestamp.isoformat(timespec='milliseconds')}  {e.kind:<12}"
                f" {e.milestone or '-':<20} {what}{attempt}{error}"
            )
        )


@cli.command()
@click.argument("run_id")
@click.argument("milestone")
@click.option("--data", metavar="YAML", help="What the milestone produced (YAML or JSON text).")
@_handlers_option
@_db_option
@_json_option
def advance(
    run_id: str,
    milestone: str,
    data: str | None,
    handler_modules: tuple[str, ...],
    db: str,
    as_json: bool,
) -> None:
    """Complete the wait milestone MILESTONE of a run, then run on."""
    value = _yaml_value(data, "--data") if data is not None else None
    with _engine(db, handler_modules) as engine:
        _report(engine.advance(run_id, milestone, value), as_json)


@cli.command()
@click.argument("run_id")
@click.argument("milestone")
@click.option("--error", "message", required=True, help="What went wrong.")
@_handlers_option
@_db_option
@_json_option
def fail(
    run_id: str,
    milestone: str,
    message: str,
    handler_modules: tuple[str, ...],
    db: str,
    as_json: bool,
) -> None:
    """Report that the wait milestone MILESTONE failed (a saga then compensates)."""
    with _engine(db, handler_modules) as engine:
        # the failure was asked for: it ending failed or compensated is success
        _report(
            engine.fail(run_id, milestone, message),
            as_json,
            success=("failed", "compensated", "waiting"),
        )


@cli.command()
@click.argument("run_id")
@click.argument("pillar")
@_handlers_option
@_db_option
@_json_option
def navigate(
    run_id: str, pillar: str, handler_modules: tuple[str, ...], db: str, as_json: bool
) -> None:
    """Move a session to PILLAR and run its action."""
    with _engine(db, handler_modules) as engine:
        _report(engine.navigate(run_id, pillar), as_json, session=True)


@cli.command()
@click.argument("run_id")
@_db_option
@_json_option
def complete(run_id: str, db: str, as_json: bool) -> None:
    """End a session."""
    with _engine(db) as engine:
        _report(engine.complete(run_id), as_json)


@cli.command()
@click.argument("run_id")
@_handlers_option
@_db_option
@_json_option
def cancel(run_id: str, handler_modules: tuple[str, ...], db: str, as_json: bool) -> None:
    """Stop a run; a saga first compensates what it completed."""
    with _engine(db, handler_modules) as engine:
        _report(engine.cancel(run_id), as_json, success=("cancelled",))


@cli.command()
@click.argument("run_id")
@click.option("--to", "checkpoint", required=True, metavar="MILESTONE", help="The checkpoint.")
@_handlers_option
@_db_option
@_json_option
def rollback(
    run_id: str, checkpoint: str, handler_modules: tuple[str, ...], db: str, as_json: bool
) -> None:
    """Roll a run back to a checkpoint: undo what came after it (journeys resume goes on)."""
    with _engine(db, handler_modules) as engine:
        _report(engine.rollback(run_id, to=checkpoint), as_json, success=("rolled_back",))


@cli.command()
@click.argument("run_id")
@_handlers_option
@_db_option
@_json_option
def resume(run_id: str, handler_modules: tuple[str, ...], db: str, as_json: bool) -> None:
    """Go on forward from the checkpoint a run was rolled back to."""
    with _engine(db, handler_modules) as engine:
        _report(engine.resume(run_id), as_json)


@cli.command()
@_handlers_option
@_db_option
@_json_option
def recover(handler_modules: tuple[str, ...], db: str, as_json: bool) -> None:
    """Finish every run a crash left unfinished. Run it when no other process is moving runs
    of this store (at start-up); exit 0 when every recovered run completed or waits."""
    with _engine(db, handler_modules) as engine:
        runs = engine.recover()
    if as_json:
        click.echo(json.dumps([_run_dict(r) for r in runs], indent=2))
    else:
        click.echo(f"{len(runs)} run{'s' if len(runs) != 1 else ''} recovered")
        for result in runs:
            where = "" if result.state == result.status else f" at {result.state}"
            click.echo(_printable(f"run {result.id}: {result.journey} {result.status}{where}"))
    if any(r.status not in ("completed", "waiting") for r in runs):
        sys.exit(1)


@cli.group()
def wal() -> None:
    """The write-ahead log: replay it, prune it."""


@wal.command("replay")
@click.option("--namespace", required=True, help="The log namespace (a journey's, by default).")
@click.option("--from", "from_", metavar="TIME", help="From this time (ISO 8601 or seconds).")
@click.option("--to", metavar="TIME", help="Up to this time, excluded.")
@click.option("--status", help="Only entries in this status (pending, completed, failed...).")
@click.option("--operation", help="Only this operation (a trigger, or a service's operation).")
@click.option("--run", "correlation_id", metavar="RUN_ID", help="Only this run's entries.")
@click.option("--tenant", help="Only this tenant's entries.")
@_db_option
@_json_option
def wal_replay(
    namespace: str,
    from_: str | None,
    to: str | None,
    status: str | None,
    operation: str | None,
    correlation_id: str | None,
    tenant: str | None,
    db: str,
    as_json: bool,
) -> None:
    """Print a namespace's entries in the order they were written."""
    filters = {
        k: v
        for k, v in (
            ("status", status),
            ("operation", operation),
            ("correlation_id", correlation_id),
        )
        if v is not None
    }
    with _engine(db, quiet=True) as engine:
        entries = engine.wal.replay_log(
            namespace,
            _time(from_),
            _time(to),
            filters,
            {"tenant": tenant} if tenant is not None else None,
        )
    if as_json:
        click.echo(json.dumps([_log_dict(e) for e in entries], indent=2))
        return
    for e in entries:
        click.echo(
            _printable(
                f"{e.created_at.isoformat(timespec='milliseconds')}  {e.status:<9}"
                f" {e.kind:<12} {e.operation or '-':<14} {e.target or '-':<20}"
                f" {e.correlation_id or '-'}" + (f"  ({e.error})" if e.error else "")
            )
        )
    click.echo(f"{len(entries)} entr{'ies' if len(entries) != 1 else 'y'}", err=True)


@wal.command("prune")
@_db_option
def wal_prune(db: str) -> None:
    """Delete the entries whose time to live (wal.ttl, or a lifecycle's ttl) has passed."""
    with _engine(db, quiet=True) as engine:
        count = engine.wal.prune()
    click.echo(f"{count} expired entr{'ies' if count != 1 else 'y'} deleted")


def _time(text: str | None) -> float | str | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _log_dict(entry: LogEntry) -> dict[str, Any]:
    return {
        "log_id": entry.log_id,
        "namespace": entry.namespace,
        "kind": entry.kind,
        "operation": entry.operation,
        "target": entry.target,
        "status": entry.status,
        "payload": entry.payload,
        "result": entry.result,
        "error": entry.error,
        "retry_count": entry.retry_count,
        "created_at": entry.created_at.isoformat(),
        "tenant": entry.tenant,
        "user": entry.user,
        "correlation_id": entry.correlation_id,
        "seq": entry.seq,
    }


def _run_dict(result: Run) -> dict[str, Any]:
    document = result.to_dict()
    return {k: document[k] for k in ("id", "journey", "status", "state", "results", "error")}


def _inputs(inputs_file: Path | None, pairs: Sequence[str]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        document = source.parse(source.read(inputs_file), str(inputs_file))
        if document.data is not None and not isinstance(document.data, dict):
            raise InputError(f"{inputs_file}: inputs must be a mapping of names to values")
        inputs.update(document.data or {})
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--input {pair!r}: write KEY=VALUE")
        inputs[key.strip()] = _yaml_value(text, f"--input {key.strip()}") if text else ""
    return inputs


def _yaml_value(text: str, where: str) -> Any:
    """A value as YAML reads it (3 is a number, true a boolean); text with a `#` is taken as
    it is, since YAML would read the rest of it as a comment and silently drop it."""
    if "#" in text and text.lstrip()[:1] not in ("'", '"', "[", "{"):
        return text
    return source.parse(text, where).data


def _report(
    result: Run,
    as_json: bool,
    *,
    exit_code: bool = True,
    session: bool = False,
    success: tuple[str, ...] = ("completed", "waiting"),
) -> None:
    if as_json:
        click.echo(json.dumps(_run_dict(result), indent=2))
    else:
        where = "" if result.state == result.status else f" at {result.state}"
        click.echo(f"run {result.id}: {result.journey} {result.status}{where}")
        if result.error:
            click.echo(_printable(f"error: {result.error}"))
        if result.status == "waiting" and result.due_at is None:
            if session:
                click.echo(
                    f"in pillar {result.state}: journeys navigate {result.id} PILLAR,"
                    f" or journeys complete {result.id}"
                )
            else:
                click.echo(f"waiting: journeys advance {result.id} {result.state} --data ...")
    if exit_code and result.status not in success:
        sys.exit(1)


def _entry_dict(entry: Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "timestamp": entry.timestamp.isoformat(),
        "kind": entry.kind,
        "trigger": entry.trigger,
        "source": entry.source,
        "dest": entry.dest,
        "milestone": entry.milestone,
        "attempt": entry.attempt,
        "status": entry.status,
        "payload": entry.payload,
        "error": entry.error,
    }


class _Progress:
    """Live lines on stderr: one per step of the run."""

    _MARKS: ClassVar[dict[str, tuple[str, str]]] = {
        "succeeded": ("ok", "green"),
        "retrying": ("retry", "yellow"),
        "failed": ("FAIL", "red"),
        "skipped": ("skip", "blue"),
        "compensated": ("undone", "magenta"),
        "waiting": ("wait", "cyan"),
    }

    def show(self, event: Progress) -> None:
        milestone = _printable(event.milestone or "")
        if event.kind == "started" and event.attempt == 1:
            click.echo(f"  {'...':>6} {milestone}", err=True)
            return
        if event.kind == "compensating":
            click.echo(f"  {'...':>6} undoing {milestone}", err=True)
            return
        if event.kind == "finished":
            colour = "green" if event.status == "completed" else "red"
            click.echo(click.style(f"  {event.status}", fg=colour, bold=True), err=True)
            return
        mark = self._MARKS.get(event.kind)
        if mark is None:
            return
        label, colour = mark
        took = f" {event.seconds:.2f}s" if event.seconds is not None else ""
        detail = ""
        if event.kind == "retrying":
            detail = f" attempt {event.attempt} failed: {event.error}; next in {event.delay:g}s"
        elif event.error:
            detail = f" {event.error}"
        line = f"{milestone}{took}{_printable(detail)}"
        click.echo(f"  {click.style(f'{label:>6}', fg=colour)} {line}", err=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; the console script ``journeys`` calls this."""
    debug = os.environ.get("JOURNEYS_DEBUG", "") not in ("", "0", "false") or "--debug" in (
        argv if argv is not None else sys.argv[1:]
    )
    try:
        cli.main(args=argv, prog_name="journeys", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except JourneyError as error:
        if debug:
            traceback.print_exc()
        click.echo(_printable(f"error: {error}"), err=True)
        _print_causes(error)
        sys.exit(1)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(1)
    except Exception as error:  # a bug of ours: say so plainly, with the traceback on request
        if debug:
            traceback.print_exc()
        else:
            click.echo(
                f"internal error: {type(error).__name__}: {error}\n"
                "This is a bug in journeys; run again with --debug for the traceback.",
                err=True,
            )
        sys.exit(1)


def _print_causes(error: BaseException) -> None:
    cause = _cause(error)
    while cause is not None:
        click.echo(_printable(f"  caused by: {type(cause).__name__}: {cause}"), err=True)
        cause = _cause(cause)


def _cause(error: BaseException) -> BaseException | None:
    """What Python's own traceback would show as the cause (``from None`` hides the context)."""
    if error.__cause__ is not None:
        return error.__cause__
    return None if error.__suppress_context__ else error.__context__


if __name__ == "__main__":  # pragma: no cover
    main()

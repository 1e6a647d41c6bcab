"""Starting runs and moving them: run, status, history, advance, fail, navigate, complete,
cancel, rollback, resume, recover."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from journeys.cli.group import cli
from journeys.cli.options import (
    db_option,
    handlers_option,
    input_option,
    inputs_option,
    json_option,
    open_engine,
    parse_inputs,
    policy_option,
    yaml_value,
)
from journeys.cli.output import printable, report, run_dict
from journeys.definitions import loader
from journeys.engine.engine import Priority
from journeys.engine.run import FINISHED, Entry

__all__ = [
    "advance",
    "cancel",
    "complete",
    "fail",
    "history",
    "navigate",
    "recover",
    "resume",
    "rollback",
    "run",
    "status",
]


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@input_option
@inputs_option
@click.option("--run-id", help="The run's id; starting an id that exists returns that run.")
@policy_option
@click.option(
    "--detach",
    is_flag=True,
    help="Only record the run, pending, for a worker (journeys worker) to run; print its id.",
)
@click.option(
    "--priority",
    type=click.Choice(["high", "normal", "low"]),
    help="Which queued runs workers take first (default: the journey's priority, or normal).",
)
@handlers_option
@db_option
@json_option
def run(
    file: Path,
    pairs: tuple[str, ...],
    inputs_file: Path | None,
    run_id: str | None,
    policy_file: Path | None,
    detach: bool,
    priority: Priority | None,
    handler_modules: tuple[str, ...],
    db: str,
    as_json: bool,
) -> None:
    """Run the journey defined in FILE until it completes, waits or fails.

    Each milestone is shown on stderr as it starts, succeeds, retries, fails or is compensated.
    Exit status 0 when the run completed or waits (for advance), 1 for any other end. With
    --detach the run is recorded for the workers and the command returns at once (exit 0).
    """
    definition = loader.load_definition(file)
    inputs = parse_inputs(inputs_file, pairs)
    with open_engine(db, handler_modules, new=True, policies=policy_file) as engine:
        result = engine.start(definition, inputs, run_id=run_id, wait=not detach, priority=priority)
    if detach:
        report(result, as_json, success=("pending", "running", "waiting", *FINISHED))
        return
    report(result, as_json, session=definition.kind == "session")


_tenant_option = click.option(
    "--tenant",
    help="Only a run of this tenant: another tenant's is reported as no run at all.",
)


@cli.command()
@click.argument("run_id")
@_tenant_option
@db_option
@json_option
def status(run_id: str, tenant: str | None, db: str, as_json: bool) -> None:
    """Show a run: its status, state, results and error."""
    with open_engine(db, quiet=True) as engine:
        report(engine.get(run_id, tenant=tenant), as_json, exit_code=False)


@cli.command()
@click.argument("run_id")
@_tenant_option
@db_option
@json_option
def history(run_id: str, tenant: str | None, db: str, as_json: bool) -> None:
    """Show a run's history (its write-ahead log entries), in order."""
    with open_engine(db, quiet=True) as engine:
        entries = engine.history(run_id, tenant=tenant)
    if as_json:
        click.echo(json.dumps([_entry_dict(e) for e in entries], indent=2))
        return
    if not entries:
        click.echo(f"run {run_id} has no history entries (its WAL policy was off)")
    for e in entries:
        if e.kind == "transition":
            what = f"{e.trigger}: {e.source} -> {e.dest}"
        elif e.kind == "signal":
            what = f"{e.trigger}" + (f" by {e.user}" if e.user else "")
        elif e.kind == "plan" and isinstance(e.payload, dict):
            steps = len(e.payload.get("steps") or ())
            what = f"plan {e.payload.get('plan_id')}: {steps} step{'s' if steps != 1 else ''}"
        elif e.kind == "forward_doc" and isinstance(e.payload, dict):
            what = _shortened(e.payload.get("doc") or e.payload.get("title") or "")
        else:
            what = e.status
        attempt = f" attempt {e.attempt}" if e.attempt else ""
        error = f"  ({e.error})" if e.error else ""
        click.echo(
            printable(
                f"{e.seq:>4}  {e.timestamp.isoformat(timespec='milliseconds')}  {e.kind:<12}"
                f" {e.milestone or '-':<20} {what}{attempt}{error}"
            )
        )


@cli.command()
@click.argument("run_id")
@click.argument("milestone")
@click.option("--data", metavar="YAML", help="What the milestone produced (YAML or JSON text).")
@handlers_option
@db_option
@json_option
def advance(
    run_id: str,
    milestone: str,
    data: str | None,
    handler_modules: tuple[str, ...],
    db: str,
    as_json: bool,
) -> None:
    """Complete the wait milestone MILESTONE of a run, then run on."""
    value = yaml_value(data, "--data") if data is not None else None
    with open_engine(db, handler_modules) as engine:
        report(engine.advance(run_id, milestone, value), as_json)


@cli.command()
@click.argument("run_id")
@click.argument("milestone")
@click.option("--error", "message", required=True, help="What went wrong.")
@handlers_option
@db_option
@json_option
def fail(
    run_id: str,
    milestone: str,
    message: str,
    handler_modules: tuple[str, ...],
    db: str,
    as_json: bool,
) -> None:
    """Report that the wait milestone MILESTONE failed (a saga then compensates)."""
    with open_engine(db, handler_modules) as engine:
        # the failure was asked for: it ending failed or compensated is success
        report(
            engine.fail(run_id, milestone, message),
            as_json,
            success=("failed", "compensated", "waiting"),
        )


@cli.command()
@click.argument("run_id")
@click.argument("pillar")
@handlers_option
@db_option
@json_option
def navigate(
    run_id: str, pillar: str, handler_modules: tuple[str, ...], db: str, as_json: bool
) -> None:
    """Move a session to PILLAR and run its action."""
    with open_engine(db, handler_modules) as engine:
        report(engine.navigate(run_id, pillar), as_json, session=True)


@cli.command()
@click.argument("run_id")
@handlers_option
@db_option
@json_option
def complete(run_id: str, handler_modules: tuple[str, ...], db: str, as_json: bool) -> None:
    """End a session."""
    with open_engine(db, handler_modules) as engine:
        report(engine.complete(run_id), as_json)


@cli.command()
@click.argument("run_id")
@handlers_option
@db_option
@json_option
def cancel(run_id: str, handler_modules: tuple[str, ...], db: str, as_json: bool) -> None:
    """Stop a run; a saga first compensates what it completed."""
    with open_engine(db, handler_modules) as engine:
        report(engine.cancel(run_id), as_json, success=("cancelled",))


@cli.command()
@click.argument("run_id")
@click.option("--to", "checkpoint", required=True, metavar="MILESTONE", help="The checkpoint.")
@handlers_option
@db_option
@json_option
def rollback(
    run_id: str, checkpoint: str, handler_modules: tuple[str, ...], db: str, as_json: bool
) -> None:
    """Roll a run back to a checkpoint: undo what came after it (journeys resume goes on)."""
    with open_engine(db, handler_modules) as engine:
        report(engine.rollback(run_id, to=checkpoint), as_json, success=("rolled_back",))


@cli.command()
@click.argument("run_id")
@handlers_option
@db_option
@json_option
def resume(run_id: str, handler_modules: tuple[str, ...], db: str, as_json: bool) -> None:
    """Go on forward from the checkpoint a run was rolled back to."""
    with open_engine(db, handler_modules) as engine:
        report(engine.resume(run_id), as_json)


@cli.command()
@handlers_option
@db_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print only the recovered runs, as a JSON list."
)
def recover(handler_modules: tuple[str, ...], db: str, as_json: bool) -> None:
    """Finish every run a crash left unfinished: those whose process on this machine has
    exited, and any whose lease expired (a worker elsewhere died). Safe beside live workers;
    exit 0 when every recovered run completed or waits."""
    with open_engine(db, handler_modules) as engine:
        runs = engine.recover()
    if as_json:
        click.echo(json.dumps([run_dict(r) for r in runs], indent=2))
    else:
        click.echo(f"{len(runs)} run{'s' if len(runs) != 1 else ''} recovered")
        for result in runs:
            where = "" if result.state == result.status else f" at {result.state}"
            click.echo(printable(f"run {result.id}: {result.journey} {result.status}{where}"))
    if any(r.status not in ("completed", "waiting") for r in runs):
        sys.exit(1)


def _shortened(text: str, width: int = 72) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 3] + "..."


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
        "idempotency_key": entry.idempotency_key,
        "user": entry.user,
    }

"""What the commands print: runs, progress lines, text made safe for a terminal."""

from __future__ import annotations

import json
import sys
from typing import Any, ClassVar

import click

from journeys.engine.events import Progress as ProgressEvent
from journeys.engine.run import Run

__all__ = ["Progress", "printable", "report", "run_dict"]

_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F) if chr(c) not in "\n\t"}


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (escape sequences) and lone surrogates
    from a hostile file are shown escaped, never interpreted or crashing the output."""
    text = text.translate(_CONTROL)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def run_dict(result: Run) -> dict[str, Any]:
    document = result.to_dict()
    return {k: document[k] for k in ("id", "journey", "status", "state", "results", "error")}


def report(
    result: Run,
    as_json: bool,
    *,
    exit_code: bool = True,
    session: bool = False,
    success: tuple[str, ...] = ("completed", "waiting"),
) -> None:
    if as_json:
        click.echo(json.dumps(run_dict(result), indent=2))
    else:
        where = "" if result.state == result.status else f" at {result.state}"
        click.echo(f"run {result.id}: {result.journey} {result.status}{where}")
        if result.error:
            click.echo(printable(f"error: {result.error}"))
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


class Progress:
    """Live lines on stderr: one per step of the run."""

    _MARKS: ClassVar[dict[str, tuple[str, str]]] = {
        "succeeded": ("ok", "green"),
        "retrying": ("retry", "yellow"),
        "failed": ("FAIL", "red"),
        "skipped": ("skip", "blue"),
        "compensated": ("undone", "magenta"),
        "waiting": ("wait", "cyan"),
    }

    def show(self, event: ProgressEvent) -> None:
        milestone = printable(event.milestone or "")
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
        line = f"{milestone}{took}{printable(detail)}"
        click.echo(f"  {click.style(f'{label:>6}', fg=colour)} {line}", err=True)

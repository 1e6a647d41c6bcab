"""``journeys wal``: replay and prune the write-ahead log."""

from __future__ import annotations

import json
from typing import Any

import click

from journeys.cli.group import cli
from journeys.cli.options import db_option, json_option, open_engine
from journeys.cli.output import printable
from journeys.engine.wal import LogEntry

__all__ = ["wal"]


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
@db_option
@json_option
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
    with open_engine(db, quiet=True) as engine:
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
            printable(
                f"{e.created_at.isoformat(timespec='milliseconds')}  {e.status:<9}"
                f" {e.kind:<12} {e.operation or '-':<14} {e.target or '-':<20}"
                f" {e.correlation_id or '-'}" + (f"  ({e.error})" if e.error else "")
            )
        )
    click.echo(f"{len(entries)} entr{'ies' if len(entries) != 1 else 'y'}", err=True)


@wal.command("prune")
@db_option
def wal_prune(db: str) -> None:
    """Delete the entries whose time to live (wal.ttl, or a lifecycle's ttl) has passed."""
    with open_engine(db, quiet=True) as engine:
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
        "updated_at": entry.updated_at.isoformat() if entry.updated_at else None,
        "updated_by": entry.updated_by,
        "correlation_id": entry.correlation_id,
        "seq": entry.seq,
    }

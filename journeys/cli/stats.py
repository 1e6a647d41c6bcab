"""``journeys stats``: what a store's runs add up to, as a table or as JSON."""

from __future__ import annotations

import json

import click

from journeys.cli.group import cli
from journeys.cli.options import db_option, open_engine
from journeys.cli.output import printable
from journeys.definitions import durations
from journeys.engine.stats import Stats

__all__ = ["stats"]


@cli.command()
@click.option("--journey", help="Only this journey's runs.")
@click.option(
    "--since",
    metavar="TIME",
    help="Only runs created since TIME: ISO 8601 (2026-05-01T12:00, UTC unless it says"
    " otherwise) or a duration meaning that long ago (30m, 1h, 7d).",
)
@click.option("--tenant", help="Only this tenant's runs.")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON on stdout.")
def stats(
    journey: str | None, since: str | None, tenant: str | None, db: str, as_json: bool
) -> None:
    """Show what the store's runs add up to: runs by status, the failure rate, each
    milestone's attempts (successes, median and 95th percentile duration, retries, failures,
    compensations; runs with the WAL policy on), and the queue of runs due for a worker."""
    with open_engine(db, quiet=True) as engine:
        figures = engine.stats(journey, since=since, tenant=tenant)
    if as_json:
        click.echo(json.dumps(figures.to_dict(), indent=2))
    else:
        click.echo(printable("\n".join(_lines(figures))))


def _lines(figures: Stats) -> list[str]:
    chosen = [
        f"{what} {value}"
        for what, value in (
            ("journey", figures.journey),
            ("tenant", figures.tenant),
            ("since", figures.since.isoformat(timespec="seconds") if figures.since else None),
        )
        if value is not None
    ]
    lines = [f"runs: {figures.total}" + (f" ({', '.join(chosen)})" if chosen else "")]
    lines += [f"  {status:<20} {n:>8}" for status, n in figures.runs.items() if n]
    if figures.failure_rate is None:
        lines.append("failure rate: - (no run finished)")
    else:
        lines.append(
            f"failure rate: {figures.failure_rate:.1%} of {figures.finished} finished"
            " (failed, compensated or compensation_failed)"
        )
    oldest = figures.oldest_due_seconds
    lines.append(
        f"queue: {figures.queue_depth} due"
        + (f", the oldest for {_seconds(oldest)}" if oldest is not None else "")
    )
    lines.append(
        f"compensations: {figures.compensations_run} run, {figures.compensations_failed} failed"
    )
    if figures.milestones:
        header = ("JOURNEY", "MILESTONE", "OK", "MEDIAN", "P95", "RETRIES", "FAILED", "UNDONE")
        rows = [(*header, "UNDO FAILED")]
        rows += [
            (
                m.journey,
                m.milestone,
                str(m.succeeded),
                _seconds(m.median),
                _seconds(m.p95),
                str(m.retries),
                str(m.failures),
                str(m.compensated),
                str(m.compensation_failures),
            )
            for m in figures.milestones
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines.append("")
        lines += [
            "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
    else:
        lines.append("no milestone attempts logged (the WAL policy was off, or nothing ran)")
    return lines


def _seconds(value: float | None) -> str:
    """A duration as authors write them: to the millisecond under 10s, to the second above."""
    if value is None:
        return "-"
    return durations.format(value if value < 10 else float(round(value)))

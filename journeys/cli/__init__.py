"""The ``journeys`` command.

Exit status: 0 on success, 1 on a user error (an invalid definition, a missing file), 2 on a usage
error. Errors are printed without a traceback; ``journeys --debug ...`` (or ``JOURNEYS_DEBUG=1``)
shows one.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import click

from journeys.cli import (  # noqa: F401  (their commands join the group)
    bench,
    definitions,
    plan,
    policy,
    runs,
    stats,
    wal,
    worker,
)
from journeys.cli.group import cli
from journeys.cli.output import printable
from journeys.errors import JourneyError

__all__ = ["main"]


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
        click.echo(printable(f"error: {error}"), err=True)
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
        click.echo(printable(f"  caused by: {type(cause).__name__}: {cause}"), err=True)
        cause = _cause(cause)


def _cause(error: BaseException) -> BaseException | None:
    """What Python's own traceback would show as the cause (``from None`` hides the context)."""
    if error.__cause__ is not None:
        return error.__cause__
    return None if error.__suppress_context__ else error.__context__


if __name__ == "__main__":  # pragma: no cover
    main()

"""``python -m journeys`` is the ``journeys`` command."""

from journeys.cli import main

main()

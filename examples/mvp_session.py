"""Handlers of ``mvp_session``: each pillar prepares its workspace folder on entry.

Entering a pillar writes ``<workspace_dir>/<session_id>/<pillar>/pillar.json`` (what the other
examples left in the data folder for that pillar, and how many times the pillar was visited) and
records the visit in ``<workspace_dir>/<session_id>/session.json``. A relative ``workspace_dir`` is
taken inside the data folder. Sessions are not compensated. Try::

    journeys run definitions/mvp_session.yaml \\
        --handlers examples/mvp_session.py -i session_id=s1 -i workspace_dir=workspaces
    journeys navigate RUN_ID insights --handlers examples/mvp_session.py
    journeys complete RUN_ID
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _files as files

PILLARS = ("content", "insights", "operations", "business_outcomes")


def _opener(pillar: str) -> Callable[[Any], dict[str, Any]]:
    def open_pillar(ctx: Any) -> dict[str, Any]:
        # A pillar's idempotency key is the same on every visit, so the visit is numbered from
        # the result of the previous visit (stable across retries of this one).
        previous = ctx.results.get(ctx.milestone)
        visit = (previous.get("visit", 0) if isinstance(previous, dict) else 0) + 1
        session = files.slug(ctx.args["session_id"])
        root = files.output_path(ctx.args["workspace_dir"]) / session
        workspace = root / pillar
        files.write_json(
            workspace / "pillar.json",
            {
                "pillar": pillar,
                "session_id": ctx.args["session_id"],
                "run_id": ctx.run_id,
                "visit": visit,
                "overview": files.survey()[pillar],
            },
        )

        def record(log: dict[str, Any]) -> None:
            visits = log.setdefault("visits", [])
            if {"pillar": pillar, "visit": visit} not in visits:
                visits.append({"pillar": pillar, "visit": visit})

        files.update_json(root / "session.json", record)
        return {"pillar": pillar, "visit": visit, "workspace": str(workspace)}

    open_pillar.__name__ = open_pillar.__qualname__ = f"open_{pillar}"
    return open_pillar


for _pillar in PILLARS:
    files.handler(f"{_pillar}.open_pillar")(_opener(_pillar))

"""Handlers of ``pillar_summaries_compilation``: summarize what the pillars hold, on disk.

Each pillar's summary is drawn from what the other examples left in the data folder (datasets in
the semantic layer, mapping reports, SOP and workflow drafts...), cached in
``business/summaries/cache/``; the compiled draft goes to ``business/summaries/drafts/`` and the
stored summary to ``<output_dir>/summary-<session_id>.md``. Try::

    journeys run definitions/pillar_summaries_compilation.yaml \\
        --handlers examples/pillar_summaries.py -i session_id=s1 -i output_dir=summaries
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import journeys

from . import _files as files

records = files.Records("business", "summaries")


def _sentence(pillar: str, facts: dict[str, Any]) -> str:
    if pillar == "content":
        named = ", ".join(facts["datasets"]) or "none yet"
        return (
            f"{len(facts['datasets'])} dataset(s) in the semantic layer ({named}),"
            f" {len(facts['embedded_datasets'])} with embeddings;"
            f" {facts['stored_files']} file(s) in storage."
        )
    return "; ".join(f"{value} {name.replace('_', ' ')}" for name, value in facts.items()) + "."


def _fetcher(pillar: str) -> Callable[[Any], dict[str, Any]]:
    def fetch_summary(ctx: Any) -> dict[str, Any]:
        facts = files.survey()[pillar]
        summary_id = files.key_id(ctx, pillar)
        summary = {
            "summary_id": summary_id,
            "session_id": ctx.args["session_id"],
            "pillar": pillar,
            "facts": facts,
            "text": _sentence(pillar, facts),
        }
        files.write_json(records.path("cache", summary_id), summary)
        return {"summary_id": summary_id, "text": summary["text"]}

    fetch_summary.__name__ = fetch_summary.__qualname__ = f"fetch_{pillar}_summary"
    return fetch_summary


def clear_cache(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "summary_id", "cache")


for _pillar in ("content", "insights", "operations"):
    files.handler(f"{_pillar}.fetch_summary")(_fetcher(_pillar))
    files.handler(f"{_pillar}.clear_{_pillar}_cache")(clear_cache)


@files.handler("summary.compile")
def compile_summaries(ctx: Any) -> dict[str, Any]:
    sections = []
    for pillar in ("content", "insights", "operations"):
        ident = ctx.args[f"{pillar}_id"]
        cached = files.need_json(records.path("cache", ident), f"{pillar} summary {ident}")
        sections.append({"pillar": pillar, "text": cached["text"], "facts": cached["facts"]})
    content = sections[0]["facts"]
    if content["datasets"]:
        headline = f"{len(content['datasets'])} dataset(s) ready for analysis"
    else:
        headline = "no data in the semantic layer yet: start with data_ingest_pipeline"
    draft_id = files.key_id(ctx, "summary")
    draft = {
        "draft_id": draft_id,
        "session_id": ctx.args["session_id"],
        "headline": headline,
        "sections": sections,
    }
    files.write_json(records.path("drafts", draft_id), draft)
    return {"draft_id": draft_id, "headline": headline}


@files.handler("summary.delete_summary_draft")
def delete_summary_draft(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "draft_id", "drafts")


@files.handler("summary.store")
def store(ctx: Any) -> dict[str, Any]:
    draft = files.need_json(records.path("drafts", ctx.args["draft_id"]), "summary draft")
    if not draft["sections"]:
        raise journeys.Fatal("the summary draft has no sections")
    lines = [f"# Business outcomes: session {draft['session_id']}", "", draft["headline"], ""]
    for section in draft["sections"]:
        lines += [f"## {section['pillar'].capitalize()}", "", section["text"], ""]
    name = f"summary-{files.slug(draft['session_id'])}.md"
    target = files.output_path(ctx.args["destination"]) / name
    return files.replace_file(target, "\n".join(lines).encode(), ctx.idempotency_key)


@files.handler("summary.delete_stored_summary")
def delete_stored_summary(ctx: Any) -> dict[str, Any]:
    return {"restored": files.restore_file(ctx.result)}

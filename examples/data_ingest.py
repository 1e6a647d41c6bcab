"""Handlers of ``data_ingest_pipeline``: upload, parse, embed and expose a file, all on disk.

Effects, in the data folder (``./journeys-data`` or ``$JOURNEYS_DATA_DIR``):

- ``ingest`` copies the input file to ``storage/<file_id>``; ``file_id`` is derived from the
  milestone's idempotency key, so a retried or recovered attempt overwrites the same file;
- ``parse`` writes the file's structure and text chunks to ``parsed/<file_id>.json``;
- ``embed`` writes one vector per chunk to ``embeddings/<file_id>.json``: a hashing-trick bag of
  words of the requested dimensions, computed locally in pure Python (no model, no network);
- ``expose`` adds a version of the dataset to ``semantic_layer/index.json``.

Each compensation deletes what its milestone wrote; the index entry is removed by run, so other
runs' versions of the same dataset stay. Try it (``fail_at`` makes a step fail on purpose)::

    journeys run definitions/data_ingest_pipeline.yaml \\
        --handlers examples/data_ingest.py -i file_name=sample.csv \\
        -i file_path=examples/data/sample.csv -i dataset=sales -i fail_at=expose
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import journeys

from . import _files as files

INDEX = ("semantic_layer", "index.json")


def _file_id(ctx: Any) -> str:
    return str(ctx.args.get("file_id") or (ctx.result or {}).get("file_id") or "")


# --- ingest --------------------------------------------------------------------------------------


@files.handler("storage.upload")
def upload(ctx: Any) -> dict[str, Any]:
    source = Path(ctx.args["source_path"]).expanduser()
    if not source.is_file():
        raise journeys.Fatal(f"cannot upload {str(source)!r}: no such file")
    name = str(ctx.args.get("name") or source.name)
    file_id = f"{files.slug(Path(name).stem)}-{files.digest(ctx.idempotency_key)}"
    target = files.in_data("storage", file_id)
    data = source.read_bytes()
    if not target.exists() or target.read_bytes() != data:
        files.write_bytes(target, data)  # atomic: a crash never leaves half a file
    return {
        "file_id": file_id,
        "name": name,
        "path": str(target),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@files.handler("storage.delete_uploaded_file")
def delete_uploaded_file(ctx: Any) -> dict[str, Any]:
    file_id = _file_id(ctx)
    return {"file_id": file_id, "deleted": bool(file_id) and files.remove(_stored(file_id))}


def _stored(file_id: str) -> Path:
    return files.in_data("storage", file_id)


# --- parse ---------------------------------------------------------------------------------------


def _kind(value: str) -> str:
    if re.fullmatch(r"[-+]?\d+", value):
        return "integer"
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", value):
        return "number"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][\d:.]+Z?)?", value):
        return "date"
    if value.lower() in ("true", "false"):
        return "boolean"
    return "string"


def _column_types(rows: list[list[str]], width: int) -> list[str]:
    types = []
    for column in range(width):
        kinds = {_kind(row[column]) for row in rows if column < len(row) and row[column] != ""}
        if kinds <= {"integer"}:
            types.append("integer" if kinds else "string")
        elif kinds <= {"integer", "number"}:
            types.append("number")
        else:
            types.append(kinds.pop() if len(kinds) == 1 else "string")
    return types


def _structure(name: str, text: str) -> dict[str, Any]:
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".tsv"):
        rows = list(csv.reader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ","))
        header, body = (rows[0], rows[1:]) if rows else ([], [])
        return {
            "format": "csv",
            "columns": [
                {"name": n, "type": t}
                for n, t in zip(header, _column_types(body, len(header)), strict=True)
            ],
            "rows": len(body),
        }
    if suffix == ".json":
        try:
            document = json.loads(text)
        except ValueError as error:
            raise journeys.Fatal(f"{name} is not valid JSON: {error}") from None
        keys = sorted(document) if isinstance(document, dict) else []
        return {"format": "json", "type": type(document).__name__, "keys": keys}
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    return {"format": "text", "lines": text.count("\n") + 1, "paragraphs": len(paragraphs)}


def _chunks(text: str, size: int) -> list[dict[str, Any]]:
    """Whole lines packed into chunks of at most ``size`` characters (long lines are cut)."""
    chunks: list[dict[str, Any]] = []
    current: list[str] = []
    length, start = 0, 1
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        pieces = [line[i : i + size] for i in range(0, len(line), size)] or [line]
        for piece in pieces:
            if current and length + len(piece) > size:
                chunks.append({"index": len(chunks), "line": start, "text": "".join(current)})
                current, length, start = [], 0, number
            current.append(piece)
            length += len(piece)
    if current:
        chunks.append({"index": len(chunks), "line": start, "text": "".join(current)})
    return chunks


@files.handler("parser.parse")
def parse(ctx: Any) -> dict[str, Any]:
    file_id = _file_id(ctx)
    size = int(ctx.args.get("chunk_size") or 1000)
    if size < 1:
        raise journeys.Fatal(f"chunk_size must be at least 1, not {size}")
    stored = _stored(file_id)
    if not stored.is_file():
        raise journeys.Fatal(f"file {file_id!r} is not in storage ({stored})")
    text = stored.read_bytes().decode("utf-8", errors="replace")
    if "\x00" in text:
        raise journeys.Fatal(f"file {file_id!r} is not a text file")
    name = str((ctx.results.get("ingest") or {}).get("name") or file_id)
    structure = _structure(name, text)
    chunks = _chunks(text, size)
    output = files.in_data("parsed", f"{file_id}.json")
    parsed = {"file_id": file_id, "name": name, "structure": structure, "chunks": chunks}
    files.write_json(output, parsed)
    return {"file_id": file_id, "path": str(output), "chunks": len(chunks), **structure}


@files.handler("parser.mark_file_as_unparsed")
def mark_file_as_unparsed(ctx: Any) -> dict[str, Any]:
    file_id = _file_id(ctx)
    return {"file_id": file_id, "deleted": files.remove(files.in_data("parsed", f"{file_id}.json"))}


# --- embed ---------------------------------------------------------------------------------------


def embed_text(text: str, dimensions: int) -> list[float]:
    """A hashing-trick bag of words: each word adds +-1 to one of ``dimensions`` buckets chosen
    by a stable hash; the vector is scaled to length 1 (all zeros for a text without words)."""
    vector = [0.0] * dimensions
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        hashed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        vector[hashed % dimensions] += -1.0 if hashed >> 63 else 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    return [round(v / norm, 6) for v in vector] if norm else vector


@files.handler("embeddings.generate")
def generate_embeddings(ctx: Any) -> dict[str, Any]:
    file_id = _file_id(ctx)
    dimensions = int(ctx.args.get("dimensions") or 256)
    if not 1 <= dimensions <= 8192:
        raise journeys.Fatal(f"dimensions must be between 1 and 8192, not {dimensions}")
    parsed = files.need_json(files.in_data("parsed", f"{file_id}.json"), f"parsed file {file_id}")
    vectors = [
        {"chunk": chunk["index"], "vector": embed_text(chunk["text"], dimensions)}
        for chunk in parsed["chunks"]
    ]
    output = files.in_data("embeddings", f"{file_id}.json")
    document = {
        "file_id": file_id,
        "model": "hashing-trick-bag-of-words",
        "dimensions": dimensions,
        "vectors": vectors,
    }
    files.write_json(output, document, indent=None)  # compact: 256 numbers a vector
    return {
        "file_id": file_id,
        "path": str(output),
        "dimensions": dimensions,
        "vectors": len(vectors),
    }


@files.handler("embeddings.delete_embeddings")
def delete_embeddings(ctx: Any) -> dict[str, Any]:
    file_id = _file_id(ctx)
    output = files.in_data("embeddings", f"{file_id}.json")
    return {"file_id": file_id, "deleted": files.remove(output)}


# --- expose --------------------------------------------------------------------------------------


@files.handler("semantic_layer.expose")
def expose(ctx: Any) -> dict[str, Any]:
    file_id, dataset = _file_id(ctx), str(ctx.args["dataset"])
    parsed = files.need_json(files.in_data("parsed", f"{file_id}.json"), f"parsed file {file_id}")
    embedded = files.in_data("embeddings", f"{file_id}.json").exists()
    version = {
        "file_id": file_id,
        "name": parsed["name"],
        "run_id": ctx.run_id,
        "structure": parsed["structure"],
        "chunks": len(parsed["chunks"]),
        "parsed": f"parsed/{file_id}.json",
        "embeddings": f"embeddings/{file_id}.json" if embedded else None,
    }

    def add(index: dict[str, Any]) -> int:
        versions = index.setdefault("datasets", {}).setdefault(dataset, [])
        if not any(v["run_id"] == ctx.run_id and v["file_id"] == file_id for v in versions):
            versions.append(version)  # the last version is the live one
        return len(versions)

    count = files.update_json(files.in_data(*INDEX), add)
    return {
        "dataset": dataset,
        "file_id": file_id,
        "index": str(files.in_data(*INDEX)),
        "versions": count,
    }


@files.handler("semantic_layer.remove_from_semantic_layer")
def remove_from_semantic_layer(ctx: Any) -> dict[str, Any]:
    file_id = _file_id(ctx)
    dataset = str((ctx.result or {}).get("dataset") or ctx.args.get("dataset"))

    def drop(index: dict[str, Any]) -> bool:
        datasets = index.get("datasets", {})
        versions = datasets.get(dataset, [])
        kept = [v for v in versions if not (v["run_id"] == ctx.run_id and v["file_id"] == file_id)]
        if kept:
            datasets[dataset] = kept
        else:
            datasets.pop(dataset, None)
        if not datasets:
            index.pop("datasets", None)
        return len(kept) != len(versions)

    return {"dataset": dataset, "removed": files.update_json(files.in_data(*INDEX), drop)}

"""Pages a durable commit writes on SQLite, read from the WAL file itself.

A commit in SQLite's WAL journal appends one frame (a 24-byte header and the page) for every
B-tree page the transaction changed, then fsyncs. The time of a commit grows with those pages
(the writes' system calls, and the bytes the fsync flushes: on this machine's disk 24 KB take
half again as long to sync as 300 bytes), so the count says what a schema costs each commit,
free of the machine's noise. :func:`per_commit` empties the WAL, lets a few calls write, and
reads the frames back, naming each page's B-tree (table or index) from SQLite's ``dbstat``.
"""

from __future__ import annotations

import collections
import sqlite3
import struct
from collections.abc import Callable
from dataclasses import dataclass

_WAL_HEADER = 32
_FRAME_HEADER = 24


@dataclass(frozen=True)
class Pages:
    """The frames some calls appended to a WAL, by commit and by the B-tree they belong to."""

    commits: int
    pages: int
    trees: dict[str, int]

    def text(self) -> str:
        """``9.1 pages a commit (journeys_wal 1.4, ...)``, the B-trees most written first."""
        per = ", ".join(
            f"{name} {count / self.commits:.1f}"
            for name, count in sorted(self.trees.items(), key=lambda item: -item[1])
        )
        return f"{self.pages / self.commits:.1f} pages a commit ({per})"


def frames(wal: bytes) -> list[tuple[int, bool]]:
    """The page number of each valid frame of a WAL file's contents, and whether the frame
    ends a commit: frames carry the header's salts; those left over from before the WAL was
    last restarted carry older ones and end the list."""
    if len(wal) < _WAL_HEADER:
        return []
    page_size = struct.unpack(">I", wal[8:12])[0]
    salts = wal[16:24]
    found: list[tuple[int, bool]] = []
    offset = _WAL_HEADER
    while offset + _FRAME_HEADER + page_size <= len(wal):
        page, size_after = struct.unpack(">II", wal[offset : offset + 8])
        if wal[offset + 8 : offset + 16] != salts:
            break
        found.append((page, size_after != 0))  # a commit's last frame holds the db's size
        offset += _FRAME_HEADER + page_size
    return found


def _label(connection: sqlite3.Connection, name: str) -> str:
    """A B-tree's name; for the index SQLite made for a UNIQUE constraint, the columns it
    holds: ``journeys_wal(run_id, seq)``."""
    if not name.startswith("sqlite_autoindex_"):
        return name
    table = name.removeprefix("sqlite_autoindex_").rpartition("_")[0]
    columns = [row[2] for row in connection.execute("SELECT * FROM pragma_index_info(?)", (name,))]
    return f"{table}({', '.join(columns)})"


def per_commit(path: str, call: Callable[[], object], calls: int = 10) -> Pages:
    """The pages that ``calls`` calls of ``call`` write to the SQLite database at ``path``
    (WAL journal), in commits: the WAL is checkpointed and truncated first, so that the
    frames read after are theirs alone (``calls`` few enough to stay under the automatic
    checkpoint's 1,000 frames: RuntimeError otherwise)."""
    connection = sqlite3.connect(path)
    try:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise RuntimeError(f"{path}: a reader kept the WAL from being emptied")
        started = b""
        for _ in range(calls):
            call()
            with open(f"{path}-wal", "rb") as stream:
                wal = stream.read()
            started = started or wal[12:16]  # the checkpoint's sequence number: a restart
            if wal[12:16] != started:  # of the WAL would hide the frames before it
                raise RuntimeError(f"{path}: the WAL was checkpointed; count fewer calls")
        written = frames(wal)
        trees = {
            page: _label(connection, name)
            for page, name in connection.execute("SELECT pageno, name FROM dbstat").fetchall()
        }
    finally:
        connection.close()
    commits = sum(ends for _, ends in written)
    if not commits:
        raise RuntimeError(f"{path}: the calls committed nothing to the WAL")
    counted = collections.Counter(
        # page 1 holds the file's header (its size in pages) as well as the schema's root
        "header" if page == 1 else trees.get(page, "other")
        for page, _ in written
    )
    return Pages(commits, len(written), dict(counted))

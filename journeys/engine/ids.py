"""Identifiers for runs and log entries: UUIDs of version 7 (RFC 9562), ordered by time.

A random (version 4) id lands on a random leaf of its index: every insert dirties a page of its
own, which the commit then writes and syncs. Ids that grow with time append to the last pages
instead, on SQLite and PostgreSQL alike, and sort in the order they were made (to the
millisecond). They are still unique ids: 74 random bits each.
"""

from __future__ import annotations

import os
import socket
import time
from random import getrandbits
from typing import Final

__all__ = ["forget", "new_id", "owner", "process_gone"]

_OWNERS: set[str] = set()
"""The owners of this process's open engines."""


def new_id() -> str:
    """A new UUIDv7 string, such as ``0193b0a2-7c41-7d2e-9a4f-3c2b1e0d5f6a``."""
    # The random bits come from the random module (seeded from os.urandom, and again in a
    # forked child): ids must not repeat, not be unguessable, and a durable run makes about
    # 20, where a system call each was 5% of the run's own CPU time.
    value = (
        (time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF) << 80
        | getrandbits(80) & _RANDOM  # rand_a (12 bits) and rand_b (62 bits)
        | _VERSION_AND_VARIANT
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_RANDOM: Final = (0xFFF << 64) | 0x3FFF_FFFF_FFFF_FFFF
_VERSION_AND_VARIANT: Final = 0x7 << 76 | 0b10 << 62


def owner() -> str:
    """Who holds a lease: ``host:pid:random``, unique per engine; this process's until
    :func:`forget` (the engine closed)."""
    made = f"{socket.gethostname()}:{os.getpid()}:{new_id()[-12:]}"
    _OWNERS.add(made)
    return made


def forget(holder: str) -> None:
    """``holder``, an engine of this process, is closed: its leases are a dead engine's."""
    _OWNERS.discard(holder)


def process_gone(holder: str) -> bool:
    """Whether ``holder`` (an :func:`owner`) is an engine of this machine whose process has
    exited (or is a zombie nobody reaped). False when it cannot be known: another machine's,
    a foreign format, a process that lives (or whose pid was reused: then its lease expires)."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid_text = parts[1]
    pid = int(pid_text)
    if pid == os.getpid():  # ours: gone once its engine was closed
        return holder not in _OWNERS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"  # a zombie: it has exited
    except (OSError, IndexError):
        return False

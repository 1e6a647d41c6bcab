"""Identifiers for runs and log entries: UUIDs of version 7 (RFC 9562), ordered by time.

A random (version 4) id lands on a random leaf of its index: every insert dirties a page of its
own, which the commit then writes and syncs. Ids that grow with time append to the last pages
instead, on SQLite and PostgreSQL alike, and sort in the order they were made (to the
millisecond). They are still unique ids: 74 random bits each.
"""

from __future__ import annotations

import os
import time

__all__ = ["new_id"]


def new_id() -> str:
    """A new UUIDv7 string, such as ``0193b0a2-7c41-7d2e-9a4f-3c2b1e0d5f6a``."""
    milliseconds = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")
    value = (
        (milliseconds & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76  # version 7
        | (random >> 62 & 0xFFF) << 64  # rand_a: 12 bits
        | 0b10 << 62  # the RFC's variant
        | random & 0x3FFF_FFFF_FFFF_FFFF  # rand_b: 62 bits
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

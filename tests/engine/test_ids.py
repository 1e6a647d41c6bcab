"""Run and log ids are RFC 9562 version-7 UUIDs: unique, and ordered by the time they were made."""

from __future__ import annotations

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from journeys.engine import ids


def test_an_id_is_a_version_7_uuid() -> None:
    parsed = uuid.UUID(ids.new_id())
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == str(parsed).lower()


def test_ids_carry_the_millisecond_they_were_made_and_sort_by_it() -> None:
    before = time.time_ns() // 1_000_000
    made = []
    for _ in range(3):
        made.append(ids.new_id())
        time.sleep(0.002)
    after = time.time_ns() // 1_000_000
    stamps = [uuid.UUID(i).int >> 80 for i in made]
    assert all(before <= s <= after for s in stamps)
    assert made == sorted(made)  # a later millisecond sorts later, as text too


@given(st.integers(min_value=1, max_value=2000))
def test_ids_do_not_repeat(count: int) -> None:
    made = [ids.new_id() for _ in range(count)]
    assert len(set(made)) == count


def test_a_lease_holder_is_gone_only_when_this_machine_can_tell() -> None:
    import socket
    import subprocess
    import sys

    mine = ids.owner()
    assert not ids.process_gone(mine)  # an open engine of this process
    ids.forget(mine)
    assert ids.process_gone(mine)  # closed: its leases are a dead engine's
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert ids.process_gone(f"{socket.gethostname()}:{exited}:0123456789ab")
    assert not ids.process_gone(f"{socket.gethostname()}:1:0123456789ab")  # init lives
    assert not ids.process_gone("another-host:1234:0123456789ab")  # only its lease tells
    assert not ids.process_gone("not an owner")

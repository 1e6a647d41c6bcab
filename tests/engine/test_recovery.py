"""Crash recovery: a process running a saga is killed (SIGKILL) at a chosen point of the
write-ahead protocol; a second process recovers; every run ends terminal and every effect is
applied exactly once.

The runs go through real processes on a real SQLite file and a real PostgreSQL schema. The
handlers apply their effect idempotently with ``ctx.idempotency_key`` (as the guarantee asks of
handlers: called at least once, outcomes recorded exactly once) and log every call, so the test
sees both what was applied and what was merely called again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SAGA = """
journey: crash_saga
kind: saga
milestones:
  - {id: a, action: crash.do, compensation: crash.undo}
  - {id: b, action: crash.do, compensation: crash.undo}
  - {id: c, action: crash.do, compensation: crash.undo}
  - {id: d, action: crash.do, compensation: crash.undo, with: {fail: true}}
policies: {saga: {enabled: true}, wal: {enabled: true}}
"""

WORKER = r"""
import os, signal, sys
import journeys

store, folder, mode = sys.argv[1], sys.argv[2], sys.argv[3]
registry = journeys.Registry()

def effect(ctx, what):
    import time
    time.sleep(float(os.environ.get("STEP_SECONDS", "0")))  # spreads a run over time
    with open(os.path.join(folder, "calls"), "a") as log:
        log.write(f"{what} {ctx.milestone} {ctx.idempotency_key} {ctx.attempt}\n")
    path = os.path.join(folder, "effects")
    done = open(path).read().split("\n") if os.path.exists(path) else []
    line = f"{what} {ctx.milestone} {ctx.idempotency_key}"
    if line not in done:  # idempotent: the key says whether this work was done already
        with open(path, "a") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())
    if os.environ.get("KILL_IN") == ("undo:" if what == "undo" else "") + ctx.milestone:
        if mode == "start":
            os.kill(os.getpid(), signal.SIGKILL)  # inside the handler, its effect applied

def do(ctx):
    effect(ctx, "do")
    if ctx.args.get("fail"):
        raise journeys.Fatal("d fails, so the saga compensates")
    return {"did": ctx.milestone}

def undo(ctx):
    effect(ctx, "undo")

registry.register("crash.do", do)
registry.register("crash.undo", undo)
engine = journeys.Engine(store, registry=registry)
if mode == "start":
    engine.start(os.path.join(folder, "saga.yaml"), run_id="r")
else:
    recovered = engine.recover()
    try:
        run = engine.get("r")
    except journeys.RunNotFound:  # killed before the run was created
        print("none none", len(recovered))
    else:
        print(run.status, run.state, len(recovered))
"""

# (where it dies, in which state, the call made twice because its outcome was not committed)
POINTS = [
    ("before_intent", "b", "do a r:a"),  # a's outcome shares b's intent's commit
    ("after_intent", "b", None),  # b's intent is committed, b never ran: it runs once
    ("in_handler", "b", "do b r:b"),
    ("after_handler", "b", "do b r:b"),
    ("after_intent", "a", None),
    ("after_handler", "d", "do d r:d"),  # its failure was not recorded: d fails again
    ("before_intent", "undo:c", "do d r:d"),
    ("after_intent", "undo:b", None),
    ("in_handler", "undo:b", "undo b r:b:undo"),
    ("after_handler", "undo:a", "undo a r:a:undo"),
]


def run_worker(
    folder: Path, store: str, mode: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(folder / "worker.py"), store, str(folder), mode],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("point", "state", "twice"), POINTS, ids=[f"{p}-{s}" for p, s, _ in POINTS]
)
def test_a_saga_killed_at_any_point_is_finished_by_recovery_with_each_effect_once(
    tmp_path: Path, sql_url: str, point: str, state: str, twice: str | None
) -> None:
    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "saga.yaml").write_text(SAGA)
    env = {"KILL_IN": state} if point == "in_handler" else {"JOURNEYS_FAULTS": f"{point}:{state}"}
    killed = run_worker(tmp_path, sql_url, "start", env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    (tmp_path / "saga.yaml").write_text("journey: edited\nmilestones: [{id: z}]\n")  # pinning
    recovered = run_worker(tmp_path, sql_url, "recover", {})
    assert recovered.returncode == 0, recovered.stderr
    status, final_state, count = recovered.stdout.split()
    assert (status, final_state, count) == ("compensated", "compensated", "1")

    effects = (tmp_path / "effects").read_text().splitlines()
    assert effects == [
        "do a r:a",
        "do b r:b",
        "do c r:c",
        "do d r:d",
        "undo c r:c:undo",
        "undo b r:b:undo",
        "undo a r:a:undo",
    ]
    calls = [" ".join(line.split()[:3]) for line in (tmp_path / "calls").read_text().splitlines()]
    # called again: only the call whose outcome the crash kept from being committed, with the
    # same idempotency key (so its effect, above, is still applied once)
    again = sorted({call for call in calls if calls.count(call) > 1})
    assert again == ([twice] if twice else [])
    assert all(calls.count(call) <= 2 for call in calls)


def test_recover_with_nothing_to_do_says_so(tmp_path: Path) -> None:
    import journeys

    engine = journeys.Engine(f"sqlite:///{tmp_path}/empty.db")
    assert engine.recover() == []
    engine.close()


EFFECTS = [
    "do a r:a",
    "do b r:b",
    "do c r:c",
    "do d r:d",
    "undo c r:c:undo",
    "undo b r:b:undo",
    "undo a r:a:undo",
]


@pytest.mark.parametrize("seed", range(8))
def test_kill_at_a_random_moment_then_recover(tmp_path: Path, sql_url: str, seed: int) -> None:
    """SIGKILL from outside at a random moment of a run (nobody chose the point), then
    recovery: the run ends compensated and no effect is lost or doubled."""
    import random
    import time

    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "saga.yaml").write_text(SAGA)
    env = {**os.environ, "STEP_SECONDS": "0.05"}
    worker = subprocess.Popen(
        [sys.executable, str(tmp_path / "worker.py"), sql_url, str(tmp_path), "start"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(random.Random(seed).uniform(0.35, 0.8))  # start-up takes about 0.4 s
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=60)
    assert worker.stderr is not None
    worker.stderr.close()

    recovered = run_worker(tmp_path, sql_url, "recover", {"STEP_SECONDS": "0"})
    assert recovered.returncode == 0, recovered.stderr
    status, state, _ = recovered.stdout.split()
    effects_file = tmp_path / "effects"
    effects = effects_file.read_text().splitlines() if effects_file.exists() else []
    if status == "none":  # killed before the run existed: nothing may have happened
        assert effects == []
        return
    assert (status, state) == ("compensated", "compensated")
    assert effects == EFFECTS

"""The crash matrix: a saga killed (SIGKILL) at every named point of the write-ahead protocol,
for every milestone, going forward and compensating, and during recovery itself; each time
``journeys recover`` finishes it in a new process, and the effect ledger and the history must
show every effect and every compensation applied exactly once.

The saga (defs/matrix_saga4.yaml): m1, m2, m3 succeed, m4 fails for good, so undo:m3, undo:m2,
undo:m1 run. Its states in order: m1 m2 m3 m4 undo:m3 undo:m2 undo:m1 (m4 is never undone: it
never completed). The points are those of ``journeys.engine.faults.POINTS``, set through the
real switch, ``JOURNEYS_FAULTS=POINT:STATE``. A cell is (phase, point, state):

- phase ``run``: ``journeys run`` dies at POINT in STATE; ``journeys recover`` finishes the run
  (if the kill came before the run's first commit, there is no run: the command is given
  again, as an operator would).
- phase ``recover``: ``journeys run`` dies after m1's intent (after STATE's intent for
  ``after_claim``), then ``journeys recover`` dies at POINT in STATE, then a second
  ``journeys recover`` finishes the run.
- phase ``again``: ``journeys run`` dies at POINT in STATE, the first ``journeys recover`` dies
  at the same point, a second one finishes the run: the attempt cut short twice is called a
  third time, still under its key. Not in the default test run (JOURNEYS_CRASH_MATRIX=full).

Checks of each cell (``Trial._check``): the run is terminal (``compensated``); the ledger holds
the effects of m1, m2, m3 once each, under their idempotency keys, each undone once by its own
compensation, and no effect of m4; handlers were called again only for the attempt whose outcome
the kill kept from being committed (exactly that one, with the same key); the history is
coherent (numbered without gaps, transitions chain from m1 to compensated exactly once each,
each transition followed by exactly its outbox events, each outcome recorded once and preceded by
its intent, an intent left without an outcome only where a recovery took over, one checkpoint).

Every command runs through the fork server (forkserver.py): a new process per command, running
the real ``journeys`` command line, without paying the interpreter's start-up each time. The
SQLite files and the ledger go to a tmpfs when there is one: a SIGKILL does not lose what the
kernel has been given, so the disk's fsync adds time and nothing to what is tested.

As a script, it prints the matrix::

    python tests/acceptance/crash/matrix.py [--backend sqlite|postgres]
        [--phase run|recover|again]... [--postgres URL] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from crash_handlers import SCHEMA as LEDGER_SCHEMA  # noqa: E402
from harness import PostgresBackend, SqliteBackend  # noqa: E402

import journeys  # noqa: E402
from journeys.engine import faults  # noqa: E402
from journeys.engine.events import events_of  # noqa: E402

DEFINITION = HERE / "defs" / "matrix_saga4.yaml"
HANDLERS = HERE / "crash_handlers.py"
FORKSERVER = HERE / "forkserver.py"

FORWARD = ("m1", "m2", "m3", "m4")
UNDOING = ("undo:m3", "undo:m2", "undo:m1")
ORDER = FORWARD + UNDOING
"""The saga's states, in the order the run meets them."""
DONE = ("m1", "m2", "m3")
PHASES = ("run", "recover", "again")
CI_PHASES = ("run", "recover")
"""The phases the test suite runs by default (``again`` with JOURNEYS_CRASH_MATRIX=full)."""
POINTS = {
    "run": tuple(p for p in faults.POINTS if p != "after_claim"),  # only a recoverer claims
    "recover": faults.POINTS,
    "again": tuple(p for p in faults.POINTS if p != "after_claim"),
}
UNREACHED = {("after_effect", "m4")}
"""m4 raises before its effect: its after_effect point is never reached (the cell checks
that the process was not killed, and the run all the same)."""
CALL_POINTS = ("before_effect", "after_effect", "after_handler")
"""Kills between the handler's call and its outcome's commit: that call is made again."""

TIMEOUT = 60.0


@dataclass(frozen=True)
class Cell:
    phase: str
    point: str
    state: str

    @property
    def id(self) -> str:
        return f"{self.phase}-{self.point}-{self.state}"

    @property
    def direction(self) -> str:
        return "compensating" if self.state.startswith("undo:") else "forward"

    @property
    def reached(self) -> bool:
        return (self.point, self.state) not in UNREACHED

    @property
    def cut_short(self) -> bool:
        """Whether a kill leaves the run unfinished, for recovery to take over. Not in the run
        phase if the point is never reached, or if it comes after the commit that finished the
        run; in the recover phase, always (the first kill is in ``journeys run``)."""
        if self.phase == "recover":
            return True
        return self.reached and (self.point, self.state) != ("after_outcome", ORDER[-1])

    @property
    def kills_recovery(self) -> bool:
        """Phase ``again``: the first recovery dies at the same point, if it reaches it: not
        when the first kill came before the run's first commit (nothing to recover), nor after
        an outcome's commit (recovery never commits that outcome again)."""
        first_commit = self.point == "before_intent" and self.state == ORDER[0]
        done = self.point == "after_outcome"
        return self.phase == "again" and self.cut_short and not first_commit and not done

    @property
    def called_again(self) -> Counter[str]:
        """How many more times than once each state's handler must be called: once more for
        each process that died between the call and its outcome's commit (the same key each
        time)."""
        deaths = 2 if self.kills_recovery else 1
        if self.point in CALL_POINTS and self.reached:
            return Counter({self.state: deaths})
        if self.point == "before_intent" and self.state != ORDER[0]:
            # the previous attempt's outcome shares this intent's commit, lost with it
            return Counter({ORDER[ORDER.index(self.state) - 1]: deaths})
        return Counter()


def cells(phases: tuple[str, ...] = PHASES) -> list[Cell]:
    return [Cell(ph, p, s) for ph in phases for p in POINTS[ph] for s in ORDER]


@dataclass
class Result:
    cell: Cell
    backend: str
    killed: list[str] = field(default_factory=list)  # the commands that died, in order
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def mark(self) -> str:
        if self.problems:
            return "FAIL"
        if not self.cell.reached:
            return "n/r"
        return "ok*" if self.notes else "ok"

    def report(self) -> str:
        lines = [f"{self.cell.id} on {self.backend}: killed {self.killed or 'nothing'}"]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The fork server's client


class Forks:
    """Runs ``journeys ARGS`` in new processes forked by forkserver.py."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(FORKSERVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_base_env(),
        )
        self._buffer = b""
        ready = self._read(120.0)
        if ready is None or "ready" not in ready:
            self.close()
            raise RuntimeError(f"the fork server did not start: {ready!r}")

    def _read(self, timeout: float) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError("the fork server exited")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return dict(json.loads(line))

    def journeys(
        self, argv: list[str], env: dict[str, str], cwd: Path, name: str
    ) -> tuple[int, str]:
        """The command's exit code (-9 when SIGKILLed) and its stderr."""
        out, err = cwd / f"{name}.out", cwd / f"{name}.err"
        request = {"argv": argv, "env": env, "cwd": str(cwd), "out": str(out), "err": str(err)}
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        started = self._read(TIMEOUT)
        if started is None or "started" not in started:
            raise RuntimeError(f"the fork server did not fork: {started!r}")
        answer = self._read(TIMEOUT)
        if answer is None:  # a hung command: ours, killed by its pid
            os.kill(int(started["started"]), signal.SIGKILL)
            answer = self._read(TIMEOUT)
            assert answer is not None
            return int(answer["rc"]), f"hung for {TIMEOUT:g}s and was killed"
        return int(answer["rc"]), err.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _base_env() -> dict[str, str]:
    """The environment of every command: no JOURNEYS_* setting of the caller's (a policy or
    a fault switch from outside would change what the matrix measures)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYS_")}


def scratch_dir() -> str | None:
    """Where the cells' files go: a tmpfs if there is one (see the module's docstring)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


# --------------------------------------------------------------------------------------------
# One cell


class Stores:
    """Where the cells keep their runs. SQLite: a new file per cell, in its folder. PostgreSQL:
    one schema shared by the cells as long as they pass, so that its migrations run once, not
    in every cell's first command (each cell's run has its own id, and the earlier ones are all
    finished: recovery finds only the cell's run); a new schema after a cell fails, since its
    run may be left unfinished."""

    def __init__(self, backend: str, postgres_url: str | None = None) -> None:
        self.backend = backend
        self.postgres_url = postgres_url
        self._schema: PostgresBackend | None = None

    def url(self, workdir: Path) -> str:
        if self.backend == "sqlite":
            return SqliteBackend(workdir).url
        if self._schema is None:
            self._schema = PostgresBackend(self.postgres_url or "")
        return self._schema.url

    def done(self, passed: bool) -> None:
        if not passed:
            self.close()

    def close(self) -> None:
        if self._schema is not None:
            self._schema.close()
            self._schema = None


class Trial:
    def __init__(self, cell: Cell, stores: Stores, forks: Forks) -> None:
        self.cell = cell
        self.stores = stores
        self.forks = forks
        self.run_id = f"x{uuid.uuid4().hex[:8]}"
        self.result = Result(cell, stores.backend)
        self.commands = 0

    def run(self) -> Result:
        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="crashmatrix-", dir=scratch_dir()) as tmp:
            self.workdir = Path(tmp)
            self.ledger = self.workdir / "ledger.db"
            with sqlite3.connect(self.ledger) as con:
                con.executescript(LEDGER_SCHEMA)
            con.close()
            self.url = self.stores.url(self.workdir)
            self._reader: journeys.Engine | None = None
            try:
                self._drive()
                if not self.result.problems:
                    self._check()
            finally:
                if self._reader is not None:
                    self._reader.close()
                self.stores.done(not self.result.problems)
        self.result.seconds = time.monotonic() - began
        return self.result

    def journeys(self, verb: str, *, fault: str | None = None) -> int:
        argv = [verb, "--handlers", str(HANDLERS), "--db", self.url]
        if verb == "run":
            argv[1:1] = [str(DEFINITION), "--run-id", self.run_id]
        env = {**_base_env(), "CRASH_LEDGER": str(self.ledger)}
        if fault is not None:
            env["JOURNEYS_FAULTS"] = fault
        self.commands += 1
        name = f"{self.commands}-{verb}"
        rc, stderr = self.forks.journeys(argv, env, self.workdir, name)
        what = f"journeys {verb}" + (f" (JOURNEYS_FAULTS={fault})" if fault else "")
        if rc == -signal.SIGKILL:
            self.result.killed.append(what)
        elif rc not in (0, 1) or "Traceback" in stderr or "internal error" in stderr.lower():
            self.result.problems.append(f"{what}: exit {rc}: {stderr.strip()[-2000:]}")
        return rc

    def _expect_killed(self, rc: int, fault: str, reached: bool = True) -> None:
        if reached and rc != -signal.SIGKILL:
            self.result.problems.append(f"{fault}: the process was not killed (exit {rc})")
        if not reached and rc == -signal.SIGKILL:
            self.result.problems.append(f"{fault}: killed at a point thought unreachable")

    def _drive(self) -> None:
        cell = self.cell
        fault = f"{cell.point}:{cell.state}"
        if cell.phase == "again":
            self._expect_killed(self.journeys("run", fault=fault), fault, cell.reached)
            if cell.kills_recovery:
                self._expect_killed(self.journeys("recover", fault=fault), fault)
        elif cell.phase == "run":
            self._expect_killed(self.journeys("run", fault=fault), fault, cell.reached)
        else:
            first = f"after_intent:{cell.state if cell.point == 'after_claim' else ORDER[0]}"
            self._expect_killed(self.journeys("run", fault=first), first)
            self._expect_killed(self.journeys("recover", fault=fault), fault, cell.reached)
        self.journeys("recover")
        if self._status() is None:  # killed before the run's first commit: nothing to recover
            self.result.notes.append("no run was committed: `journeys run` given again")
            self.journeys("run")

    def _engine(self) -> journeys.Engine:
        """An engine of this process on the cell's store, to read the run (no handlers: it
        moves nothing)."""
        if self._reader is None:
            self._reader = journeys.Engine(self.url, registry=journeys.Registry())
        return self._reader

    def _status(self) -> journeys.Run | None:
        try:
            return self._engine().get(self.run_id)
        except journeys.RunNotFound:
            return None

    # ---- checks

    def _check(self) -> None:
        run = self._status()
        problems = self.result.problems
        if run is None:
            problems.append("the run does not exist at the end")
            return
        if (run.status, run.state) != ("compensated", "compensated"):
            problems.append(f"the run ended {run.status} at {run.state}: {run.error}")
        if not (run.error or "").startswith("m4 failed"):
            problems.append(f"the run's error is not m4's failure: {run.error!r}")
        self._check_ledger()
        self._check_history(self._engine().history(self.run_id))

    def _check_ledger(self) -> None:
        rid, problems = self.run_id, self.result.problems
        con = sqlite3.connect(self.ledger)
        con.row_factory = sqlite3.Row
        try:
            effects = {r["key"]: dict(r) for r in con.execute("SELECT * FROM effects")}
            undos = {r["key"]: dict(r) for r in con.execute("SELECT * FROM undos")}
            calls = [dict(r) for r in con.execute("SELECT * FROM calls ORDER BY id")]
            anomalies = [dict(r) for r in con.execute("SELECT * FROM anomalies")]
        finally:
            con.close()
        problems += [f"handler anomaly at {a['key']}: {a['what']}" for a in anomalies]
        expected = {f"{rid}:{m}" for m in DONE}
        if set(effects) != expected:
            problems.append(f"effects {sorted(effects)}, expected {sorted(expected)}")
        for key, effect in effects.items():
            if effect["undone_by"] != f"{key}:undo":
                problems.append(f"effect {key} undone by {effect['undone_by']!r}")
        want_undos = {f"{rid}:{m}:undo": f"{rid}:{m}" for m in DONE}
        if {k: u["target"] for k, u in undos.items()} != want_undos:
            problems.append(f"compensations applied {sorted(undos)}, expected {sorted(want_undos)}")
        made = Counter(_state_of(c) for c in calls)
        want = Counter({s: 1 for s in ORDER})
        want.update(self.cell.called_again)
        if made != want:
            problems.append(f"handler calls per state {dict(made)}, expected {dict(want)}")
        for c in calls:
            key = f"{rid}:{c['milestone']}" + (":undo" if c["compensating"] else "")
            if c["key"] != key or c["run_id"] != rid:
                problems.append(f"call of {_state_of(c)} under key {c['key']}, not {key}")
        unended = [_state_of(c) for c in calls if c["ended"] is None]
        if self.cell.point in faults.HANDLER_POINTS and self.cell.reached:
            expected = [self.cell.state] * (2 if self.cell.kills_recovery else 1)
            if unended != expected:
                problems.append(f"calls cut short: {unended}, expected {expected}")
        elif unended:
            problems.append(f"calls that never ended, with no kill inside a handler: {unended}")

    def _check_history(self, history: list[journeys.Entry]) -> None:
        problems = self.result.problems
        seqs = [e.seq for e in history]
        if seqs != list(range(1, len(history) + 1)):
            problems.append(f"history numbered {seqs}")
        if not history or history[0].kind != "policy":
            problems.append("the history does not begin with the run's policy")
        moves = [(e.trigger, e.source, e.dest) for e in history if e.kind == "transition"]
        want = [("succeed", a, b) for a, b in pairwise(FORWARD)]
        want += [("fail", "m4", "undo:m3"), ("undone", "undo:m3", "undo:m2")]
        want += [("undone", "undo:m2", "undo:m1"), ("undone", "undo:m1", "compensated")]
        if moves != want:
            problems.append(f"transitions {moves}, expected {want}")
        # the outbox: each transition followed by exactly its events, and no event elsewhere
        for i, entry in enumerate(history):
            if entry.kind != "transition":
                continue
            assert entry.trigger and entry.source and entry.dest
            names = events_of(entry.trigger, entry.source, entry.dest)
            after = [e.trigger for e in history[i + 1 : i + 1 + len(names)] if e.kind == "event"]
            if after != names:
                problems.append(f"transition {entry.seq} followed by events {after}, not {names}")
        events = sum(len(events_of(*m)) for m in moves if None not in m)  # type: ignore[misc]
        if sum(e.kind == "event" for e in history) != events:
            problems.append("outbox events outside their transitions' commits")
        outcomes = Counter(
            (_entry_state(e), e.status)
            for e in history
            if e.kind in ("operation", "compensation") and e.status != "pending"
        )
        want_outcomes = Counter({(s, "completed"): 1 for s in ORDER if s != "m4"})
        want_outcomes[("m4", "failed")] = 1
        if outcomes != want_outcomes:
            problems.append(f"outcomes {dict(outcomes)}, expected {dict(want_outcomes)}")
        checkpoints = [e.milestone for e in history if e.kind == "checkpoint"]
        if checkpoints != ["m2"]:
            problems.append(f"checkpoints {checkpoints}, expected ['m2']")
        # every outcome follows its own intent; an intent is left open only by a crash, after
        # which a recovery took the run over (its signal comes next)
        open_intent: journeys.Entry | None = None
        for e in history:
            if e.kind in ("operation", "compensation") and e.status == "pending":
                if open_intent is not None:
                    problems.append(f"intent {open_intent.seq} abandoned with no recovery")
                open_intent = e
                if e.idempotency_key != f"{self.run_id}:{_entry_state(e).replace('undo:', '')}" + (
                    ":undo" if e.kind == "compensation" else ""
                ):
                    problems.append(f"intent {e.seq} has the key {e.idempotency_key}")
            elif e.kind in ("operation", "compensation"):
                if open_intent is None or _entry_state(open_intent) != _entry_state(e):
                    problems.append(f"outcome {e.seq} ({_entry_state(e)}) without its intent")
                open_intent = None
            elif e.kind == "signal" and e.trigger == "recover":
                open_intent = None
        if open_intent is not None:
            problems.append(f"intent {open_intent.seq} has no outcome")
        recovered = sum(e.kind == "signal" and e.trigger == "recover" for e in history)
        if not self.cell.cut_short or self.result.notes:
            if recovered:
                problems.append(f"{recovered} recover signals, for a run that was not cut short")
        elif recovered == 0:
            problems.append("the run was cut short but its history has no recover signal")


def _state_of(call: dict[str, Any]) -> str:
    return ("undo:" if call["compensating"] else "") + str(call["milestone"])


def _entry_state(entry: journeys.Entry) -> str:
    return ("undo:" if entry.kind == "compensation" else "") + str(entry.milestone)


# --------------------------------------------------------------------------------------------
# The matrix


def run_matrix(
    selected: list[Cell], backend: str, postgres_url: str | None = None, *, verbose: bool = False
) -> list[Result]:
    forks = Forks()
    stores = Stores(backend, postgres_url)
    results = []
    try:
        for cell in selected:
            result = Trial(cell, stores, forks).run()
            results.append(result)
            if verbose or result.problems:
                print(result.report(), file=sys.stderr, flush=True)
    finally:
        forks.close()
        stores.close()
    return results


def table(results: list[Result]) -> str:
    """The matrix as text: a block per phase, a row per point, a column per state."""
    by_cell = {r.cell: r for r in results}
    lines = []
    for phase in PHASES:
        rows = [c for c in by_cell if c.phase == phase]
        if not rows:
            continue
        head = {
            "run": "journeys run killed at",
            "recover": "journeys recover killed at",
            "again": "both killed at the same",
        }[phase]
        lines.append(f"{head:<28}" + "".join(f"{s:>9}" for s in ORDER))
        lines.append(f"{'':<28}" + f"{'forward':-^36}" + f"{'compensating':-^27}")
        for point in POINTS[phase]:
            marks = [
                by_cell[Cell(phase, point, s)].mark if Cell(phase, point, s) in by_cell else ""
                for s in ORDER
            ]
            lines.append(f"  {point:<26}" + "".join(f"{m:>9}" for m in marks))
        lines.append("")
    total = len(results)
    failed = sum(bool(r.problems) for r in results)
    unreached = sum(not r.cell.reached for r in results)
    seconds = sum(r.seconds for r in results)
    lines.append(
        f"{total} cells, {total - failed - unreached} killed and recovered, {failed} failed,"
        f" {unreached} n/r (point never reached: the process ran to its end), {seconds:.0f}s"
    )
    lines.append(
        "ok: terminal (compensated), each effect and compensation applied once, only the"
        " uncommitted call made again; ok*: the kill came before the run's first commit,"
        " so the run was given again"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--postgres", default=os.environ.get("JOURNEYS_TEST_POSTGRES_URL"))
    ap.add_argument("--phase", choices=PHASES, action="append")
    ap.add_argument("--verbose", "-v", action="store_true")
    a = ap.parse_args(argv)
    if a.backend == "postgres" and not a.postgres:
        ap.error("--backend postgres needs --postgres URL or JOURNEYS_TEST_POSTGRES_URL")
    results = run_matrix(cells(tuple(a.phase or PHASES)), a.backend, a.postgres, verbose=a.verbose)
    print(f"crash matrix: {DEFINITION.name} on {a.backend}")
    print(table(results))
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

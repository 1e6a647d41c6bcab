"""Blind crash harness: runs the real ``journeys`` command, SIGKILLs it at random instants,
recovers with ``journeys recover`` (killing that too, sometimes) and checks the effect ledger
written by ``crash_handlers.py``, the run's status and its history.

Only the public command line is used. As a script::

    python tests/acceptance/crash/harness.py --backend sqlite --trials 50 [--scenario NAME]
        [--seed N] [--postgres URL] [--verbose]

Each trial is reproducible from its (scenario, backend, seed): the kill delays come from
``random.Random(seed)`` (the instant a delay lands on still depends on the machine's speed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
JOURNEYS_DIR = HERE / "defs"
HANDLERS = HERE / "crash_handlers.py"
BIN = os.environ.get("JOURNEYS_BIN") or str(Path(sys.executable).with_name("journeys"))

from crash_handlers import SCHEMA as LEDGER_SCHEMA  # noqa: E402  (one ledger, one schema)

TERMINAL = {"completed", "failed", "compensated", "compensation_failed", "cancelled", "rolled_back"}
UNFINISHED = {"pending", "running", "compensating"}


# --------------------------------------------------------------------------------------------
# Scenarios: the journey, its inputs, the phases after the run, and what the end must be.


@dataclass
class Scenario:
    name: str
    file: str
    inputs: dict[str, Any]
    expect_status: str
    done: list[str]  # milestones whose effect must be applied (in order)
    undone: list[str]  # of those, the ones a compensation must have undone
    phases: list[list[str]] = field(default_factory=list)  # extra commands, after "run"
    compensable: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)  # milestone -> expected value
    rollback: bool = False


def scenario(name: str, rng: random.Random, run_id: str) -> Scenario:
    if name == "saga8_fail":
        comp = {"m1", "m2", "m4", "m5", "m6", "m7", "m8"}
        return Scenario(
            name,
            "blind_saga8.yaml",
            {"fail": True},
            "compensated",
            ["m1", "m2", "m3", "m4", "m5"],
            ["m5", "m4", "m2", "m1"],
            compensable=comp,
        )
    if name == "saga8_ok":
        return Scenario(
            name,
            "blind_saga8.yaml",
            {"fail": False},
            "completed",
            [f"m{i}" for i in range(1, 9)],
            [],
        )
    if name == "retries_ok":
        return Scenario(
            name,
            "blind_retries.yaml",
            {"last_fail": 3},
            "completed",
            [f"r{i}" for i in range(1, 7)],
            [],
        )
    if name == "retries_comp":
        return Scenario(
            name,
            "blind_retries.yaml",
            {"last_fail": 4},
            "compensated",
            [f"r{i}" for i in range(1, 6)],
            [f"r{i}" for i in range(5, 0, -1)],
            compensable={f"r{i}" for i in range(1, 7)},
        )
    if name == "templates":
        seed = f"s{rng.randrange(10**6)}"
        do_t3 = rng.random() < 0.5
        done = ["t1", "t2"] + (["t3"] if do_t3 else []) + ["t5", "t6"] + ([] if do_t3 else ["t7"])
        values = {
            "t1": f"{seed}-1",
            "t2": f"{seed}-1-2",
            "t5": f"{seed}-1-2-5-{run_id}",
            "t6": f"{seed}-1-2-5-{run_id}-6",
        }
        if do_t3:
            values["t3"] = f"{seed}-1-2-3"
        else:
            values["t7"] = f"{seed}-1-2-5-{run_id}-6-7"
        return Scenario(
            name,
            "blind_templates.yaml",
            {"seed": seed, "do_t3": do_t3},
            "completed",
            done,
            [],
            values=values,
        )
    if name == "wait_advance":
        return Scenario(
            name,
            "blind_wait.yaml",
            {},
            "completed",
            ["w1", "w2", "w3", "w4", "w5"],
            [],
            phases=[["advance", run_id, "approval", "--data", "{by: ann}"]],
            values={"w3": "ann"},
        )
    if name == "wait_fail":
        return Scenario(
            name,
            "blind_wait.yaml",
            {},
            "compensated",
            ["w1", "w2"],
            ["w2", "w1"],
            phases=[["fail", run_id, "approval", "--error", "nobody answered"]],
            compensable={"w1", "w2", "w3", "w4", "w5"},
        )
    if name == "wait_rollback":
        return Scenario(
            name,
            "blind_wait.yaml",
            {},
            "completed",
            ["w1", "w2", "w3", "w4", "w5"],
            [],
            phases=[
                ["advance", run_id, "approval", "--data", "{by: ann}"],
                ["rollback", run_id, "--to", "w1"],
                ["resume", run_id],
                ["advance", run_id, "approval", "--data", "{by: bob}"],
            ],
            values={"w3": "bob"},
            rollback=True,
        )
    if name in ("big_ok", "big_fail"):
        fail = name == "big_fail"
        comp = {f"b{i}" for i in range(1, 37)} - {"b10", "b20", "b30"}
        done = [f"b{i}" for i in range(1, 34 if fail else 37)]
        undone = [m for m in reversed(done) if m in comp] if fail else []
        return Scenario(
            name,
            "blind_big.yaml",
            {"fail": fail},
            "compensated" if fail else "completed",
            done,
            undone,
            compensable=comp,
        )
    raise ValueError(f"unknown scenario {name}")


def _fill(sc: Scenario) -> Scenario:
    if not sc.compensable:
        sc.compensable = set(sc.undone)
    return sc


SCENARIOS = [
    "saga8_fail",
    "saga8_ok",
    "retries_ok",
    "retries_comp",
    "templates",
    "wait_advance",
    "wait_fail",
    "wait_rollback",
    "big_ok",
    "big_fail",
]


# --------------------------------------------------------------------------------------------
# Backends


class SqliteBackend:
    name = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.url = f"sqlite:///{workdir / 'journeys.db'}"

    def close(self) -> None:
        pass


class PostgresBackend:
    name = "postgres"

    def __init__(self, base_url: str) -> None:
        import sqlalchemy as sa

        self.schema = "crash_" + uuid.uuid4().hex[:12]
        self._admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as con:
            con.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        sep = "&" if "?" in base_url else "?"
        self.url = f"{base_url}{sep}options=-csearch_path%3D{self.schema}"

    def close(self) -> None:
        import sqlalchemy as sa

        with self._admin.connect() as con:
            con.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self._admin.dispose()


# --------------------------------------------------------------------------------------------
# One trial


@dataclass
class Proc:
    cmd: list[str]
    pid: int
    killed: bool
    rc: int | None
    stdout: str
    stderr: str
    elapsed: float
    delay: float | None


class Trial:
    def __init__(
        self,
        scenario_name: str,
        backend: str,
        seed: int,
        *,
        postgres_url: str | None,
        timing: dict[str, float],
        kill_recover_p: float = 0.35,
        verbose: bool = False,
    ) -> None:
        self.rng = random.Random(f"{scenario_name}/{backend}/{seed}")
        self.seed = seed
        self.run_id = f"r{seed}-{uuid.uuid4().hex[:6]}"
        self.sc = _fill(scenario(scenario_name, self.rng, self.run_id))
        self.backend_name = backend
        self.postgres_url = postgres_url
        self.timing = timing
        self.kill_recover_p = kill_recover_p
        self.verbose = verbose
        self.procs: list[Proc] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.kills = 0

    # ---- processes

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["CRASH_LEDGER"] = str(self.ledger)
        env.pop("JOURNEYS_DB", None)
        env.pop("JOURNEYS_POLICY_FILE", None)
        for k in list(env):
            if k.startswith("JOURNEYS_") and (k.endswith("_ENABLED") or k.endswith("_JOURNEYS")):
                env.pop(k)
        return env

    def _cmd(self, args: list[str], handlers: bool = True) -> list[str]:
        cmd = [BIN, *args, "--db", self.backend.url]
        if handlers:
            cmd += ["--handlers", str(HANDLERS)]
        return cmd

    def spawn(
        self,
        args: list[str],
        *,
        kill_after: float | None,
        handlers: bool = True,
        timeout: float = 120,
    ) -> Proc:
        cmd = self._cmd(args, handlers)
        t0 = time.monotonic()
        p = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            env=self._env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        killed = False
        if kill_after is not None:
            try:
                p.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                killed = True
                self.kills += 1
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            self.problems.append(f"{' '.join(args[:2])} hung for {timeout}s (killed)")
        proc = Proc(
            cmd,
            p.pid,
            killed,
            None if killed else p.returncode,
            out,
            err,
            time.monotonic() - t0,
            kill_after,
        )
        if killed:
            self.notes.append(f"killed {args[0]} at {kill_after:.3f}s: {self._where(p.pid)}")
        self.procs.append(proc)
        for text in (out, err):
            low = text.lower()
            if "traceback" in low or "internal error" in low:
                self.problems.append(f"`{' '.join(args)}` printed: {text.strip()[-1500:]}")
        if self.verbose:
            print(
                f"    {'KILLED' if killed else 'rc=' + str(p.returncode)} after "
                f"{proc.elapsed:.3f}s: {' '.join(args[:3])} {err.strip()[-200:]!r}"
            )
        return proc

    def _where(self, pid: int) -> str:
        """Where the killed process was, as the ledger saw it."""
        con = sqlite3.connect(self.ledger)
        try:
            rows = con.execute(
                "SELECT milestone, compensating, attempt, ended FROM calls"
                " WHERE pid = ? ORDER BY id",
                (pid,),
            ).fetchall()
        finally:
            con.close()
        if not rows:
            return "before any call"
        m, comp, att, ended = rows[-1]
        where = "inside" if ended is None else "after"
        return f"{len(rows)} calls, {where} {'undo ' if comp else ''}{m}#{att}"

    def status(self) -> dict[str, Any] | None:
        proc = self.spawn(["status", self.run_id, "--json"], kill_after=None, handlers=False)
        if proc.rc != 0:
            if "not found" in proc.stderr.lower() or "no run" in proc.stderr.lower():
                return None
            self.problems.append(f"status failed rc={proc.rc}: {proc.stderr.strip()}")
            return None
        return json.loads(proc.stdout)

    def history(self) -> list[dict[str, Any]]:
        proc = self.spawn(["history", self.run_id, "--json"], kill_after=None, handlers=False)
        if proc.rc != 0:
            self.problems.append(f"history failed rc={proc.rc}: {proc.stderr.strip()}")
            return []
        return json.loads(proc.stdout)

    def kill_delay(self, key: str) -> float:
        """A delay spread over the command's lifetime (calibrated by an unkilled run): mostly
        between its first handler call and the end of its last one."""
        total = self.timing.get(key + ".total", 1.0)
        first = self.timing.get(key + ".first", total * 0.5)
        last = self.timing.get(key + ".last", total)
        r = self.rng.random()
        if r < 0.1:
            return self.rng.uniform(0.0, max(first, 0.01))  # start-up, before any handler
        if r < 0.92:
            return self.rng.uniform(first * 0.97, last + 0.01)  # while milestones run
        return self.rng.uniform(last, total * 1.1)  # after the last call, to the end

    def recover(self) -> None:
        """journeys recover, killed now and then, until one finishes."""
        for i in range(4):
            kill = None
            if i < 2 and self.rng.random() < self.kill_recover_p:
                idle = self.timing.get("recover.total", 0.5)  # its start-up, with nothing to do
                kill = self.rng.uniform(idle * 0.85, idle + 0.3)
            proc = self.spawn(["recover"], kill_after=kill)
            if not proc.killed:
                return
        self.problems.append("recover killed repeatedly; unreachable")

    def killable(self, args: list[str], key: str, *, calibrate: bool) -> Proc:
        if calibrate:
            t0 = time.time()
            proc = self.spawn(args, kill_after=None)
            span = self._calls_after(t0)
            self.timing[key + ".total"] = proc.elapsed
            if span is not None:
                self.timing[key + ".first"], self.timing[key + ".last"] = span
            return proc
        return self.spawn(args, kill_after=self.kill_delay(key))

    def _calls_after(self, t0: float) -> tuple[float, float] | None:
        """When the first handler call started and the last ended, from t0 (seconds)."""
        con = sqlite3.connect(self.ledger)
        try:
            row = con.execute("SELECT min(t), max(t) FROM calls WHERE t >= ?", (t0,)).fetchone()
        finally:
            con.close()
        if row is None or row[0] is None:
            return None
        return row[0] - t0, row[1] - t0 + 0.015

    # ---- the trial

    def run(self, *, calibrate: bool = False) -> list[str]:
        with tempfile.TemporaryDirectory(prefix="blindcrash-") as tmp:
            self.workdir = Path(tmp)
            self.ledger = self.workdir / "ledger.db"
            con = sqlite3.connect(self.ledger)  # the handlers' tables (crash_handlers.SCHEMA)
            con.executescript(LEDGER_SCHEMA)
            con.close()
            self.backend = (
                SqliteBackend(self.workdir)
                if self.backend_name == "sqlite"
                else PostgresBackend(self.postgres_url or "")
            )
            try:
                self._drive(calibrate)
                self._check()
            finally:
                self.backend.close()
        return self.problems

    def _drive(self, calibrate: bool) -> None:
        sc = self.sc
        inputs: list[str] = []
        for k, v in sc.inputs.items():
            inputs += ["-i", f"{k}={json.dumps(v)}"]
        file = str(JOURNEYS_DIR / sc.file)
        run_args = ["run", file, "--run-id", self.run_id, *inputs]
        key = f"{sc.name}.{self.backend_name}"
        proc = self.killable(run_args, key + ".run", calibrate=calibrate)
        self._after(proc, run_args)
        if calibrate:
            t0 = time.monotonic()
            self.spawn(["recover"], kill_after=None)
            self.timing["recover.total"] = max(
                self.timing.get("recover.total", 0), time.monotonic() - t0
            )
        for i, phase in enumerate(sc.phases):
            proc = self.killable(phase, f"{key}.phase{i}", calibrate=calibrate)
            self._after(proc, phase)

    def _after(self, proc: Proc, args: list[str]) -> None:
        """After a command: if it was killed, recover; then, if its move was never committed,
        give the command again (what an operator would do), unkilled."""
        if not proc.killed:
            return
        self.recover()
        st = self.status()
        verb = args[0]
        again = False
        if st is None:
            again = verb == "run"
        elif verb in ("advance", "fail") and st["status"] == "waiting" and st["state"] == args[2]:
            again = True
        elif verb == "rollback" and st["status"] == "completed":
            again = True
        elif verb == "resume" and st["status"] == "rolled_back":
            again = True
        elif verb == "run" and st["status"] in UNFINISHED:
            self.problems.append(f"after recover the run is still {st['status']}")
        if again:
            self.notes.append(f"{verb} not committed before the kill: given again")
            p = self.spawn(args, kill_after=None)
            if p.rc not in (0, 1):
                self.problems.append(f"{verb} given again: rc={p.rc} {p.stderr.strip()}")

    # ---- checks

    def _check(self) -> None:
        sc = self.sc
        st = self.status()
        if st is None:
            self.problems.append("the run does not exist at the end")
            return
        if st["status"] != sc.expect_status:
            self.problems.append(
                f"final status {st['status']} (state {st['state']}), expected "
                f"{sc.expect_status}; error={st.get('error')!r}"
            )
        con = sqlite3.connect(self.ledger)
        con.row_factory = sqlite3.Row
        calls = [
            dict(r)
            for r in con.execute("SELECT * FROM calls WHERE run_id = ? ORDER BY id", (self.run_id,))
        ]
        effects = {
            r["key"]: dict(r)
            for r in con.execute("SELECT * FROM effects WHERE run_id = ?", (self.run_id,))
        }
        undos = {
            r["key"]: dict(r)
            for r in con.execute("SELECT * FROM undos WHERE run_id = ?", (self.run_id,))
        }
        anomalies = [
            dict(r) for r in con.execute("SELECT * FROM anomalies WHERE run_id = ?", (self.run_id,))
        ]
        con.close()
        rid = self.run_id
        for a in anomalies:
            self.problems.append(f"handler anomaly at {a['key']}: {a['what']}")

        # effects: every done milestone's effect stands exactly once, nothing else stands. A
        # rollback undoes effects and the resume applies them again as new work, under new
        # keys ({rid}:{m}:redoN, undone by {key}:undo): per milestone, the standing effect is
        # the one not undone, and every undone one was undone by its own key's undo.
        by_ms: dict[str, list[str]] = defaultdict(list)
        for k, e in effects.items():
            by_ms[e["milestone"]].append(k)
        for m, keys in by_ms.items():
            if m not in sc.done:
                self.problems.append(f"effect of {m} applied but {m} should not have run: {keys}")
            for k in keys:
                if not re.fullmatch(rf"{re.escape(rid)}:{m}(:redo\d+)?", k):
                    self.problems.append(f"effect of {m} under an unexpected key {k}")
                undone_by = effects[k]["undone_by"]
                if undone_by is not None and undone_by != f"{k}:undo":
                    self.problems.append(f"effect {k} undone by {undone_by}, not by {k}:undo")
            if not sc.rollback and len(keys) > 1:
                self.problems.append(f"effect of {m} applied {len(keys)} times: {keys}")
        for m in sc.done:
            keys = by_ms.get(m, [])
            if not keys:
                self.problems.append(f"effect of {m} lost (no ledger row for {rid}:{m})")
                continue
            standing = [k for k in keys if effects[k]["undone_by"] is None]
            if m in sc.undone:
                if standing:
                    self.problems.append(f"{m} not undone (standing: {standing})")
                continue
            if len(standing) != 1:
                self.problems.append(f"effect of {m} stands {len(standing)} times: {keys}")
                continue
            e = effects[standing[0]]
            if m in sc.values and e["value"] != sc.values[m]:
                self.problems.append(f"{m} value {e['value']!r}, expected {sc.values[m]!r}")
            if not sc.rollback and standing[0] != f"{rid}:{m}":
                self.problems.append(f"{m} applied under {standing[0]}, not {rid}:{m}")
        undone_targets = defaultdict(list)
        for u in undos.values():
            undone_targets[u["target"]].append(u["key"])
        for t, ks in undone_targets.items():
            if len(ks) > 1:
                self.problems.append(f"effect {t} undone by several keys: {ks}")
        expected_undos = {f"{rid}:{m}" for m in sc.undone}
        if not sc.rollback and set(undone_targets) != expected_undos:
            self.problems.append(
                f"undone {sorted(undone_targets)}, expected {sorted(expected_undos)}"
            )

        # calls: keys stable; a second call of a key only after a crash or a failed attempt
        killed = {p.pid for p in self.procs if p.killed}
        last_call_of_pid: dict[int, int] = {}
        for c in calls:
            last_call_of_pid[c["pid"]] = c["id"]
        by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in calls:
            expect_key = rf"{re.escape(rid)}:{c['milestone']}(:redo\d+)?" + (
                ":undo" if c["compensating"] else ""
            )
            if not re.fullmatch(expect_key, c["key"]):
                self.problems.append(f"call of {c['milestone']} with key {c['key']}")
            if c["compensating"] and c["milestone"] not in sc.compensable and not sc.rollback:
                self.problems.append(f"compensation of {c['milestone']} called")
            if (
                not c["compensating"]
                and c["milestone"] not in sc.done
                and c["milestone"] not in sc.undone
                and not self._may_run(c["milestone"])
            ):
                self.problems.append(f"{c['milestone']} called but should not run")
            by_key[c["key"]].append(c)
        undo_ids = {k: [c["id"] for c in cs] for k, cs in by_key.items()}
        for k, cs in by_key.items():
            for prev, nxt in itertools.pairwise(cs):
                crashed = prev["pid"] in killed and last_call_of_pid[prev["pid"]] == prev["id"]
                retried = prev["ended"] == "transient" and nxt["attempt"] == prev["attempt"] + 1
                redone = any(prev["id"] < i < nxt["id"] for i in undo_ids.get(k + ":undo", []))
                if not (crashed or retried or (sc.rollback and redone)):
                    self.problems.append(
                        f"{k} called again (attempt {prev['attempt']} -> {nxt['attempt']}, "
                        f"pid {prev['pid']} -> {nxt['pid']}) though the first call "
                        f"ended {prev['ended']!r} and its process "
                        f"{'was killed later' if prev['pid'] in killed else 'was not killed'}"
                    )
        # compensations in reverse order
        if not sc.rollback:
            first_undo: dict[str, int] = {}
            for c in calls:
                if c["compensating"]:
                    first_undo.setdefault(c["milestone"], c["id"])
            order = sorted(first_undo, key=lambda m: first_undo[m])
            if order != [m for m in sc.undone if m in first_undo]:
                self.problems.append(f"compensations ran in order {order}, expected {sc.undone}")

        self._check_history(st, calls)

    def _may_run(self, m: str) -> bool:
        # the fatal milestone of a failing saga is called (and fails)
        return (
            (self.sc.name == "saga8_fail" and m == "m6")
            or (self.sc.name == "retries_comp" and m == "r6")
            or (self.sc.name == "big_fail" and m == "b34")
        )

    def _check_history(self, st: dict[str, Any], calls: list[dict[str, Any]]) -> None:
        h = self.history()
        if not h:
            self.problems.append("empty history")
            return
        seqs = [e["seq"] for e in h]
        if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
            self.problems.append(f"history seqs not strictly increasing: {seqs}")
        if h[0]["kind"] != "policy":
            self.problems.append(f"first history entry is {h[0]['kind']}, not policy")
        transitions = [e for e in h if e["kind"] == "transition"]
        for a, b in itertools.pairwise(transitions):
            if a["dest"] != b["source"]:
                self.problems.append(
                    f"history transitions do not chain: seq {a['seq']} -> "
                    f"{a['dest']} then seq {b['seq']} from {b['source']}"
                )
        if transitions and transitions[-1]["dest"] != st["state"]:
            self.problems.append(
                f"last transition ends at {transitions[-1]['dest']}, the run is at {st['state']}"
            )
        # each committed outcome matches a call that really ended that way
        ok_calls = {
            (c["milestone"], bool(c["compensating"]), c["attempt"])
            for c in calls
            if c["ended"] == "ok"
        }
        completed = defaultdict(int)
        for e in h:
            if e["kind"] in ("operation", "compensation") and e["status"] == "completed":
                comp = e["kind"] == "compensation"
                completed[(e["milestone"], comp)] += 1
                if (e["milestone"], comp, e["attempt"]) not in ok_calls:
                    self.problems.append(
                        f"history: {e['kind']} {e['milestone']} attempt "
                        f"{e['attempt']} completed, but no such call returned"
                    )
        if not self.sc.rollback:
            for (m, comp), n in completed.items():
                if n != 1:
                    self.problems.append(
                        f"history: {'undo ' if comp else ''}{m} completed {n} times"
                    )
            for m in self.sc.done:
                if completed.get((m, False)) != 1:
                    self.problems.append(f"history: {m} has no completed operation entry")
            for m in self.sc.undone:
                if completed.get((m, True)) != 1:
                    self.problems.append(f"history: undo {m} has no completed entry")
        # every pending intent is followed by its outcome, or the process died after it
        pend = {}
        for e in h:
            if e["kind"] in ("operation", "compensation"):
                k = (e["kind"], e["milestone"])
                if e["status"] == "pending":
                    pend[k] = e
                else:
                    pend.pop(k, None)
        if pend:
            self.problems.append(
                f"history: intents without an outcome at the end: "
                f"{[(k, v['attempt']) for k, v in pend.items()]}"
            )


# --------------------------------------------------------------------------------------------
# Concurrency abuses


def two_recovers(
    backend: str, seed: int, postgres_url: str | None, timing: dict[str, float]
) -> list[str]:
    """Crash a run, then start two `journeys recover` at the same instant."""
    t = Trial("saga8_fail", backend, seed, postgres_url=postgres_url, timing=timing)
    orig_recover = t.recover

    def double() -> None:
        cmd = t._cmd(["recover"])
        ps = [
            subprocess.Popen(
                cmd,
                cwd=t.workdir,
                env=t._env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for p in ps:
            out, err = p.communicate(timeout=120)
            t.procs.append(Proc(cmd, p.pid, False, p.returncode, out, err, 0, None))
            if "traceback" in (out + err).lower() or "internal error" in (out + err).lower():
                t.problems.append(f"concurrent recover printed: {(out + err)[-1500:]}")
            t.notes.append(f"concurrent recover rc={p.returncode} err={err.strip()[-300:]!r}")
        t.recover = orig_recover  # a later recover is a plain one

    t.recover = double  # type: ignore[method-assign]
    t.kill_recover_p = 0
    return t.run()


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--postgres", default=os.environ.get("JOURNEYS_TEST_POSTGRES_URL"))
    ap.add_argument("--trials", type=int, default=10, help="per scenario")
    ap.add_argument("--scenario", action="append")
    ap.add_argument("--seed", type=int, default=None, help="run only this seed")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--two-recovers", type=int, default=0)
    ap.add_argument("--verbose", "-v", action="store_true")
    a = ap.parse_args(argv)
    timing: dict[str, float] = {}
    failures = 0
    counts: dict[str, int] = defaultdict(int)
    for name in a.scenario or SCENARIOS:
        Trial(name, a.backend, 0, postgres_url=a.postgres, timing=timing).run(calibrate=True)
        seeds = [a.seed] if a.seed is not None else range(a.first_seed, a.first_seed + a.trials)
        for seed in seeds:
            t = Trial(
                name, a.backend, seed, postgres_url=a.postgres, timing=timing, verbose=a.verbose
            )
            probs = t.run()
            counts[name] += 1
            tag = "FAIL" if probs else "ok"
            print(
                f"{tag} {name} {a.backend} seed={seed} kills={t.kills} "
                f"delays={[round(p.delay, 3) for p in t.procs if p.killed and p.delay]} "
                f"{'; '.join(t.notes)}",
                flush=True,
            )
            for p in probs:
                print(f"    - {p}", flush=True)
            failures += bool(probs)
    for seed in range(a.two_recovers):
        probs = two_recovers(a.backend, 10_000 + seed, a.postgres, timing)
        counts["two_recovers"] += 1
        print(f"{'FAIL' if probs else 'ok'} two_recovers {a.backend} seed={10_000 + seed}")
        for p in probs:
            print(f"    - {p}", flush=True)
        failures += bool(probs)
    print(f"trials: {dict(counts)}; failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Blind crash tests: the real ``journeys`` command is SIGKILLed at random instants, then
``journeys recover`` (itself killed now and then) must finish every run, and an idempotent
effect ledger must show every effect applied exactly once, nothing lost, and compensations
undoing exactly what was done. See harness.py; only the public command line is used.

Environment:

- ``JOURNEYS_TEST_POSTGRES_URL``: the PostgreSQL server (a fresh schema per trial); without it
  the PostgreSQL cases are skipped, saying so.
- ``JOURNEYS_CRASH_TRIALS``: killed trials per scenario (default 1, over a few scenarios:
  about 30 s per backend). Any value given runs every scenario that many times.
- ``JOURNEYS_CRASH_SEED``: the first seed (default 1).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import harness  # noqa: E402

POSTGRES_URL = os.environ.get("JOURNEYS_TEST_POSTGRES_URL")
TRIALS_ENV = os.environ.get("JOURNEYS_CRASH_TRIALS")
TRIALS = int(TRIALS_ENV or 1)
FIRST_SEED = int(os.environ.get("JOURNEYS_CRASH_SEED") or 1)

ALL = list(harness.SCENARIOS)
DEFAULT = ["saga8_fail", "wait_advance", "big_fail"]
SCENARIOS = ALL if TRIALS_ENV else DEFAULT

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
]


def _backend(name: str) -> str:
    if name == "postgres" and not POSTGRES_URL:
        pytest.skip(
            "JOURNEYS_TEST_POSTGRES_URL is not set: the PostgreSQL crash trials did NOT run"
        )
    return name


def _url() -> str | None:
    if POSTGRES_URL and "+psycopg" not in POSTGRES_URL and POSTGRES_URL.startswith("postgresql:"):
        return POSTGRES_URL.replace("postgresql:", "postgresql+psycopg:", 1)
    return POSTGRES_URL


def _report(trial: harness.Trial, problems: list[str]) -> str:
    sc = trial.sc
    return (
        f"{sc.name} on {trial.backend_name}, seed {trial.seed} "
        f"(python {harness.__file__} --backend {trial.backend_name} --scenario {sc.name} "
        f"--seed {trial.seed}):\n  notes: {'; '.join(trial.notes)}\n  - " + "\n  - ".join(problems)
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_kill_anywhere_then_recover(backend: str, scenario: str) -> None:
    backend = _backend(backend)
    timing: dict[str, float] = {}
    failures = []
    # the calibration run (unkilled) times the journey and is checked like any other
    calib = harness.Trial(scenario, backend, 0, postgres_url=_url(), timing=timing)
    problems = calib.run(calibrate=True)
    if problems:
        failures.append(_report(calib, problems))
    for seed in range(FIRST_SEED, FIRST_SEED + TRIALS):
        trial = harness.Trial(scenario, backend, seed, postgres_url=_url(), timing=timing)
        problems = trial.run()
        if problems:
            failures.append(_report(trial, problems))
    assert not failures, "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_recovers_at_once(backend: str) -> None:
    """A crash, then two `journeys recover` started together. The docs say to run recover when
    no other process moves runs; Engine.recover's docstring adds that a run another recoverer
    takes first is left to it, so nothing may be called twice."""
    backend = _backend(backend)
    timing: dict[str, float] = {}
    harness.Trial("saga8_fail", backend, 0, postgres_url=_url(), timing=timing).run(calibrate=True)
    failures = []
    for seed in range(FIRST_SEED, FIRST_SEED + TRIALS):
        problems = harness.two_recovers(backend, 10_000 + seed, _url(), timing)
        if problems:
            failures.append(f"two_recovers seed {10_000 + seed}: " + "; ".join(problems))
    assert not failures, "\n".join(failures)


def test_resume_after_rollback_redoes_the_undone_effects() -> None:
    """No kill: run, advance, rollback --to w1, resume, advance. w2..w5 were undone by the
    rollback and run again by resume: the ledger must show them applied again."""
    trial = harness.Trial("wait_rollback", "sqlite", 0, postgres_url=None, timing={})
    problems = trial.run(calibrate=True)
    assert not problems, "\n".join(problems)

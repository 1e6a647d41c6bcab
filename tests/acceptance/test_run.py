"""`journeys run` and the commands that move a run, end to end on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Run

HANDLERS = """
import json, os, pathlib
import journeys

LOG = pathlib.Path(os.environ["JOURNEYS_TEST_LOG"])

def note(*words):
    with LOG.open("a") as f:
        f.write(" ".join(words) + "\\n")

@journeys.handler("shop.do")
def do(ctx):
    note("do", ctx.milestone)
    if ctx.inputs.get("fail_at") == ctx.milestone:
        raise journeys.Fatal(f"failing {ctx.milestone} on purpose")
    return {"done": ctx.milestone, "args": dict(ctx.args)}

@journeys.handler("shop.undo")
def undo(ctx):
    note("undo", ctx.milestone)
"""

SAGA = """
journey: shop
kind: saga
inputs:
  type: object
  required: [order_id]
  properties:
    order_id: {type: string}
    quantity: {type: integer, minimum: 1}
    fail_at: {type: string}
milestones:
  - {id: order, action: shop.do, compensation: shop.undo, with: {id: "{{ inputs.order_id }}"}}
  - {id: payment, action: shop.do, compensation: shop.undo}
  - {id: approval}
  - {id: inventory, action: shop.do, compensation: shop.undo}
  - {id: shipping, action: shop.do, compensation: shop.undo}
policies: {saga: {enabled: true}, wal: {enabled: true}}
"""


@pytest.fixture
def shop(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    (tmp_path / "shop.yaml").write_text(SAGA)
    return {
        "file": str(tmp_path / "shop.yaml"),
        "handlers": str(tmp_path / "handlers.py"),
        "db": f"sqlite:///{tmp_path / 'runs.db'}",
        "log": str(tmp_path / "calls.log"),
    }


def calls(shop: dict[str, str]) -> list[str]:
    path = Path(shop["log"])
    return path.read_text().splitlines() if path.exists() else []


def test_a_saga_waits_then_compensates_in_reverse_order(
    journeys_cli: Run, shop: dict[str, str]
) -> None:
    env = {"JOURNEYS_TEST_LOG": shop["log"]}
    common = ["--handlers", shop["handlers"], "--db", shop["db"]]
    started = journeys_cli(
        "run",
        shop["file"],
        "--input",
        "order_id=A-1",
        "-i",
        "fail_at=shipping",
        *common,
        "--json",
        env=env,
    )
    assert started.returncode == 0, started.stderr
    run = json.loads(started.stdout)
    assert (run["status"], run["state"]) == ("waiting", "approval")
    assert run["results"]["order"]["args"] == {"id": "A-1"}
    assert "ok order" in " ".join(started.stderr.split())

    advanced = journeys_cli(
        "advance", run["id"], "approval", "--data", "{by: ann}", *common, "--json", env=env
    )
    assert advanced.returncode == 1  # the run ended compensated, not completed
    after = json.loads(advanced.stdout)
    assert after["status"] == "compensated"
    assert "shipping" in after["error"]
    assert calls(shop) == [
        "do order",
        "do payment",
        "do inventory",
        "do shipping",
        "undo inventory",
        "undo payment",
        "undo order",
    ]
    assert "undone inventory" in " ".join(advanced.stderr.split())

    status = journeys_cli("status", run["id"], "--db", shop["db"], "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["status"] == "compensated"
    history = json.loads(journeys_cli("history", run["id"], "--db", shop["db"], "--json").stdout)
    transitions = [
        (e["trigger"], e["source"], e["dest"]) for e in history if e["kind"] == "transition"
    ]
    assert transitions[-4:] == [
        ("fail", "shipping", "undo:inventory"),
        ("undone", "undo:inventory", "undo:payment"),
        ("undone", "undo:payment", "undo:order"),
        ("undone", "undo:order", "compensated"),
    ]


def test_a_completed_run_exits_0(journeys_cli: Run, shop: dict[str, str]) -> None:
    env = {"JOURNEYS_TEST_LOG": shop["log"]}
    common = ["--handlers", shop["handlers"], "--db", shop["db"]]
    done = journeys_cli(
        "run", shop["file"], "-i", "order_id=B", "--run-id", "r1", *common, "--json", env=env
    )
    assert json.loads(done.stdout)["status"] == "waiting"
    finished = journeys_cli("advance", "r1", "approval", *common, env=env)
    assert finished.returncode == 0
    assert "completed" in finished.stdout
    again = journeys_cli(
        "run", shop["file"], "-i", "order_id=B", "--run-id", "r1", *common, "--json", env=env
    )
    assert json.loads(again.stdout)["status"] == "completed"  # the same run, nothing re-run
    assert calls(shop).count("do order") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-i", "quantity=0"], "order_id"),
        (["-i", "order_id=A", "-i", "quantity=two"], "/quantity"),
        (["-i", "order_id=[unclosed"], "YAML syntax error"),
    ],
)
def test_bad_inputs_exit_1_and_write_nothing(
    journeys_cli: Run, shop: dict[str, str], args: list[str], message: str
) -> None:
    done = journeys_cli(
        "run",
        shop["file"],
        *args,
        "--handlers",
        shop["handlers"],
        "--db",
        shop["db"],
        env={"JOURNEYS_TEST_LOG": shop["log"]},
    )
    assert done.returncode == 1
    assert message in done.stderr or message in done.stdout
    assert "Traceback" not in done.stderr
    assert not Path(shop["db"].removeprefix("sqlite:///")).exists()
    assert calls(shop) == []


def test_unknown_handlers_are_named_before_anything_runs(
    journeys_cli: Run, shop: dict[str, str]
) -> None:
    done = journeys_cli("run", shop["file"], "-i", "order_id=A", "--db", shop["db"])
    assert done.returncode == 1
    assert "milestone 'order' (action): no handler is registered as 'shop.do'" in done.stderr
    assert not Path(shop["db"].removeprefix("sqlite:///")).exists()


def test_commands_on_a_missing_store_or_run_are_clear(
    journeys_cli: Run, shop: dict[str, str]
) -> None:
    missing = journeys_cli("status", "x", "--db", shop["db"])
    assert missing.returncode == 1
    assert "no store at" in missing.stderr
    assert not Path(shop["db"].removeprefix("sqlite:///")).exists()
    env = {"JOURNEYS_TEST_LOG": shop["log"]}
    journeys_cli(
        "run",
        shop["file"],
        "-i",
        "order_id=C",
        "--run-id",
        "c",
        "--handlers",
        shop["handlers"],
        "--db",
        shop["db"],
        env=env,
    )
    unknown = journeys_cli("status", "nope", "--db", shop["db"])
    assert unknown.returncode == 1 and "no run 'nope'" in unknown.stderr
    wrong = journeys_cli(
        "advance", "c", "shipping", "--db", shop["db"], "--handlers", shop["handlers"], env=env
    )
    assert wrong.returncode == 1
    assert "only a wait milestone" in wrong.stderr


def test_a_policy_file_switches_compensation_off(
    journeys_cli: Run, shop: dict[str, str], tmp_path: Path
) -> None:
    policy = tmp_path / "critical.yaml"
    policy.write_text("journeys:\n  'sh*': {saga: {enabled: false}}\n")
    env = {"JOURNEYS_TEST_LOG": shop["log"]}
    done = journeys_cli(
        "run",
        shop["file"],
        "-i",
        "order_id=A",
        "-i",
        "fail_at=order",
        "--policy",
        str(policy),
        "--handlers",
        shop["handlers"],
        "--db",
        shop["db"],
        "--json",
        env=env,
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["status"] == "failed"
    assert calls(shop) == ["do order"]


def test_a_bad_policy_file_is_a_clear_error(
    journeys_cli: Run, shop: dict[str, str], tmp_path: Path
) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("default:\n  saga: {enabled: yes}\n")
    done = journeys_cli(
        "run",
        shop["file"],
        "-i",
        "order_id=A",
        "--policy",
        str(policy),
        "--handlers",
        shop["handlers"],
        "--db",
        shop["db"],
        env={"JOURNEYS_TEST_LOG": shop["log"]},
    )
    assert done.returncode == 1
    assert f"{policy}:2:19: /default/saga/enabled" in done.stderr
    assert "Traceback" not in done.stderr
    assert not Path(shop["db"].removeprefix("sqlite:///")).exists()


def test_cli_details_a_user_meets(journeys_cli: Run, shop: dict[str, str]) -> None:
    env = {"JOURNEYS_TEST_LOG": shop["log"]}
    common = ["--handlers", shop["handlers"], "--db", shop["db"]]
    started = journeys_cli(
        "run",
        shop["file"],
        "-i",
        "order_id=#A-1 urgent",
        "--run-id",
        "d",
        *common,
        "--json",
        env=env,
    )
    assert json.loads(started.stdout)["results"]["order"]["args"] == {"id": "#A-1 urgent"}
    cancelled = journeys_cli("cancel", "d", *common, env=env)
    assert cancelled.returncode == 0  # cancelled as asked
    assert cancelled.stdout.splitlines()[0] == "run d: shop cancelled"
    again = journeys_cli("cancel", "d", *common, env=env)
    assert again.returncode == 1
    assert "a finished run cannot be cancelled" in again.stderr
    forgot = journeys_cli(
        "run", shop["file"], "-i", "order_id=E", "--run-id", "e", *common, env=env
    )
    assert forgot.returncode == 0
    no_handlers = journeys_cli("cancel", "e", "--db", shop["db"])
    assert no_handlers.returncode == 1
    assert "names handlers that are not registered; nothing was done" in no_handlers.stderr
    status = journeys_cli("status", "e", "--db", shop["db"])
    assert status.stdout.splitlines()[0] == "run e: shop waiting at approval"


def test_journeys_recover_finishes_a_killed_run(journeys_cli: Run, shop: dict[str, str]) -> None:
    env = {"JOURNEYS_TEST_LOG": shop["log"]}
    common = ["--handlers", shop["handlers"], "--db", shop["db"]]
    killed = journeys_cli(
        "run",
        shop["file"],
        "-i",
        "order_id=K",
        "--run-id",
        "k",
        *common,
        env={**env, "JOURNEYS_FAULTS": "after_intent:payment"},
    )
    assert killed.returncode == -9
    status = journeys_cli("status", "k", "--db", shop["db"])
    assert status.stdout.splitlines()[0] == "run k: shop running at payment"
    recovered = journeys_cli("recover", *common, env=env)
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stdout.splitlines() == ["1 run recovered", "run k: shop waiting at approval"]
    assert calls(shop) == ["do order", "do payment"]
    again = journeys_cli("recover", *common, env=env)
    assert again.stdout.splitlines() == ["0 runs recovered"]


def test_wal_replay_and_prune_from_the_command_line(
    journeys_cli: Run, shop: dict[str, str]
) -> None:
    env = {"JOURNEYS_TEST_LOG": shop["log"]}
    common = ["--handlers", shop["handlers"], "--db", shop["db"]]
    journeys_cli("run", shop["file"], "-i", "order_id=W", "--run-id", "w", *common, env=env)
    replay = journeys_cli("wal", "replay", "--namespace", "shop", "--db", shop["db"], "--json")
    assert replay.returncode == 0, replay.stderr
    entries = json.loads(replay.stdout)
    assert [e["kind"] for e in entries][:2] == ["policy", "operation"]
    assert {e["correlation_id"] for e in entries} == {"w"}
    only = journeys_cli(
        "wal", "replay", "--namespace", "shop", "--status", "pending", "--db", shop["db"], "--json"
    )
    assert {e["status"] for e in json.loads(only.stdout)} == {"pending"}
    text = journeys_cli("wal", "replay", "--namespace", "shop", "--db", shop["db"])
    assert text.stderr.strip() == f"{len(entries)} entries"
    other = journeys_cli(
        "wal", "replay", "--namespace", "shop", "--tenant", "x", "--db", shop["db"], "--json"
    )
    assert json.loads(other.stdout) == []
    bad = journeys_cli(
        "wal", "replay", "--namespace", "shop", "--from", "yesterday", "--db", shop["db"]
    )
    assert bad.returncode == 1 and "is not a time" in bad.stderr
    pruned = journeys_cli("wal", "prune", "--db", shop["db"])
    assert pruned.stdout.strip() == "0 expired entries deleted"


def test_rollback_and_resume_from_the_command_line(
    journeys_cli: Run, shop: dict[str, str], tmp_path: Path
) -> None:
    saga = Path(shop["file"])
    saga.write_text(
        SAGA.replace(
            "{id: payment, action: shop.do,", "{id: payment, checkpoint: true, action: shop.do,"
        ).replace(
            "saga: {enabled: true}",
            "saga: {enabled: true}, rollback: {enabled: true, auto_checkpoint: false}",
        )
    )
    env = {"JOURNEYS_TEST_LOG": shop["log"]}
    common = ["--handlers", shop["handlers"], "--db", shop["db"]]
    journeys_cli("run", shop["file"], "-i", "order_id=R", "--run-id", "rb", *common, env=env)
    back = journeys_cli("rollback", "rb", "--to", "payment", *common, "--json", env=env)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["status"] == "rolled_back"
    wrong = journeys_cli("rollback", "rb", "--to", "order", *common, env=env)
    assert wrong.returncode == 1 and "not a checkpoint" in wrong.stderr
    on = journeys_cli("resume", "rb", *common, "--json", env=env)
    assert json.loads(on.stdout)["state"] == "approval"


def test_a_malformed_fault_switch_is_a_clear_error(journeys_cli: Run, shop: dict[str, str]) -> None:
    done = journeys_cli(
        "run",
        shop["file"],
        "-i",
        "order_id=F",
        "--handlers",
        shop["handlers"],
        "--db",
        shop["db"],
        env={"JOURNEYS_TEST_LOG": shop["log"], "JOURNEYS_FAULTS": "bogus"},
    )
    assert done.returncode == 1
    assert "JOURNEYS_FAULTS: 'bogus' is not POINT:STATE" in done.stderr
    assert "Traceback" not in done.stderr


GATED = """
journey: gated_shop
inputs:
  type: object
  properties: {n: {}}
milestones:
  - {id: quote, action: shop.do, doc: "Quote {{ inputs.n }} items"}
  - {id: bill, action: shop.do, when: "inputs.n > 3", doc: "Bill the quote"}
policies:
  wal: {enabled: true}
  forward_docs: {enabled: true}
  planning: {enabled: true, validate_plan: true}
"""


def test_a_gated_run_with_plan_errors_exits_1_and_a_documented_one_shows_its_docs(
    journeys_cli: Run, tmp_path: Path
) -> None:
    (tmp_path / "gated.yaml").write_text(GATED)
    (tmp_path / "shop_handlers.py").write_text(HANDLERS)
    db = f"sqlite:///{tmp_path}/g.db"
    common = ("--handlers", str(tmp_path / "shop_handlers.py"), "--db", db)
    env = {"JOURNEYS_TEST_LOG": str(tmp_path / "calls.log")}
    refused = journeys_cli("run", str(tmp_path / "gated.yaml"), "-i", "n=five", *common, env=env)
    assert refused.returncode == 1
    assert "did not start: its plan has 1 error" in refused.stderr
    assert "milestone 'bill'" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "calls.log").exists()  # nothing ran
    done = journeys_cli(
        "run",
        str(tmp_path / "gated.yaml"),
        "-i",
        "n=5",
        "--run-id",
        "g1",
        "--json",
        *common,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    shown = journeys_cli("history", "g1", "--db", db)
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert "plan" in lines[1] and "2 steps" in lines[1]
    assert any("forward_doc" in line and "Quote 5 items" in line for line in lines)
    assert any("forward_doc" in line and "Bill the quote" in line for line in lines)


def test_a_session_is_completed_with_or_without_its_handlers_loaded(
    journeys_cli: Run, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/s.db"
    env = {"JOURNEYS_DATA_DIR": str(tmp_path / "data")}
    for run_id, handlers in (("s1", ()), ("s2", ("--handlers", "examples"))):
        started = journeys_cli(
            "run", "definitions/mvp_session.yaml", "--handlers", "examples", "--db", db,
            "--run-id", run_id, "-i", f"session_id={run_id}", "-i", f"workspace_dir={tmp_path}/w",
            env=env,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        ended = journeys_cli("complete", run_id, *handlers, "--db", db, "--json", env=env)
        assert ended.returncode == 0, ended.stderr
        assert json.loads(ended.stdout)["status"] == "completed"


def test_a_detached_run_is_queued_without_handlers_and_a_worker_runs_it(
    journeys_cli: Run, shop: dict[str, str]
) -> None:
    env = {"JOURNEYS_TEST_LOG": shop["log"]}
    queued = journeys_cli(
        "run", shop["file"], "-i", "order_id=A-9", "--detach", "--priority", "high",
        "--db", shop["db"], "--json", env=env,
    )  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    assert json.loads(queued.stdout)["status"] == "pending"
    assert not Path(shop["log"]).exists()  # nothing ran where it was queued
    worked = journeys_cli(
        "worker", "--handlers", shop["handlers"], "--db", shop["db"], "--until-idle", env=env
    )
    assert worked.returncode == 0, worked.stderr
    events = [json.loads(line)["event"] for line in worked.stderr.splitlines()]
    assert events == ["started", "claimed", "moved", "stopped"]
    run_id = json.loads(queued.stdout)["id"]
    shown = journeys_cli("status", run_id, "--db", shop["db"], "--json")
    assert json.loads(shown.stdout)["status"] == "waiting"  # at its wait milestone, as run would
    assert calls(shop)[0] == "do order"  # the worker ran the handlers


def test_a_worker_whose_store_is_unreachable_says_so_and_exits_1(journeys_cli: Run) -> None:
    failed = journeys_cli("worker", "--db", "postgresql://nobody@127.0.0.1:1/none", "--until-idle")
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    errors = [json.loads(line) for line in failed.stderr.splitlines() if '"error"' in line]
    assert errors and "Connection refused" in errors[0]["error"]

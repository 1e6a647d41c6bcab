"""Checkpoints and manual rollback: back to a checkpoint, then on from there."""

from __future__ import annotations

from typing import Any

import pytest

import journeys

PIPELINE = """
journey: pipeline
milestones:
  - {id: ingest, action: t.step, compensation: t.undo, checkpoint: true}
  - {id: parse, action: t.step, compensation: t.undo}
  - {id: note, action: t.step}
  - {id: embed, action: t.step, compensation: t.undo, checkpoint: true}
  - {id: review}
  - {id: expose, action: t.step, compensation: t.undo}
policies:
  rollback: {enabled: true, checkpoints: [parse], auto_checkpoint: false}
"""


@pytest.fixture
def pipeline() -> journeys.Definition:
    return journeys.load_definition(PIPELINE)


def test_rollback_compensates_after_the_checkpoint_and_restores_its_results(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    run = engine.start(pipeline)
    assert (run.status, run.state) == ("waiting", "review")
    run = engine.rollback(run.id, to="parse")
    assert (run.status, run.state) == ("rolled_back", "rolled_back")
    assert recorder.of("undo") == ["embed"]  # note has no compensation; parse is kept
    assert sorted(run.results) == ["ingest", "parse"]
    assert run.error is None
    run = engine.resume(run.id)
    assert (run.status, run.state) == ("waiting", "review")
    assert recorder.of("do") == ["ingest", "parse", "note", "embed", "note", "embed"]
    run = engine.advance(run.id, "review", {"ok": True})
    assert run.status == "completed"


def test_a_completed_run_rolls_back_to_its_first_checkpoint(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    run = engine.start(pipeline)
    run = engine.advance(run.id, "review")
    assert run.status == "completed"
    run = engine.rollback(run.id, to="ingest")
    assert run.status == "rolled_back"
    assert recorder.of("undo") == ["expose", "embed", "parse"]
    assert list(run.results) == ["ingest"]
    # the checkpoints after it are gone with what they saved
    with pytest.raises(journeys.StateError, match="has not reached checkpoint 'embed'"):
        engine.rollback(run.id, to="embed")


def test_rolling_back_to_the_last_completed_checkpoint_undoes_nothing(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    run = engine.start(pipeline)
    run = engine.rollback(run.id, to="embed")
    assert run.status == "rolled_back" and recorder.of("undo") == []
    run = engine.resume(run.id)
    assert (run.status, run.state) == ("waiting", "review")


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("note", "'note' is not a checkpoint of run"),
        ("parze", "did you mean 'parse'"),
    ],
)
def test_rollback_to_what_is_no_checkpoint_is_refused(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition, to: str, message: str
) -> None:
    run = engine.start(pipeline)
    with pytest.raises(journeys.StateError, match=message):
        engine.rollback(run.id, to=to)
    assert engine.get(run.id).status == "waiting"


def test_rollback_needs_the_rollback_policy(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    run = engine.start(pipeline, policy={"rollback": {"enabled": False}})
    with pytest.raises(journeys.StateError, match="rollback policy off"):
        engine.rollback(run.id, to="ingest")


def test_with_the_policy_off_no_snapshot_is_kept(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    run = engine.start(pipeline, policy={"rollback": {"enabled": False}})
    assert engine.store.load(run.id).checkpoints == {}  # type: ignore[union-attr]


def test_auto_checkpoint_off_keeps_the_named_and_the_marked_ones(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    run = engine.start(pipeline)
    assert sorted(engine.store.load(run.id).checkpoints) == ["embed", "ingest", "parse"]  # type: ignore[union-attr]
    with pytest.raises(journeys.StateError, match="its checkpoints are parse, ingest, embed"):
        engine.rollback(run.id, to="note")


def test_auto_checkpoint_makes_every_milestone_a_checkpoint(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    """On (its default), a rollback can return to any milestone the run has passed."""
    run = engine.start(pipeline, policy={"rollback": {"auto_checkpoint": True}})
    record = engine.store.load(run.id)
    assert record is not None
    assert sorted(record.checkpoints) == ["embed", "ingest", "note", "parse"]
    # a snapshot is a count, not a copy: its size does not grow with the run
    assert {name: snap for name, snap in record.checkpoints.items()} == {
        "ingest": {"done": 1},
        "parse": {"done": 2},
        "note": {"done": 3},
        "embed": {"done": 4},
    }
    run = engine.rollback(run.id, to="note")
    assert (run.status, recorder.of("undo")) == ("rolled_back", ["embed"])
    assert list(run.results) == ["ingest", "parse", "note"]
    run = engine.rollback(engine.resume(run.id).id, to="ingest")
    assert recorder.of("undo") == ["embed", "embed", "parse"]
    assert list(run.results) == ["ingest"]
    with pytest.raises(journeys.StateError, match="has not reached checkpoint 'review'"):
        engine.rollback(run.id, to="review")
    with pytest.raises(journeys.StateError, match=r"'revue' is not a checkpoint.*'review'"):
        engine.rollback(run.id, to="revue")


def test_a_snapshot_written_by_an_earlier_version_is_restored(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    """Runs stored before snapshots became counts kept copies of the results: still usable."""
    run = engine.start(pipeline)
    record = engine.store.load(run.id)
    assert record is not None
    record.checkpoints["parse"] = {
        "results": {"ingest": {"old": 1}, "parse": {"old": 2}},
        "completed": ["ingest", "parse"],
    }
    engine.store.save(record, [])
    run = engine.rollback(run.id, to="parse")
    assert run.results == {"ingest": {"old": 1}, "parse": {"old": 2}}


def test_resume_and_rollback_out_of_place_are_refused(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    run = engine.start(pipeline)
    with pytest.raises(journeys.StateError, match="not rolled back"):
        engine.resume(run.id)
    run = engine.rollback(run.id, to="parse")
    with pytest.raises(journeys.StateError, match="is rolled_back"):
        engine.rollback(run.id, to="parse")
    assert engine.cancel(run.id).status == "cancelled"


def test_with_the_wal_on_checkpoints_and_the_rollback_are_in_the_history(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    run = engine.start(pipeline, policy={"wal": {"enabled": True}})
    engine.rollback(run.id, to="parse")
    history = [(e.kind, e.trigger, e.milestone, e.status) for e in engine.history(run.id)]
    checkpoints = [h for h in history if h[0] == "checkpoint"]
    assert checkpoints == [
        ("checkpoint", None, "ingest", "completed"),
        ("checkpoint", None, "parse", "completed"),
        ("checkpoint", None, "embed", "completed"),
        ("checkpoint", None, "parse", "restored"),
    ]
    assert ("signal", "rollback", "parse", "completed") in history
    assert ("transition", "rollback", "review", "completed") in history


def test_work_redone_after_a_rollback_gets_new_idempotency_keys(
    engine: journeys.Engine, recorder: Any, pipeline: journeys.Definition
) -> None:
    # A handler idempotent by its key must not take the redo for the call the rollback undid
    # (the effect would stay undone), nor a second rollback's undo for the first's.
    run = engine.start(pipeline, run_id="r")
    engine.rollback(run.id, to="parse")
    engine.resume(run.id)
    engine.rollback(run.id, to="parse")
    engine.resume(run.id)
    assert engine.advance(run.id, "review").status == "completed"
    keys = [(c.kind, c.milestone, c.key) for c in recorder.calls]
    assert keys == [
        ("do", "ingest", "r:ingest"),
        ("do", "parse", "r:parse"),
        ("do", "note", "r:note"),
        ("do", "embed", "r:embed"),
        ("undo", "embed", "r:embed:undo"),  # the first rollback undoes the first embed
        ("do", "note", "r:note"),  # note has no compensation: nothing was undone, same key
        ("do", "embed", "r:embed:redo1"),
        ("undo", "embed", "r:embed:redo1:undo"),  # the second undoes the redone embed
        ("do", "note", "r:note"),
        ("do", "embed", "r:embed:redo2"),
        ("do", "expose", "r:expose"),
    ]
    assert len({key for _, _, key in keys if "embed" in key}) == 5


BOOKING = """
journey: booking
kind: saga
milestones:
  - {id: reserve, action: t.step, compensation: t.undo, checkpoint: true}
  - {id: approve, compensation: t.undo, checkpoint: true}
  - {id: charge, action: t.step, compensation: t.undo}
  - {id: confirm}
policies:
  saga: {enabled: true}
  rollback: {enabled: true}
"""


def test_a_wait_milestone_marked_checkpoint_can_be_rolled_back_to(
    engine: journeys.Engine, recorder: Any
) -> None:
    """Found by the stateful tests: advance never kept the snapshot, so rolling back to a wait
    milestone marked checkpoint: true said it had not been reached."""
    run = engine.start(journeys.load_definition(BOOKING))
    run = engine.advance(run.id, "approve", {"ok": 1})
    assert run.state == "confirm"
    run = engine.rollback(run.id, to="approve")
    assert (run.status, recorder.of("undo")) == ("rolled_back", ["charge"])
    assert run.results == {"reserve": {"done": "reserve"}, "approve": {"ok": 1}}


def test_cancelling_a_rolled_back_saga_compensates_what_it_kept(
    engine: journeys.Engine, recorder: Any
) -> None:
    """Found by the stateful tests: a saga cancelled after a rollback ended ``cancelled`` with
    the milestones up to its checkpoint never undone."""
    run = engine.start(journeys.load_definition(BOOKING))
    run = engine.advance(run.id, "approve", {"ok": 1})
    run = engine.rollback(run.id, to="reserve")
    assert recorder.of("undo") == ["charge", "approve"]
    run = engine.cancel(run.id)
    assert run.status == "cancelled"
    assert recorder.of("undo") == ["charge", "approve", "reserve"]
    with pytest.raises(journeys.StateError):
        engine.resume(run.id)

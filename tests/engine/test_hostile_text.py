"""Hostile text in every field that reaches the store, on SQLite and PostgreSQL (issue 8, 4).

SQL-looking strings, quotes, very long text and unusual Unicode are stored and read back
verbatim, and change nothing else (the tables are all still there, no other row moved). Text
that no store can keep the same (a NUL character, a lone surrogate; names longer than their
columns) is refused with an error that names the argument, the same way on both stores, before
anything is written; a failure's message is recorded whatever it says, those characters
escaped. Names that a definition gives (journey, milestone, namespace) are refused by its schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import journeys

Rows = dict[str, list[tuple[Any, ...]]]
TABLES = ["journeys_definitions", "journeys_runs", "journeys_schema", "journeys_wal"]

HOSTILE = [
    "'; DROP TABLE journeys_runs; --",
    '" OR 1=1 --',
    "') OR ('1'='1'; DELETE FROM journeys_wal WHERE ('1'='1",
    "%s %(id)s ? :name $1 \\ \\' \\\\u0000",  # placeholders of every driver, a backslash-u0000
    "é漢字🙂\u202eevil\u200b\n\t\r",  # accents, CJK, an emoji, a bidi override, controls
    "{{ run.id }} {% raw %}",  # Jinja in data is data
]
LONG = "'; DROP TABLE journeys_runs; --" * 4000  # 128,000 characters of free text
UNSTORABLE = ["a\x00b", "\ud800 alone"]  # a NUL; a lone surrogate (not Unicode text)
JOURNEY = """
journey: hostile
kind: saga
milestones:
  - {id: echo, action: t.echo, compensation: t.echo, with: {text: "{{ inputs.text }}"}}
  - {id: review}
  - {id: after, action: t.echo, with: {text: after}}
policies: {wal: {enabled: true, operations: [echo]}, saga: {enabled: true}}
"""


@pytest.fixture
def registry() -> journeys.Registry:
    """Handlers that give back, or fail with, the text they are given."""
    found = journeys.Registry()
    found.register("t.echo", lambda ctx: {"text": ctx.args["text"], ctx.args["text"]: [1]})
    found.register("t.raise", _raise)
    found.register("t.give", lambda ctx: {"key": ctx.args["text"] + "\x00"})
    return found


def _raise(ctx: journeys.Context) -> None:
    raise ValueError(f"{ctx.args['text']}\x00\ud800 broke")


@pytest.fixture
def engine(sql_url: str, registry: journeys.Registry) -> Iterator[journeys.Engine]:
    with journeys.Engine(sql_url, registry=registry, inline_delay=0) as made:
        made.stats()  # the tables exist before a test compares their rows
        yield made


@pytest.fixture
def definition() -> journeys.Definition:
    return journeys.load_definition(JOURNEY)


@pytest.mark.parametrize("text", [*HOSTILE, LONG], ids=[*map(repr, HOSTILE), "long"])
def test_hostile_text_in_a_run_is_kept_verbatim(
    engine: journeys.Engine,
    definition: journeys.Definition,
    sql_url: str,
    database_rows: Callable[[str], Rows],
    text: str,
) -> None:
    name = text[:200]  # tenants and users are names: at most 200 characters
    inputs = {"text": text, text: {"nested": [text]}}
    run = engine.start(definition, inputs, tenant=name, user=name)
    assert (run.status, run.state) == ("waiting", "review")
    assert run.results["echo"] == {"text": text, text: [1]}
    run = engine.advance(run.id, "review", {text: text, "list": [text]}, tenant=name, user=name)
    assert run.status == "completed"
    stored = engine.get(run.id, tenant=name)
    assert stored == run
    assert (stored.inputs, stored.tenant, stored.user) == (inputs, name, name)
    assert stored.results["review"] == {text: text, "list": [text]}
    history = engine.history(run.id, tenant=name)
    signal = next(e for e in history if e.kind == "signal")
    assert (signal.payload, signal.user) == ({text: text, "list": [text]}, name)
    intent = next(e for e in history if e.kind == "operation" and e.status == "pending")
    assert intent.payload["args"] == {"text": text}  # written ahead in full (wal.operations)

    failing = engine.start(definition, {"text": text}, tenant=name)
    failing = engine.fail(failing.id, "review", text, tenant=name)
    assert failing.status == "compensated"
    assert failing.error == f"review failed: {text}"
    assert engine.get(failing.id).error == failing.error
    fail_signal = next(e for e in engine.history(failing.id) if e.kind == "signal")
    assert fail_signal.error == text

    figures = engine.stats("hostile", tenant=name)
    assert (figures.total, figures.tenant) == (2, name)
    assert engine.stats(text[:200], tenant=name).total == 0
    after = database_rows(sql_url)
    assert sorted(after) == TABLES
    assert len(after["journeys_runs"]) == 2


@pytest.mark.parametrize("text", [*HOSTILE, LONG], ids=[*map(repr, HOSTILE), "long"])
def test_hostile_text_in_the_service_log_is_kept_verbatim(
    engine: journeys.Engine, sql_url: str, database_rows: Callable[[str], Rows], text: str
) -> None:
    name = text[:200]
    who = {"tenant": name, "user": name}
    log_id = engine.wal.write_to_log(
        name,
        {text: [text, {"k": text}]},
        text[:500],
        lifecycle={"retry_count": 1},
        user_context=who,
        operation=name,
        correlation_id=name,
    )
    engine.wal.write_to_log("other", {"untouched": True}, "x")
    engine.wal.update_log_status(
        log_id, "failed", result={text: text}, error=text, user_context=who
    )
    filters = {"operation": name, "target": text[:500], "correlation_id": name, "status": "failed"}
    [entry] = engine.wal.replay_log(name, filters=filters, user_context=who)
    assert entry.log_id == log_id
    assert (entry.namespace, entry.operation, entry.target) == (name, name, text[:500])
    assert entry.payload == {text: [text, {"k": text}]}
    assert (entry.result, entry.error) == ({text: text}, text)
    assert (entry.tenant, entry.user, entry.updated_by, entry.correlation_id) == (name,) * 4
    assert engine.wal.get(log_id, who) == entry
    assert engine.wal.schedule_retry(log_id, text, who).error == text
    # a lookup by the hostile text finds nothing else and changes nothing
    assert engine.wal.replay_log("other", filters={"target": text}) == []
    with pytest.raises(journeys.JourneyError, match="no log entry"):
        engine.wal.get(text)
    rows = database_rows(sql_url)
    assert sorted(rows) == TABLES and len(rows["journeys_wal"]) == 2


@pytest.mark.parametrize("text", HOSTILE, ids=map(repr, HOSTILE))
def test_hostile_run_ids_are_not_found_or_kept_verbatim(
    engine: journeys.Engine,
    definition: journeys.Definition,
    sql_url: str,
    database_rows: Callable[[str], Rows],
    text: str,
) -> None:
    before = database_rows(sql_url)
    for call in (
        lambda: engine.get(text),
        lambda: engine.history(text),
        lambda: engine.advance(text, "review"),
        lambda: engine.fail(text, "review", "x"),
        lambda: engine.cancel(text),
        lambda: engine.rollback(text, to="echo"),
        lambda: engine.resume(text),
        lambda: engine.wait(text, timeout=0),
    ):
        with pytest.raises(journeys.RunNotFound) as caught:
            call()
        assert caught.value.run_id == text
    assert database_rows(sql_url) == before
    run_id = "".join(c for c in text if c.isprintable() and not c.isspace())  # a valid id
    run = engine.start(definition, {"text": "x"}, run_id=run_id)
    assert engine.get(run_id).id == run.id == run_id
    assert engine.advance(run_id, "review").status == "completed"
    assert {e.run_id for e in engine.history(run_id)} == {run_id}
    if run_id != text:
        with pytest.raises(journeys.JourneyError, match="cannot be a run id"):
            engine.start(definition, {"text": "x"}, run_id=text)
    assert sorted(database_rows(sql_url)) == TABLES


def test_hostile_names_in_a_definition_are_refused_by_its_schema() -> None:
    for field, where in (
        ('journey: "\'; DROP TABLE journeys_runs; --"', "/journey"),
        ("namespace: '\" OR 1=1 --'", "/namespace"),
        ("namespace: " + "n" * 201, "/namespace"),
        ("policies: {wal: {namespace: 'a;--'}}", "/policies/wal/namespace"),
    ):
        text = f"journey: j\n{field}\nmilestones: [{{id: a}}]\n"
        if field.startswith("journey:"):
            text = f"{field}\nmilestones: [{{id: a}}]\n"
        with pytest.raises(journeys.DefinitionError) as caught:
            journeys.load_definition(text)
        assert [p.path for p in caught.value.problems] == [where]
    for milestone in ('"a\'; DROP TABLE x; --"', "m" * 65):
        with pytest.raises(journeys.DefinitionError) as caught:
            journeys.load_definition(f"journey: j\nmilestones:\n  - id: {milestone}\n")
        assert caught.value.problems[0].path == "/milestones/0/id"


def test_the_longest_names_fit_the_store(
    engine: journeys.Engine, registry: journeys.Registry
) -> None:
    """A 200-character run id with a 64-character milestone id makes the longest idempotency
    keys and states (compensated): PostgreSQL, which enforces the columns' lengths, keeps
    them (a longer milestone id, or one of 100 in a run of such an id, failed there mid-run)."""
    milestone, name = "m" * 64, "t" * 200
    definition = journeys.load_definition(
        f"journey: {'j' * 200}\nkind: saga\nnamespace: {'n' * 200}\nmilestones:\n"
        f"  - {{id: {milestone}, action: t.echo, compensation: t.echo, checkpoint: true,"
        " with: {text: x}}\n"
        "  - {id: w}\n"
        f"policies: {{wal: {{enabled: true}}, saga: {{enabled: true}},"
        f" rollback: {{enabled: true, checkpoints: [{milestone}]}}}}\n"
    )
    run = engine.start(definition, run_id="r" * 200, tenant=name, user=name)
    assert run.state == "w"
    keys = {e.idempotency_key for e in engine.history(run.id) if e.idempotency_key}
    assert keys == {f"{'r' * 200}:{milestone}"}
    run = engine.cancel(run.id, tenant=name, user=name)
    assert run.status == "cancelled"
    assert engine.history(run.id)[-1].dest == "cancelled"
    engine.set_policy("j" * 200, {"saga": {"enabled": False}}, tenant=name, user=name)


UNSTORABLE_CALLS: dict[str, Callable[[journeys.Engine, journeys.Definition, str], Any]] = {
    "inputs": lambda e, d, t: e.start(d, {"text": t}),
    "an input's name": lambda e, d, t: e.start(d, {"text": "x", t: 1}),
    "tenant": lambda e, d, t: e.start(d, {"text": "x"}, tenant=t),
    "user": lambda e, d, t: e.start(d, {"text": "x"}, user=t),
    "run id": lambda e, d, t: e.start(d, {"text": "x"}, run_id=t),
    "advance data": lambda e, d, t: e.advance(e.start(d, {"text": "x"}).id, "review", [t]),
    "advance user": lambda e, d, t: e.advance(e.start(d, {"text": "x"}).id, "review", user=t),
    "cancel user": lambda e, d, t: e.cancel(e.start(d, {"text": "x"}).id, user=t),
    "set_policy user": lambda e, d, t: e.set_policy("hostile", {}, user=t),
    "log namespace": lambda e, d, t: e.wal.write_to_log(t, {}, "target"),
    "log target": lambda e, d, t: e.wal.write_to_log("ns", {}, t),
    "log operation": lambda e, d, t: e.wal.write_to_log("ns", {}, "x", operation=t),
    "log correlation id": lambda e, d, t: e.wal.write_to_log("ns", {}, "x", correlation_id=t),
    "log payload": lambda e, d, t: e.wal.write_to_log("ns", {"a": [t]}, "x"),
    "log payload key": lambda e, d, t: e.wal.write_to_log("ns", {t: 1}, "x"),
    "log tenant": lambda e, d, t: e.wal.write_to_log("ns", {}, "x", user_context={"tenant": t}),
    "log user": lambda e, d, t: e.wal.write_to_log("ns", {}, "x", user_context={"user": t}),
    "log batch": lambda e, d, t: e.wal.write_to_log_batch(
        [{"namespace": "ns", "payload": 1, "target": "x"}, {"namespace": t, "target": "x"}]
    ),
    "log result": lambda e, d, t: e.wal.update_log_status(
        e.wal.write_to_log("ns", {}, "x"), "completed", result={"r": t}
    ),
    "log updater": lambda e, d, t: e.wal.update_log_status(
        e.wal.write_to_log("ns", {}, "x"), "completed", user_context={"user": t}
    ),
}


WRITES_FIRST = {"advance data", "advance user", "cancel user", "log result", "log updater"}


@pytest.mark.parametrize("text", UNSTORABLE, ids=["nul", "surrogate"])
@pytest.mark.parametrize("field", list(UNSTORABLE_CALLS))
def test_text_no_store_keeps_is_refused_and_writes_nothing(
    engine: journeys.Engine,
    definition: journeys.Definition,
    sql_url: str,
    database_rows: Callable[[str], Rows],
    field: str,
    text: str,
) -> None:
    """The same error on SQLite (which took a NUL) and PostgreSQL (which failed mid-move),
    saying what cannot be stored; the rows are as before the refused call (the calls that
    start a run or write an entry first are let through, then compared)."""
    call = UNSTORABLE_CALLS[field]
    with pytest.raises(journeys.JourneyError) as caught:
        call(engine, definition, text)
    assert not isinstance(caught.value, journeys.StoreError)
    expected = "cannot be a run id" if field == "run id" else "NUL" if "\x00" in text else "surr"
    assert expected in str(caught.value)
    before = database_rows(sql_url)
    with pytest.raises(journeys.JourneyError):
        call(engine, definition, text)
    after = database_rows(sql_url)
    # a call that first starts a run (or writes an entry) adds exactly that, nothing of its own
    grown = {name: len(after[name]) - len(before[name]) for name in TABLES}
    assert grown["journeys_schema"] == grown["journeys_definitions"] == 0
    assert all(row in after[name] for name in TABLES for row in before[name])
    if field not in WRITES_FIRST:
        assert after == before


@pytest.mark.parametrize("text", UNSTORABLE, ids=["nul", "surrogate"])
def test_lookups_of_text_no_store_keeps_are_not_found_or_refused(
    engine: journeys.Engine,
    definition: journeys.Definition,
    sql_url: str,
    database_rows: Callable[[str], Rows],
    text: str,
) -> None:
    run = engine.start(definition, {"text": "x"}, tenant="acme")
    before = database_rows(sql_url)
    for call in (
        lambda: engine.get(text),
        lambda: engine.history(text),
        lambda: engine.advance(text, "review"),
        lambda: engine.cancel(text),
    ):
        with pytest.raises(journeys.RunNotFound, match="no run"):
            call()
    assert engine.get(run.id, tenant="acme").id == run.id
    with pytest.raises(journeys.RunNotFound):
        engine.get(run.id, tenant=text)
    for call in (
        lambda: engine.stats(tenant=text),
        lambda: engine.stats(text),
        lambda: engine.wal.replay_log(text),
        lambda: engine.wal.replay_log("hostile", user_context={"tenant": text}),
        lambda: engine.wal.replay_log("hostile", filters={"target": text}),
        lambda: engine.wal.get(text),
        lambda: engine.wal.consume(text, lambda entry: None),
    ):
        with pytest.raises(journeys.JourneyError, match="cannot be looked up") as caught:
            call()
        assert not isinstance(caught.value, journeys.StoreError)
    assert database_rows(sql_url) == before


def test_a_failure_is_recorded_whatever_its_message_says(
    engine: journeys.Engine, sql_url: str, database_rows: Callable[[str], Rows]
) -> None:
    """A handler's error with a NUL and a lone surrogate, a result with a NUL, a failure
    reported with one: each run ends failed (it once stayed mid-attempt on PostgreSQL), the
    message stored with those characters escaped, read back as the call returned it."""
    raising = journeys.load_definition(
        'journey: raising\nmilestones:\n  - {id: a, action: t.raise, with: {text: "\'; --"}}\n'
        "policies: {wal: {enabled: true}}\n"
    )
    run = engine.start(raising)
    assert run.status == "failed"
    assert run.error == "a failed after 1 attempt: ValueError: '; --\\x00\\ud800 broke"
    assert engine.get(run.id) == run
    failed = [e for e in engine.history(run.id) if e.status == "failed"]
    assert failed and all(e.error and "\\x00\\ud800" in e.error for e in failed)

    giving = journeys.load_definition(
        "journey: giving\nmilestones:\n  - {id: a, action: t.give, with: {text: k}}\n"
    )
    run = engine.start(giving)
    assert run.status == "failed" and run.results == {}
    assert "a: the handler's result cannot be stored: at /key: it contains a NUL" in run.error
    assert engine.get(run.id) == run

    waiting = journeys.load_definition("journey: told\nmilestones:\n  - {id: w}\n")
    run = engine.fail(engine.start(waiting).id, "w", "no\x00pe \ud800")
    assert (run.status, run.error) == ("failed", "w failed: no\\x00pe \\ud800")
    assert engine.get(run.id) == run

    log_id = engine.wal.write_to_log("ns", {}, "x")
    engine.wal.update_log_status(log_id, "failed", error="bad\x00")
    assert engine.wal.get(log_id).error == "bad\\x00"
    assert sorted(database_rows(sql_url)) == TABLES


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e, d: e.start(d, {"text": "x"}, tenant="t" * 201), "tenant 't"),
        (lambda e, d: e.start(d, {"text": "x"}, user="u" * 201), "user 'u"),
        (lambda e, d: e.start(d, {"text": "x"}, run_id="r" * 201), "cannot be a run id"),
        (lambda e, d: e.wal.write_to_log("n" * 201, {}, "x"), "namespace 'n"),
        (lambda e, d: e.wal.write_to_log("ns", {}, "x" * 501), "target 'x"),
        (lambda e, d: e.wal.write_to_log("ns", {}, "x", operation="o" * 201), "operation 'o"),
        (lambda e, d: e.set_policy("s" * 201, {}), "201 characters long; the most is 200"),
    ],
    ids=["tenant", "user", "run id", "namespace", "target", "operation", "selector"],
)
def test_names_longer_than_the_store_keeps_are_refused_on_every_store(
    engine: journeys.Engine,
    definition: journeys.Definition,
    sql_url: str,
    database_rows: Callable[[str], Rows],
    call: Callable[[journeys.Engine, journeys.Definition], Any],
    message: str,
) -> None:
    """SQLite kept them and PostgreSQL failed (a StoreError after the run had begun)."""
    before = database_rows(sql_url)
    with pytest.raises(journeys.JourneyError, match=message) as caught:
        call(engine, definition)
    assert not isinstance(caught.value, journeys.StoreError)
    assert database_rows(sql_url) == before


def test_a_nul_written_as_a_yaml_escape_is_refused_by_the_definition_loader() -> None:
    """Titles, docs, ``with:`` arguments and input defaults reach the store (the plan, the
    written-ahead arguments, the inputs): a NUL in one failed the run on PostgreSQL."""
    text = (
        'journey: j\ntitle: "a\\0b"\n'
        'inputs: {type: object, properties: {x: {type: string, default: "\\x00"}}}\n'
        'milestones:\n  - {id: a, doc: "\\u0000", with: {"k\\0": 1}}\n'
    )
    with pytest.raises(journeys.DefinitionError) as caught:
        journeys.load_definition(text)
    assert [(p.line, p.path) for p in caught.value.problems] == [
        (2, "/title"),
        (3, "/inputs/properties/x/default"),
        (5, "/milestones/0/doc"),
        (5, "/milestones/0/with/k\x00"),
    ]
    assert all("NUL character" in p.message for p in caught.value.problems)

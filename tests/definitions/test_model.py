"""The typed definition: defaults applied, durations in seconds, nothing mutable."""

from __future__ import annotations

import dataclasses

import pytest

import journeys

FULL = """
journey: travel
version: 3
kind: saga
namespace: trips
inputs: {type: object, properties: {city: {type: string}}}
retries:
  patient: {retries: 4, delay: 10s, backoff: linear}
defaults:
  retry: {retries: 2, delay: 1s, backoff: exponential, factor: 3, max_delay: 5s}
  timeout: 30s
milestones:
  - id: book_flight
    action: flights.book
    compensation: flights.cancel
    with: {city: "{{ inputs.city }}", seats: [1, 2]}
    estimate: {duration: 2m, resources: {api_calls: 3}}
  - id: book_hotel
    action: hotels.book
    retry: {retries: 1}
    timeout: 1h30m
    checkpoint: true
  - id: pay
    action: payments.charge
    retry: patient
    when: "inputs.city != 'nowhere'"
  - id: approve
    doc: "A person approves the trip to {{ inputs.city }}"
"""


@pytest.fixture(scope="module")
def travel() -> journeys.Definition:
    return journeys.load_definition(FULL, name="travel.yaml")


def test_top_level_fields(travel: journeys.Definition) -> None:
    assert (travel.journey, travel.version, travel.kind, travel.namespace) == (
        "travel",
        3,
        "saga",
        "trips",
    )
    assert travel.title == "Travel"
    assert travel.source == "travel.yaml"
    assert travel.ids == ("book_flight", "book_hotel", "pay", "approve")
    assert [m.line for m in travel.milestones] == [13, 18, 23, 27]


def test_defaults_apply_where_a_milestone_says_nothing(travel: journeys.Definition) -> None:
    flight = travel.milestone("book_flight")
    assert flight.retry.delays() == (1.0, 3.0)
    assert flight.timeout == 30.0
    assert flight.title == "Book flight"
    assert flight.estimate.duration == 120.0
    assert dict(flight.estimate.resources) == {"api_calls": 3.0}


def test_a_milestone_retry_is_merged_field_by_field_over_the_default(
    travel: journeys.Definition,
) -> None:
    hotel = travel.milestone("book_hotel")
    assert hotel.retry.retries == 1
    assert (hotel.retry.delay, hotel.retry.factor, hotel.retry.max_delay) == (1.0, 3.0, 5.0)
    assert hotel.timeout == 5400.0
    assert hotel.checkpoint is True


def test_a_named_retry_is_used_whole(travel: journeys.Definition) -> None:
    pay = travel.milestone("pay")
    assert pay.retry.name == "patient"
    assert pay.retry.delays() == (10.0, 20.0, 30.0, 40.0)
    assert pay.retry.max_delay is None
    assert pay.when == "inputs.city != 'nowhere'"


def test_a_milestone_without_action_is_a_wait(travel: journeys.Definition) -> None:
    assert travel.milestone("approve").is_wait
    assert not travel.milestone("pay").is_wait


def test_everything_is_read_only(travel: journeys.Definition) -> None:
    flight = travel.milestone("book_flight")
    with pytest.raises(TypeError):
        flight.args["city"] = "x"  # type: ignore[index]
    assert flight.args["seats"] == (1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        flight.id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        travel.inputs["type"] = "array"  # type: ignore[index]
    assert journeys.definitions.model.thaw(flight.args) == {
        "city": "{{ inputs.city }}",
        "seats": [1, 2],
    }


def test_an_unknown_milestone_names_the_closest(travel: journeys.Definition) -> None:
    with pytest.raises(journeys.JourneyError, match="did you mean 'book_hotel'"):
        travel.milestone("book_hotle")


def test_definitions_are_equal_by_content() -> None:
    one = journeys.load_definition(FULL, name="a.yaml")
    two = journeys.load_definition(FULL, name="b.yaml")
    other = journeys.load_definition(FULL + "\n# edited\n")
    assert one == two and hash(one) == hash(two)
    assert one != other
    assert len(one.content_hash) == 64


@pytest.mark.parametrize(
    ("spec", "delays"),
    [
        ({"retries": 3, "delay": 60, "backoff": "fixed"}, (60, 60, 60)),
        ({"retries": 3, "delay": 60, "backoff": "linear"}, (60, 120, 180)),
        ({"retries": 3, "delay": 60}, (60, 120, 240)),
        ({"retries": 4, "delay": 60, "max_delay": 150}, (60, 120, 150, 150)),
        ({"retries": 0}, ()),
    ],
)
def test_retry_delays(spec: dict[str, object], delays: tuple[float, ...]) -> None:
    retry = journeys.definitions.model._retry(spec)
    assert retry.delays() == delays


def test_retry_applies_only_to_named_errors() -> None:
    assert journeys.Retry().applies_to("Anything")
    retry = journeys.Retry(retries=2, on=("TimeoutError",))
    assert retry.applies_to("TimeoutError")
    assert not retry.applies_to("ValueError")

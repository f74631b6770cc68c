"""Pure parts of subscriptions: topics, Subscription reading, endpoints, signatures, Bundles."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from eolc_fhir.config import DEFAULT_PROFILES_DIR
from eolc_fhir.fhir.errors import InvalidRequest, ProfileViolation
from eolc_fhir.subscriptions.endpoints import (
    check_endpoint,
    retry_delay,
    signature,
    verify_signature,
)
from eolc_fhir.subscriptions.notification import NotifiedEvent, notification_bundle
from eolc_fhir.subscriptions.spec import read_spec, spec_from_json, spec_to_json
from eolc_fhir.subscriptions.topics import load_topics
from tests.data import BACKPORT_EXAMPLES
from tests.unit.subscriptions.support import subscription

TOPICS = load_topics(DEFAULT_PROFILES_DIR)
T = "https://eolc.example.org/fhir/SubscriptionTopic/"


def test_every_domain_topic_is_defined() -> None:
    assert sorted(TOPICS) == [T + n for n in ("advance-care-plan", "care-episode",
                                              "cpr-decision", "death-recorded",
                                              "patient-wishes", "register-entry")]
    episode = TOPICS[T + "care-episode"]
    assert episode.trigger_for("EpisodeOfCare", "update") is not None
    assert episode.trigger_for("EpisodeOfCare", "delete") is None
    assert episode.filter_named(None, "managing-organization").search_param == "organization"
    assert TOPICS[T + "patient-wishes"].filters_on_patient
    death = TOPICS[T + "death-recorded"]
    assert death.filters_on_patient and death.trigger_for("Observation", "delete") is None
    assert "%previous" in (death.trigger_for("Patient", "update").fhirpath or "")  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["Flag?patient=Patient/1", "Flag.patient=Patient/1",
                                  "patient=Patient/1"])
def test_filter_forms(text: str) -> None:
    resource = subscription("https://hooks.example.org/x", filters=(text,))
    spec = read_spec(resource, TOPICS)
    assert spec.filters[0].resource_type == "Flag"
    assert spec.filters[0].params == (("patient", "Patient/1"),)
    assert spec_from_json(spec_to_json(spec)) == spec


@pytest.mark.parametrize("text", ["Flag?patient.identifier=urn:nhs|9912003888",
                                  "Flag.patient.identifier=urn:nhs|9912003888",
                                  "patient.identifier=urn:nhs|9912003888"])
def test_a_subscriber_may_chain_on_from_an_allowed_filter(text: str) -> None:
    spec = read_spec(subscription("https://hooks.example.org/x", filters=(text,)), TOPICS)
    assert spec.filters[0].resource_type == "Flag"
    assert spec.filters[0].params == (("patient.identifier", "urn:nhs|9912003888"),)


def test_a_chain_must_start_from_an_allowed_filter() -> None:
    resource = subscription("https://hooks.example.org/x", filters=("subject.identifier=x",))
    with pytest.raises(ProfileViolation, match="does not allow the filter 'subject.identifier'"):
        read_spec(resource, TOPICS)


def test_defaults_and_backport_extensions() -> None:
    spec = read_spec(subscription("https://h.example.org/", content="full-resource",
                                  max_count=7, heartbeat=60, timeout=None,
                                  headers=("X-A: 1",)), TOPICS)
    assert (spec.content, spec.max_count, spec.heartbeat_seconds, spec.timeout_seconds,
            spec.headers, spec.secret) == ("full-resource", 7, 60, 10, ("X-A: 1",), "s3cret")


def test_out_of_range_max_count_is_refused() -> None:
    with pytest.raises(ProfileViolation):
        read_spec(subscription("https://h.example.org/", max_count=100000), TOPICS)


def test_header_injection_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        read_spec(subscription("https://h.example.org/", headers=("X: a\r\nY: b",)), TOPICS)


@pytest.mark.parametrize(("url", "insecure", "hosts", "ok"), [
    ("https://hooks.example.org/x", False, [], True),
    ("http://hooks.example.org/x", False, [], False),
    ("http://127.0.0.1:8/x", False, [], False),
    ("http://127.0.0.1:8/x", True, [], True),
    ("http://localhost/x", True, [], True),
    ("http://10.0.0.1/x", True, [], False),
    ("https://a.hooks.example.org/x", False, ["*.hooks.example.org"], True),
    ("https://evil.example.com/x", False, ["*.hooks.example.org"], False),
    ("https://user:pw@hooks.example.org/x", False, [], False),
    ("ftp://hooks.example.org/x", True, [], False),
])
def test_endpoint_rules(url: str, insecure: bool, hosts: list[str], ok: bool) -> None:
    if ok:
        check_endpoint(url, insecure_dev=insecure, allowed_hosts=hosts)
    else:
        with pytest.raises(ProfileViolation):
            check_endpoint(url, insecure_dev=insecure, allowed_hosts=hosts)


def test_signature_round_trip() -> None:
    body = b'{"resourceType":"Bundle"}'
    header = signature("k", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature("k", body, header)
    assert not verify_signature("other", body, header)
    assert not verify_signature("k", body + b" ", header)
    assert not verify_signature("k", body, None)


def test_retry_delay_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(5)
    delays = [retry_delay(n, 1.0, 300.0, rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(300.0, 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert max(retry_delay(50, 1.0, 300.0, rng) for _ in range(20)) <= 300.0


def _shape(value: Any) -> Any:
    """The structure of a document: keys and value types, not the values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in ("id", "text")}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


@pytest.mark.parametrize(("example", "kind", "content"), [
    ("handshake_bundle_example.json", "handshake", "id-only"),
    ("heartbeat_bundle_example.json", "heartbeat", "id-only"),
    ("empty_notification_bundle_example.json", "event-notification", "empty"),
    ("id_only_notification_bundle_example.json", "event-notification", "id-only"),
])
def test_bundles_have_the_shape_of_the_ig_examples(example: str, kind: str,
                                                   content: str) -> None:
    expected = json.loads((BACKPORT_EXAMPLES / example).read_text())
    focus_id = "86009987-eabe-42bf-8c02-b112b18cb616"
    events = [NotifiedEvent(1, 1_700_000_000_000_000, "create", "Encounter", focus_id)]
    ours = notification_bundle(
        base="https://fhirserver.org/fhir", sub_id="123",
        topic="http://fhirserver.org/topics/patient-admission",
        status="requested" if kind == "handshake" else "active", kind=kind,
        events_since=0 if kind == "handshake" else (2 if kind == "heartbeat" else 1),
        events=events if kind == "event-notification" else [], content=content,
        timestamp_us=1_700_000_000_000_000)
    assert _shape(ours) == _shape(expected)
    ours_params = ours["entry"][0]["resource"]["parameter"]
    expected_params = expected["entry"][0]["resource"]["parameter"]
    for mine, theirs in zip(ours_params, expected_params, strict=True):
        assert mine["name"] == theirs["name"]
        if mine["name"] in ("subscription", "topic", "status", "type",
                            "events-since-subscription-start"):
            assert mine == theirs
    assert ours["entry"][0]["request"] == expected["entry"][0]["request"]
    assert ours["entry"][1:] == expected["entry"][1:]


def test_full_resource_embeds_the_stored_bytes() -> None:
    content = b'{"resourceType":"Encounter","id":"e1","status":"in-progress"}'
    events = [NotifiedEvent(1, 1_700_000_000_000_000, "update", "Encounter", "e1", content)]
    bundle = notification_bundle(base="https://s/fhir", sub_id="1", topic="t", status="active",
                                 kind="event-notification", events_since=1, events=events,
                                 content="full-resource", timestamp_us=1)
    import orjson

    decoded = orjson.loads(orjson.dumps(bundle))
    assert decoded["entry"][1] == {"fullUrl": "https://s/fhir/Encounter/e1",
                                   "resource": orjson.loads(content),
                                   "request": {"method": "PUT", "url": "Encounter/e1"},
                                   "response": {"status": "200"}}


def test_fhirpath_criteria_compare_current_and_previous() -> None:
    from types import SimpleNamespace

    from eolc_fhir.services.subscriptions.matching import Matcher

    topic = TOPICS[T + "death-recorded"]
    matcher = Matcher(SimpleNamespace(validator=None), [topic])  # type: ignore[arg-type]
    alive = {"resourceType": "Patient", "id": "p"}
    dead = {**alive, "deceasedDateTime": "2026-11-02"}

    def fires(current: dict[str, Any], previous: dict[str, Any] | None) -> bool:
        return matcher.fires(topic, "update", "Patient", [current], current=current,
                             previous=previous)

    assert fires(dead, alive) and fires(dead, None)
    assert fires({**alive, "deceasedBoolean": True}, {**alive, "deceasedBoolean": False})
    assert not fires(dead, {**alive, "deceasedBoolean": True})
    assert not fires({**alive, "deceasedBoolean": False}, None) and not fires(alive, dead)


def test_a_topic_criteria_that_does_not_compile_stops_the_start() -> None:
    from dataclasses import replace
    from types import SimpleNamespace

    from eolc_fhir.services.subscriptions.matching import Matcher
    from eolc_fhir.validation.fhirpath import InvariantCompileError

    topic = TOPICS[T + "death-recorded"]
    broken = replace(topic, triggers=(replace(topic.triggers[1], fhirpath="%current.("),))
    with pytest.raises(InvariantCompileError, match="death-recorded"):
        Matcher(SimpleNamespace(validator=None), [broken])  # type: ignore[arg-type]

"""Pure parts of classic subscriptions, R4 topics (Basic) and write-only secrets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from eolc_fhir.config import DEFAULT_PROFILES_DIR
from eolc_fhir.fhir.errors import InvalidRequest, ProfileViolation
from eolc_fhir.subscriptions.classic import classic_requests, is_classic, read_classic
from eolc_fhir.subscriptions.notification import NotifiedEvent
from eolc_fhir.subscriptions.r4_topics import basic_from_topic, topic_from_basic
from eolc_fhir.subscriptions.secrets import MASK, mask, unmask
from eolc_fhir.subscriptions.spec import spec_from_json, spec_to_json
from eolc_fhir.subscriptions.topics import load_topics, topic_resources
from tests.unit.subscriptions.support import SECRET_EXT, subscription

TYPES = frozenset({"Observation", "Flag", "Subscription", "AuditEvent"})


def classic(**channel: object) -> dict[str, object]:
    return {"resourceType": "Subscription", "status": "requested", "end": "2030-01-01",
            "criteria": "Observation?code=http://loinc.org|1975-2&status=final",
            "channel": {"type": "rest-hook", "endpoint": "https://example.org/hook",
                        **channel}}


def test_classic_or_topic_based() -> None:
    assert is_classic(classic())
    assert not is_classic(subscription("https://example.org/hook"))
    assert not is_classic({**classic(), "meta": {"profile": [
        "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
        "backport-subscription|1.1.0"]}})


def test_classic_spec_and_requests() -> None:
    ping = read_classic(classic(), TYPES)
    assert (ping.kind, ping.topic, ping.content) == ("classic", "classic:Observation", "empty")
    assert ping.filters[0].params == (("code", "http://loinc.org|1975-2"), ("status", "final"))
    assert ping.end_us == 1_893_456_000_000_000
    assert spec_from_json(spec_to_json(ping)) == ping
    full = read_classic(classic(payload="application/fhir+json"), TYPES)
    assert (full.content, full.max_count) == ("full-resource", 1)
    events = [NotifiedEvent(1, 0, "update", "Observation", "o1", b'{"a":1}'),
              NotifiedEvent(2, 0, "delete", "Observation", "o1", None)]
    assert classic_requests(full, events) == [
        ("PUT", "https://example.org/hook/Observation/o1", b'{"a":1}'),
        ("DELETE", "https://example.org/hook/Observation/o1", b"")]
    assert classic_requests(ping, events) == [("POST", "https://example.org/hook", b"")]
    assert classic_requests(full, []) == [("POST", "https://example.org/hook", b"")]
    with pytest.raises(ProfileViolation):
        read_classic(classic(payload="application/fhir+xml"), TYPES)
    for criteria in ("Nope?x=1", "AuditEvent", "Subscription?status=off"):
        with pytest.raises(ProfileViolation):
            read_classic({**classic(), "criteria": criteria}, TYPES)


def test_mask_and_unmask() -> None:
    sent = subscription("https://example.org/hook", headers=("Authorization: Bearer t",
                                                             "X-Tenant: 5"))
    spec_secret, spec_headers = "s3cret", ("Authorization: Bearer t", "X-Tenant: 5")
    mask(sent)
    channel = sent["channel"]
    assert channel["header"] == [f"Authorization: {MASK}", f"X-Tenant: {MASK}"]
    assert [e["valueString"] for e in channel["extension"] if e["url"] == SECRET_EXT] == [MASK]
    stored = read_classic(classic(header=list(spec_headers)), TYPES)
    stored = replace(stored, secret=spec_secret)
    channel["header"].append("X-New: 1")
    unmask(sent, stored)
    assert channel["header"] == [*spec_headers, "X-New: 1"]
    assert [e["valueString"] for e in channel["extension"] if e["url"] == SECRET_EXT] == [
        spec_secret]
    with pytest.raises(InvalidRequest):
        unmask({"channel": {"header": [f"Cookie: {MASK}"]}}, stored)


def test_topics_round_trip_through_basic() -> None:
    basics = topic_resources(DEFAULT_PROFILES_DIR)
    assert len(basics) == 6
    for basic in basics:
        assert basic_from_topic(topic_from_basic(basic)) == basic
    assert set(load_topics(DEFAULT_PROFILES_DIR)) == {
        topic_from_basic(b)["url"] for b in basics}

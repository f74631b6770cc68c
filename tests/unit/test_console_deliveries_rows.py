"""The Deliveries page's ordering, paging and hiding of person-identifying filter values."""

from __future__ import annotations

from typing import Any

from eolc_fhir.subscriptions.delivery_state import Delivery, delivery_extension
from eolc_fhir.subscriptions.notification import status_parameters
from eolc_fhir.web.deliveries import (
    ordered,
    page_of,
    shown_criteria,
    shown_endpoint,
    subscription_ids,
)


def _status(sub_id: str, status: str, backlog: int, failures: int = 0,
            channel: str = "rest-hook") -> dict[str, Any]:
    state = Delivery(channel=channel, backlog=backlog, failures=failures)
    return status_parameters(base="http://x", sub_id=sub_id, topic="http://t", status=status,
                             kind="query-status", events_since=backlog,
                             delivery=delivery_extension(state))


def test_problems_first_then_the_largest_backlog() -> None:
    found = [_status("off", "off", 50), _status("fine", "active", 0),
             _status("big", "active", 9), _status("failing", "active", 1, failures=2),
             _status("err-small", "error", 1), _status("err-big", "error", 7),
             _status("ws", "active", 0, channel="websocket")]
    assert subscription_ids(ordered(found, None)) == [
        "err-big", "err-small", "failing", "big", "fine", "ws", "off"]
    assert subscription_ids(ordered(found, "websocket")) == ["ws"]


def test_pages_are_clamped() -> None:
    rows = [_status(f"s{i:02}", "active", 0) for i in range(30)]
    first, page, pages = page_of(rows, 1, 25)
    assert (len(first), page, pages) == (25, 1, 2)
    last, page, _ = page_of(rows, 99, 25)
    assert (len(last), page) == (5, 2)
    assert page_of([], 3, 25)[1:] == (1, 1)


def test_person_identifying_values_and_endpoint_queries_are_hidden() -> None:
    assert shown_criteria("Flag?patient=Patient/123&status=active") == \
        "Flag?patient=(hidden)&status=active"
    assert shown_criteria("Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"
                          "&name:exact=Hughes") == "Patient?identifier=(hidden)&name:exact=(hidden)"
    assert shown_criteria("Observation?code=http://loinc.org|1975-2") == \
        "Observation?code=http://loinc.org|1975-2"
    assert shown_endpoint("https://r.example/hook?token=abc") == "https://r.example/hook?…"
    assert shown_endpoint("https://r.example/hook") == "https://r.example/hook"

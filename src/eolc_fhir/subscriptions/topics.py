"""Subscription topics, read from ``profiles/Basic-*.json`` (the Backport IG's R4 form).

Each topic is a ``Basic`` with the code ``SubscriptionTopic`` (r4_topics.py converts it
to the R5 shape read here). A folder may still hold R5-shaped ``SubscriptionTopic-*.json``
files (the earlier form): they are read too, and served as ``Basic`` all the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from eolc_fhir.subscriptions.r4_topics import basic_from_topic, is_topic_basic, topic_from_basic

__all__ = ["Topic", "Trigger", "TopicFilter", "load_topics", "topic_resources",
           "TOPIC_PROFILE_EXT",
           "TOPIC_PARAM_EXT", "TOPIC_TARGET_EXT"]

_SD = "https://eolc.example.org/fhir/StructureDefinition/"
TOPIC_PROFILE_EXT = _SD + "eolc-topic-profile"
TOPIC_PARAM_EXT = _SD + "eolc-topic-search-parameter"
TOPIC_TARGET_EXT = _SD + "eolc-topic-filter-target"
_CORE_SD = "http://hl7.org/fhir/StructureDefinition/"


@dataclass(frozen=True)
class Trigger:
    """A resource type and interactions that fire the topic, if it meets one of ``profiles``
    and ``fhirpath`` (R5 ``fhirPathCriteria``, with ``%current`` and ``%previous``: the
    resource after and before the change, empty when there is none) is true."""

    resource_type: str
    interactions: frozenset[str]
    profiles: tuple[str, ...]
    fhirpath: str | None = None


@dataclass(frozen=True)
class TopicFilter:
    """A filter a subscriber may use: its name and the search parameter evaluating it."""

    resource_type: str
    name: str
    search_param: str


@dataclass(frozen=True)
class Topic:
    url: str
    name: str
    title: str
    triggers: tuple[Trigger, ...]
    filters: tuple[TopicFilter, ...]
    # True: filters apply to the Patient the changed resource is about (patient-wishes).
    filters_on_patient: bool = False

    def trigger_for(self, resource_type: str, interaction: str) -> Trigger | None:
        for trigger in self.triggers:
            if trigger.resource_type == resource_type and interaction in trigger.interactions:
                return trigger
        return None

    def resource_types(self) -> set[str]:
        return {t.resource_type for t in self.triggers}

    def filter_named(self, resource_type: str | None, name: str) -> TopicFilter | None:
        for allowed in self.filters:
            if allowed.name == name and resource_type in (None, allowed.resource_type):
                return allowed
        return None


def _ext_values(element: dict[str, Any], url: str) -> list[Any]:
    found: list[Any] = []
    for ext in element.get("extension", ()):
        if ext.get("url") == url:
            found.extend(v for k, v in ext.items() if k.startswith("value"))
    return found


def _trigger(data: dict[str, Any]) -> Trigger:
    resource = str(data["resource"]).removeprefix(_CORE_SD)
    return Trigger(resource, frozenset(data.get("supportedInteraction", ())),
                   tuple(_ext_values(data, TOPIC_PROFILE_EXT)), data.get("fhirPathCriteria"))


def _filter(data: dict[str, Any]) -> TopicFilter:
    resource = str(data["resource"]).removeprefix(_CORE_SD)
    name = str(data["filterParameter"])
    params = _ext_values(data, TOPIC_PARAM_EXT)
    return TopicFilter(resource, name, str(params[0]) if params else name)


def topic_from(data: dict[str, Any]) -> Topic:
    return Topic(
        url=data["url"], name=data.get("name", data["id"]), title=data.get("title", ""),
        triggers=tuple(_trigger(t) for t in data.get("resourceTrigger", ())),
        filters=tuple(_filter(f) for f in data.get("canFilterBy", ())),
        filters_on_patient="patient" in _ext_values(data, TOPIC_TARGET_EXT),
    )


def topic_resources(profiles_dir: Path | None) -> list[dict[str, Any]]:
    """Every topic in the folder as its R4 ``Basic`` resource (what the server publishes)."""
    if profiles_dir is None or not Path(profiles_dir).is_dir():
        return []
    folder = Path(profiles_dir)
    found = [data for data in (orjson.loads(p.read_bytes())
                               for p in sorted(folder.glob("Basic-*.json")))
             if is_topic_basic(data)]
    found.extend(basic_from_topic(orjson.loads(p.read_bytes()))
                 for p in sorted(folder.glob("SubscriptionTopic-*.json")))
    return found


def load_topics(profiles_dir: Path | None) -> dict[str, Topic]:
    """Every active topic in the folder, by canonical URL."""
    found: dict[str, Topic] = {}
    for basic in topic_resources(profiles_dir):
        data = topic_from_basic(basic)
        if data.get("status", "active") == "active":
            topic = topic_from(data)
            found[topic.url] = topic
    return found


def topics_for(topics: Iterable[Topic], resource_type: str) -> list[Topic]:
    return [t for t in topics if resource_type in t.resource_types()]

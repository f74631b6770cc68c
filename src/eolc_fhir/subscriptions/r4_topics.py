"""Subscription topics as R4 ``Basic`` resources, the Backport IG's R4 form (pure).

R4 has no SubscriptionTopic resource. The Subscriptions Backport IG publishes its R4
topics as ``Basic`` resources with ``code`` ``http://hl7.org/fhir/fhir-types#SubscriptionTopic``
and the R5 elements as cross-version extensions, claiming the cross-version profile
``http://hl7.org/fhir/5.0/StructureDefinition/profile-SubscriptionTopic``:

- canonical URL: ``http://hl7.org/fhir/StructureDefinition/artifact-url`` (the current
  IG and cross-version package) and also ``.../5.0/StructureDefinition/
  extension-SubscriptionTopic.url`` (the IG's 1.2.0 ballot), so readers of either find it;
- ``version``, ``name``, ``title``, ``date``, ``publisher``, ``description``:
  ``http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.<element>``;
- ``status``: the modifier extension ``http://hl7.org/fhir/StructureDefinition/artifact-status``;
- ``resourceTrigger``, ``canFilterBy``, ``notificationShape``: complex extensions of the
  same family, their elements as sub-extensions named like the R5 elements.

Extensions of our own (``eolc-topic-*``) travel inside, unchanged. ``basic_from_topic``
and ``topic_from_basic`` convert between this form and the R5-shaped dict the topic
engine reads (topics.py), losslessly for the elements above.
"""

from __future__ import annotations

from typing import Any

__all__ = ["basic_from_topic", "topic_from_basic", "is_topic_basic", "TOPIC_CODE",
           "XVER_PROFILE"]

XVER = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
XVER_PROFILE = "http://hl7.org/fhir/5.0/StructureDefinition/profile-SubscriptionTopic"
ARTIFACT_URL = "http://hl7.org/fhir/StructureDefinition/artifact-url"
ARTIFACT_STATUS = "http://hl7.org/fhir/StructureDefinition/artifact-status"
TOPIC_CODE = {"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}
# R5 element -> value[x] type; one value each
_SIMPLE = {"version": "valueString", "name": "valueString", "title": "valueString",
           "date": "valueDateTime", "publisher": "valueString",
           "description": "valueMarkdown"}
# backbone element -> {element: (value[x] type, repeats)}
_PARTS: dict[str, dict[str, tuple[str, bool]]] = {
    "resourceTrigger": {"description": ("valueMarkdown", False),
                        "resource": ("valueUri", False),
                        "supportedInteraction": ("valueCode", True),
                        "fhirPathCriteria": ("valueString", False)},
    "canFilterBy": {"description": ("valueMarkdown", False), "resource": ("valueUri", False),
                    "filterParameter": ("valueString", False),
                    "filterDefinition": ("valueUri", False)},
    "notificationShape": {"resource": ("valueUri", False), "include": ("valueString", True),
                          "revInclude": ("valueString", True)},
}


def _complex(name: str, element: dict[str, Any]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for key, (vtype, repeats) in _PARTS[name].items():
        values = element.get(key)
        if values is None:
            continue
        for value in values if repeats else [values]:
            parts.append({"url": key, vtype: value})
    parts.extend(element.get("extension", ()))  # ours, absolute URLs
    return {"url": XVER + name, "extension": parts}


def basic_from_topic(topic: dict[str, Any]) -> dict[str, Any]:
    """The Basic form of an R5-shaped SubscriptionTopic dict."""
    ext: list[dict[str, Any]] = [{"url": ARTIFACT_URL, "valueUri": topic["url"]},
                                 {"url": XVER + "url", "valueUri": topic["url"]}]
    ext.extend({"url": XVER + key, vtype: topic[key]}
               for key, vtype in _SIMPLE.items() if key in topic)
    ext.extend(topic.get("extension", ()))
    for name in _PARTS:
        ext.extend(_complex(name, element) for element in topic.get(name, ()))
    return {"resourceType": "Basic", "id": topic["id"], "meta": {"profile": [XVER_PROFILE]},
            "extension": ext,
            "modifierExtension": [{"url": ARTIFACT_STATUS,
                                   "valueCode": topic.get("status", "active")}],
            "code": {"coding": [dict(TOPIC_CODE)]}}


def is_topic_basic(resource: dict[str, Any]) -> bool:
    codings = ((resource.get("code") or {}).get("coding")) or ()
    return resource.get("resourceType") == "Basic" and any(
        isinstance(c, dict) and c.get("system") == TOPIC_CODE["system"]
        and c.get("code") == TOPIC_CODE["code"] for c in codings)


def _value(ext: dict[str, Any]) -> Any:
    return next((v for k, v in ext.items() if k.startswith("value")), None)


def _element(name: str, ext: dict[str, Any]) -> dict[str, Any]:
    element: dict[str, Any] = {}
    own: list[dict[str, Any]] = []
    for part in ext.get("extension", ()):
        key = part.get("url", "")
        spec = _PARTS[name].get(key)
        if spec is None:
            own.append(part)
        elif spec[1]:
            element.setdefault(key, []).append(_value(part))
        else:
            element[key] = _value(part)
    if own:
        element["extension"] = own
    return element


def topic_from_basic(basic: dict[str, Any]) -> dict[str, Any]:
    """The R5-shaped SubscriptionTopic dict of a topic's Basic form (``topics.topic_from``
    reads it)."""
    topic: dict[str, Any] = {"resourceType": "SubscriptionTopic", "id": basic["id"]}
    own: list[dict[str, Any]] = []
    for ext in basic.get("extension", ()):
        url = ext.get("url", "")
        name = url.removeprefix(XVER)
        if url == ARTIFACT_URL or name == "url":
            topic["url"] = _value(ext)
        elif url.startswith(XVER) and name in _SIMPLE:
            topic[name] = _value(ext)
        elif url.startswith(XVER) and name in _PARTS:
            topic.setdefault(name, []).append(_element(name, ext))
        else:
            own.append(ext)
    if own:
        topic["extension"] = own
    for ext in basic.get("modifierExtension", ()):
        if ext.get("url") == ARTIFACT_STATUS:
            topic["status"] = _value(ext)
    return topic

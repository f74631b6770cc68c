"""Read a Backport-IG R4 Subscription into a checked ``SubscriptionSpec`` (pure).

Where things are carried (Subscriptions R5 Backport IG, R4 flavour):

- ``criteria``: the topic canonical; ``_criteria.extension[backport-filter-criteria]``:
  filters, ``Type?param=value&...`` (or ``Type.param=value``); several are ANDed.
- ``channel.type`` ``rest-hook`` (``channel.endpoint``; ``channel.header``, sent as is) or
  ``websocket`` (no endpoint: clients bind with ``$get-ws-binding-token``; topic-based only).
  ``channel.type`` may carry ``backport-channel-type``: its code must be the same one;
  ``channel.payload`` ``application/fhir+json`` with ``_payload.extension
  [backport-payload-content]`` ``empty`` | ``id-only`` | ``full-resource``.
- ``channel.extension``: ``backport-heartbeat-period``, ``backport-timeout``,
  ``backport-max-count``.
- The signing secret (our choice): ``channel.extension`` with the URL
  ``SECRET_EXT`` and a ``valueString``. Each delivery then carries
  ``X-Eolc-Signature: sha256=<hex HMAC-SHA256 of the body>``. Without it no
  signature header is sent.

Classic R4 subscriptions sit beside them (``classic.py``): ``criteria`` is a search
(``Observation?code=...``), read into the same ``SubscriptionSpec`` with ``kind``
``classic`` and a pseudo-topic ``classic:<Type>`` that keys the outbox lookup.
``end`` (both kinds) becomes ``end_us``: after it nothing is delivered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from eolc_fhir.fhir.errors import InvalidRequest, ProfileViolation
from eolc_fhir.fhir.instant import from_instant
from eolc_fhir.subscriptions.topics import Topic

__all__ = ["SubscriptionSpec", "Filter", "read_spec", "spec_from_json", "spec_to_json",
           "BACKPORT", "SECRET_EXT", "CONTENT_LEVELS", "CLASSIC_PREFIX", "channel_parts",
           "end_us_of", "check_channel", "WEBSOCKET"]

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
SECRET_EXT = "https://eolc.example.org/fhir/StructureDefinition/eolc-subscription-secret"
CONTENT_LEVELS = ("empty", "id-only", "full-resource")
_DEFAULT_MAX_COUNT = 20
_MAX_MAX_COUNT = 500
_DEFAULT_TIMEOUT = 10
_MAX_TIMEOUT = 120
CLASSIC_PREFIX = "classic:"
WEBSOCKET = "websocket"


@dataclass(frozen=True)
class Filter:
    """One filter: the resource type it applies to and (search parameter, value) pairs."""

    resource_type: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SubscriptionSpec:
    topic: str
    filters: tuple[Filter, ...]
    endpoint: str
    headers: tuple[str, ...]
    content: str
    max_count: int
    heartbeat_seconds: int
    timeout_seconds: int
    secret: str | None
    kind: str = "topic"  # "classic": an R4 criteria search (classic.py)
    end_us: int | None = None  # Subscription.end: nothing is delivered after it
    channel: str = "rest-hook"  # or "websocket": sent to bound sockets, never POSTed


def _ext(element: dict[str, Any] | None, name: str) -> list[Any]:
    url = name if name.startswith("http") else BACKPORT + name
    values: list[Any] = []
    for ext in (element or {}).get("extension", ()):
        if isinstance(ext, dict) and ext.get("url") == url:
            values.extend(v for k, v in ext.items() if k.startswith("value"))
    return values


def _bad(message: str, expression: str) -> ProfileViolation:
    return ProfileViolation(message, code="business-rule", expression=expression)


def _int_ext(channel: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    values = _ext(channel, name)
    if not values:
        return default
    value = values[0]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(f"{name} must be a whole number from {low} to {high}",
                   f"Subscription.channel.extension('{BACKPORT}{name}')")
    return value


def _split_filter(text: str, topic: Topic) -> tuple[str | None, list[tuple[str, str]]]:
    """``Flag?patient=Patient/1``, ``Flag.patient=Patient/1`` or ``patient=Patient/1``; each
    parameter may chain on from an allowed filter (``patient.identifier=...``)."""
    head, sep, query = text.partition("?")
    if sep:
        return head.strip() or None, parse_qsl(query, keep_blank_values=True)
    name, eq, value = text.partition("=")
    if not eq:
        raise InvalidRequest(f"filter '{text}' is not of the form Type?param=value",
                             expression="Subscription.criteria")
    head, dot, rest = name.partition(".")
    if dot and head[:1].isupper():  # a resource type: ``Flag.patient`` (types are capitalised)
        return head, [(rest, value)]
    return None, [(name, value)]  # ``patient`` or a chain, ``patient.identifier``


def _ids(value: str, rtype: str) -> str:
    """A filter the topic maps to ``_id`` (``patient`` on patient-wishes) may name the
    resource as its description says, ``Patient/[id]``, or by the bare id: both match."""
    prefix = f"{rtype}/"
    return ",".join(v.removeprefix(prefix) for v in value.split(","))


def _filter(text: str, topic: Topic) -> Filter:
    rtype, pairs = _split_filter(text, topic)
    if not pairs:
        raise InvalidRequest(f"filter '{text}' names no parameter",
                             expression="Subscription.criteria")
    out: list[tuple[str, str]] = []
    found_type = rtype
    for name, value in pairs:
        link, dot, chain = name.partition(".")
        base = link.split(":", 1)[0]
        allowed = topic.filter_named(rtype, base)
        if allowed is None:
            names = sorted({f.name for f in topic.filters})
            raise _bad(f"topic {topic.url} does not allow the filter '{name}'"
                       f"{' on ' + rtype if rtype else ''}; allowed: {', '.join(names)}",
                       "Subscription.criteria")
        found_type = allowed.resource_type
        modifier = link[len(base):]
        if allowed.search_param == "_id" and not dot:
            value = _ids(value, found_type)
        # A chain follows the topic's own parameter (its reference) to the resource it names;
        # the matcher evaluates it in the database at each change.
        out.append((allowed.search_param + modifier + dot + chain, value))
    assert found_type is not None
    return Filter(found_type, tuple(out))


def _content(channel: dict[str, Any]) -> str:
    values = _ext(channel.get("_payload"), "backport-payload-content")
    content = values[0] if values else "id-only"
    if content not in CONTENT_LEVELS:
        raise _bad(f"payload content '{content}' is not supported; use one of "
                   f"{', '.join(CONTENT_LEVELS)}", "Subscription.channel.payload")
    return str(content)


def _channel_type(channel: dict[str, Any], types: tuple[str, ...]) -> str:
    kind = channel.get("type")
    coded = [c.get("code") for c in _ext(channel.get("_type"), "backport-channel-type")
             if isinstance(c, dict)]
    if kind not in types or any(code != kind for code in coded):
        wanted = " or ".join(types)
        raise _bad(f"channel type '{coded[0] if coded else kind}' is not supported; use "
                   f"{wanted}", "Subscription.channel.type")
    return str(kind)


def check_channel(channel: Any, default_payload: str | None = "application/fhir+json",
                  types: tuple[str, ...] = ("rest-hook",)) -> dict[str, Any]:
    """A rest-hook channel with an endpoint (or, where ``types`` allows it, a websocket
    one); ``payload`` absent is ``default_payload`` (None: allowed absent, the classic
    empty ping)."""
    if not isinstance(channel, dict):
        raise InvalidRequest("Subscription.channel is required", code="required",
                             expression="Subscription.channel")
    kind = _channel_type(channel, types)
    payload = channel.get("payload", default_payload)
    if payload not in ("application/fhir+json", "application/json", None):
        raise _bad(f"payload '{payload}' is not supported; use application/fhir+json",
                   "Subscription.channel.payload")
    if kind == "rest-hook" and (not isinstance(channel.get("endpoint"), str)
                                or not channel["endpoint"]):
        raise InvalidRequest("a rest-hook channel needs an endpoint", code="required",
                             expression="Subscription.channel.endpoint")
    return channel


def channel_parts(channel: dict[str, Any]) -> dict[str, Any]:
    """What both kinds read from the channel: endpoint, headers, secret, timeout."""
    headers = channel.get("header") or []
    if not isinstance(headers, list) or any(
            not isinstance(h, str) or ":" not in h or "\n" in h or "\r" in h for h in headers):
        raise InvalidRequest("each channel.header must be 'Name: value' on one line",
                             expression="Subscription.channel.header")
    secrets = _ext(channel, SECRET_EXT)
    return {"endpoint": str(channel.get("endpoint") or ""), "headers": tuple(headers),
            "secret": str(secrets[0]) if secrets else None,
            "timeout_seconds": _int_ext(channel, "backport-timeout", _DEFAULT_TIMEOUT, 1,
                                        _MAX_TIMEOUT)}


def end_us_of(resource: dict[str, Any]) -> int | None:
    """``Subscription.end`` in microseconds (a date means its start, UTC)."""
    end = resource.get("end")
    if end is None:
        return None
    try:
        return from_instant(str(end))
    except ValueError:
        raise InvalidRequest(f"Subscription.end '{end}' is not a valid instant",
                             expression="Subscription.end") from None


def read_spec(resource: dict[str, Any], topics: dict[str, Topic]) -> SubscriptionSpec:
    """Check a Subscription against the topics; 400/422 FhirErrors say what is wrong."""
    criteria = resource.get("criteria")
    topic = topics.get(criteria) if isinstance(criteria, str) else None
    if topic is None:
        raise _bad(f"unknown subscription topic '{criteria}'; known: "
                   f"{', '.join(sorted(topics))}", "Subscription.criteria")
    filters = tuple(_filter(str(text), topic)
                    for text in _ext(resource.get("_criteria"), "backport-filter-criteria"))
    channel = check_channel(resource.get("channel"), types=("rest-hook", WEBSOCKET))
    return SubscriptionSpec(
        topic=topic.url, filters=filters, content=_content(channel),
        max_count=_int_ext(channel, "backport-max-count", _DEFAULT_MAX_COUNT, 1, _MAX_MAX_COUNT),
        heartbeat_seconds=_int_ext(channel, "backport-heartbeat-period", 0, 0, 86400 * 7),
        end_us=end_us_of(resource), channel=str(channel["type"]), **channel_parts(channel),
    )


def spec_to_json(spec: SubscriptionSpec) -> str:
    return orjson.dumps(asdict(spec)).decode()


def spec_from_json(text: str) -> SubscriptionSpec:
    data = orjson.loads(text)
    filters = tuple(Filter(f["resource_type"], tuple(tuple(p) for p in f["params"]))
                    for f in data.pop("filters"))
    return SubscriptionSpec(filters=filters, headers=tuple(data.pop("headers")), **data)

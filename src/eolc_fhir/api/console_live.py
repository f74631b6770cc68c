"""The console's live board (/console/live): the page and the three routes its script calls.

``POST /console/live/token`` creates (once) one websocket Subscription per topic of
the region for the signed-in person, through the public API with the person's
token, then asks ``$get-ws-binding-token`` for all of the caller's live websocket
Subscriptions; the page's script binds ``/ws`` with it. ``GET /console/live/events``
is the Backport IG ``$events`` of one of those Subscriptions (the script replays what
it missed while disconnected), and ``POST /console/live/about`` says in words what
changed and whose record it is (name, NHS number, practice), read through the API.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from eolc_fhir.api.console import (
    api_client,
    console_page,
    same_origin,
    signed_in_or_redirect,
)
from eolc_fhir.api.console_session import PATH
from eolc_fhir.api.deps import BaseUrl
from eolc_fhir.fhir.ids import ID_PATTERN
from eolc_fhir.security.compartment import patient_of
from eolc_fhir.web.records import person_facts, record_label

__all__ = ["router", "ws_subscription"]

router = APIRouter(include_in_schema=False)
_BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
_BINDING = "/Subscription/$get-ws-binding-token"
_NO_STORE = {"cache-control": "no-store"}
_FOCUS = re.compile(f"^([A-Z][A-Za-z]{{1,63}})/({ID_PATTERN})$")
MAX_ABOUT = 50  # focus references described per request


def _topics(request: Request) -> list[dict[str, str]]:
    """The region's topics (canonical URL and title), as the subscription engine loaded them."""
    engine = getattr(getattr(request.app.state, "ctx", None), "subscriptions", None)
    topics: dict[str, Any] = getattr(engine, "topics", None) or {}
    return [{"url": url, "title": topic.title or topic.name}
            for url, topic in sorted(topics.items())]


def ws_subscription(topic: str) -> dict[str, Any]:
    """A topic-based Subscription on the websocket channel, ids only (the board shows focus)."""
    return {"resourceType": "Subscription", "status": "requested",
            "reason": "eolc-fhir console live board", "criteria": topic,
            "channel": {"type": "websocket", "payload": "application/fhir+json",
                        "_payload": {"extension": [{
                            "url": _BACKPORT + "backport-payload-content",
                            "valueCode": "id-only"}]}}}


@router.get(PATH + "/live")
async def live(request: Request, base: BaseUrl) -> Response:
    """The board: changes newest first, filtered by topic and by practice."""
    session = signed_in_or_redirect(request, base)
    if isinstance(session, Response):
        return session
    return console_page(request, "console_live.html", session=session,
                        topics=_topics(request))


def _binding(answer: httpx.Response) -> dict[str, Any] | None:
    if answer.status_code != 200:
        return None
    found: dict[str, list[Any]] = {}
    for param in answer.json().get("parameter") or []:
        value = next((v for k, v in param.items() if k.startswith("value")), None)
        found.setdefault(str(param.get("name")), []).append(value)
    if not found.get("subscription") or not found.get("token"):
        return None
    return {"token": found["token"][0], "url": found["websocket-url"][0],
            "expiration": (found.get("expiration") or [None])[0],
            "subscriptions": len(found["subscription"])}


@router.post(PATH + "/live/token")
async def live_token(request: Request, base: BaseUrl) -> Response:
    """A binding token for the person's websocket Subscriptions (created on first use)."""
    session = signed_in_or_redirect(request, base)
    if isinstance(session, Response) or not same_origin(request, base):
        return JSONResponse({"error": "sign in to the console first"}, 401,
                            headers=_NO_STORE)
    refusals: list[int] = []
    async with api_client(request, base, session.token) as api:
        found = _binding(await api.get(_BINDING))
        if found is None:
            for topic in _topics(request):
                made = await api.post("/Subscription", json=ws_subscription(topic["url"]),
                                      headers={"Content-Type": "application/fhir+json"})
                if made.status_code != 201:
                    refusals.append(made.status_code)
            found = _binding(await api.get(_BINDING))
    if found is None:
        status = 403 if 403 in refusals else 502
        return JSONResponse({"error": "no live board for you: the server refused the "
                             "subscriptions"}, status, headers=_NO_STORE)
    return JSONResponse(found, headers=_NO_STORE)


@router.get(PATH + "/live/events")
async def live_events(request: Request, base: BaseUrl,
                      subscription: Annotated[str, Query(pattern=f"^{ID_PATTERN}$")],
                      since: Annotated[int, Query(ge=1)],
                      until: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """``$events`` of one of the person's Subscriptions: what the board missed."""
    session = signed_in_or_redirect(request, base)
    if isinstance(session, Response):
        return JSONResponse({"error": "sign in to the console first"}, 401, headers=_NO_STORE)
    query = {"eventsSinceNumber": str(since), **({"eventsUntilNumber": str(until)}
                                                   if until is not None else {})}
    async with api_client(request, base, session.token) as api:
        answer = await api.get(f"/Subscription/{subscription}/$events", params=query)
    return Response(answer.content, answer.status_code, headers=_NO_STORE,
                    media_type="application/fhir+json")


@router.post(PATH + "/live/about")
async def live_about(request: Request, base: BaseUrl) -> Response:
    """For each focus reference ("Flag/abc"): what it is and whose record, in words."""
    session = signed_in_or_redirect(request, base)
    if isinstance(session, Response) or not same_origin(request, base):
        return JSONResponse({"error": "sign in to the console first"}, 401,
                            headers=_NO_STORE)
    try:
        asked = (await request.json()).get("focus")
    except (ValueError, AttributeError):
        asked = None
    if not isinstance(asked, list) or len(asked) > MAX_ABOUT or \
            not all(isinstance(f, str) and _FOCUS.match(f) for f in asked):
        return JSONResponse({"error": f"focus: a list of up to {MAX_ABOUT} Type/id "
                             "references"}, 400, headers=_NO_STORE)
    people: dict[str, dict[str, Any] | None] = {}
    async with api_client(request, base, session.token) as api:
        found = {focus: await _about(api, focus, people) for focus in dict.fromkeys(asked)}
    return JSONResponse(found, headers=_NO_STORE)


async def _about(api: httpx.AsyncClient, focus: str,
                 people: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The record in words, and its person's facts when the API lets this person see them."""
    rtype = focus.split("/")[0]
    resource = await _latest(api, focus)
    if resource is None:
        return {"what": record_label(rtype), "shown": False}
    pid = patient_of(resource)
    if pid is not None and resource.get("resourceType") == "Patient":
        people[pid] = resource
    if pid is not None and pid not in people:
        answer = await api.get(f"/Patient/{pid}")
        people[pid] = answer.json() if answer.status_code == 200 else None
    patient = people.get(pid) if pid is not None else None
    facts = person_facts(patient) if patient is not None else {"patient": pid or ""}
    return {"what": record_label(rtype, resource), "shown": True, **facts}


async def _latest(api: httpx.AsyncClient, focus: str) -> dict[str, Any] | None:
    """The current version, or the last one before a delete (from its history)."""
    answer = await api.get(f"/{focus}")
    if answer.status_code == 200:
        return dict(answer.json())
    if answer.status_code != 410:
        return None  # not visible to this person, or never there
    history = await api.get(f"/{focus}/_history", params={"_count": "5"})
    if history.status_code != 200:
        return None
    return next((dict(e["resource"]) for e in history.json().get("entry") or []
                 if isinstance(e, dict) and isinstance(e.get("resource"), dict)), None)

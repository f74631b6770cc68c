"""The console's live board (/console/live): the page, and the binding token its script asks for.

The token route creates (once) one websocket Subscription per topic of the region
for the signed-in person, through the public API with the person's token, then
asks ``$get-ws-binding-token`` for all of the caller's live websocket
Subscriptions; the page's script binds ``/ws`` with it.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from eolc_fhir.api.console import (
    api_client,
    console_page,
    same_origin,
    signed_in_or_redirect,
)
from eolc_fhir.api.console_session import PATH
from eolc_fhir.api.deps import BaseUrl

__all__ = ["router", "ws_subscription"]

router = APIRouter(include_in_schema=False)
_BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
_BINDING = "/Subscription/$get-ws-binding-token"
_NO_STORE = {"cache-control": "no-store"}


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
    """The board: events newest first, filtered by topic."""
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

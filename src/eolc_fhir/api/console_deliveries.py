"""The console's Deliveries page (/console/deliveries): every visible Subscription's delivery state.

Read through the public API with the person's token: ``GET /Subscription/$status``
(the Backport IG operation, with the server's delivery-state extension) for the
status, backlog and errors of every Subscription the API lets the person see, then
a ``Subscription`` search by ``_id`` for the rows shown (reason, criteria, channel).
Which Subscriptions appear is the API's decision: admin sees all, anyone else
those of the client they signed in through.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from eolc_fhir.api.console import api_client, console_page, refused_page, signed_in_or_redirect
from eolc_fhir.api.console_session import PATH
from eolc_fhir.api.deps import BaseUrl
from eolc_fhir.web.deliveries import (
    CHANNELS,
    STATUSES,
    delivery_rows,
    ordered,
    page_of,
    status_code,
    subscription_ids,
)

__all__ = ["router", "PAGE_SIZE"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name, "")
    return value if value in allowed else None


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


def _resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry") or []
            if isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == rtype]


@router.get(PATH + "/deliveries")
async def deliveries(request: Request, base: BaseUrl) -> Response:
    """Status, last delivery, backlog and error of each Subscription, problems first."""
    session = signed_in_or_redirect(request, base)
    if isinstance(session, Response):
        return session
    status, channel = _choice(request, "status", STATUSES), _choice(request, "channel", CHANNELS)
    async with api_client(request, base, session.token) as api:
        answer = await api.get("/Subscription/$status",
                               params={"status": status} if status else None)
        if answer.status_code != 200:
            return refused_page(request, session, answer)
        everything = ordered(_resources(answer.json(), "Parameters"), channel)
        shown, page, pages = page_of(everything, _page_number(request), PAGE_SIZE)
        subscriptions: dict[str, dict[str, Any]] = {}
        if shown:
            found = await api.get("/Subscription", params={
                "_id": ",".join(subscription_ids(shown)), "_count": str(PAGE_SIZE)})
            if found.status_code == 200:
                subscriptions = {str(s.get("id")): s
                                 for s in _resources(found.json(), "Subscription")}
    form = {"status": status or "", "channel": channel or ""}
    return console_page(request, "console_deliveries.html", session=session, form=form,
                        rows=delivery_rows(shown, subscriptions), total=len(everything),
                        errors=sum(1 for s in everything if status_code(s) == "error"),
                        page=page, pages=pages, statuses=STATUSES, channels=CHANNELS)


"""The console's register page (/console/register): people on the register, filtered and paged.

One ``Flag`` search through the public API with the person's token finds the page
(its filters are search parameters any app can use, see web.register), then three
searches fill in its rows. Paging follows the server's own ``next`` / ``previous``
links: the page keeps the link's query and asks for exactly that.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import APIRouter, Request
from starlette.responses import Response

from eolc_fhir.api.console import api_client, console_page, refused_page, signed_in_or_redirect
from eolc_fhir.api.console_session import PATH, Session
from eolc_fhir.api.deps import BaseUrl
from eolc_fhir.web.register import (
    PROGNOSES,
    SIZES,
    BadFilter,
    Filters,
    detail_searches,
    filters_from,
    register_rows,
    register_search,
)

__all__ = ["router", "PAGE_SIZE"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
_MAX_LINK = 4000


def _default_practice(request: Request, session: Session) -> str:
    """A GP person's own practice (the ODS code their access token carries)."""
    if session.role != "gp":
        return ""
    state = getattr(getattr(request.app.state, "ctx", None), "security", None)
    claims = state.tokens.signed_claims(session.token) if state is not None else None
    return str((claims or {}).get("ods") or "")


def _link(bundle: dict[str, Any], relation: str) -> str:
    """The query of the server's own paging link (``/Flag?...``), or ''."""
    for link in bundle.get("link") or []:
        if link.get("relation") == relation:
            return urlsplit(str(link.get("url", ""))).query
    return ""


def _page_href(filters: Filters, server_query: str) -> str:
    form = {k: ("1" if v is True else v) for k, v in filters.form().items() if v}
    return f"{PATH}/register?" + urlencode({**form, "page": server_query})


async def _details(api: httpx.AsyncClient, ids: list[str]
                   ) -> tuple[dict[str, dict[str, Any]], httpx.Response | None]:
    """The rows' plans, CPR decisions and places; or the API's refusal of one of them."""
    found: dict[str, dict[str, Any]] = {}
    if not ids:
        return found, None
    for name, (rtype, params) in detail_searches(ids).items():
        answer = await api.get(f"/{rtype}?{urlencode(params)}")
        if answer.status_code != 200:
            return found, answer
        found[name] = answer.json()
    return found, None


async def _page(api: httpx.AsyncClient, link: str, filters: Filters,
                today: date) -> httpx.Response:
    """The page a server's link names, or the first page of the filters' search."""
    if link and len(link) <= _MAX_LINK:
        return await api.get("/Flag?" + link)
    return await api.get("/Flag?" + urlencode(register_search(filters, today, PAGE_SIZE)))


def _patient_ids(bundle: dict[str, Any]) -> list[str]:
    return [str(e["resource"]["id"]) for e in bundle.get("entry") or []
            if (e.get("resource") or {}).get("resourceType") == "Patient"]


def _bundle(answer: httpx.Response) -> dict[str, Any] | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and body.get("resourceType") == "Bundle" else None


@router.get(PATH + "/register")
async def register(request: Request, base: BaseUrl) -> Response:
    """The register: one row per person, filters as a GET form, the server's paging."""
    session = signed_in_or_redirect(request, base)
    if isinstance(session, Response):
        return session
    query = dict(request.query_params)
    today = datetime.now(UTC).date()
    try:
        filters = filters_from(query, _default_practice(request, session))
    except BadFilter as exc:
        return console_page(request, "console_register.html", 400, session, error=str(exc),
                            form=Filters().form(), prognoses=PROGNOSES, sizes=SIZES, rows=None,
                            next_href="", previous_href="", today=today.isoformat())
    async with api_client(request, base, session.token) as api:
        answer = await _page(api, query.get("page", ""), filters, today)
        if answer.status_code != 200:
            return refused_page(request, session, answer)
        bundle = _bundle(answer)
        if bundle is None:  # e.g. a hand-made page link asking for another format
            return console_page(request, "console_message.html", 400, session,
                                title="Not a page of the register",
                                text="That link does not lead to a page of the register.")
        details, refused = await _details(api, _patient_ids(bundle))
    if refused is not None:
        return refused_page(request, session, refused)
    rows = register_rows(bundle, details, today)
    nxt, previous = _link(bundle, "next"), _link(bundle, "previous")
    return console_page(request, "console_register.html", session=session, error=None,
                        form=filters.form(), prognoses=PROGNOSES, sizes=SIZES, rows=rows,
                        next_href=_page_href(filters, nxt) if nxt else "",
                        previous_href=_page_href(filters, previous) if previous else "",
                        today=today.isoformat())

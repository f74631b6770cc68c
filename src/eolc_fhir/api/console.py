"""The console (/console/): people's pages, signed in with the SMART code flow as ``eolc-console``.

Every page reads the FHIR API through its public door with the person's own
access token (an in-process client to this same app), so roles, consent and
audit apply exactly as to any app. Pages are Jinja2 templates (eolc_fhir.web);
scripts and styles are files served under /console/static/ and the CSP allows
nothing else.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from eolc_fhir.api.console_session import (
    PATH,
    Session,
    end_session,
    keep_session,
    new_flow,
    read_flow,
    read_session,
)
from eolc_fhir.api.deps import BaseUrl
from eolc_fhir.fhir.ids import ID_PATTERN
from eolc_fhir.fhir.nhs_number import NHS_NUMBER_SYSTEM, is_valid_nhs_number
from eolc_fhir.security.demo import CONSOLE_CALLBACK, CONSOLE_CLIENT
from eolc_fhir.security.state import SecurityState
from eolc_fhir.web.console import ASSETS, page_csp, render_console
from eolc_fhir.web.history import history_of
from eolc_fhir.web.summary import NotADocument, summary_of
from eolc_fhir.web.validity import validity_of

__all__ = ["router", "SCOPE", "signed_in_or_redirect", "api_client", "same_origin",
           "console_page", "refused_page"]

router = APIRouter(include_in_schema=False)
SCOPE = "openid fhirUser user/*.rs user/Subscription.cu"
_FHIR = "application/fhir+json"
HISTORY_PAGE = 20  # changes per page of a person's history


def _security(request: Request) -> SecurityState | None:
    ctx = getattr(request.app.state, "ctx", None)
    return getattr(ctx, "security", None)


def console_page(request: Request, template: str, status: int = 200,
          session: Session | None = None, **context: Any) -> HTMLResponse:
    html = render_console(template, session=session, **context)
    response = HTMLResponse(html, status_code=status,
                            headers={"content-security-policy": page_csp(str(request.base_url)),
                                     "cache-control": "no-store",
                                     # no-referrer would make the browser send "Origin: null"
                                     # with the sign-out and token POSTs
                                     "referrer-policy": "same-origin"})
    state = _security(request)
    if session is not None and state is not None:
        keep_session(request, state, response, session)
    return response


def _sign_in(request: Request, state: SecurityState, base: str) -> Response:
    """Into the code flow: a new state and PKCE verifier, kept in the flow cookie."""
    response = RedirectResponse("", 303)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    flow = new_flow(request, state, response, target)
    query = {"response_type": "code", "client_id": CONSOLE_CLIENT,
             "redirect_uri": base + CONSOLE_CALLBACK, "scope": SCOPE, "state": flow.state,
             "code_challenge": flow.challenge, "code_challenge_method": "S256", "aud": base}
    response.headers["location"] = f"{base}/auth/authorize?{urlencode(query)}"
    response.headers["cache-control"] = "no-store"
    return response


def signed_in_or_redirect(request: Request, base: str) -> Session | Response:
    state = _security(request)
    if state is None:
        return console_page(request, "console_message.html", 404, title="Console unavailable",
                     text="Authentication is off (--insecure-dev): the console needs it.")
    session = read_session(request, state)
    return session if session is not None else _sign_in(request, state, base)


@router.get(CONSOLE_CALLBACK)
async def callback(request: Request, base: BaseUrl) -> Response:
    """The code comes back: check the state, redeem the code, keep the token."""
    state = _security(request)
    flow = read_flow(request, state) if state is not None else None
    params = request.query_params
    if state is None or flow is None or params.get("state") != flow.state:
        return console_page(request, "console_message.html", 400, title="Sign-in refused",
                     text="This sign-in did not start here or has expired: open the "
                          "console again.")
    if "code" not in params:
        return console_page(request, "console_message.html", 401, title="Not signed in",
                     text=f"The sign-in was refused ({params.get('error', 'no code')}).")
    form = {"grant_type": "authorization_code", "code": params["code"],
            "code_verifier": flow.verifier, "client_id": CONSOLE_CLIENT,
            "redirect_uri": base + CONSOLE_CALLBACK}
    async with api_client(request, base) as api:
        answer = await api.post("/auth/token", data=form)
    if answer.status_code != 200:
        return console_page(request, "console_message.html", 401, title="Not signed in",
                     text="The sign-in code was not accepted: open the console again.")
    body = answer.json()
    claims = state.tokens.signed_claims(str(body.get("id_token", ""))) or {}
    session = Session(str(body["access_token"]), str(claims.get("sub", "")),
                      str(claims.get("role", "")),
                      int(time.time()) + int(body.get("expires_in", 0)))
    nxt = flow.next if flow.next.startswith(PATH + "/") else PATH + "/"
    response = RedirectResponse(nxt, 303)
    keep_session(request, state, response, session)
    return response


@router.post(PATH + "/signout")
async def sign_out(request: Request, base: BaseUrl) -> Response:
    """Forget the console's session (the token itself expires in its lifetime)."""
    state = _security(request)
    if state is None or not same_origin(request, base):
        return console_page(request, "console_message.html", 403, title="Sign-out refused",
                     text="The form did not come from this server.")
    response = console_page(request, "console_message.html", 200, title="Signed out",
                     text="You are signed out of the console.")
    end_session(request, state, response)
    return response


def same_origin(request: Request, base: str) -> bool:
    origin = request.headers.get("origin")
    ours = urlsplit(base)
    return origin == f"{ours.scheme}://{ours.netloc}"


def api_client(request: Request, base: str, token: str | None = None) -> httpx.AsyncClient:
    """This same app through its public door (every middleware, the person's token)."""
    headers = {"Accept": _FHIR}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=request.app),
                             base_url=base, headers=headers)


def refused_page(request: Request, session: Session, answer: httpx.Response) -> Response:
    """The API's refusal as a page with its status and its diagnostics."""
    try:
        issues = answer.json().get("issue") or []
        messages = [str(i.get("diagnostics") or i.get("code", "")) for i in issues]
    except ValueError:
        messages = []
    return console_page(request, "console_message.html", answer.status_code, session,
                 title=f"Not shown ({answer.status_code})",
                 text=" ".join(messages) or "The server refused this request.")


@router.get(PATH)
async def console_root() -> Response:
    return RedirectResponse(PATH + "/", 307)


@router.get(PATH + "/")
async def find(request: Request, base: BaseUrl) -> Response:
    """Find a person by NHS number, or by name and birth date."""
    session = signed_in_or_redirect(request, base)
    if isinstance(session, Response):
        return session
    nhs = request.query_params.get("nhs", "").replace(" ", "")[:20]
    name = request.query_params.get("name", "")[:100]
    birth = request.query_params.get("birthdate", "")[:10]
    form = {"nhs": nhs, "name": name, "birthdate": birth}
    if not (nhs or name):
        return console_page(request, "console_find.html", session=session, form=form, error=None,
                     matches=None)
    if nhs and not is_valid_nhs_number(nhs):
        return console_page(request, "console_find.html", 400, session, form=form, matches=None,
                     error="That is not an NHS number: ten digits, the last a check digit.")
    query = {"identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"} if nhs else \
        {"name": name, **({"birthdate": birth} if birth else {})}
    async with api_client(request, base, session.token) as api:
        answer = await api.get("/Patient", params={**query, "_count": "20"})
    if answer.status_code != 200:
        return refused_page(request, session, answer)
    matches = [_match(e["resource"]) for e in answer.json().get("entry") or []
               if e.get("resource", {}).get("resourceType") == "Patient"]
    if len(matches) == 1 and nhs:
        return RedirectResponse(f"{PATH}/patient/{quote(matches[0]['id'])}", 303)
    return console_page(request, "console_find.html", session=session, form=form, error=None,
                 matches=matches)


def _match(patient: dict[str, Any]) -> dict[str, str]:
    name = (patient.get("name") or [{}])[0]
    shown = " ".join([*name.get("given", []), name.get("family", "")]).strip()
    nhs = next((i.get("value", "") for i in patient.get("identifier") or []
                if i.get("system") == NHS_NUMBER_SYSTEM), "")
    return {"id": str(patient.get("id", "")), "name": shown or "(no name)", "nhs": nhs,
            "birth_date": str(patient.get("birthDate", ""))}


@router.get(PATH + "/patient/{pid}")
async def patient(request: Request, base: BaseUrl,
                  pid: Annotated[str, Path(pattern=f"^{ID_PATTERN}$")],
                  cursor: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    """One person's summary (still valid? CPR and warnings first) and the history of
    changes to their whole record, newest first, a page at a time."""
    session = signed_in_or_redirect(request, base)
    if isinstance(session, Response):
        return session
    async with api_client(request, base, session.token) as api:
        wishes = await api.get(f"/Patient/{pid}/$wishes")
        if wishes.status_code != 200:
            return refused_page(request, session, wishes)
        history = await api.get("/Provenance", params={
            "patient": f"Patient/{pid}", "_sort": "-recorded", "_count": str(HISTORY_PAGE),
            "_include": "Provenance:target", **({"_cursor": cursor} if cursor else {})})
    try:
        summary = summary_of(wishes.json())
    except NotADocument:
        return console_page(request, "console_message.html", 502, session, title="No summary",
                     text="The server's answer was not a summary document.")
    found = history_of(history.json()) if history.status_code == 200 else None
    return console_page(request, "console_patient.html", session=session, summary=summary,
                        validity=validity_of(summary), history=found, pid=pid,
                        older=cursor is not None)


@router.get(PATH + "/static/{name}")
async def asset(name: Annotated[str, Path(max_length=64)]) -> Response:
    if name not in ASSETS:
        return Response("not found", 404, media_type="text/plain")
    text, media_type = ASSETS[name]
    return Response(text, media_type=media_type, headers={"cache-control": "no-cache"})

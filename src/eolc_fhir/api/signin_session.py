"""The sign-in session's cookies, set the same way by the local and the external sign-in."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from eolc_fhir.security.sessions import SESSION_COOKIE, cookie_attributes, new_session
from eolc_fhir.security.state import SecurityState
from eolc_fhir.security.users import Person, person_json

__all__ = ["cookie", "signed_in"]


def cookie(request: Request, state: SecurityState) -> dict[str, object]:
    return cookie_attributes(state.settings, request.url.scheme)


def signed_in(request: Request, state: SecurityState, person: Person, target: str,
              signed_in_at: int | None = None) -> Response:
    """Redirect to ``target`` (the app, with its code) and (re)start the person's session."""
    response = RedirectResponse(target, 303)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(SESSION_COOKIE, new_session(state.tokens, person_json(person),
                                                    signed_in_at),
                        max_age=state.settings.session_idle_seconds,
                        **cookie(request, state))  # type: ignore[arg-type]
    return response

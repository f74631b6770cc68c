"""The console's own cookies: the sign-in flow in progress, and the person's session.

Both are JWTs signed with the server's key (any replica verifies them, nothing is
stored). The flow cookie holds the state and the PKCE verifier between the
redirect to ``/auth/authorize`` and ``/console/callback`` (SameSite=Lax, ten
minutes). The session cookie holds the person's access token (SameSite=Strict,
HttpOnly, Secure behind TLS); unused for ``EOLC_SESSION_IDLE_SECONDS`` it is
over, and it never outlives the token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.responses import Response

from eolc_fhir.security.sessions import cookie_attributes
from eolc_fhir.security.state import SecurityState

__all__ = ["FLOW_COOKIE", "SESSION", "Flow", "new_flow", "read_flow", "Session",
           "read_session", "keep_session", "end_session", "PATH"]

PATH = "/console"
FLOW_COOKIE = "eolc_console_flow"
SESSION = "eolc_console"
_FLOW_KIND, _SESSION_KIND = "eolc-console-flow", "eolc-console-session"
_FLOW_SECONDS = 600


@dataclass(frozen=True)
class Flow:
    state: str
    verifier: str
    next: str

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Session:
    token: str
    username: str
    role: str
    expires: int


def _number(claims: dict[str, object], name: str) -> int:
    value = claims.get(name)
    return value if isinstance(value, int) else 0


def _attributes(request: Request, state: SecurityState, samesite: str) -> dict[str, Any]:
    attrs = cookie_attributes(state.settings, request.url.scheme)
    return {**attrs, "samesite": samesite, "path": PATH}


def new_flow(request: Request, state: SecurityState, response: Response, nxt: str) -> Flow:
    """A new state and verifier, kept in the flow cookie on ``response``."""
    flow = Flow(secrets.token_urlsafe(24), secrets.token_urlsafe(48), nxt)
    signed = state.tokens.sign({"kind": _FLOW_KIND, "state": flow.state,
                                "verifier": flow.verifier, "next": nxt,
                                "iat": int(time.time())})
    response.set_cookie(FLOW_COOKIE, signed, max_age=_FLOW_SECONDS,
                        **_attributes(request, state, "lax"))
    return flow


def read_flow(request: Request, state: SecurityState) -> Flow | None:
    claims = state.tokens.signed_claims(request.cookies.get(FLOW_COOKIE) or "")
    if claims is None or claims.get("kind") != _FLOW_KIND:
        return None
    if time.time() - _number(claims, "iat") > _FLOW_SECONDS:
        return None
    return Flow(str(claims["state"]), str(claims["verifier"]), str(claims["next"]))


def read_session(request: Request, state: SecurityState) -> Session | None:
    """The live session of this browser, or None (absent, forged, idle or expired)."""
    cookie = request.cookies.get(SESSION)
    claims = state.tokens.signed_claims(cookie) if cookie else None
    if claims is None or claims.get("kind") != _SESSION_KIND:
        return None
    now = time.time()
    if now - _number(claims, "last_use") > state.settings.session_idle_seconds or \
            now >= _number(claims, "token_exp"):
        return None
    return Session(str(claims["token"]), str(claims.get("username", "")),
                   str(claims.get("role", "")), _number(claims, "token_exp"))


def keep_session(request: Request, state: SecurityState, response: Response,
                 session: Session) -> None:
    """(Re)sign the session with a new last-use time: the idle clock starts again."""
    signed = state.tokens.sign({"kind": _SESSION_KIND, "token": session.token,
                                "username": session.username, "role": session.role,
                                "token_exp": session.expires, "last_use": int(time.time())})
    response.set_cookie(SESSION, signed, max_age=state.settings.session_idle_seconds,
                        **_attributes(request, state, "strict"))


def end_session(request: Request, state: SecurityState, response: Response) -> None:
    response.delete_cookie(SESSION, **_attributes(request, state, "strict"))
    response.delete_cookie(FLOW_COOKIE, **_attributes(request, state, "lax"))

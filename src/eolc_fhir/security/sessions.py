"""The sign-in page's own session: a signed cookie that ends after inactivity.

The cookie holds a JWT signed with the server's key (any replica verifies it,
nothing is stored): who signed in, when, and when the session was last used.
Each use re-signs it with a new last-use time; a session unused for
``EOLC_SESSION_IDLE_SECONDS`` (or older than ``EOLC_SESSION_MAX_SECONDS``) is
over. A disabled account's session is refused where it is used (the account is
read again then).
"""

from __future__ import annotations

import hmac
import secrets
import time

from eolc_fhir.config import Settings
from eolc_fhir.security.tokens import TokenService

__all__ = ["SESSION_COOKIE", "CSRF_COOKIE", "new_session", "session_user", "new_csrf",
           "csrf_matches", "cookie_attributes"]

SESSION_COOKIE = "eolc_session"
CSRF_COOKIE = "eolc_csrf"
_KIND = "eolc-signin-session"


def new_session(tokens: TokenService, person: str, signed_in: int | None = None) -> str:
    """A session of ``person`` (users.person_json: a local account is read again at each
    use, a person from an external provider is kept as it signed in)."""
    now = int(time.time())
    return tokens.sign({"kind": _KIND, "sub": person, "auth_time": signed_in or now,
                        "last_use": now})


def session_user(tokens: TokenService, settings: Settings,
                 cookie: str | None) -> tuple[str, int] | None:
    """(the person as JSON, sign-in time) of a live session, or None."""
    if not cookie:
        return None
    claims = tokens.signed_claims(cookie)
    if claims is None or claims.get("kind") != _KIND:
        return None
    user, signed_in, last_use = claims.get("sub"), claims.get("auth_time"), claims.get("last_use")
    if not isinstance(user, str) or not isinstance(signed_in, int) or \
            not isinstance(last_use, int):
        return None
    now = time.time()
    if now - last_use > settings.session_idle_seconds or \
            now - signed_in > settings.session_max_seconds:
        return None
    return user, signed_in


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(cookie: str | None, field: str | None) -> bool:
    """Double submit: the form's token must be the one in our SameSite=Strict cookie."""
    return bool(cookie and field) and hmac.compare_digest(str(cookie), str(field))


def cookie_attributes(settings: Settings, scheme: str) -> dict[str, object]:
    """HttpOnly, SameSite=Strict, path /; Secure behind TLS (the request's scheme or
    EOLC_BASE_URL says https)."""
    secure = scheme == "https" or (settings.base_url or "").startswith("https://")
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/"}

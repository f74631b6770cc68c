"""The authorization code flow with PKCE (SMART App Launch v2): requests, codes, tokens.

``check_request`` reads an authorization request: an unknown client or a
redirect URI not registered exactly is ``NoRedirect`` (shown on our own page,
never sent anywhere); anything else wrong is an ``OAuthError`` the app is told
about at its redirect URI. ``issue_code`` stores a one-time code for a signed-in
person; ``grant_code`` (POST /auth/token, grant_type=authorization_code) redeems
it with the PKCE verifier for an access token, an id_token and the scopes granted:
those asked for that both the app and the person's role allow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from eolc_fhir.fhir.instant import now_us
from eolc_fhir.security.oauth import OAuthError
from eolc_fhir.security.roles import default_scopes
from eolc_fhir.security.scopes import ScopeError, narrow, parse_scopes, split_identity
from eolc_fhir.security.state import SecurityState
from eolc_fhir.security.users import Person, person_from_json, person_json, person_of
from eolc_fhir.storage.people_repo import AuthCodeRecord
from eolc_fhir.storage.security_repo import ClientRecord

__all__ = ["App", "AuthRequest", "NoRedirect", "check_request", "issue_code", "grant_code",
           "error_redirect", "REQUEST_FIELDS"]

REQUEST_FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state",
                  "code_challenge", "code_challenge_method", "aud", "nonce")
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256, unpadded
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 section 4.1
# Scopes of SMART App Launch this server does not act on; asked for, they are left out.
_IGNORED = re.compile(r"^(launch(/\w+)?|offline_access|online_access|profile|email)$")


App = ClientRecord  # a registered app, for the layer above (which never imports storage/)


class NoRedirect(Exception):
    """An authorization request that cannot be answered at its redirect URI."""


@dataclass(frozen=True)
class AuthRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str
    code_challenge: str
    nonce: str | None
    aud: str

    def fields(self) -> dict[str, str]:
        """The request again, for the sign-in form's hidden fields."""
        fields = {"response_type": "code", "client_id": self.client_id,
                  "redirect_uri": self.redirect_uri, "scope": self.scope, "state": self.state,
                  "code_challenge": self.code_challenge, "code_challenge_method": "S256",
                  "aud": self.aud}
        if self.nonce:
            fields["nonce"] = self.nonce
        return fields


def error_redirect(redirect_uri: str, error: OAuthError, state: str) -> str:
    query = {"error": error.error, "error_description": error.description}
    if state:
        query["state"] = state
    return _with_query(redirect_uri, query)


def _with_query(uri: str, query: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(query)


async def check_request(state: SecurityState, form: Mapping[str, str],
                        base: str) -> tuple[ClientRecord, AuthRequest]:
    client_id, redirect_uri = form.get("client_id", ""), form.get("redirect_uri", "")
    client = await state.find_client(client_id) if client_id else None
    if client is None or not client.redirects:
        raise NoRedirect("unknown client_id, or a client that signs no one in")
    if redirect_uri not in client.redirects:
        raise NoRedirect("redirect_uri is not one this app registered (exact match)")
    if form.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "response_type must be code")
    if form.get("code_challenge_method") != "S256" or \
            not _CHALLENGE.match(form.get("code_challenge", "")):
        raise OAuthError("invalid_request", "PKCE is required: code_challenge_method S256 "
                         "and a code_challenge (43 characters)")
    if form.get("aud", "").rstrip("/") != base:
        raise OAuthError("invalid_request", f"aud must be this FHIR server's base URL {base}")
    if not form.get("state"):
        raise OAuthError("invalid_request", "state is missing")
    _requested_scopes(form.get("scope", ""))  # refused now, before anyone signs in
    return client, AuthRequest(client_id, redirect_uri, form.get("scope", ""), form["state"],
                               form["code_challenge"], form.get("nonce") or None, base)


def _requested_scopes(text: str) -> tuple[list[str], str]:
    identity, rest = split_identity(text)
    kept = " ".join(s for s in rest.split() if not _IGNORED.match(s))
    try:
        parse_scopes(kept, context="user")
    except ScopeError as exc:
        raise OAuthError("invalid_scope", f"{exc} (people are granted user/ scopes)") from None
    return identity, kept


def granted_scopes(client: ClientRecord, person: Person, requested: str) -> str:
    """What the person's token may do: asked for, and allowed to both app and role."""
    identity, kept = _requested_scopes(requested)
    wanted = parse_scopes(kept, context="user")
    by_app = narrow(wanted, parse_scopes(client.scopes, context=None))
    granted = narrow(by_app, parse_scopes(default_scopes(person.role)))
    return " ".join((*identity, str(granted))).strip()


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def issue_code(state: SecurityState, client: ClientRecord, request: AuthRequest,
                     person: Person) -> str:
    """The redirect that gives the app a fresh one-time code (or says access_denied)."""
    scope = granted_scopes(client, person, request.scope)
    if not scope:  # (identity alone is a sign-in: another server's, for instance)
        return error_redirect(request.redirect_uri, OAuthError(
            "access_denied", "your role allows none of the scopes this app asked for"),
            request.state)
    code = secrets.token_urlsafe(32)
    now = now_us()
    record = AuthCodeRecord(_hash(code), client.client_id, person.username,
                            person_json(person), request.redirect_uri, scope,
                            request.code_challenge, request.nonce,
                            now + state.settings.auth_code_seconds * 1_000_000)
    async with state.db.unit_of_work(write=True) as uow:
        await uow.people.add_code(record, now)
    return _with_query(request.redirect_uri, {"code": code, "state": request.state})


def _invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


async def _redeem(state: SecurityState, form: Mapping[str, str]) -> AuthCodeRecord:
    code, verifier = form.get("code", ""), form.get("code_verifier", "")
    if not code or not _VERIFIER.match(verifier):
        raise OAuthError("invalid_request", "code and code_verifier (43-128 characters) "
                         "are required")
    async with state.db.unit_of_work(write=True) as uow:
        record = await uow.people.take_code(_hash(code))
    if record is None or record.expires_us <= now_us():
        raise _invalid_grant("the code is unknown, expired or already used")
    if record.client_id != form.get("client_id") or \
            record.redirect_uri != form.get("redirect_uri"):
        raise _invalid_grant("client_id and redirect_uri must be those of the request")
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    if not hmac.compare_digest(digest.rstrip(b"=").decode(), record.code_challenge):
        raise _invalid_grant("the code_verifier does not match the code_challenge")
    return record


async def grant_code(state: SecurityState, form: Mapping[str, str], base: str,
                     authenticate: Any) -> dict[str, Any]:
    """The token response for an authorization code; ``authenticate(client)`` checks a
    confidential app's own client authentication (public apps have PKCE alone)."""
    record = await _redeem(state, form)
    client = await state.find_client(record.client_id)
    if client is None:
        raise _invalid_grant("the app is no longer registered")
    if not client.public:
        await authenticate(client)
    person = await _still_active(state, person_from_json(record.person))
    identity, rest = split_identity(record.scope)
    grants = parse_scopes(rest, context="user")
    fhir_user = person.fhir_user(base)
    answer: dict[str, Any] = {
        "access_token": state.tokens.issue(
            client_id=client.client_id, ods=person.ods, role=person.role, grants=grants,
            user=person.username, fhir_user=fhir_user, identity=tuple(identity)),
        "token_type": "bearer", "expires_in": state.tokens.lifetime, "scope": record.scope}
    if "openid" in identity:
        answer["id_token"] = _id_token(state, record, person, fhir_user, base)
    return answer


async def _still_active(state: SecurityState, person: Person) -> Person:
    """A local account is read again (it may have been disabled since sign-in); a person
    from the external provider is as the provider said, moments ago."""
    if not person.local:
        return person
    async with state.db.unit_of_work(write=False) as uow:
        user = await uow.people.get_user(person.username)
    if user is None or user.disabled:
        raise _invalid_grant("the account is no longer active")
    return person_of(user)


def _id_token(state: SecurityState, record: AuthCodeRecord, person: Person, fhir_user: str,
              base: str) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": base, "sub": person.username, "aud": record.client_id, "iat": now,
        "exp": now + state.tokens.lifetime, "fhirUser": fhir_user,
        "role": person.role, "ods": person.ods}
    if record.nonce:
        claims["nonce"] = record.nonce
    return state.tokens.sign(claims)

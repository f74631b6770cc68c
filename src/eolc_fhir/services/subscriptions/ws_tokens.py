"""``$get-ws-binding-token`` and redeeming its tokens at ``bind-with-token``.

A token binds Subscriptions whose channel is ``websocket``, that the caller may
read (its own; admin any), to the principal that asked. It is valid until its
``expiration`` (at most ``EOLC_WEBSOCKET_TOKEN_SECONDS``, never past the access
token's own expiry) and may be bound once. With authentication on it is a
signed token (security/ws_binding.py) that any process sharing the database
accepts, its one use recorded in the database; with ``--insecure-dev`` it is a
random string that only the process that issued it knows.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from eolc_fhir.fhir.errors import Forbidden, InvalidRequest, NotFound, ProfileViolation
from eolc_fhir.fhir.instant import to_instant
from eolc_fhir.security.enforce import check_visible
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.tokens import InvalidToken
from eolc_fhir.security.visibility import hidden
from eolc_fhir.security.ws_binding import Binding, issue_binding, read_binding
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.subscriptions.live import hub_of
from eolc_fhir.services.subscriptions.outbox import WS_PATH, SubscriptionEngine, websocket_url
from eolc_fhir.storage.subscription_repo import LIVE, StateRow
from eolc_fhir.subscriptions.spec import WEBSOCKET

__all__ = ["get_ws_binding_token", "redeem", "websocket_url", "WS_PATH", "InvalidToken"]



def _is_websocket(ctx: ServerContext, row: StateRow) -> bool:
    engine: SubscriptionEngine = ctx.subscriptions
    return engine.spec(row.sub_id, row.spec).channel == WEBSOCKET


async def _mine(ctx: ServerContext, principal: Principal | None, rows: list[StateRow]
                ) -> list[StateRow]:
    """The rows of Subscriptions this principal may see (its own; admin all)."""
    if principal is None or principal.is_admin or ctx.security is None:
        return rows
    origins = await ctx.security.origins([("Subscription", r.sub_id) for r in rows])
    return [r for r in rows if not hidden(principal, "Subscription",
                                          origins.get(("Subscription", r.sub_id)), frozenset())]


async def _chosen(ctx: ServerContext, principal: Principal | None,
                  ids: list[str] | None) -> list[StateRow]:
    async with ctx.db.unit_of_work(write=False) as uow:
        rows = await uow.subscriptions.list(ids)
    if ids is None:  # the caller's every live websocket Subscription, as the IG allows
        rows = [r for r in await _mine(ctx, principal, rows)
                if r.status in LIVE and _is_websocket(ctx, r)]
        if not rows:
            raise NotFound("this client has no live Subscription with a websocket channel")
        return rows
    found = {r.sub_id: r for r in rows}
    for sub_id in ids:
        if sub_id not in found:
            raise NotFound(f"Subscription/{sub_id} is not known")
        if ctx.security is not None:
            await check_visible(ctx.security, principal, "Subscription", sub_id)
        row = found[sub_id]
        if not _is_websocket(ctx, row):
            raise ProfileViolation(f"Subscription/{sub_id} has no websocket channel",
                                   code="business-rule", expression="id")
        if row.status not in LIVE:
            raise ProfileViolation(f"Subscription/{sub_id} is {row.status}",
                                   code="business-rule", expression="id")
    return [found[i] for i in dict.fromkeys(ids)]


def _expiry(ctx: ServerContext, principal: Principal | None) -> int:
    until = int(time.time()) + ctx.settings.websocket_token_seconds
    return until if principal is None else min(until, int(principal.expires_at))


async def get_ws_binding_token(ctx: ServerContext, base: str, principal: Principal | None,
                               ids: list[str] | None) -> bytes:
    """The operation's Parameters: token, expiration, subscription(s), websocket-url."""
    rows = await _chosen(ctx, principal, ids)
    subs = [r.sub_id for r in rows]
    expires = _expiry(ctx, principal)
    if ctx.security is not None and principal is not None:
        token, _ = issue_binding(ctx.security.tokens.keys, principal, subs, expires)
    else:
        token = secrets.token_urlsafe(32)
        dev = _dev_tokens(ctx)
        dev[token] = Binding(tuple(subs), None, float(expires), token)
    params: list[dict[str, Any]] = [
        {"name": "token", "valueString": token},
        {"name": "expiration", "valueDateTime": to_instant(expires * 1_000_000)},
        *({"name": "subscription", "valueString": f"Subscription/{s}"} for s in subs),
        {"name": "websocket-url", "valueUrl": websocket_url(base)},
    ]
    return orjson.dumps({"resourceType": "Parameters", "parameter": params})


def _dev_tokens(ctx: ServerContext) -> dict[str, Binding]:
    """--insecure-dev: this process's unused tokens (kept by its hub), expired ones gone."""
    tokens = hub_of(ctx).dev_tokens
    now = time.time()
    for key in [k for k, b in tokens.items() if b.expires_at <= now]:
        del tokens[key]
    return tokens


async def _read(ctx: ServerContext, token: str) -> Binding:
    if ctx.security is None:
        found = _dev_tokens(ctx).pop(token, None)
        if found is None:
            raise InvalidToken("the binding token is unknown, expired or already used")
        return found
    binding = read_binding(ctx.security.tokens.keys, token)
    client = binding.principal.client_id if binding.principal else "-"
    # Beside the client's assertion jtis: a binding token's jti starts "ws-".
    if not await ctx.security.use_jti(client, binding.jti, int(binding.expires_at)):
        raise InvalidToken("the binding token was already used")
    return binding


async def redeem(ctx: ServerContext, token: str) -> tuple[Binding, list[StateRow]]:
    """Check a token at ``bind-with-token`` and use it up; the binding and the state of
    each of its Subscriptions. InvalidToken, or a FhirError when a Subscription is gone,
    no longer live or no longer the principal's."""
    if not token or len(token) > 8192:
        raise InvalidToken("bind-with-token needs a token from $get-ws-binding-token")
    binding = await _read(ctx, token)
    try:
        rows = await _chosen(ctx, binding.principal, list(binding.subscriptions))
    except Forbidden:
        raise Forbidden("a Subscription of this token is no longer this client's") from None
    except (NotFound, ProfileViolation, InvalidRequest) as exc:
        raise InvalidToken(f"cannot bind: {exc}") from None
    return binding, rows


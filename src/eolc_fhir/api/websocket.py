"""The websocket channel's endpoint: ``/ws``, where clients ``bind-with-token``.

Messages from the client are text: ``bind-with-token <token>`` (a token from
``$get-ws-binding-token``; again on the same socket before it expires, to keep
the binding). The server sends notification Bundles (``handshake`` per bound
Subscription, then ``event-notification`` and ``heartbeat``) as JSON text, and
an OperationOutcome before it closes a socket (1008) for a token that is
unknown, expired, used or not the Subscriptions' owner's. Nothing is sent to a
socket that has not bound. Every bind, accepted or refused, is audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from eolc_fhir.fhir.errors import FhirError, Issue
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.fhir.outcome import operation_outcome
from eolc_fhir.security.audit import AuditRecord
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.subscriptions.live import CLOSE_POLICY, LiveSocket, hub_of
from eolc_fhir.services.subscriptions.ws_tokens import WS_PATH, InvalidToken, redeem

__all__ = ["router"]

log = logging.getLogger("eolc_fhir.access")
router = APIRouter()
_BIND = "bind-with-token"


@router.websocket(WS_PATH)
async def websocket_channel(websocket: WebSocket) -> None:
    ctx: ServerContext = websocket.app.state.ctx
    await websocket.accept()
    hub = hub_of(ctx)
    socket = await hub.connect()
    pump = asyncio.create_task(_pump(websocket, socket), name="eolc-websocket-send")
    try:
        while socket.close is None:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
            await _handle(ctx, websocket, socket, text.strip())
        await pump  # what the hub queued last, then its close
    except WebSocketDisconnect:
        pass
    finally:
        hub.disconnect(socket)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump


async def _pump(websocket: WebSocket, socket: LiveSocket) -> None:
    """Send what the hub queued, in order; close once it says so."""
    while True:
        text = await socket.queue.get()
        if text is None:
            code, reason = socket.close or (1000, "")
            with contextlib.suppress(Exception):
                await websocket.close(code, reason[:120])
            return
        await websocket.send_text(text)


async def _handle(ctx: ServerContext, websocket: WebSocket, socket: LiveSocket,
                  text: str) -> None:
    command, _, token = text.partition(" ")
    if command != _BIND:
        socket.send(_outcome(f"unknown message '{command[:40]}': send "
                             f"'{_BIND} <token>'", "not-supported"))
        return
    try:
        binding, rows = await redeem(ctx, token.strip())
    except (InvalidToken, FhirError) as exc:
        status = exc.status if isinstance(exc, FhirError) else 401
        await _audit(ctx, websocket, None, [], status, str(exc))
        socket.send(_outcome(str(exc), "security"))
        socket.end(CLOSE_POLICY, str(exc))
        return
    try:  # durable before anything is sent, as for every other answer
        await _audit(ctx, websocket, binding.principal, [r.sub_id for r in rows], 200, None)
    except Exception as exc:
        log.error("websocket bind not audited (%s): refused", type(exc).__name__)
        socket.send(_outcome("the audit trail cannot be written now: bind again later",
                             "transient"))
        socket.end(1011, "audit trail unavailable")
        return
    hub_of(ctx).bind(socket, rows, binding.expires_at, binding.principal)


def _outcome(text: str, code: str) -> str:
    return orjson.dumps(operation_outcome([Issue("error", code, text, ())])).decode()


async def _audit(ctx: ServerContext, websocket: WebSocket, principal: object,
                 subs: list[str], status: int, detail: str | None) -> None:
    """One audit record per bind: who bound which Subscriptions, or why it was refused."""
    writer = ctx.audit_trail
    client = websocket.client
    log.info("websocket bind client=%s subscriptions=%s status=%d",
             getattr(principal, "client_id", "-"), ",".join(subs) or "-", status)
    if writer is None:
        return
    await writer.write(AuditRecord(
        interaction="operation", recorded_us=now_us(), status=status,
        client_id=getattr(principal, "client_id", None), ods=getattr(principal, "ods", None),
        role=getattr(principal, "role", None), user_id=getattr(principal, "user_id", None),
        request_id=uuid.uuid4().hex, remote=client.host if client else None,
        resources=[f"Subscription/{s}" for s in subs], query=_BIND, detail=detail))

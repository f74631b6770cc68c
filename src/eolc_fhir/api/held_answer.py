"""A JSON answer held until its last byte, so that an outer layer can send it in another form.

The XML and HTML layers both let the routes answer in FHIR JSON and rewrite the whole
answer at the end; each subclass says how in ``_flush``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HeldJsonAnswer", "JSON_ANSWERS"]

JSON_ANSWERS = (b"application/fhir+json", b"application/json")


class HeldJsonAnswer:
    """Passes non-JSON answers through; holds a JSON one (``start``, ``chunks``) to rewrite."""

    def __init__(self, send: Any) -> None:
        self.downstream = send
        self.start: dict[str, Any] | None = None
        self.chunks: list[bytes] = []

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            ctype = dict(message.get("headers", [])).get(b"content-type", b"")
            if ctype.startswith(JSON_ANSWERS):
                self.start = message
                return
        if self.start is None:
            await self.downstream(message)
            return
        self.chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            await self._flush()

    async def _flush(self) -> None:
        raise NotImplementedError

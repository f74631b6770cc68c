"""Write-only Subscription values: the HMAC secret and the channel header values (pure).

What a client writes there never comes back: the stored Subscription (and so every
read, search, history entry, notification) carries ``MASK`` in their place; the real
values live only in the server's delivery state. An update that sends ``MASK`` back
keeps the value stored before (a header by its name, the secret as is).
"""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.subscriptions.spec import SECRET_EXT, SubscriptionSpec

__all__ = ["MASK", "mask", "unmask"]

MASK = "******"


def _header_name(line: str) -> str:
    return line.partition(":")[0].strip().lower()


def _secret_exts(resource: dict[str, Any]) -> list[dict[str, Any]]:
    channel = resource.get("channel")
    if not isinstance(channel, dict):
        return []
    return [e for e in channel.get("extension") or ()
            if isinstance(e, dict) and e.get("url") == SECRET_EXT]


def mask(resource: dict[str, Any]) -> None:
    """Replace the secret and every header value by ``MASK``, in place."""
    for ext in _secret_exts(resource):
        if "valueString" in ext:
            ext["valueString"] = MASK
    channel = resource.get("channel")
    if isinstance(channel, dict) and isinstance(channel.get("header"), list):
        channel["header"] = [f"{h.partition(':')[0].strip()}: {MASK}" if isinstance(h, str)
                             else h for h in channel["header"]]


def unmask(resource: dict[str, Any], previous: SubscriptionSpec | None) -> None:
    """Put the stored values back where an update sent ``MASK``; 400 if there are none."""
    for ext in _secret_exts(resource):
        if ext.get("valueString") == MASK:
            if previous is None or previous.secret is None:
                raise InvalidRequest("the masked secret can only be sent back to keep a stored "
                                     "one; this Subscription has none",
                                     expression="Subscription.channel.extension")
            ext["valueString"] = previous.secret
    channel = resource.get("channel")
    if not isinstance(channel, dict) or not isinstance(channel.get("header"), list):
        return
    stored = {_header_name(h): h for h in (previous.headers if previous else ())}
    headers: list[Any] = []
    for line in channel["header"]:
        if isinstance(line, str) and line.partition(":")[2].strip() == MASK:
            kept = stored.get(_header_name(line))
            if kept is None:
                raise InvalidRequest(f"header '{_header_name(line)}' is masked but no value "
                                     "is stored for it", expression="Subscription.channel.header")
            line = kept
        headers.append(line)
    channel["header"] = headers

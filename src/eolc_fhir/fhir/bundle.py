"""Assemble Bundles around stored resource bytes without re-parsing them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from eolc_fhir.fhir.instant import now_us, to_instant

__all__ = ["BundleEntry", "assemble_bundle"]


@dataclass
class BundleEntry:
    """One entry: its JSON fields plus, optionally, the stored bytes of its resource."""

    fields: dict[str, Any] = field(default_factory=dict)
    resource: bytes | None = None
    outcome: bytes | None = None  # response.outcome as bytes (batch errors)


def _entry_bytes(entry: BundleEntry) -> bytes:
    fields = dict(entry.fields)
    head = orjson.dumps(fields)
    if entry.resource is None:
        return head
    # head is a JSON object: splice the resource in before its closing brace.
    sep = b"," if len(head) > 2 else b""
    return head[:-1] + sep + b'"resource":' + entry.resource + b"}"


def assemble_bundle(
    bundle_type: str,
    entries: Iterable[BundleEntry],
    *,
    total: int | None = None,
    links: Iterable[tuple[str, str]] = (),
    extra: dict[str, Any] | None = None,
) -> bytes:
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": to_instant(now_us())},
        "type": bundle_type,
    }
    if extra:
        head.update(extra)
    if total is not None:
        head["total"] = total
    link_list = [{"relation": rel, "url": url} for rel, url in links]
    if link_list:
        head["link"] = link_list
    parts = [_entry_bytes(e) for e in entries]
    body = orjson.dumps(head)
    if not parts:
        return body
    return body[:-1] + b',"entry":[' + b",".join(parts) + b"]}"

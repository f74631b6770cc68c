"""The $wishes documents built most recently, kept for the next crew who asks."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

__all__ = ["WishesAnswer", "KeptDocument", "DocumentCache", "Key", "etags", "footprint"]


@dataclass
class WishesAnswer:
    """200 with ``body``, or 304 (body None) when If-None-Match named ``etag``."""

    status: int
    etag: str
    patient_ids: list[str]
    body: bytes | None = None
    warnings: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)  # Type/id/_history/v read (the audit)


Key = tuple[str, ...]  # ("nhs-number" | "id", value, base URL[, viewer])


@dataclass
class KeptDocument:
    """A built document, and the change token it was last known current at."""

    token: tuple[int, ...] | None
    day: str
    etag: str
    body: bytes
    codes: tuple[str, ...]
    ids: list[str]
    resources: list[str] = field(default_factory=list)
    # Not SHARED: the document of a person who withdrew consent, as one viewer sees it. It is
    # kept under (key, viewer); under the key itself only a marker saying "ask per viewer".
    view: str = ""

    def answer(self, if_none_match: str | None) -> WishesAnswer:
        if if_none_match is not None and self.etag in etags(if_none_match):
            return WishesAnswer(304, self.etag, list(self.ids), resources=self.resources)
        return WishesAnswer(200, self.etag, list(self.ids), self.body, list(self.codes),
                            self.resources)


class DocumentCache:
    """The documents asked for most recently, by (how the person was named, base URL).

    Bounded by the total size of the documents (``EOLC_WISHES_CACHE_MB``). An entry is
    served without reading only while the database's change token is the one it was
    checked at (nothing committed since); otherwise the person's record is read
    again and the entry is served only if the ETag (every version read, and the day)
    is unchanged.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Key, KeptDocument] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> KeptDocument | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def get_for(self, key: Key, viewer: str) -> KeptDocument | None:
        """The document kept for ``key`` as ``viewer`` sees it (see ``KeptDocument.view``)."""
        found = self.get(key)
        return found if found is None or not found.view else self.get((*key, viewer))

    def put_for(self, key: Key, document: KeptDocument) -> None:
        """Keep a document: shared under ``key``, or for its viewer beside a marker."""
        if document.view:
            self.put(key, KeptDocument(None, document.day, "", b"", (), [], view="*"))
            key = (*key, document.view)
        self.put(key, document)

    def put(self, key: Key, document: KeptDocument) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= footprint(old)
        size = footprint(document)
        if size > self.max_bytes:
            return
        self._entries[key] = document
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.bytes -= footprint(dropped)


_PER_REFERENCE = 64  # a str object and its place in the list, beyond its characters


def footprint(document: KeptDocument) -> int:
    """The memory a kept document holds, as counted against ``EOLC_WISHES_CACHE_MB``: its
    body and the references it read (kept for the audit). A person with hundreds of
    register entries has a list of hundreds beside the body."""
    return len(document.body) + sum(len(r) + _PER_REFERENCE for r in document.resources)


def etags(header: str) -> set[str]:
    tags = {t.strip() for t in header.split(",")}
    return tags | {f"W/{t}" for t in tags if not t.startswith("W/")}

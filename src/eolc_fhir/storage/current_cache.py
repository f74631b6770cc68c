"""PostgreSQL: the current versions read most recently, served while nothing changed.

A read by id on PostgreSQL is a round trip to the server for every request; on
SQLite it is a lookup on the event loop that costs a few microseconds, so only
PostgreSQL keeps this cache. An entry is served only while the database's
fenced change token is the one read *before* the entry was fetched: no
resource write committed anywhere since (migration 0002's notifications, this
process's own commits, and migration 0004's sequence that every process
advances before answering a write, read once for all the requests that asked
meanwhile: storage/fence.py). Any write, to any resource, makes every entry
stale at once, so under writes this costs one shared round trip and saves
none; under reads alone the concurrent requests share one round trip instead
of making one each. The same rule keeps the $wishes documents
(services/wishes/document.py).

Bounded by the total size of the bytes kept (``EOLC_READ_CACHE_MB``); the
least recently read go first.
"""

from __future__ import annotations

from collections import OrderedDict

from eolc_fhir.storage.model import StoredResource

__all__ = ["CurrentCache"]

Token = tuple[int, ...]
_OVERHEAD = 200  # bytes an entry costs beyond its content: key, object, links


class CurrentCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple[str, str], tuple[Token, StoredResource | None]] = \
            OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[str, str], token: Token) -> tuple[bool, StoredResource | None]:
        """(found, the resource or None when it did not exist) as of ``token``."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != token:
            return False, None
        self._entries.move_to_end(key)
        return True, entry[1]

    def put(self, key: tuple[str, str], token: Token, stored: StoredResource | None) -> None:
        """Keep what was read after ``token`` was."""
        if self.max_bytes <= 0:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= _size(old[1])
        size = _size(stored)
        if size > self.max_bytes:
            return
        self._entries[key] = (token, stored)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _key, (_token, dropped) = self._entries.popitem(last=False)
            self.bytes -= _size(dropped)


def _size(stored: StoredResource | None) -> int:
    content = stored.content if stored is not None else None
    return _OVERHEAD + (len(content) if content is not None else 0)

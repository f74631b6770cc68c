"""PostgreSQL's cache of current versions: served only at the token it was read at, bounded
by the bytes it keeps (storage/current_cache.py)."""

from __future__ import annotations

from eolc_fhir.storage.current_cache import CurrentCache
from eolc_fhir.storage.model import StoredResource


def _flag(fid: str, size: int = 1000, version: int = 1) -> StoredResource:
    return StoredResource("Flag", fid, version, 1, False, b"x" * size)


def test_an_entry_is_served_only_at_the_token_it_was_read_at() -> None:
    cache = CurrentCache(1 << 20)
    cache.put(("Flag", "a"), (7, 1), _flag("a"))
    cache.put(("Flag", "gone"), (7, 1), None)  # read and absent: as good an answer
    assert cache.get(("Flag", "a"), (7, 1)) == (True, _flag("a"))
    assert cache.get(("Flag", "gone"), (7, 1)) == (True, None)
    assert cache.get(("Flag", "a"), (7, 2)) == (False, None)  # something committed since
    assert cache.get(("Flag", "b"), (7, 1)) == (False, None)
    cache.put(("Flag", "a"), (7, 2), _flag("a", version=2))
    assert cache.get(("Flag", "a"), (7, 2)) == (True, _flag("a", version=2))
    assert len(cache) == 2


def test_the_least_recently_read_go_first_past_the_bound() -> None:
    cache = CurrentCache(3 * 1200)  # three entries of 1,000 bytes and their overhead
    for fid in "abc":
        cache.put(("Flag", fid), (1,), _flag(fid))
    assert cache.get(("Flag", "a"), (1,))[0]  # read again: now the most recent
    cache.put(("Flag", "d"), (1,), _flag("d"))
    kept = [fid for fid in "abcd" if cache.get(("Flag", fid), (1,))[0]]
    assert kept == ["a", "c", "d"] and cache.bytes <= cache.max_bytes
    cache.put(("Flag", "huge"), (1,), _flag("huge", size=10_000))  # larger than it all
    assert not cache.get(("Flag", "huge"), (1,))[0] and len(cache) == 3
    cache.put(("Flag", "a"), (1,), _flag("a", size=10))  # replaced: its bytes counted once
    assert cache.bytes == 2 * 1200 + 210


def test_a_cache_of_no_bytes_keeps_nothing() -> None:
    cache = CurrentCache(0)
    cache.put(("Flag", "a"), (1,), _flag("a"))
    assert len(cache) == 0 and cache.get(("Flag", "a"), (1,)) == (False, None)

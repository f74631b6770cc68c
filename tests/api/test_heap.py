"""Large blocks are mapped on their own and go back to the system when freed (heap.py)."""

from __future__ import annotations

import os

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings
from eolc_fhir.heap import fix_mmap_threshold

_MIB = 1024 * 1024


def _resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_large_blocks_freed_between_blocks_in_use_leave_memory_at_once() -> None:
    assert fix_mmap_threshold(128), "the server's platform (Debian) has glibc"
    # Freeing a large mapped block is what raises glibc's own threshold: after it, blocks
    # of 200 kB would be carved from the heap, and freeing them between small blocks still
    # in use would give nothing back.
    big = b"\x01" * (8 * _MIB)
    del big
    blocks, pins = [], []
    for _ in range(100):
        blocks.append(b"\x01" * 200_000)  # written: resident
        pins.append(b"\x02" * 2_000)
    before = _resident()
    del blocks
    released = before - _resident()
    assert released > 15 * _MIB, f"released {released / _MIB:.1f} MiB"
    assert len(pins) == 100


def test_zero_leaves_glibc_its_own_threshold() -> None:
    assert not fix_mmap_threshold(0)


async def test_the_server_fixes_the_threshold_when_it_starts(migrated_url: str) -> None:
    for kib, fixed in ((128, True), (0, False)):
        app = create_app(Settings(database_url=migrated_url, insecure_dev=True,
                                  base_url="http://test", mmap_threshold_kb=kib))
        async with app.router.lifespan_context(app):
            assert app.state.mmap_threshold_fixed is fixed

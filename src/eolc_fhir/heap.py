"""Large blocks outside the C heap (glibc only), so that resident memory follows use.

glibc carves blocks from its heap up to a threshold and maps larger ones on their own,
unmapped again when freed. The threshold starts at 128 KiB but rises to the size of any
mapped block freed, so after a while the `$wishes` documents of people with many entries
(hundreds of KiB) are carved from the heap too. The cache replaces them with new versions
of other sizes all day, small objects settle in the holes they leave, and the heap's free
but resident part grew by 16 MB in the ten minutes after the cache was full
(docs/performance.md, "The soak's memory"); malloc_trim could not give it back, since
hardly any of it was whole free pages.
Fixing the threshold keeps such blocks mapped on their own: each one goes back to the
system when it is freed.
"""

from __future__ import annotations

import ctypes

__all__ = ["fix_mmap_threshold"]

_M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)


def fix_mmap_threshold(kib: int) -> bool:
    """Blocks of ``kib`` KiB or more are mapped on their own from now on, for good (glibc's
    ``mallopt(M_MMAP_THRESHOLD)``, which also stops the threshold rising). False when the
    C library is not glibc (musl, macOS) or refused the value."""
    if kib <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process already has
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, kib * 1024))

"""BatchedRead: concurrent callers share a read, but only one that began after they asked."""

from __future__ import annotations

import asyncio

import pytest

from eolc_fhir.storage.fence import BatchedRead


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_callers_share_reads_that_began_after_they_asked() -> None:
    value, reads, release = [0], [], asyncio.Event()

    async def read() -> int:
        reads.append(value[0])
        await release.wait()
        release.clear()
        return reads[-1]

    fenced = BatchedRead(read)
    first = asyncio.create_task(fenced())
    await settle()
    assert reads == [0]  # the first read is out
    value[0] = 1  # a write is answered; then three callers ask
    later = [asyncio.create_task(fenced()) for _ in range(3)]
    await settle()
    release.set()
    assert await first == 0
    await settle()
    assert reads == [0, 1]  # one more read for the three, begun after they asked
    release.set()
    assert await asyncio.gather(*later) == [1, 1, 1]


async def test_a_failed_read_fails_its_callers_only() -> None:
    outcomes = iter([RuntimeError("down"), 7])

    async def read() -> int:
        found = next(outcomes)
        if isinstance(found, Exception):
            raise found
        return found

    fenced = BatchedRead(read)
    with pytest.raises(RuntimeError):
        await fenced()
    assert await fenced() == 7

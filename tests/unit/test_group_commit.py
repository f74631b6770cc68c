"""GroupCommit: concurrent submissions share flushes; results and errors reach their item."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from eolc_fhir.services.subscriptions.group_commit import GroupCommit


class Flusher:
    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.groups.append(list(items))
        await self.gate.wait()
        return [ValueError(i) if i < 0 else i * 10 for i in items]


async def test_items_queued_during_a_flush_form_the_next_group_in_order() -> None:
    flusher = Flusher()
    commit: GroupCommit[int, int] = GroupCommit(flusher)
    commit.start()
    try:
        flusher.gate.clear()
        first = asyncio.ensure_future(commit.submit(0))
        await asyncio.sleep(0.01)  # the flush of [0] is under way, held at the gate
        rest = [asyncio.ensure_future(commit.submit(i)) for i in range(1, 50)]
        await asyncio.sleep(0.01)
        flusher.gate.set()
        assert await first == 0
        assert await asyncio.gather(*rest) == [i * 10 for i in range(1, 50)]
        assert flusher.groups == [[0], list(range(1, 50))]
        assert commit.groups == 2
    finally:
        await commit.stop()


async def test_an_error_for_one_item_reaches_that_item_only() -> None:
    commit: GroupCommit[int, int] = GroupCommit(Flusher())
    commit.start()
    try:
        results = await asyncio.gather(commit.submit(1), commit.submit(-1), commit.submit(2),
                                       return_exceptions=True)
        assert results[0] == 10 and results[2] == 20
        assert isinstance(results[1], ValueError)
    finally:
        await commit.stop()


async def test_a_failed_transaction_fails_every_item_of_its_group() -> None:
    async def broken(items: Sequence[int]) -> list[int | BaseException]:
        raise RuntimeError("database is locked")

    commit: GroupCommit[int, int] = GroupCommit(broken)
    commit.start()
    try:
        results = await asyncio.gather(*(commit.submit(i) for i in range(5)),
                                       return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        with pytest.raises(RuntimeError):  # and the flusher is still alive
            await commit.submit(7)
    finally:
        await commit.stop()


async def test_groups_are_capped() -> None:
    flusher = Flusher()
    commit: GroupCommit[int, int] = GroupCommit(flusher, max_group=4)
    commit.start()
    try:
        assert await asyncio.gather(*(commit.submit(i) for i in range(10))) == [
            i * 10 for i in range(10)]
        assert [len(g) for g in flusher.groups] == [4, 4, 2]
    finally:
        await commit.stop()

"""Group commit: many small writes from concurrent tasks in one transaction.

Each task ``await``s ``submit(item)``; one flusher task takes everything queued
so far, hands it to ``flush`` (which runs one transaction and returns one result
per item, or an exception for that item alone) and wakes the tasks once it has
returned. Items queued while a flush runs form the next group, so groups grow
with the load and a lone item waits for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")  # its result


class GroupCommit(Generic[I, R]):
    def __init__(self, flush: Callable[[Sequence[I]], Awaitable[Sequence[R | BaseException]]],
                 *, max_group: int = 1000) -> None:
        self._flush = flush
        self._max_group = max_group
        self._queue: list[tuple[I, asyncio.Future[R]]] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.groups = 0  # flushes so far (tests and logs)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="eolc-group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for _item, future in self._queue:
            future.cancel()
        self._queue = []

    async def submit(self, item: I) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._ready.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                group = self._queue[:self._max_group]
                del self._queue[:self._max_group]
                await self._one(group)

    async def _one(self, group: list[tuple[I, asyncio.Future[R]]]) -> None:
        live = [(item, future) for item, future in group if not future.done()]
        if not live:
            return
        try:
            results = await self._flush([item for item, _ in live])
        except asyncio.CancelledError:
            for _, future in live:
                future.cancel()
            raise
        except Exception as exc:  # the whole transaction failed: every item learns it
            results = [exc] * len(live)
        self.groups += 1
        for (_, future), result in zip(live, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

"""One read of a value for every caller that asked since the previous read began.

A caller must see a value read *after* it asked (a write answered before it
asked must count), so it cannot share a read already on its way. Callers that
ask while one read is out wait for the next, which starts as soon as that one
returns: under load one round trip serves a whole batch of callers, at the
cost of at most one extra round trip of waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["BatchedRead"]

T = TypeVar("T")


class BatchedRead(Generic[T]):
    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._waiting: asyncio.Future[T] | None = None  # served by the next read
        self._reading: asyncio.Task[None] | None = None

    async def __call__(self) -> T:
        loop = asyncio.get_running_loop()  # tests run several loops: keep to this one
        waiting = self._waiting
        if waiting is None or waiting.get_loop() is not loop:
            waiting = self._waiting = loop.create_future()
        reading = self._reading
        if reading is None or reading.done() or reading.get_loop() is not loop:
            self._reading = loop.create_task(self._read_while_asked())
        return await asyncio.shield(waiting)

    async def _read_while_asked(self) -> None:
        while self._waiting is not None:
            waiting, self._waiting = self._waiting, None  # this read starts after they asked
            try:
                waiting.set_result(await self._read())
            except Exception as exc:  # noqa: BLE001 - each waiting caller gets it
                waiting.set_exception(exc)

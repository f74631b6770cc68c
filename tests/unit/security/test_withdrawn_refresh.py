"""The withdrawn-consent set is read once however many requests find it expired."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any, cast

import pytest

from eolc_fhir.security.state import SecurityState


class _Consents:
    """A stand-in for the database: counts reads, each answers what ``now`` holds."""

    def __init__(self) -> None:
        self.now: set[str] = {"p1"}
        self.reads = 0
        self.gate = asyncio.Event()
        self.fail = False

    async def withdrawn_patients(self) -> set[str]:
        self.reads += 1
        answer = set(self.now)
        await self.gate.wait()
        if self.fail:
            raise ConnectionError("database gone")
        return answer

    @asynccontextmanager
    async def unit_of_work(self, write: bool = False) -> Any:
        yield SimpleNamespace(security=self)


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def _state(consents: _Consents) -> SecurityState:
    return SecurityState(settings=cast(Any, None), db=cast(Any, consents),
                         tokens=cast(Any, None), jwks=cast(Any, None),
                         limiter=cast(Any, None), http=cast(Any, None))


async def test_concurrent_requests_share_one_read() -> None:
    consents = _Consents()
    state = _state(consents)
    waiting = [asyncio.ensure_future(state.withdrawn_patients()) for _ in range(16)]
    await asyncio.sleep(0)
    consents.gate.set()
    assert await asyncio.gather(*waiting) == [frozenset({"p1"})] * 16
    assert consents.reads == 1
    assert await state.withdrawn_patients() == {"p1"} and consents.reads == 1  # cached


async def test_a_read_begun_before_our_consent_write_is_not_kept_or_joined() -> None:
    consents = _Consents()
    state = _state(consents)
    stale = asyncio.ensure_future(state.withdrawn_patients())
    await _until(lambda: consents.reads == 1)  # the read has taken its answer: {"p1"}
    consents.now = {"p1", "p2"}  # then a withdrawal is committed here ...
    state.forget_withdrawn()
    fresh = asyncio.ensure_future(state.withdrawn_patients())  # ... and a request comes
    await _until(lambda: consents.reads == 2)
    consents.gate.set()
    assert await stale == {"p1"}
    assert await fresh == {"p1", "p2"}
    assert consents.reads == 2
    assert await state.withdrawn_patients() == {"p1", "p2"}  # the fresh answer was kept


async def test_a_failed_read_reaches_its_waiters_and_the_next_request_tries_again() -> None:
    consents = _Consents()
    state = _state(consents)
    consents.fail = True
    consents.gate.set()
    waiting = [asyncio.ensure_future(state.withdrawn_patients()) for _ in range(3)]
    for result in await asyncio.gather(*waiting, return_exceptions=True):
        assert isinstance(result, ConnectionError)
    assert consents.reads == 1
    consents.fail = False
    assert await state.withdrawn_patients() == {"p1"}
    assert consents.reads == 2


async def test_a_cancelled_request_does_not_cancel_the_read_for_the_others() -> None:
    consents = _Consents()
    state = _state(consents)
    first = asyncio.ensure_future(state.withdrawn_patients())
    second = asyncio.ensure_future(state.withdrawn_patients())
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    consents.gate.set()
    assert await second == {"p1"} and consents.reads == 1

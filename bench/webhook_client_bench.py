"""Webhook POSTs/s of httpx and aiohttp against N lean loopback receivers.

    python -m bench.webhook_client_bench [--receivers 100] [--seconds 3]

The question it answers (docs/performance.md, the webhook client): can the dispatcher's
HTTP client carry more than 1,000 POSTs/s with many subscribers in flight? Each
in-flight slot posts a ~2.7 KB notification-sized body to the receivers in turn
(the receivers run in their own process, bench.subscription_receivers), through
one shared client configured as the dispatcher configures it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from bench.subscriptions_bench import Receivers

BODY = b'{"resourceType":"Bundle","type":"history","entry":[' + b"x" * 2700 + b"]}"
HEADERS = {"Content-Type": "application/fhir+json"}
Post = Callable[[str], Awaitable[None]]


async def drive(post: Post, urls: list[str], in_flight: int, seconds: float) -> float:
    targets = itertools.cycle(urls)
    done = 0
    end = time.monotonic() + seconds

    async def slot() -> None:
        nonlocal done
        while time.monotonic() < end:
            await post(next(targets))
            done += 1

    begin = time.monotonic()
    await asyncio.gather(*(slot() for _ in range(in_flight)))
    return done / (time.monotonic() - begin)


async def with_httpx(urls: list[str], in_flight: int, seconds: float) -> float:
    limits = httpx.Limits(max_connections=in_flight * 2, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(timeout=10, limits=limits, follow_redirects=False) as client:
        async def post(url: str) -> None:
            (await client.post(url, content=BODY, headers=HEADERS)).raise_for_status()

        return await drive(post, urls, in_flight, seconds)


async def with_aiohttp(urls: list[str], in_flight: int, seconds: float) -> float:
    connector = aiohttp.TCPConnector(limit=in_flight * 2, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def post(url: str) -> None:
            async with session.post(url, data=BODY, headers=HEADERS,
                                    allow_redirects=False) as response:
                await response.read()
                response.raise_for_status()

        return await drive(post, urls, in_flight, seconds)


async def run(args: argparse.Namespace) -> None:
    receivers = await Receivers.start(args.receivers)
    try:
        urls = receivers.urls()
        print(f"{args.receivers} receivers, {args.seconds} s per figure, POSTs/s:")
        print("| in flight | httpx | aiohttp |\n|---:|---:|---:|")
        for in_flight in args.in_flight:
            a = await with_httpx(urls, in_flight, args.seconds)
            b = await with_aiohttp(urls, in_flight, args.seconds)
            print(f"| {in_flight} | {a:,.0f} | {b:,.0f} |", flush=True)
    finally:
        await receivers.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 16, 50, 100])
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

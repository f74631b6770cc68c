"""``eolc-fhir listen``: a webhook receiver for people trying the server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from typing import Any

import orjson

from eolc_fhir.subscriptions.receiver import Received, Receiver, summary

__all__ = ["register_commands", "until_signalled"]

Handler = Callable[[argparse.Namespace], int]


def register_commands(sub: Any, add_db: Callable[[argparse.ArgumentParser], None]
                      ) -> dict[str, Handler]:
    listen = sub.add_parser("listen", help="a webhook receiver that prints notifications "
                            "and checks their X-Eolc-Signature")
    listen.add_argument("--port", type=int, default=9090)
    listen.add_argument("--host", default="127.0.0.1")
    listen.add_argument("--secret", help="the Subscription's eolc-subscription-secret")
    listen.add_argument("--status", type=int, default=200,
                        help="HTTP status to answer with (e.g. 503 to try retries)")
    listen.add_argument("--body", action="store_true", help="print each Bundle in full")
    return {"listen": _listen}


async def until_signalled() -> None:
    """Wait for SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _listen(args: argparse.Namespace) -> int:
    def show(item: Received) -> None:
        print(summary(item), flush=True)
        if args.body and item.body:
            sys.stdout.write(orjson.dumps(orjson.loads(item.body),
                                          option=orjson.OPT_INDENT_2).decode() + "\n")

    async def run() -> None:
        receiver = Receiver(host=args.host, port=args.port, secret=args.secret,
                            status=args.status, keep=False, on_receive=show)
        await receiver.start()
        print(f"listening on {receiver.url('/')} (any path; Ctrl-C stops)", flush=True)
        try:
            await until_signalled()
        finally:
            await receiver.stop()

    asyncio.run(run())
    return 0

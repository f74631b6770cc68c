"""``eolc-fhir dispatch`` (a dispatcher on its own) and ``eolc-fhir listen`` (a receiver)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any

import orjson

from eolc_fhir.subscriptions.receiver import Received, Receiver, summary

__all__ = ["register_commands"]

Handler = Callable[[argparse.Namespace], int]


def register_commands(sub: Any, add_db: Callable[[argparse.ArgumentParser], None]
                      ) -> dict[str, Handler]:
    dispatch = sub.add_parser("dispatch", help="deliver subscription notifications (run "
                              "`serve` with EOLC_RUN_DISPATCHER=false to use only these)")
    add_db(dispatch)
    dispatch.add_argument("--insecure-dev", action="store_true", default=None,
                          help="allow http webhook endpoints on loopback")
    listen = sub.add_parser("listen", help="a webhook receiver that prints notifications "
                            "and checks their X-Eolc-Signature")
    listen.add_argument("--port", type=int, default=9090)
    listen.add_argument("--host", default="127.0.0.1")
    listen.add_argument("--secret", help="the Subscription's eolc-subscription-secret")
    listen.add_argument("--status", type=int, default=200,
                        help="HTTP status to answer with (e.g. 503 to try retries)")
    listen.add_argument("--body", action="store_true", help="print each Bundle in full")
    return {"dispatch": _dispatch, "listen": _listen}


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _dispatch(args: argparse.Namespace) -> int:
    # The command line is the top layer; services are reached by name from here.
    cli = import_module("eolc_fhir.cli")
    startup = import_module("eolc_fhir.services.startup")
    logs = import_module("eolc_fhir.logs")
    settings = cli.settings_from(args).model_copy(update={"run_dispatcher": True})
    logs.configure_logging(settings.log_level)

    async def run() -> None:
        ctx = await startup.build_context(settings)
        try:
            print(f"dispatching for {settings.database_url} (Ctrl-C stops)", flush=True)
            await _until_signalled()
        finally:
            await startup.close_context(ctx)

    asyncio.run(run())
    return 0


def _listen(args: argparse.Namespace) -> int:
    def show(item: Received) -> None:
        print(summary(item), flush=True)
        if args.body:
            sys.stdout.write(orjson.dumps(orjson.loads(item.body),
                                          option=orjson.OPT_INDENT_2).decode() + "\n")

    async def run() -> None:
        receiver = Receiver(host=args.host, port=args.port, secret=args.secret,
                            status=args.status, keep=False, on_receive=show)
        await receiver.start()
        print(f"listening on {receiver.url('/')} (any path; Ctrl-C stops)", flush=True)
        try:
            await _until_signalled()
        finally:
            await receiver.stop()

    asyncio.run(run())
    return 0

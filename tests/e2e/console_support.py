"""What the console's browser tests share: a demo server, its GP system, a signed-in page."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from eolc_fhir.security.client_side import read_key_file, request_token
from eolc_fhir.security.demo import demo_password
from eolc_fhir.security.roles import default_scopes
from tests.e2e.conftest import ServerProcess, start_server

__all__ = ["demo_server", "demo_gp", "watched", "sign_in", "shot", "tab_to", "axe_serious"]


def demo_server(migrated_url: str, tmp_path: Path, **env: str) -> Iterator[ServerProcess]:
    """A real uvicorn with auth on, the demo clients (keys in tmp_path/keys) and people."""
    env = {"EOLC_DEMO_CLIENTS": "1", "EOLC_DEMO_KEYS_DIR": str(tmp_path / "keys"),
           "EOLC_RATE_LIMIT_PER_MINUTE": "0", **env}
    proc = start_server(migrated_url, tmp_path, env=env)
    try:
        yield proc
    finally:
        proc.stop()


async def demo_gp(server: ServerProcess, tmp_path: Path) -> httpx.AsyncClient:
    """The demo GP system's client (SMART Backend Services), for writing over REST."""
    key = read_key_file(tmp_path / "keys" / "demo-gp.jwk.json")
    answer = await asyncio.to_thread(request_token, server.url, "demo-gp", key,
                                     default_scopes("gp"))
    return httpx.AsyncClient(base_url=server.url, headers={
        "Authorization": f"Bearer {answer['access_token']}",
        "Content-Type": "application/fhir+json"})


def watched(page: Any) -> list[str]:
    """The page's console messages and script errors (a CSP violation is one), as they come."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


async def sign_in(page: Any, user: str, landing: str) -> None:
    """On the sign-in page the console sent us to: the demo user's form, then back."""
    await page.fill("#username", user)
    await page.fill("#password", demo_password(user))
    await page.click("button[type=submit]")
    await page.wait_for_url(landing)


async def shot(page: Any, name: str) -> None:
    """docs/images/console-<name>.png, when EOLC_SCREENSHOT_DIR says where."""
    folder = os.environ.get("EOLC_SCREENSHOT_DIR")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"console-{name}.png"), full_page=True)


async def tab_to(page: Any, element_id: str, limit: int = 30) -> None:
    """Press Tab until the element has the focus (it must be reachable by keyboard)."""
    await tab_until(page, f"el.id === {element_id!r}", limit)


async def tab_until(page: Any, test: str, limit: int = 30) -> None:
    """Press Tab until the focused element passes ``test`` (a JS predicate on ``el``)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"(el => !!el && ({test}))(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached an element where {test}")


async def axe_serious(browser: Any, page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page's current address. axe is
    injected as a script, which the console's CSP forbids: a second context holding the
    same session bypasses the CSP, for the check alone."""
    from axe_playwright_python.async_playwright import Axe

    context = await browser.new_context(bypass_csp=True,
                                        storage_state=await page.context.storage_state())
    checked = await context.new_page()
    await checked.goto(page.url)
    assert checked.url == page.url  # the session came along: not the sign-in page
    results = await Axe().run(checked)
    await context.close()
    return [v["id"] for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]

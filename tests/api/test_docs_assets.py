"""/docs loads Swagger UI from this server only, under a strict CSP, and can be switched off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eolc_fhir.config import Settings
from tests.security_support import secure_app

pytestmark = pytest.mark.engines("sqlite")

TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _settings(url: str, tmp_path: Path, **extra: object) -> Settings:
    # Authentication on, as in production: the docs page and its files need no token.
    return Settings(database_url=url, base_url="http://test", demo_keys_dir=tmp_path / "keys",
                    run_dispatcher=False, **extra)  # type: ignore[arg-type]


async def test_docs_use_only_same_origin_assets(migrated_url: str, tmp_path: Path) -> None:
    async with secure_app(_settings(migrated_url, tmp_path)) as secure:
        page = await secure.http.get("/docs", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "default-src 'none'" in csp
        assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
        assert "<script>" not in page.text  # every script has a src
        urls = re.findall(r'(?:src|href|data-openapi-url)="([^"]+)"', page.text)
        assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
        assert "cdn" not in page.text.lower()
        for url in urls:
            response = await secure.http.get(url)
            assert response.status_code == 200, url
            if url != "/openapi.json":
                expected = TYPES[Path(url).suffix]
                assert response.headers["content-type"].startswith(expected), url
                assert len(response.content) > 100, url
        assert "SwaggerUIBundle" in (await secure.http.get(
            "/docs/static/swagger-init.js")).text
        missing = await secure.http.get("/docs/static/..%2Fdocs_page.py")
        assert missing.status_code == 404


async def test_docs_can_be_switched_off(migrated_url: str, tmp_path: Path) -> None:
    async with secure_app(_settings(migrated_url, tmp_path, api_docs=False)) as secure:
        for path in ("/docs", "/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css",
                     "/docs/static/swagger-init.js"):
            assert (await secure.http.get(path)).status_code == 404, path
        assert (await secure.http.get("/openapi.json")).status_code == 200  # tools read it

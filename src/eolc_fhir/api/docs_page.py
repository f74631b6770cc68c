"""The API docs page (/docs): Swagger UI from files this server ships, no CDN, no inline script.

Swagger UI's script, stylesheet and icon come from the ``fastapi-offline``
package (its ``static`` folder, under its MIT licence; Swagger UI's own
licence notice is in its files), the few lines that start it from
``api/static/swagger-init.js``; all are served under ``/docs/static/``. The
page's Content-Security-Policy allows scripts and styles from this server
only (Swagger UI sets some inline styles, hence ``'unsafe-inline'`` for
styles alone) and connections to it (``/openapi.json``, "Try it out").
``EOLC_API_DOCS=false`` leaves this router out: ``/docs`` is then a 404;
``/openapi.json`` stays, for the tools that read it.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import HTMLResponse, Response

from eolc_fhir.fhir.errors import NotFound

__all__ = ["router", "DOCS_CSP", "ASSETS"]

router = APIRouter(include_in_schema=False)

DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")
_VENDOR = files("fastapi_offline") / "static"
_OWN = files("eolc_fhir.api") / "static"
# name under /docs/static/ -> (file, media type); nothing else is served there.
ASSETS: dict[str, tuple[Traversable, str]] = {
    "swagger-ui-bundle.js": (_VENDOR / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": (_VENDOR / "swagger-ui.css", "text/css; charset=utf-8"),
    "favicon.png": (_VENDOR / "favicon.png", "image/png"),
    "swagger-init.js": (_OWN / "swagger-init.js", "text/javascript; charset=utf-8"),
}
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API docs</title>
<link rel="icon" type="image/png" href="{root}/docs/static/favicon.png">
<link rel="stylesheet" href="{root}/docs/static/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{root}/openapi.json"></div>
<script src="{root}/docs/static/swagger-ui-bundle.js"></script>
<script src="{root}/docs/static/swagger-init.js"></script>
</body>
</html>
"""
_ASSET_CACHE = "public, max-age=86400"


@router.get("/docs")
async def docs_page(request: Request) -> HTMLResponse:
    root = escape(str(request.scope.get("root_path", "")))
    page = _PAGE.format(title=escape(request.app.title), root=root)
    return HTMLResponse(page, headers={"content-security-policy": DOCS_CSP})


@router.get("/docs/static/{name}")
async def docs_asset(name: Annotated[str, Path(max_length=64)]) -> Response:
    if name not in ASSETS:
        raise NotFound(f"no docs asset named {name!r}")
    path, media_type = ASSETS[name]
    return Response(path.read_bytes(), media_type=media_type,
                    headers={"cache-control": _ASSET_CACHE})

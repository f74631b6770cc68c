"""The sign-in page: plain HTML, no script, no inline style, everything escaped."""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

__all__ = ["signin_page", "message_page", "page_csp"]

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - eolc-fhir</title>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def page_csp(redirect_uri: str | None = None) -> str:
    """No script, no style, no frames; the form may post here, and the redirect after it
    may go to the app (browsers apply form-action to that redirect too)."""
    targets = "'self'"
    if redirect_uri:
        parts = urlsplit(redirect_uri)
        targets += f" {parts.scheme}://{parts.netloc}"
    return (f"default-src 'none'; form-action {targets}; frame-ancestors 'none'; "
            "base-uri 'none'")


def _headers(csp: str) -> dict[str, str]:
    # same-origin, not the server's no-referrer: under no-referrer a browser sends
    # "Origin: null" with the form's POST, and the same-origin check refuses it.
    return {"Content-Security-Policy": csp, "Cache-Control": "no-store",
            "Pragma": "no-cache", "Referrer-Policy": "same-origin"}


def signin_page(*, app_name: str, fields: dict[str, str], csrf: str, error: str | None,
                username: str = "", status: int = 200) -> HTMLResponse:
    hidden = "\n".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                       for k, v in fields.items())
    alert = f'<p role="alert"><strong>{escape(error)}</strong></p>\n' if error else ""
    body = (f"<p>{escape(app_name)} asks you to sign in.</p>\n{alert}"
            '<form method="post" action="/auth/authorize">\n'
            f'{hidden}\n<input type="hidden" name="csrf" value="{escape(csrf)}">\n'
            '<p><label for="username">Username</label><br>\n'
            '<input id="username" name="username" autocomplete="username" required '
            f'value="{escape(username)}"></p>\n'
            '<p><label for="password">Password</label><br>\n'
            '<input id="password" name="password" type="password" '
            'autocomplete="current-password" required></p>\n'
            '<p><button type="submit">Sign in</button></p>\n</form>')
    response = HTMLResponse(_PAGE.format(title="Sign in", body=body), status_code=status,
                            headers=_headers(page_csp(fields.get("redirect_uri"))))
    return response


def message_page(title: str, text: str, status: int) -> HTMLResponse:
    body = f'<p role="alert">{escape(text)}</p>'
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status,
                        headers=_headers(page_csp()))

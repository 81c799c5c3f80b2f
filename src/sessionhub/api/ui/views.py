"""Rendering: the templates, the UI's security headers, and its error pages."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

from sessionhub import __version__
from sessionhub.api.problems import status_for
from sessionhub.api.ui.auth import SignInNeeded, Viewer, remember
from sessionhub.domain.errors import SessionHubError

log = logging.getLogger(__name__)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY", "Cache-Control": "no-store",
}  # fmt: skip


# The notes a redirect may show (?note=…): only what the UI itself says, so a crafted
# link cannot put words of its own on a page.
NOTES = re.compile(
    r"(Forked|Cancelled|No run to cancel|Rewound: \d+ events removed|Deleted [\w.-]+)"
)


def note(text: str | None) -> str:
    return text if text and NOTES.fullmatch(text) else ""


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def money(value: float) -> str:
    return f"${value:,.4f}" if value else "$0"


env = Environment(
    loader=PackageLoader("sessionhub.api.ui", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(when=when, money=money)
env.globals.update(version=__version__, note=note)


def render(
    request: Request, who: Viewer | None, template: str, code: int = 200, **context: Any
) -> HTMLResponse:
    body = env.get_template(template).render(request=request, who=who, **context)
    response = HTMLResponse(body, status_code=code, headers=HEADERS)
    if who is not None and who.new_anchor:
        remember(request, response, who.anchor)
    return response


def fragment(template: str, **context: Any) -> str:
    return env.get_template(template).render(**context)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, None, "error.html", status, status=status, message=message)


class UiRoute(APIRoute):
    """A UI route: no sign-in sends the browser to the form, a domain error or invalid
    input is an HTML page with the error's status (never a 500 or a JSON problem)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.method != "GET":
                    target = "/ui"
                return see_other(f"/ui/signin?next={quote(target, safe='')}")
            except SessionHubError as exc:
                return error_page(request, status_for(exc), exc.detail)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors()
                )
                return error_page(request, 400, problems)

        return handle

"""Who uses the UI: an API key kept in an HttpOnly cookie, resolved exactly as the API
resolves a bearer key; and the CSRF guard of every state-changing request.

The cookie holds the key itself (HttpOnly, SameSite=Strict, Secure over https), so
the key never reaches the URL, the page or script. A form's CSRF token is derived
from the cookie (a hash of it), and each POST must carry it and, when the browser
says where it comes from (Origin, Sec-Fetch-Site), come from this origin. On a
``--no-auth`` server the cookie is a random value that only anchors the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from sessionhub.api.deps import Caller
from sessionhub.core.hub import Hub
from sessionhub.domain.errors import Forbidden

COOKIE = "sessionhub_ui"
MAX_KEY = 500


class SignInNeeded(Exception):
    """No valid key in the cookie: the page sends the browser to the sign-in form."""


@dataclass(frozen=True, slots=True)
class Viewer(Caller):
    """The API's caller, signed in through the cookie."""

    anchor: str = ""  # the cookie's value
    new_anchor: bool = False  # a --no-auth anchor to set on the response

    @property
    def csrf(self) -> str:
        return csrf_token(self.anchor)

    @property
    def open(self) -> bool:
        return self.hub.settings.no_auth


def csrf_token(anchor: str) -> str:
    return hashlib.sha256(f"sessionhub-ui-csrf\0{anchor}".encode()).hexdigest()


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def viewer(request: Request) -> Viewer:
    """The signed-in viewer, or ``SignInNeeded``."""
    hub = hub_of(request)
    anchor = request.cookies.get(COOKIE, "")
    if hub.settings.no_auth:
        if len(anchor) < 32:
            return Viewer(hub, hub.open_principal(), secrets.token_urlsafe(32), new_anchor=True)
        return Viewer(hub, hub.open_principal(), anchor)
    if not anchor or len(anchor) > MAX_KEY:
        raise SignInNeeded
    principal = await hub.principal_for(anchor)
    if principal is None:
        raise SignInNeeded
    return Viewer(hub, principal, anchor)


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


async def posted(request: Request) -> tuple[Viewer, dict[str, str]]:
    """The viewer of a state-changing request and its form, once its CSRF token and
    origin check out (``Forbidden`` otherwise)."""
    who = await viewer(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    token = fields.get("csrf", "")
    if who.new_anchor or not hmac.compare_digest(token, who.csrf) or not same_origin(request):
        raise Forbidden("this form is stale or came from another site: reload the page")
    return who, fields


def remember(request: Request, response: Response, anchor: str) -> None:
    response.set_cookie(
        COOKIE, anchor, httponly=True, samesite="strict", path="/",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def require_admin(who: Viewer) -> None:
    if not who.principal.admin:
        raise Forbidden("this needs an admin API key")

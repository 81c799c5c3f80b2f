"""Dependencies: the hub, the caller, and the session the path names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from sessionhub.core.hub import Hub
from sessionhub.core.service import SessionService
from sessionhub.domain.errors import Forbidden, Unauthorized
from sessionhub.domain.models import Principal


async def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def bearer_secret(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() in ("bearer", "token") and secret.strip():
            return secret.strip()
        return None
    return request.query_params.get("token")


async def authenticate(request: Request, hub: Hub) -> Principal:
    if hub.settings.no_auth:
        return hub.open_principal()
    secret = bearer_secret(request)
    if secret is None:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    principal = await hub.principal_for(secret)
    if principal is None:
        raise Unauthorized("the API key is not valid or has been revoked")
    return principal


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller and the server it talks to: one dependency for hot routes."""

    hub: Hub
    principal: Principal

    @property
    def workspace_id(self) -> str:
        return self.principal.workspace_id

    @property
    def service(self) -> SessionService:
        return self.hub.service


async def current_caller(request: Request) -> Caller:
    hub: Hub = request.app.state.hub
    return Caller(hub, await authenticate(request, hub))


CallerDep = Annotated[Caller, Depends(current_caller)]


async def current_principal(caller: CallerDep) -> Principal:
    return caller.principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def admin_principal(principal: CurrentPrincipal) -> Principal:
    if not principal.admin:
        raise Forbidden("this needs an admin API key")
    return principal


AdminPrincipal = Annotated[Principal, Depends(admin_principal)]


async def get_service(hub: HubDep) -> SessionService:
    return hub.service


Service = Annotated[SessionService, Depends(get_service)]
SessionId = Annotated[str, Path(description="The session's id.", max_length=100)]


IfMatch = Annotated[str | None, Header(description="The session version you last saw.")]

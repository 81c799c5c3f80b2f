"""/v1/keys: API keys of the caller's workspace (admin keys only)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from sessionhub.api.deps import AdminPrincipal, HubDep
from sessionhub.domain.models import ApiKeyCreate, ApiKeyCreated, ApiKeyList

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.get("", response_model=ApiKeyList)
async def list_keys(principal: AdminPrincipal, hub: HubDep) -> ApiKeyList:
    return ApiKeyList(items=await hub.keys.list(principal.workspace_id))


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_key(
    request: ApiKeyCreate, principal: AdminPrincipal, hub: HubDep
) -> ApiKeyCreated:
    new = await hub.keys.create(principal.workspace_id, request.name, admin=request.admin)
    return ApiKeyCreated(**new.key.model_dump(), key=new.secret)


@router.delete("/{key_id}", status_code=204)
async def revoke_key(key_id: str, principal: AdminPrincipal, hub: HubDep) -> Response:
    await hub.keys.revoke(principal.workspace_id, key_id)
    return Response(status_code=204)

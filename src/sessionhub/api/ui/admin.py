"""The machines and keys pages (changes need an admin key, as over the API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sessionhub.api.ui.auth import Viewer, posted, require_admin, viewer
from sessionhub.api.ui.views import UiRoute, render, see_other
from sessionhub.domain.machines import MachineCreate

router = APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)
MACHINE_FIELDS = ("name", "command", "gpu", "price_per_hour", "max_sessions", "probe",
                  "startup_timeout")  # fmt: skip


async def machines_page(request: Request, who: Viewer, **extra: Any) -> Response:
    machines = await who.hub.machines.list(who.workspace_id)
    return render(request, who, "machines.html", machines=machines, **extra)


@router.get("/machines")
async def machines(request: Request) -> Response:
    return await machines_page(request, await viewer(request))


@router.post("/machines")
async def add_machine(request: Request) -> Response:
    who, form = await posted(request)
    require_admin(who)
    spec = MachineCreate.model_validate({k: form[k] for k in MACHINE_FIELDS if form.get(k)})
    await who.hub.machines.create(who.workspace_id, spec)
    return see_other("/ui/machines")


@router.post("/machines/{machine}/delete")
async def remove_machine(request: Request, machine: str) -> Response:
    who, _ = await posted(request)
    require_admin(who)
    await who.hub.machines.delete(who.workspace_id, machine)
    return see_other("/ui/machines")


async def keys_page(request: Request, who: Viewer, **extra: Any) -> Response:
    keys = await who.hub.keys.list(who.workspace_id) if who.principal.admin else []
    return render(request, who, "keys.html", keys=keys, **extra)


@router.get("/keys")
async def keys(request: Request) -> Response:
    return await keys_page(request, await viewer(request))


@router.post("/keys")
async def create_key(request: Request) -> Response:
    who, form = await posted(request)
    require_admin(who)
    name = (form.get("name") or "key").strip()[:200] or "key"
    new = await who.hub.keys.create(who.workspace_id, name, admin=form.get("admin") == "on")
    return await keys_page(request, who, created=new.secret, created_name=name)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str) -> Response:
    who, _ = await posted(request)
    require_admin(who)
    await who.hub.keys.revoke(who.workspace_id, key_id)
    return see_other("/ui/keys")

"""The REST routes: sessions, kernels, kernelspecs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sessionhub.api import forward
from sessionhub.api.deps import authenticate
from sessionhub.api.dialects.jupyter import wire
from sessionhub.core.hub import Hub
from sessionhub.core.nodes import kernel_resource
from sessionhub.domain.attributes.kernel import KernelAttributes
from sessionhub.domain.errors import NotFound, SessionHubError
from sessionhub.kinds.kernel.rules import KernelSessions

router = APIRouter()


class Caller:
    def __init__(self, workspace_id: str, sessions: KernelSessions) -> None:
        self.workspace_id = workspace_id
        self.sessions = sessions

    async def at_owner(self, request: Request, kernel_id: str) -> Response | None:
        """The answer of the node that runs the kernel, when that is another node."""
        return await forward.to_owner(request, kernel_resource(self.workspace_id, kernel_id))

    @asynccontextmanager
    async def no_lease_if_unknown(self, request: Request, kernel_id: str) -> AsyncIterator[None]:
        """A kernel id nothing here knows keeps no lease (``at_owner`` took one for it)."""
        try:
            yield
        except NotFound:
            await forward.release_here(request, kernel_resource(self.workspace_id, kernel_id))
            raise

    @asynccontextmanager
    async def no_lease_if_failed(self, request: Request, kernel_id: str) -> AsyncIterator[None]:
        """A kernel id that ends up running nowhere keeps no lease (``at_owner`` may have
        taken one for it before a failed create or switch)."""
        try:
            yield
        except SessionHubError:
            if kernel_id and not self.sessions.driver.running(kernel_id):
                await forward.release_here(request, kernel_resource(self.workspace_id, kernel_id))
            raise

    async def claim_here(self, request: Request, kernel_id: str) -> None:
        if kernel_id:
            await forward.claim_here(request, kernel_resource(self.workspace_id, kernel_id))

    async def owners_models(self, request: Request, kernel_ids: list[str]) -> dict[str, Any]:
        """The models of kernels that run on other live nodes, as their owners report
        them (a list through any node shows a kernel's real state and connections);
        kernels running here are not looked up."""
        root = request.scope.get("root_path", "")
        paths = {
            kernel_resource(self.workspace_id, kid): f"{root}/api/kernels/{kid}"
            for kid in dict.fromkeys(kernel_ids)
            if kid and not self.sessions.driver.running(kid)
        }
        answers = await forward.ask_owners(request, paths)
        return {
            model["id"]: model
            for model in answers.values()
            if isinstance(model, dict) and isinstance(model.get("id"), str)
        }


async def caller(request: Request) -> Caller:
    hub: Hub = request.app.state.hub
    principal = await authenticate(request, hub)
    return Caller(principal.workspace_id, KernelSessions.of(hub.service, hub.nodes))


CallerDep = Annotated[Caller, Depends(caller)]


def not_found(session_id: str) -> NotFound:
    return NotFound(f"Session not found: session_id={session_id!r}")


# sessions
@router.get("/api/sessions")
async def list_sessions(request: Request, c: CallerDep) -> Response:
    found = await c.sessions.all(c.workspace_id)
    kernel_ids = [KernelAttributes.of(session).kernel_id for session in found]
    remote = await c.owners_models(request, kernel_ids)
    return wire.answer(wire.session_models(c.sessions, found, remote))


@router.post("/api/sessions", status_code=201)
async def create_session(request: Request, c: CallerDep) -> Response:
    """A session at a path; attaching to a kernel another node runs is done by that node."""
    body = wire.legacy_notebook(await wire.json_object(request))
    path = wire.checked_path(wire.text(body, "path", required=True) or "")
    kind = wire.text(body, "type", required=True) or ""
    name = wire.text(body, "name") if body.get("name") is not None else ""
    kernel = wire.kernel_request(body)
    if kernel.id and (forwarded := await c.at_owner(request, kernel.id)) is not None:
        return forwarded
    async with c.no_lease_if_failed(request, kernel.id or ""):
        session = await c.sessions.open(
            c.workspace_id, path=path, type=kind, name=name or "",
            kernel_name=kernel.name, kernel_id=kernel.id,
        )  # fmt: skip
    created = wire.answer(wire.session_model(c.sessions, session), status_code=201)
    created.headers["Location"] = f"{request.scope.get('root_path', '')}/api/sessions/{session.id}"
    return created


@router.get("/api/sessions/{session_id}")
async def get_session(session_id: str, c: CallerDep) -> Response:
    try:
        session = await c.sessions.get(c.workspace_id, session_id)
    except NotFound:
        raise not_found(session_id) from None
    return wire.answer(wire.session_model(c.sessions, session))


@router.patch("/api/sessions/{session_id}")
async def update_session(session_id: str, request: Request, c: CallerDep) -> Response:
    body = await wire.json_object(request)
    if isinstance(body.get("notebook"), dict) and "path" in body["notebook"]:
        body = {**body, "path": body["notebook"]["path"], "type": "notebook"}
    changes = wire.changes(body)
    kernel = wire.kernel_request(body) if "kernel" in body else None
    switch_to = kernel.id if kernel is not None and kernel.id else ""
    # switching to a kernel another node runs: that node does it
    if switch_to and (forwarded := await c.at_owner(request, switch_to)) is not None:
        return forwarded
    try:
        async with c.no_lease_if_failed(request, switch_to):
            session = await c.sessions.update(c.workspace_id, session_id, changes, kernel)
    except NotFound:
        raise not_found(session_id) from None
    if kernel is not None:
        await c.claim_here(request, KernelAttributes.of(session).kernel_id)
    return wire.answer(wire.session_model(c.sessions, session))


@router.delete("/api/sessions/{session_id}", status_code=204)
async def delete_session(session_id: str, c: CallerDep) -> Response:
    try:
        await c.sessions.delete(c.workspace_id, session_id)
    except NotFound:
        raise not_found(session_id) from None
    return Response(status_code=204)


# kernels
@router.get("/api/kernels")
async def list_kernels(request: Request, c: CallerDep) -> Response:
    models = await c.sessions.kernels(c.workspace_id)
    remote = await c.owners_models(request, [model["id"] for model in models])
    return wire.answer([remote.get(model["id"], model) for model in models])


@router.post("/api/kernels", status_code=201)
async def start_kernel(request: Request, response: Response, c: CallerDep) -> dict[str, Any]:
    raw = await request.body()
    body = await wire.json_object(request) if raw.strip() else {}
    name = wire.text(body, "name") if body.get("name") is not None else None
    model = await c.sessions.start_kernel(c.workspace_id, name or None)
    await c.claim_here(request, model["id"])
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/api/kernels/{model['id']}"
    return model


@router.get("/api/kernels/{kernel_id}")
async def get_kernel(kernel_id: str, request: Request, c: CallerDep) -> Response:
    if (forwarded := await c.at_owner(request, kernel_id)) is not None:
        return forwarded
    async with c.no_lease_if_unknown(request, kernel_id):
        return wire.answer(await c.sessions.kernel(c.workspace_id, kernel_id))


@router.delete("/api/kernels/{kernel_id}", status_code=204)
async def delete_kernel(kernel_id: str, request: Request, c: CallerDep) -> Response:
    if (forwarded := await c.at_owner(request, kernel_id)) is not None:
        return forwarded
    async with c.no_lease_if_unknown(request, kernel_id):
        await c.sessions.shutdown_kernel(c.workspace_id, kernel_id)
    return Response(status_code=204)


@router.post("/api/kernels/{kernel_id}/interrupt", status_code=204)
async def interrupt_kernel(kernel_id: str, request: Request, c: CallerDep) -> Response:
    if (forwarded := await c.at_owner(request, kernel_id)) is not None:
        return forwarded
    async with c.no_lease_if_unknown(request, kernel_id):
        await c.sessions.interrupt_kernel(c.workspace_id, kernel_id)
    return Response(status_code=204)


@router.post("/api/kernels/{kernel_id}/restart")
async def restart_kernel(kernel_id: str, request: Request, c: CallerDep) -> Response:
    if (forwarded := await c.at_owner(request, kernel_id)) is not None:
        return forwarded
    async with c.no_lease_if_unknown(request, kernel_id):
        return wire.answer(await c.sessions.restart_kernel(c.workspace_id, kernel_id))


# kernelspecs
@router.get("/api/kernelspecs")
async def kernelspecs(c: CallerDep) -> dict[str, Any]:
    default, specs = await c.sessions.kernelspecs()
    return {
        "default": default,
        "kernelspecs": {name: spec_model(name, found) for name, found in specs.items()},
    }


@router.get("/api/kernelspecs/{name}")
async def kernelspec(name: str, c: CallerDep) -> dict[str, Any]:
    _, specs = await c.sessions.kernelspecs()
    if name not in specs:
        raise NotFound(f"Kernel spec {name} not found")
    return spec_model(name, specs[name])


def spec_model(name: str, found: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "spec": found.get("spec", {}), "resources": {}}


@router.get("/api/status")
async def status(c: CallerDep) -> dict[str, Any]:
    return await c.sessions.status(c.workspace_id)

"""The ``machine`` kind: a lease of a registered compute profile, run as a local process.

A lease is a run: starting it launches the machine's command in its own process
group on a free loopback port, cancelling it (or its timeout, or server
shutdown) kills the group. The GPU event — start, end, GPU, cost — lives in the
session's attributes and as ``gpu.start`` / ``gpu.ready`` / ``gpu.end`` events.
The pid, process group and server pid are recorded, so a server restarted after
a crash finds and kills the processes it left and closes their GPU events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sessionhub.core.ports import Capability, Driver, Host, RunContext
from sessionhub.domain.attributes.machine import MachineAttributes
from sessionhub.domain.errors import Invalid, Unavailable
from sessionhub.domain.machines import Machine, SlotClaim
from sessionhub.domain.models import EventCreate, Session
from sessionhub.kinds.machine import process as procs

log = logging.getLogger(__name__)
RESERVATION_SECONDS = 30.0
CLAIMED_AT = "slot_claimed_at"  # the MachineAttributes field the store writes a claim to


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def machine_ref(attrs: MachineAttributes) -> str:
    """The machine the client asked for (id or name)."""
    if not attrs.machine_id:
        raise Invalid("a machine session needs attributes.machine_id (a machine's id or name)")
    return attrs.machine_id


def slot_claim(machine: Machine) -> SlotClaim:
    """The machine's concurrency limit: its unended leases each hold one slot."""
    return SlotClaim(
        pool=machine.id, limit=machine.max_sessions, label=f"machine {machine.name!r}",
        holder=MachineAttributes(machine_ref=machine.id, end_time=None).stored(),
        claimed_key=CLAIMED_AT,
        hold_seconds=RESERVATION_SECONDS,
    )  # fmt: skip


@dataclass
class Lease:
    session: Session
    machine: Machine
    gpu: str
    deadline: datetime
    ready: asyncio.Future[str]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    proc: asyncio.subprocess.Process | None = None
    started: datetime | None = None
    event_id: str = ""


class MachineDriver(Driver):
    kind = "machine"
    capabilities = frozenset({Capability.runs, Capability.cancel})

    def __init__(self) -> None:
        self._host: Host | None = None
        self._leases: dict[str, Lease] = {}
        self._waiters: dict[str, asyncio.Future[str]] = {}
        self._http = httpx.AsyncClient(trust_env=False)

    @property
    def host(self) -> Host:
        if self._host is None:
            raise Unavailable("the machine driver has not been opened by a server")
        return self._host

    async def open(self, host: Host) -> None:
        self._host = host
        for session in await host.running_sessions(self.kind):
            await self._reap(session)

    async def on_create(self, session: Session) -> None:
        """Check the request and fill in what reads need before the lease starts."""
        machine = await self._machine(session)
        attrs = MachineAttributes.of(session)
        filled = MachineAttributes(
            machine_ref=machine.id, gpu=attrs.gpu or machine.gpu,
            gpu_event_id=str(uuid.uuid4()), url="", end_time=None,
        )  # fmt: skip
        await self.host.set_attributes(session, filled.stored())

    # the concurrency limit: checked and taken in one store transaction (many servers)
    async def before_run(self, session: Session, input: dict[str, Any]) -> None:
        machine = await self._machine(session)
        procs.runner(machine, self.host.sandbox)  # no sandbox to run it in: 503 up front
        await self.host.machines.claim_slot(session, slot_claim(machine))

    async def _machine(self, session: Session) -> Machine:
        ref = machine_ref(MachineAttributes.of(session))
        return await self.host.machines.get(session.workspace_id, ref)

    # what the core asks of a lease
    def expect(self, session_id: str) -> asyncio.Future[str]:
        """A future for the URL, set up before the run starts so none is missed."""
        return self._waiters.setdefault(session_id, asyncio.get_running_loop().create_future())

    def forget(self, session_id: str) -> None:
        waiter = self._waiters.pop(session_id, None)
        if waiter is not None and not waiter.done():
            waiter.cancel()

    def extend(self, session_id: str, deadline: datetime) -> bool:
        lease = self._leases.get(session_id)
        if lease is None:
            return False
        lease.deadline = deadline
        lease.wake.set()
        return True

    # the lease
    async def run(self, ctx: RunContext, input: dict[str, Any]) -> None:
        session = ctx.session
        machine = await self._machine(session)
        attrs = MachineAttributes.of(session)
        lease = Lease(
            session=session, machine=machine, gpu=attrs.gpu or machine.gpu,
            event_id=attrs.gpu_event_id or str(uuid.uuid4()),
            deadline=now() + timedelta(seconds=attrs.timeout_seconds), port=procs.free_port(),
            ready=self.expect(session.id),
        )  # fmt: skip
        self._leases[session.id] = lease
        reason = "exited"
        try:
            await self._launch(lease, ctx)
            reason = await self._watch(lease, ctx)
        except asyncio.CancelledError:
            reason = "cancelled"
            raise
        except Exception as exc:
            reason = f"failed: {exc}"
            raise
        finally:
            await asyncio.shield(self._end(lease, reason))

    async def _launch(self, lease: Lease, ctx: RunContext) -> None:
        session = lease.session
        directory = self.host.directory(session)
        port = lease.port
        lease.proc = await procs.spawn(
            lease.machine, session.id, directory, port, self.host.sandbox
        )
        lease.started = now()
        await self._attributes(lease, MachineAttributes(
            machine_ref=lease.machine.id, gpu_event_id=lease.event_id, gpu=lease.gpu,
            state="starting", port=port, pid=lease.proc.pid, pgid=lease.proc.pid,
            server_pid=os.getpid(), host=socket.gethostname(), url="",
            start_time=lease.started, end_time=None, cost=0.0,
            price_per_hour=lease.machine.price_per_hour, timeout_end=lease.deadline,
        ))  # fmt: skip
        payload = {"gpu_event_id": lease.event_id, "gpu": lease.gpu, "port": port,
                   "pid": lease.proc.pid, "machine_id": lease.machine.id}  # fmt: skip
        await ctx.append([EventCreate(type="gpu.start", payload=payload)])

    async def _watch(self, lease: Lease, ctx: RunContext) -> str:
        assert lease.proc is not None
        exited = asyncio.ensure_future(lease.proc.wait())
        try:
            if not await self._await_ready(lease, ctx, exited):
                return "exited"
            while True:
                lease.wake.clear()
                wake = asyncio.ensure_future(lease.wake.wait())
                left = (lease.deadline - now()).total_seconds()
                done, _ = await asyncio.wait({exited, wake}, timeout=max(left, 0))
                wake.cancel()
                if exited in done:
                    return "exited"
                if not done and now() >= lease.deadline and not await self._extended(lease):
                    return "timeout"
        finally:
            exited.cancel()

    async def _await_ready(
        self, lease: Lease, ctx: RunContext, exited: asyncio.Future[int]
    ) -> bool:
        assert lease.proc is not None
        port = lease.port
        give_up = time.monotonic() + lease.machine.startup_timeout
        while not await procs.probe(lease.machine, port, self._http):
            if exited.done():
                self._fail(lease, f"the machine's command exited with code {exited.result()} "
                                  "before it answered")  # fmt: skip
                return False
            if time.monotonic() > give_up:
                self._fail(lease, "the machine did not answer within its startup timeout")
                raise Unavailable("the machine did not answer within its startup timeout")
            await asyncio.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        await self._attributes(lease, MachineAttributes(url=url, state="ready"))
        await ctx.append([EventCreate(type="gpu.ready", payload={"url": url})])
        if not lease.ready.done():
            lease.ready.set_result(url)
        return True

    async def _extended(self, lease: Lease) -> bool:
        """Did another server process move the deadline (increase-timeout) meanwhile?"""
        deadline = MachineAttributes.of(await self.host.get(lease.session)).timeout_end
        if deadline is None or deadline <= lease.deadline:
            return False
        lease.deadline = deadline
        return True

    async def _release(self, session: Session) -> None:
        """A lease that never launched gives its slot back at once."""
        with contextlib.suppress(Exception):
            await self.host.set_attributes(
                session, MachineAttributes(slot_claimed_at=None).stored()
            )

    def _fail(self, lease: Lease, why: str) -> None:
        if not lease.ready.done():
            lease.ready.set_exception(Unavailable(why))

    async def _end(self, lease: Lease, reason: str) -> None:
        """Kill the group and close the GPU event; runs even when the lease was cancelled."""
        self._leases.pop(lease.session.id, None)
        self._fail(lease, f"the machine session ended ({reason})")
        self._waiters.pop(lease.session.id, None)
        if lease.ready.done() and not lease.ready.cancelled():
            lease.ready.exception()  # retrieved: nobody may be waiting for it
        if lease.proc is None or lease.started is None:
            await self._release(lease.session)
            return
        code = await procs.stop(lease.proc)
        try:
            await self._close_event(lease.session, lease.started, lease.machine.price_per_hour,
                                    reason, code)  # fmt: skip
        except Exception:
            log.exception("could not record the end of machine session %s", lease.session.id)

    async def _close_event(
        self, session: Session, started: datetime, price: float, reason: str, code: int | None
    ) -> None:
        ended = now()
        runtime = max((ended - started).total_seconds(), 0.0)
        cost = round(price * runtime / 3600, 6)
        record = MachineAttributes(
            state="ended", end_time=ended, cost=cost, end_reason=reason, exit_code=code
        )
        await self.host.set_attributes(session, record.stored())
        payload = {"reason": reason, "exit_code": code, "end_time": iso(ended)}
        event = EventCreate(
            type="gpu.end", payload=payload, cost=cost, duration_ms=int(runtime * 1000)
        )
        await self.host.append(session, [event])

    async def _attributes(self, lease: Lease, values: MachineAttributes) -> None:
        lease.session = await self.host.set_attributes(lease.session, values.stored())

    async def _reap(self, session: Session) -> None:
        """A running lease of a server that is gone: kill its processes, close its event."""
        attrs = MachineAttributes.of(session)
        if attrs.state == "ended" or attrs.host != socket.gethostname():
            return
        server = attrs.server_pid
        if server is None or server == os.getpid() or procs.alive(server):
            return
        killed = attrs.pgid is not None and await procs.reap_orphan(attrs.pgid, session.id)
        started = attrs.start_time or session.created_at
        log.info("machine session %s: orphaned (killed=%s); closing it", session.id, killed)
        await self._close_event(
            session, started, attrs.price_per_hour, "reaped after a server restart", None
        )

    async def close(self) -> None:
        """Server shutdown: the supervisor cancels the leases (which kill); then the client."""
        for lease in list(self._leases.values()):
            if lease.proc is not None:
                with contextlib.suppress(Exception):
                    await procs.stop(lease.proc)
        await self._http.aclose()

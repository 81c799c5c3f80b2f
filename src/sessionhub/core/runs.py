"""Runs as asyncio tasks: single flight per session, cancellable from anywhere.

A run is recorded in the store before its task starts (the store refuses a
second active run per session), so single flight holds across processes.
Cancellation of a run owned by another process travels through the store's
notifications (PostgreSQL NOTIFY); the owner cancels its task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sessionhub import tracing
from sessionhub.core.ports import Driver, RunContext
from sessionhub.domain.errors import SessionHubError
from sessionhub.domain.models import CancelResult, Event, EventCreate, Run, RunStatus, Session
from sessionhub.store.base import SessionStore

log = logging.getLogger(__name__)


class RunSupervisor:
    def __init__(self, store: SessionStore, *, owner: str | None = None) -> None:
        self.store = store
        # the node that runs them (sessionhub.core.nodes); other nodes see it in runs.owner
        self.owner = owner or f"proc-{uuid.uuid4()}"
        self._tasks: dict[str, tuple[Run, asyncio.Task[None]]] = {}
        self._unsubscribe = store.subscribe(self._on_notice)

    @property
    def active(self) -> int:
        return len(self._tasks)

    async def start(self, session: Session, driver: Driver, input: dict[str, Any]) -> Run:
        run = await self.store.start_run(
            workspace_id=session.workspace_id,
            session_id=session.id,
            driver=driver.kind,
            input=input,
            owner=self.owner,
        )
        ctx = RunContext(session=session, run=run, append=self._appender(session))
        task = asyncio.create_task(self._supervise(driver, ctx, input), name=f"run-{run.id}")
        self._tasks[session.id] = (run, task)
        return run

    def _appender(self, session: Session) -> Any:
        async def append(events: Sequence[EventCreate]) -> list[Event]:
            return await self.store.append_events(
                workspace_id=session.workspace_id, session_id=session.id, events=events
            )

        return append

    async def _supervise(self, driver: Driver, ctx: RunContext, input: dict[str, Any]) -> None:
        status, error = RunStatus.succeeded, None
        attributes = {"sessionhub.session_id": ctx.session.id, "sessionhub.run_id": ctx.run.id}
        try:
            with tracing.span(f"run {driver.kind}", attributes):
                await driver.run(ctx, input)
        except asyncio.CancelledError:
            status = RunStatus.cancelled
        except Exception as exc:
            log.exception("run %s failed", ctx.run.id)
            status, error = RunStatus.failed, f"{type(exc).__name__}: {exc}"
        finally:
            self._tasks.pop(ctx.session.id, None)
        await self._finish(ctx.run, status, error)

    async def _finish(self, run: Run, status: RunStatus, error: str | None) -> None:
        try:
            await self.store.finish_run(run_id=run.id, status=status, error=error)
        except SessionHubError as exc:
            log.info("run %s ended after its session went away: %s", run.id, exc.detail)

    async def cancel(self, session: Session) -> CancelResult:
        local = self._tasks.get(session.id)
        if local is not None:
            run, task = local
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=5)
            if self._tasks.pop(session.id, None) is not None:
                await self._finish(run, RunStatus.cancelled, None)  # cancelled before it started
            return CancelResult(cancelled=True, run_id=run.id)
        active = await self.store.active_run(
            workspace_id=session.workspace_id, session_id=session.id
        )
        if active is None:
            return CancelResult(cancelled=False)
        await self.store.request_cancel(session_id=session.id)
        return CancelResult(cancelled=True, run_id=active.id)

    def _on_notice(self, topic: str, session_id: str, seq: int) -> None:
        if topic == "cancel" and session_id in self._tasks:
            self._tasks[session_id][1].cancel()

    async def close(self) -> None:
        """Server shutdown: cancel local runs and let them record it."""
        self._unsubscribe()
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

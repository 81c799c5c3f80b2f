"""The single writer: every write of a process goes through one queue.

Whatever is queued when the writer comes round is run in *one* transaction
and committed once; each caller's future resolves only after that commit, so
every write is durable before its reply (ARCHITECTURE §3: ~30x the throughput
of a transaction per request). Consecutive appends are coalesced so that a
batch touching one session reads and updates its row once.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sessionhub.domain.errors import SessionHubError, Unavailable
from sessionhub.store.sql.db import Conn, Database

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """Something committed that live listeners should hear about."""

    topic: str
    session_id: str
    seq: int = 0
    notified: bool = False
    """Already sent to other processes (by the statement that wrote it)."""


@dataclass
class Outcome:
    result: Any = None
    error: BaseException | None = None
    notices: list[Notice] = field(default_factory=list)


class WriteJob(abc.ABC, Generic[T]):
    """One unit of work; ``run`` must check before it writes."""

    coalesce: bool = False

    @abc.abstractmethod
    async def run(self, conn: Conn, notices: list[Notice]) -> T: ...

    @classmethod
    async def run_group(cls, conn: Conn, jobs: Sequence[WriteJob[Any]]) -> list[Outcome]:
        """Run consecutive jobs of this class together (see ``coalesce``)."""
        raise NotImplementedError

    @classmethod
    def one_statement(cls, jobs: Sequence[WriteJob[Any]]) -> OneStatement | None:
        """These jobs (all of this class) as one autocommit PostgreSQL statement, if they fit."""
        return None


OneStatement = Callable[[Conn], Awaitable[list[Outcome]]]
Item = tuple[WriteJob[Any], "asyncio.Future[Any]"]


class Writer:
    def __init__(
        self,
        db: Database,
        *,
        publish: Callable[[list[Notice]], None],
        max_batch: int = 500,
    ) -> None:
        self.db = db
        self.publish = publish
        self.max_batch = max_batch
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(db.write_depth)
        self._in_flight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="sessionhub-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        await asyncio.gather(self._task, *self._in_flight, return_exceptions=True)
        self._task = None

    async def submit(self, job: WriteJob[T]) -> T:
        if self._task is None:
            raise Unavailable("the store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((job, future))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(_forget)  # the write goes on; its outcome is nobody's
            raise

    async def _loop(self) -> None:
        """Collect a batch, start it when a write connection is free, repeat."""
        while True:
            batch = [await self._queue.get()]
            await self._slots.acquire()
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            task = asyncio.create_task(self._run_and_release(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _run_and_release(self, batch: list[Item]) -> None:
        try:
            await self._run_batch(batch)
        finally:
            self._slots.release()
            for _ in batch:
                self._queue.task_done()

    async def _commit(self, jobs: list[WriteJob[Any]]) -> tuple[list[Outcome], list[Notice]]:
        """Run the batch in one transaction; retry it whole if the database rolled it back."""
        single = self._one_statement(jobs)
        for attempt in range(3):
            try:
                if single is not None:
                    async with self.db.write_connection() as conn:
                        outcomes = await single(conn)
                    return outcomes, [n for o in outcomes for n in o.notices if o.error is None]
                async with self.db.write_transaction() as conn:
                    outcomes = await _run_jobs(conn, jobs, self.db.is_retryable)
                    notices = [n for o in outcomes for n in o.notices if o.error is None]
                    if notices and conn.dialect == "postgresql":
                        await _pg_notify(conn, notices)
                return outcomes, notices
            except Exception as exc:
                if attempt == 2 or not self.db.is_retryable(exc):
                    raise
                log.info("write batch rolled back (%s); retrying", type(exc).__name__)
        raise AssertionError("unreachable")

    def _one_statement(self, jobs: list[WriteJob[Any]]) -> OneStatement | None:
        kind = type(jobs[0])
        if self.db.dialect != "postgresql" or any(type(job) is not kind for job in jobs):
            return None
        return kind.one_statement(jobs)

    async def _run_batch(self, batch: list[Item]) -> None:
        jobs = [job for job, _ in batch]
        try:
            outcomes, notices = await self._commit(jobs)
        except Exception as exc:
            log.exception("write batch of %d failed", len(batch))
            error = Unavailable("the database could not commit the write")
            error.__cause__ = exc
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if outcome.error is not None:
                future.set_exception(outcome.error)
            else:
                future.set_result(outcome.result)
        if notices:
            self.publish(notices)


async def _run_jobs(
    conn: Conn, jobs: list[WriteJob[Any]], retryable: Callable[[BaseException], bool]
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    i = 0
    while i < len(jobs):
        job = jobs[i]
        if job.coalesce:
            j = i
            while j < len(jobs) and type(jobs[j]) is type(job):
                j += 1
            outcomes.extend(await type(job).run_group(conn, jobs[i:j]))
            i = j
            continue
        outcomes.append(await _run_one(conn, job, retryable))
        i += 1
    return outcomes


async def _run_one(
    conn: Conn, job: WriteJob[Any], retryable: Callable[[BaseException], bool]
) -> Outcome:
    notices: list[Notice] = []
    try:
        async with conn.savepoint():
            result = await job.run(conn, notices)
    except SessionHubError as exc:
        return Outcome(error=exc)
    except Exception as exc:
        if retryable(exc):
            raise  # a deadlock: the whole batch is retried

        log.exception("write job %s failed", type(job).__name__)
        error = Unavailable("the write failed in the database")
        error.__cause__ = exc
        return Outcome(error=error)
    return Outcome(result=result, notices=notices)


def _forget(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


PG_CHANNEL = "sessionhub"


async def _pg_notify(conn: Conn, notices: list[Notice]) -> None:
    """Tell every other process; delivered by PostgreSQL only on commit."""
    latest: dict[tuple[str, str], int] = {}
    for n in notices:
        if n.notified:
            continue
        key = (n.topic, n.session_id)
        latest[key] = max(latest.get(key, 0), n.seq)
    if not latest:
        return
    payloads = [f"{topic}|{session_id}|{seq}" for (topic, session_id), seq in latest.items()]
    await conn.execute(
        "SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p",
        {"channel": PG_CHANNEL, "payloads": payloads},
    )

"""Requests that run longer than a client waits (evaluation's lagging scan over every branch of the
city, registry's overdue-transfer scan) as jobs: the request answers 202 with the job's URL at
once, the work runs in the background and writes its progress while it runs, and the job's
document in the store says how it ended. A request for work already running joins it; a job whose
process stopped (its heartbeat went quiet) is taken over and run again by a live replica, so a
restart loses none. A job that ended is kept for `keep` (JOBS_KEEP_DAYS, 7 days by default: its
status URL answers meanwhile, then 404), then removed when the next job starts — the store has no
TTL index, and jobs start a few times an hour at most, so the collection holds that many days of
jobs and never grows past them.

A service wires `Jobs` in its composition root (with `adopting` among its background tasks) and
serves them through `alliance_shared.job_routes`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .clock import SHANGHAI, Clock
from .errors import DomainError
from .ids import uuid4
from .mongo.jobs import ACTIVE, JobStore
from .runtime import Runtime, every

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0  # how often a running job writes its progress (and so says it is alive)
STALE_S = 30.0  # a job whose heartbeat is older than this lost its process: another adopts it
POLL_S = 0.5  # how often a waiter reads a job another replica runs
ADOPT_INTERVAL_S = 10.0  # how often a replica looks for jobs a stopped process left running

Doc = dict[str, Any]


@dataclass
class Progress:
    """What a job's work has done of how much (`total` None until it knows)."""

    done: int = 0
    total: int | None = None


Work = Callable[[Doc, Progress], Awaitable[Mapping[str, Any]]]  # (the job, its progress) -> its result


class Jobs:
    def __init__(self, store: JobStore, clock: Clock, works: Mapping[str, Work],
                 keep: timedelta = timedelta(days=7)) -> None:
        self.store = store
        self.clock = clock
        self.works = dict(works)
        self.keep = keep
        self.owner = uuid4().hex  # this process
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def start(
        self, kind: str, key: str, requested_by: str, params: Mapping[str, Any] | None = None
    ) -> tuple[Doc, bool]:
        """(the job doing `kind` for `key`, whether this request started it): a job already
        running for the same kind and key is joined, not started twice. `params`: what the work
        needs beyond its key (kept with the job, so a replica that adopts it runs the same work)."""
        now = self.clock.now()
        doc: Doc = {
            "_id": uuid4().hex,
            "kind": kind,
            "key": key,
            "running_key": f"{kind}:{key}",
            "state": "running",
            "progress": {"done": 0, "total": None},
            "result": None,
            "error": None,
            "requested_by": requested_by,
            "params": dict(params or {}),
            "created_at": now,
            "started_at": now,
            "finished_at": None,
            "owner": self.owner,
            "heartbeat_at": now,
            "attempts": 1,
        }
        job, created = await self.store.open(doc)
        if created:
            self._spawn(job)
            pruned = await self.store.prune(now - self.keep)
            if pruned:
                log.info("%d job(s) that ended before %s removed", pruned, (now - self.keep).isoformat())
        return job, created

    async def wait(self, job_id: str) -> Doc | None:
        """The job once it has ended (run here or by another replica)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.shield(task)
        while True:
            job = await self.store.get(job_id)
            if job is None or job["state"] not in ACTIVE:
                return job
            await asyncio.sleep(POLL_S)

    async def adopt_orphans(self) -> int:
        """Run again every job whose process stopped beating; returns how many this replica took."""
        taken = 0
        stale = self.clock.now() - timedelta(seconds=STALE_S)
        for job in await self.store.active():
            beat = job.get("heartbeat_at")
            if job.get("owner") == self.owner or job["kind"] not in self.works or (beat is not None and beat > stale):
                continue
            adopted = await self.store.adopt(job, self.owner, self.clock.now())
            if adopted is not None:
                log.warning("job %s (%s) adopted from a stopped process; running it again", job["_id"], job["kind"])
                self._spawn(adopted)
                taken += 1
        return taken

    def _spawn(self, job: Doc) -> None:
        task = asyncio.create_task(self._run(job), name=f"job:{job['kind']}:{job['_id']}")
        self._tasks[job["_id"]] = task
        task.add_done_callback(lambda _: self._tasks.pop(job["_id"], None))

    async def _run(self, job: Doc) -> None:
        progress = Progress()
        beat = asyncio.create_task(self._beat(job["_id"], progress))
        try:
            result = await self.works[job["kind"]](job, progress)
        except asyncio.CancelledError:
            raise  # the process stops: the job stays running, and a live replica adopts it
        except DomainError as exc:  # refused as a request would be: the same answer, kept with the job
            error = {"status": exc.status, "code": exc.code, "message": exc.message, "field": exc.field}
            await self._end(job["_id"], progress, state="failed", error=error)
        except Exception as exc:
            log.exception("job %s (%s) failed", job["_id"], job["kind"])
            error = {"status": 503, "code": "job_failed", "field": None, "cause": type(exc).__name__,
                     "message": "任务失败，可重新发起 / the job failed; start it again"}
            await self._end(job["_id"], progress, state="failed", error=error)
        else:
            await self._end(job["_id"], progress, state="succeeded", result=dict(result))
        finally:
            beat.cancel()

    async def _end(self, job_id: str, progress: Progress, **fields: Any) -> None:
        if progress.total is not None and fields["state"] == "succeeded":
            progress.done = progress.total
        await self.store.finish(job_id, fields | {"progress": _progress(progress), "finished_at": self.clock.now(),
                                                  "heartbeat_at": self.clock.now()})

    async def _beat(self, job_id: str, progress: Progress) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.store.update(job_id, {"progress": _progress(progress), "heartbeat_at": self.clock.now()})
            except Exception:  # a store hiccup: the next beat tries again; a long outage lets another adopt it
                log.warning("job %s: heartbeat not written", job_id, exc_info=True)


def _progress(progress: Progress) -> Doc:
    return {"done": progress.done, "total": progress.total}


def public(job: Doc) -> Doc:
    """A job as its status URL answers it (no owner or internal keys)."""

    def shown(value: Any) -> Any:
        return value.astimezone(SHANGHAI).isoformat() if value is not None else None

    return {
        "id": job["_id"],
        "kind": job["kind"],
        "key": job.get("key"),
        "state": job["state"],
        "progress": job.get("progress") or {"done": 0, "total": None},
        "result": job.get("result"),
        "error": job.get("error"),
        "requested_by": job.get("requested_by"),
        "created_at": shown(job.get("created_at")),
        "started_at": shown(job.get("started_at")),
        "finished_at": shown(job.get("finished_at")),
        "attempts": job.get("attempts", 1),
        "status_url": f"/api/v1/jobs/{job['_id']}",
    }


def adopting(jobs: Jobs, interval_s: float = ADOPT_INTERVAL_S) -> Callable[[Runtime], Awaitable[None]]:
    """A background task: jobs a stopped process left running are taken over, at start-up and
    every `interval_s` seconds."""

    async def adopt(_: Runtime) -> None:
        await every(interval_s, jobs.adopt_orphans, name="job-adoption")

    return adopt

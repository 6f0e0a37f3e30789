"""The lagging scan runs as a job (issue 17 item 6): the request answers 202 with the job's URL, the
job says its progress and how it ended, a request while a scan of the same quarter runs joins it,
and a job left running by a stopped process is taken over and run again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from alliance_shared.testing import running_job

pytestmark = pytest.mark.integration


async def test_a_scan_request_answers_202_with_a_status_url_that_says_how_it_ended(service: Any) -> None:
    s = service
    await s.institution("ij1", "private", "L2")
    await s.branch("bj1", ["ij1"])
    await s.settle()
    answer = await s.client.post("/api/v1/scans/lagging", headers=s.token())
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert answer.headers["location"] == job["status_url"] == f"/api/v1/jobs/{job['id']}"
    assert job["kind"] == "lagging_scan" and job["key"] == "2026-Q4" and job["requested_by"] == "sec-1"
    ended = await s.until_ended(answer.headers["location"])
    assert ended["state"] == "succeeded", ended
    assert ended["result"]["scanned"] >= 1 and ended["progress"]["done"] == ended["progress"]["total"] >= 1
    assert ended["started_at"] <= ended["finished_at"] and ended["error"] is None
    counts = await s.client.post("/api/v1/scans/lagging", headers=s.token(), params={"wait": "true"})
    assert counts.status_code == 200 and set(counts.json()) >= {"scanned", "lagging", "fell_behind"}


async def test_a_scan_request_while_one_runs_for_the_quarter_joins_it(service: Any) -> None:
    s = service
    store = s.app.state.jobs.store
    running = running_job("lagging_scan", "2026-Q4", owner="another-replica", at=s.clock.now(), requested_by="sec-2")
    await store.open(running)
    try:
        first, second = await asyncio.gather(*(s.client.post("/api/v1/scans/lagging", headers=s.token())
                                               for _ in range(2)))
        assert [first.status_code, second.status_code] == [202, 202]
        assert first.json()["id"] == second.json()["id"] == running["_id"]
        assert first.json()["requested_by"] == "sec-2"
    finally:
        await store.finish(running["_id"], {"state": "succeeded"})


async def test_a_job_whose_process_stopped_is_adopted_and_run_again(service: Any) -> None:
    s = service
    jobs = s.app.state.jobs
    orphan = running_job("lagging_scan", "2026-Q4", owner="stopped-process", at=s.clock.now(), requested_by="sec-3",
                         beat_at=s.clock.now() - timedelta(minutes=5))
    fresh = orphan | {"_id": uuid.uuid4().hex, "running_key": "lagging_scan:other", "owner": "live-replica",
                      "heartbeat_at": s.clock.now()}
    await jobs.store.open(orphan)
    await jobs.store.open(fresh)
    try:
        assert await jobs.adopt_orphans() == 1  # the live replica's job is left to it
        ended = await s.until_ended(f"/api/v1/jobs/{orphan['_id']}")
        assert ended["state"] == "succeeded" and ended["attempts"] == 2 and ended["result"]["scanned"] >= 0
        assert (await jobs.store.get(fresh["_id"]))["owner"] == "live-replica"
    finally:
        await jobs.store.finish(fresh["_id"], {"state": "succeeded"})


async def test_a_job_is_read_by_the_secretariat_only_and_an_unknown_one_is_404(service: Any) -> None:
    s = service
    assert (await s.client.get("/api/v1/jobs/nope", headers=s.token())).json()["error"]["field"] == "job_id"
    admin = s.token("institution_admin", institution_id="ij1", subject="adm")
    assert (await s.client.get("/api/v1/jobs/nope", headers=admin)).status_code == 403
    assert (await s.client.post("/api/v1/scans/lagging", headers=admin)).status_code == 403


async def test_a_quarters_rescore_is_a_job_too(service: Any) -> None:
    s = service
    answer = await s.client.post("/api/v1/periods/2026-Q4/rescore", headers=s.token())
    assert answer.status_code == 202, answer.text
    ended = await s.until_ended(answer.headers["location"])
    assert ended["kind"] == "rescore" and ended["state"] == "succeeded", ended
    assert ended["result"]["period"] == "2026-Q4" and ended["result"]["changed"] >= 0
    bad = await s.client.post("/api/v1/periods/2026-Q9/rescore", headers=s.token())
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "period"

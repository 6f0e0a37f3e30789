"""The overdue-transfer scan asked for by the secretariat runs as a job (issue 17 item 6, as
evaluation's lagging scan): 202 with its status URL at once, the job says its progress and how many
transfers it announced, a request while today's scan runs joins it, `?wait=true` keeps the old
answer, and a job left running by a stopped process is taken over and run again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from alliance_registry.usecases.scans import OVERDUE_TRANSFER_SCAN
from alliance_shared.testing import running_job

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings):
    # the scheduler's own scan runs at start-up only: the requested scan is the one that finds them
    return settings.model_copy(update={"transfer_scan_interval_s": 3600.0})


async def overdue_transfer(api: Any, make: Any, clock: Any) -> dict[str, Any]:
    a, b = await api.institution(make.uscc(), name="甲银行"), await api.institution(make.uscc(), name="乙证券")
    from_branch, to_branch = await api.organization(a["id"]), await api.organization(b["id"])
    member = await api.member(from_branch["id"], make.id_number(), status="full", pocket=False)
    r = await api.post(f"/api/v1/members/{member['id']}/transfers", api.admin(a["id"]),
                       json={"to_organization_id": to_branch["id"]})
    assert r.status_code == 201, r.text
    clock.advance(timedelta(days=32))
    return dict(r.json())


async def until_ended(api: Any, url: str) -> dict[str, Any]:
    for _ in range(600):
        job = (await api.get(url, api.secretariat)).json()
        if job["state"] not in ("queued", "running"):
            return dict(job)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} still running: {job}")


async def test_a_scan_request_answers_202_with_a_status_url_that_says_what_it_announced(api, topic, make, clock):
    transfer = await overdue_transfer(api, make, clock)
    answer = await api.post("/api/v1/scans/transfers", api.secretariat)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert answer.headers["location"] == job["status_url"] == f"/api/v1/jobs/{job['id']}"
    assert job["kind"] == OVERDUE_TRANSFER_SCAN and job["key"] == "2026-08-16"
    assert job["requested_by"] == "secretariat-user"
    ended = await until_ended(api, answer.headers["location"])
    assert ended["state"] == "succeeded" and ended["error"] is None, ended
    assert ended["result"] == {"announced": 1}
    assert ended["progress"] == {"done": 1, "total": 1}
    [event] = await topic.wait_for_events(1, where=lambda e: e.type == "fpba.member.transfer_overdue.v1")
    assert event.data["transfer_id"] == transfer["id"]
    # the old answer, for the clients that want it: the counts once done (nothing left to announce)
    again = await api.post("/api/v1/scans/transfers", api.secretariat, params={"wait": "true"})
    assert (again.status_code, again.json()) == (200, {"announced": 0})


async def test_a_scan_request_while_todays_scan_runs_joins_it(api, clock):
    store = api.app.state.jobs.store
    running = running_job(OVERDUE_TRANSFER_SCAN, "2026-07-15", owner="another-replica", at=clock.now(),
                          requested_by="secretariat-2")
    await store.open(running)
    try:
        first, second = await asyncio.gather(*(api.post("/api/v1/scans/transfers", api.secretariat)
                                               for _ in range(2)))
        assert [first.status_code, second.status_code] == [202, 202]
        assert first.json()["id"] == second.json()["id"] == running["_id"]
        assert first.json()["requested_by"] == "secretariat-2"
    finally:
        await store.finish(running["_id"], {"state": "succeeded"})


async def test_a_scan_whose_process_stopped_is_adopted_and_run_again(api, make, clock):
    await overdue_transfer(api, make, clock)
    jobs = api.app.state.jobs
    orphan = running_job(OVERDUE_TRANSFER_SCAN, "2026-08-16", owner="stopped-process", at=clock.now(),
                         requested_by="secretariat-3", beat_at=clock.now() - timedelta(minutes=5))
    await jobs.store.open(orphan)
    assert await jobs.adopt_orphans() == 1
    ended = await until_ended(api, f"/api/v1/jobs/{orphan['_id']}")
    assert ended["state"] == "succeeded" and ended["attempts"] == 2 and ended["result"] == {"announced": 1}


async def test_only_the_secretariat_scans_and_reads_a_job_and_an_unknown_one_is_404(api, make):
    unknown = await api.get("/api/v1/jobs/nope", api.secretariat)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "job_id"
    other = await api.institution(make.uscc())
    admin = api.admin(other["id"])
    assert (await api.post("/api/v1/scans/transfers", admin)).status_code == 403
    assert (await api.get("/api/v1/jobs/nope", admin)).status_code == 403
    started = (await api.post("/api/v1/scans/transfers", api.secretariat)).json()
    assert (await api.get(started["status_url"], admin)).status_code == 403

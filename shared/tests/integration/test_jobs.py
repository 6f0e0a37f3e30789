"""Ended jobs do not pile up (issue 17): one that ended longer than `keep` ago is removed when the
next job starts; a younger one, and any job still running however old, stays and answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alliance_shared.clock import FixedClock
from alliance_shared.jobs import Jobs, Progress
from alliance_shared.mongo import connect
from alliance_shared.mongo.jobs import JobStore
from alliance_shared.testing import namespace
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(infra: Any) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client = connect(infra.mongodb_uri)
    name = namespace("jobs").replace("-", "_")
    yield client[name]
    await client.drop_database(name)
    await client.close()


async def counted(job: dict[str, Any], progress: Progress) -> Mapping[str, Any]:
    return {"counted": job["key"]}


async def test_a_job_that_ended_longer_ago_than_kept_is_removed_when_the_next_starts(db: Any) -> None:
    clock = FixedClock(datetime(2026, 12, 1, 2, tzinfo=UTC))
    jobs = Jobs(JobStore(lambda: db), clock, {"count": counted}, keep=timedelta(days=7))
    old, _ = await jobs.start("count", "2026-Q3", "sec-1")
    assert (await jobs.wait(old["_id"]) or {})["state"] == "succeeded"
    clock.advance(timedelta(days=3))
    younger, _ = await jobs.start("count", "2026-Q4", "sec-1")
    await jobs.wait(younger["_id"])
    # a job another replica still runs, started long ago: never pruned
    stuck = {"_id": "still-running", "kind": "count", "key": "2025-Q1", "running_key": "count:2025-Q1",
             "state": "running", "owner": "another-replica", "heartbeat_at": clock.now(),
             "created_at": clock.now() - timedelta(days=30), "started_at": clock.now() - timedelta(days=30),
             "finished_at": None}
    await jobs.store.open(stuck)

    clock.advance(timedelta(days=5))  # the first ended 8 days ago, the second 5
    newest, _ = await jobs.start("count", "2027-Q1", "sec-1")
    await jobs.wait(newest["_id"])

    assert await jobs.store.get(old["_id"]) is None
    assert (await jobs.store.get(younger["_id"]) or {})["result"] == {"counted": "2026-Q4"}
    assert (await jobs.store.get("still-running") or {})["state"] == "running"
    left = [d["_id"] async for d in db["jobs"].find({}, {"_id": 1})]
    assert sorted(left) == sorted([younger["_id"], newest["_id"], "still-running"])

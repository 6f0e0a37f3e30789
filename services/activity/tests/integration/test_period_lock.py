"""The period lock at ingestion, against the real broker and store: once evaluation announces a
period closed, a report into it is refused and says so, Chinese first, at its time field; an unlock
exception lets one branch (or one institution) in until it expires or is revoked, and an expired
one is named as such; a correction of an approved report is refused as already approved. The
sandbox answers the same."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from alliance_shared.contracts.base import EventPayload
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.evaluation import PeriodClosed, PeriodUnlocked, PeriodUnlockRevoked
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.testing import wait_for

from .conftest import NOW, Platform, meeting_event

pytestmark = pytest.mark.integration
BATCH = {"Content-Type": "application/cloudevents-batch+json"}
Q3_DAY = "2026-09-12T09:00:00+08:00"  # NOW is in 2026-Q4


async def _post(platform: Platform, inst: str, *events: dict[str, Any], sandbox: bool = False) -> dict[str, Any]:
    path = "/api/v1/events:validate" if sandbox else "/api/v1/events"
    answer = await platform.client.post(path, json=list(events), headers={**platform.key(inst), **BATCH})
    assert answer.status_code in (200, 202), answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _projected(platform: Platform, collection: str, query: dict[str, Any]) -> None:
    async def there() -> bool:
        return await platform.db[collection].count_documents(query) > 0

    await wait_for(there, timeout_s=30, what=f"{collection} {query}")
    await _post(platform, "inst-a", meeting_event("warm-up"), sandbox=True)


def _unlock(exception_id: str, *, until: Any, org: str | None = "org-a", inst: str | None = None) -> PeriodUnlocked:
    return PeriodUnlocked(
        exception_id=exception_id, period="2026-Q3", organization_id=org, institution_id=inst,
        requested_by="支部书记", granted_by="sec-1", reason="系统故障漏报", until=until, granted_at=NOW,
    )  # fmt: skip


async def test_a_closed_period_refuses_reports_unless_an_unlock_exception_is_in_force(platform: Platform) -> None:
    assert (await _post(platform, "inst-a", meeting_event("before", held_at=Q3_DAY)))["accepted"] == 1
    closed = PeriodClosed(period="2026-Q3", closed_at=NOW, closed_by="sec-1")
    await platform.publisher.publish("evaluation.events.v1", _event(closed), closed.ordering_key())
    await _projected(platform, "period_locks", {"_id": "2026-Q3"})

    refused = await _post(platform, "inst-a", meeting_event("late-1", held_at=Q3_DAY))
    [why] = refused["rejected"][0]["reasons"]
    assert refused["accepted"] == 0 and why["field"] == "data.held_at"
    assert why["reason"].startswith("2026-Q3 考核期已关闭，不再接收上报；如需补报请向秘书处申请解锁例外")
    sandbox = await _post(platform, "inst-a", meeting_event("late-1", held_at=Q3_DAY), sandbox=True)
    assert sandbox["rejected"][0]["reasons"] == [why]
    assert (await _post(platform, "inst-a", meeting_event("q4")))["accepted"] == 1  # the open quarter

    # an exception for org-a lets org-a in, not org-b; an expired one says it expired
    active = _unlock("x-1", until=NOW + timedelta(days=2))
    ended = _unlock("x-0", until=NOW - timedelta(hours=1), org="org-b")
    for p in (active, ended):
        await platform.publisher.publish("evaluation.events.v1", _event(p), p.ordering_key())
    await _projected(platform, "unlock_exceptions", {"_id": "x-0"})
    assert (await _post(platform, "inst-a", meeting_event("late-2", held_at=Q3_DAY)))["accepted"] == 1
    late_b = meeting_event("late-b", org="org-b", attendees=("m-b",), held_at=Q3_DAY)
    [expired] = (await _post(platform, "inst-b", late_b))["rejected"][0]["reasons"]
    assert expired["reason"].startswith("2026-Q3 考核期已关闭，本单位的解锁例外已于 2026-10-20 09:00（北京时间）到期")

    revoked = PeriodUnlockRevoked(exception_id="x-1", period="2026-Q3", organization_id="org-a", revoked_by="sec-1",
                                  revoked_at=NOW)
    await platform.publisher.publish("evaluation.events.v1", _event(revoked), revoked.ordering_key())
    await _projected(platform, "unlock_exceptions", {"_id": "x-1", "revoked_at": {"$ne": None}})
    await wait_for(lambda: _refused(platform, "late-3"), timeout_s=10, what="the revoked exception to bite")


async def _refused(platform: Platform, event_id: str) -> bool:
    answer = await _post(platform, "inst-a", meeting_event(event_id, held_at=Q3_DAY), sandbox=True)
    return bool(answer["rejected"]) and "考核期已关闭，不再接收上报" in answer["rejected"][0]["reason"]


async def test_a_correction_of_an_approved_report_is_refused_as_already_approved(platform: Platform) -> None:
    assert (await _post(platform, "inst-a", meeting_event("ok-1")))["accepted"] == 1
    admin = platform.person(Role.INSTITUTION_ADMIN, "inst-a")
    assert (await platform.client.post("/api/v1/submissions/ok-1/approve", headers=admin)).status_code == 200
    fix = meeting_event("ok-1-fix", attendees=("m-1", "m-2", "m-3"), supersedes="ok-1")
    [why] = (await _post(platform, "inst-a", fix))["rejected"][0]["reasons"]
    assert why["field"] == "supersedes" and why["reason"].startswith("被更正的上报已审核通过，不能更正")


def _event(payload: EventPayload) -> CloudEvent:
    return envelope(payload, source="/services/evaluation")

"""The lagging scan counts what the ruleset counts: a meeting returned in review does not end a
branch's silence until it is resubmitted (review.returned: not_counted by default)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from alliance_shared.contracts import activity as act
from alliance_shared.testing import at

pytestmark = pytest.mark.integration
WAIT = {"wait": "true"}  # the scan's counts, once its job has ended


async def test_a_meeting_returned_in_review_does_not_keep_a_branch_off_the_lagging_list(service: Any) -> None:
    s = service
    s.clock.set(at(2026, 8, 20))
    await s.institution("ir")
    await s.branch("br", ["ir"])
    await s.member("mr", "br", "ir")
    await s.meeting("br", "ir", "theme_party_day", at(2026, 5, 1), ["mr"], 1, at(2026, 5, 1))  # 111 days ago
    recent = await s.meeting("br", "ir", "theme_party_day", at(2026, 8, 10), ["mr"], 1, at(2026, 8, 10))
    await s.settle()
    sec = s.token()
    first = (await s.client.post("/api/v1/scans/lagging", headers=sec, params=WAIT)).json()
    assert first["lagging"] == 0  # met 10 days ago

    review = {"submission_id": recent.id, "institution_id": "ir", "organization_id": "br",
              "event_type_submitted": "fpba.meeting.held.v1", "by": "admin-ir", "at": at(2026, 8, 19)}  # fmt: skip
    await s.publish(act.SubmissionReturned(**review, state="returned", version=1, comment="缺少会议记录"))
    await s.settle()
    scan = (await s.client.post("/api/v1/scans/lagging", headers=sec, params=WAIT)).json()
    assert scan["lagging"] == 1, scan  # the returned meeting does not count: silent since 1 May
    listed = (await s.client.get("/api/v1/lagging", headers=sec)).json()["items"]
    assert [(i["organization_id"], i["days_since_last_meeting"], i["last_meeting_on"]) for i in listed] == [
        ("br", 111, "2026-05-01")
    ]

    await s.publish(act.SubmissionResubmitted(**{**review, "by": "secretary-br"}, state="resubmitted", version=2,
                                              returned_id=recent.id))  # fmt: skip
    await s.settle()
    s.clock.advance(timedelta(hours=1))
    again = (await s.client.post("/api/v1/scans/lagging", headers=sec, params=WAIT)).json()
    assert again["lagging"] == 0 and again["caught_up"] == 1

"""The rescore queue on the real broker and store: a registry backfill (members who joined years
ago) rescores the current and the previous quarter only, older quarters on demand; the loop waits
for a burst of events to end and then scores it in one round, or after its longest wait."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from alliance_evaluation.entrypoints.schedule import RescoreQueue
from alliance_evaluation.usecases import scoring
from alliance_shared.testing import wait_for

pytestmark = pytest.mark.integration


async def consumed(s: Any) -> None:
    runner = s.app.state.runtime.runners[0]

    async def done() -> bool:
        return bool(runner.state.handled + runner.state.duplicates >= s.published)

    await wait_for(done, timeout_s=60, what=f"{s.published} events consumed")


async def queued(s: Any) -> set[tuple[str, str]]:
    return {(e["period"], e["institution_id"]) for e in await s.ev.models.dirty()}


async def test_a_backfill_from_years_ago_rescores_the_current_and_previous_quarter_only(service: Any):
    s = service  # the clock stands in 2026-Q4
    await s.institution("old", since=date(2019, 3, 1))
    await s.branch("old-b", ["old"], since=date(2019, 3, 1))
    for n in range(5):
        await s.member(f"old-m{n}", "old-b", "old", since=date(2019, 6, 1))
    await consumed(s)
    assert await queued(s) == {("2026-Q4", "old"), ("2026-Q3", "old")}

    assert await scoring.rescore_dirty(s.ev) > 0
    assert await queued(s) == set()
    for period in ("2026-Q4", "2026-Q3"):
        assert await s.ev.models.score(period, "institution", "old") is not None
    assert await s.ev.models.score("2026-Q2", "institution", "old") is None

    # older: on demand (waiting for the job)
    rescored = await s.client.post("/api/v1/periods/2026-Q2/rescore", headers=s.token(), params={"wait": "true"})
    assert rescored.status_code == 200, rescored.text
    q2 = (await s.client.get("/api/v1/periods/2026-Q2/institutions/old", headers=s.token())).json()
    assert [b["id"] for b in q2["branches"]] == ["old-b"]


async def test_a_change_in_force_from_today_rescores_the_current_quarter_only(service: Any):
    s = service
    await s.member("new-m", "old-b", "old", since=date(2026, 10, 12))
    await consumed(s)
    assert await queued(s) == {("2026-Q4", "old")}
    await scoring.rescore_dirty(s.ev)


async def test_a_few_pairs_are_scored_at_the_first_look_as_a_live_stream_arrives(service: Any):
    s = service
    queue = RescoreQueue(s.ev, monotonic=lambda: 0.0)
    s.ev.queued.clear()
    await s.member("live-1", "old-b", "old", since=date(2026, 10, 1))
    await consumed(s)
    assert s.ev.queued.is_set()  # the batch woke the loop
    assert await queued(s) == {("2026-Q4", "old")}
    assert await queue.look() > 0  # one pair: scored at once, no waiting for the stream to pause
    assert await queued(s) == set()


async def test_a_burst_is_scored_once_it_stops_growing_or_after_the_longest_wait(service: Any, monkeypatch: Any):
    s = service
    monkeypatch.setattr(s.ev, "settings", s.ev.settings.model_copy(update={"rescore_at_once": 0}))  # all bursts
    clock = [0.0]
    queue = RescoreQueue(s.ev, monotonic=lambda: clock[0])
    assert await queue.look() == 0 and await queued(s) == set()  # nothing waiting

    await s.member("burst-1", "old-b", "old", since=date(2026, 10, 1))
    await consumed(s)
    assert await queue.look() == 0 and await queued(s)  # first seen: wait one look
    clock[0] += 2
    await s.institution("burst-i", since=date(2026, 10, 1))
    await consumed(s)
    assert await queue.look() == 0 and len(await queued(s)) == 2  # still growing
    clock[0] += 2
    assert await queue.look() > 0  # unchanged since the last look: the burst is over
    assert await queued(s) == set()

    # a stream that never pauses is scored every `rescore_max_wait_s`
    steps = 0
    while True:
        s.clock.advance(timedelta(seconds=1))  # each mark is newer than the last
        await s.member(f"stream-{steps}", "old-b", "old", since=date(2026, 10, 1))
        await consumed(s)
        drained = await queue.look()
        steps += 1
        if drained or not await queued(s):
            break
        assert clock[0] < s.settings.rescore_max_wait_s
        clock[0] += 5
    assert await queued(s) == set() and steps == s.settings.rescore_max_wait_s // 5 + 1


async def test_a_round_right_after_a_long_round_is_not_held_back(service: Any, monkeypatch: Any):
    s = service
    monkeypatch.setattr(s.ev, "settings", s.ev.settings.model_copy(update={"rescore_at_once": 0}))
    clock = [100.0]
    queue = RescoreQueue(s.ev, monotonic=lambda: clock[0])
    scored = scoring.rescore_dirty

    async def a_ten_second_round(unit: Any) -> int:
        clock[0] += 10
        return await scored(unit)

    monkeypatch.setattr(scoring, "rescore_dirty", a_ten_second_round)
    await s.member("next-1", "old-b", "old", since=date(2026, 10, 1))
    await consumed(s)
    assert await queue.look() == 0  # first seen
    assert await queue.look() > 0  # settled: scored, and the clock says it took 10 s

    s.clock.advance(timedelta(seconds=1))
    await s.member("next-2", "old-b", "old", since=date(2026, 10, 1))
    await consumed(s)
    assert await queue.look() == 0  # first seen, at once after the round
    assert await queue.look() > 0  # settled: scored without resting first
    assert await queued(s) == set()

"""The rank rows behind the overview, rankings and heat map: written by the scorer per chunk, one
document per institution with the branches it owns; a reader's in-memory copy is replaced when the
quarter is rescored — also in another replica that did not score; a quarter scored before rank
rows existed gets them built from its score cards."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from alliance_evaluation.adapters import ranks
from alliance_evaluation.adapters.readmodels import ReadModels
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.usecases import scoring
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.evaluation import ScoreComputed
from alliance_shared.contracts.topics import EVALUATION_EVENTS
from alliance_shared.testing import TopicReader, at, wait_for

pytestmark = pytest.mark.integration

Q3 = "2026-Q3"


async def alliance(s: Any) -> None:
    s.clock.set(at(2026, 10, 12))
    await s.institution("r1", "state_owned", "L3", name="深圳甲银行")
    await s.institution("r2", "emerging", "L1", name="深圳乙科技小贷")
    await s.branch("rb1", ["r1"])
    await s.branch("rb2", ["r1"])
    await s.branch("rj", ["r2", "r1"], kind="joint_branch")  # owned by r2, covers r1 too
    for n, org, inst in (("rm1", "rb1", "r1"), ("rm2", "rb2", "r1"), ("rm3", "rj", "r2")):
        await s.member(n, org, inst, since=date(2025, 1, 1))
    for month in (7, 8, 9):
        await s.meeting("rb1", "r1", "theme_party_day", at(2026, month, 5), ["rm1"], 1, at(2026, month, 6))
    await s.meeting("rj", "r2", "theme_party_day", at(2026, 8, 5), ["rm3"], 1, at(2026, 8, 6))
    await s.settle()


async def test_each_institution_has_one_rank_document_with_the_branches_it_owns(service: Any):
    s = service
    await alliance(s)
    docs = {d["institution_id"]: d for d in await ranks.read(s.ev.models.db, Q3)}
    assert sorted(docs) == ["r1", "r2"] and {d["period"] for d in docs.values()} == {Q3}
    assert [b["id"] for b in docs["r1"]["branches"]] == ["rb1", "rb2"]
    assert [b["id"] for b in docs["r2"]["branches"]] == ["rj"]
    assert docs["r1"]["branches"][0]["meetings"] == {"2026-07": 1, "2026-08": 1, "2026-09": 1}
    assert docs["r2"]["branches"][0]["institution_ids"] == ["r2", "r1"]
    card = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/r1", headers=s.token())).json()
    assert docs["r1"]["institution"]["score"] == card["score"]
    assert docs["r1"]["institution"]["branch_count"] == 2 and docs["r1"]["institution"]["joint_branch_count"] == 1

    # the joint branch shows in r1's scoped ranking although r2 owns it
    admin = s.token("institution_admin", institution_id="r1", subject="adm-r1")
    scoped = (
        await s.client.get(
            "/api/v1/dashboard/rankings", params={"period": Q3, "level": "branch"}, headers=admin
        )
    ).json()
    assert sorted(i["id"] for i in scoped["items"]) == ["rb1", "rb2", "rj"]
    heat = (await s.client.get("/api/v1/dashboard/heatmap", params={"period": Q3}, headers=s.token())).json()
    rows = {r["organization_id"]: r for r in heat["items"]}
    assert rows["rb1"]["counts"][-3:] == [1, 1, 1] and rows["rj"]["counts"][-3:] == [0, 1, 0]
    assert rows["rb1"]["last_meeting_on"] == "2026-09-05" and rows["rb2"]["last_meeting_on"] is None
    assert rows["rb1"]["opened"] == "2020-01-01" and rows["rb1"]["closed"] is None


async def test_a_rescore_with_nothing_new_writes_no_rank_row_and_a_changed_one_is_written(service: Any):
    s = service
    db = s.ev.models.db
    kept = {d["_id"]: d for d in await ranks.read(db, Q3)}
    assert await ranks.save(db, list(kept.values())) == 0  # the same rows: nothing written
    await scoring.rescore(s.ev, Period.parse(Q3))
    assert {d["_id"]: d for d in await ranks.read(db, Q3)} == kept
    renamed = {**kept[ranks.rank_key(Q3, "r2")]}
    renamed["institution"] = {**renamed["institution"], "name": "改名"}
    assert await ranks.save(db, [renamed, kept[ranks.rank_key(Q3, "r1")]]) == 1
    assert (await db[ranks.COLLECTION].find_one({"_id": renamed["_id"]}))["institution"]["name"] == "改名"
    await ranks.save(db, [kept[renamed["_id"]]])


async def test_another_replica_sees_a_rescore_at_once(service: Any):
    s = service
    replica = ReadModels(s.ev.models.db)  # a second process reading the same store
    before = await replica.ranks.quarter(Q3)
    assert before is await replica.ranks.quarter(Q3)  # kept in memory while the quarter stands
    score_before = next(r["score"] for r in before.branches if r["id"] == "rb2")
    await s.meeting("rb2", "r1", "theme_party_day", at(2026, 9, 1), ["rm2"], 1, at(2026, 9, 1))
    await s.settle()
    after = await replica.ranks.quarter(Q3)
    assert after is not before and after.version != before.version
    rb2 = next(r for r in after.branches if r["id"] == "rb2")
    assert rb2["score"] > score_before and rb2["meetings"] == {"2026-09": 1}
    page = (
        await s.client.get(
            "/api/v1/dashboard/rankings", params={"period": Q3, "level": "branch", "q": "rb2"}, headers=s.token()
        )
    ).json()
    assert [(i["id"], i["score"]) for i in page["items"]] == [("rb2", rb2["score"])]


async def test_a_quarter_scored_before_rank_rows_existed_gets_them_from_its_cards(service: Any):
    s = service
    db = s.ev.models.db
    kept = {d["_id"]: d for d in await ranks.read(db, Q3)}
    await db[ranks.COLLECTION].delete_many({"period": Q3})
    fresh = ReadModels(db)
    quarter = await fresh.ranks.quarter(Q3)
    assert [r["id"] for r in quarter.institutions] == ["r1", "r2"]
    rebuilt = {d["_id"]: d for d in await ranks.read(db, Q3)}
    assert rebuilt == kept


async def test_a_replaced_score_card_keeps_the_events_its_outbox_still_held(service: Any):
    """Score documents are replaced (delete + insert), not updated: an event the relay has not
    sent yet rides along into the new document, and the relay then sends both."""
    s = service
    models = ReadModels(s.ev.models.db)

    def card(score: float) -> tuple[dict[str, Any], list[Any]]:
        payload = ScoreComputed(
            period=Q3, object_type="branch", object_id="rx", institution_id="r1", organization_id="rx",
            score=score, grade="pass", vetoed=False, ruleset="2026.1", computation_id=f"c-{score}",
            computed_at=at(2026, 10, 12),
        )  # fmt: skip
        doc = {"_id": f"{Q3}|branch|rx", "period": Q3, "object_type": "branch", "object_id": "rx", "score": score}
        return doc, [(payload, envelope(payload, source="/tests"))]

    first, second = card(61.0), card(72.0)
    async with TopicReader(
        s.settings.kafka_bootstrap_servers, s.settings.kafka_topic_prefix + EVALUATION_EVENTS
    ) as topic:
        await models.save_batch([], [first])
        await models.save_batch([], [second])  # the relay may or may not have sent the first meanwhile
        stored = await models.score(Q3, "branch", "rx")
        assert stored is not None and stored["score"] == 72.0
        s.app.state.runtime.notify_outbox()
        sent = await topic.wait_for_events(
            2, where=lambda e: e.type == "fpba.score.computed.v1" and (e.data or {}).get("object_id") == "rx"
        )
    assert {e.id for e in sent} == {first[1][0][1].id, second[1][0][1].id}
    await wait_for(
        lambda: _cleared(s.ev.models.db, f"{Q3}|branch|rx"), timeout_s=20, what="the outbox cleared"
    )


async def _cleared(db: Any, key: str) -> bool:
    doc = await db.scores.find_one({"_id": key})
    return doc is not None and not doc.get("outbox") and doc.get("outbox_pending") is False


async def test_a_rescore_of_some_institutions_patches_the_rows_it_holds_instead_of_reading_them_all(service: Any):
    """The scorer holds the quarter's rank rows as of the overview it saved: a round that scored
    a few institutions builds the overview from those rows with the new ones in place (one `_id`
    read says they are still current); after another writer's overview it reads them all again."""
    from alliance_evaluation.adapters.views import build_overview

    s = service
    models = s.ev.models
    await scoring.rescore(s.ev, Period.parse(Q3))  # the whole quarter: the rows are held from here on
    reads: list[str] = []
    read_all = models.rank_documents

    async def counted(period: str) -> list[dict[str, Any]]:
        reads.append(period)
        return await read_all(period)

    models.rank_documents = counted
    try:
        await s.meeting("rb2", "r1", "branch_committee_meeting", at(2026, 9, 8), ["rm2"], 1, at(2026, 9, 8))
        await s.settle()  # rescores r1 alone
        assert reads == []
        saved = await models.overview(Q3)
        assert saved is not None
        held = models.ranks.held(Q3, saved["version"])
        assert held is not None
        stored = await ranks.read(models.db, Q3)
        assert {d["_id"]: (d["institution"], d["branches"]) for d in stored} == {
            k: (d["institution"], d["branches"]) for k, d in held.documents.items()
        }
        rb2 = held.branch("rb2")
        assert rb2 is not None and rb2["meetings"] == {"2026-09": 2}
        rejections = await models.rejections_by_institution(Q3)
        fresh = build_overview(Q3, stored, rejections, saved["computed_at"], s.ev.in_force.get(Q3, s.ev.ruleset))
        assert {k: v for k, v in saved.items() if k != "version"} == fresh

        # another replica saved the overview meanwhile: the rows held may be stale, so all are read
        await models.save_overview(Q3, {k: v for k, v in saved.items() if k != "version"})
        await scoring.rescore(s.ev, Period.parse(Q3), ["r2"])
        assert reads == [Q3]
    finally:
        models.rank_documents = read_all


async def test_a_rescore_of_many_chunks_reads_them_one_by_one_and_scores_as_one_chunk_does(service: Any):
    """Only the chunks in the rescore's pipeline are held: the quarter's activity is never read
    whole, and chunks of one institution give the cards one chunk of all gives."""
    s = service
    db = s.ev.models.db
    projections = s.ev.projections
    whole: list[str] = []
    read_whole = projections.quarter_activities

    async def counted(period: Period) -> Any:
        whole.append(str(period))
        return await read_whole(period)

    settings = s.ev.settings
    projections.quarter_activities = counted
    try:
        s.ev.settings = settings.model_copy(update={"rescore_chunk": 1_000})
        await scoring.rescore(s.ev, Period.parse(Q3))
        fields = {"digest": 1, "score": 1}
        together = {d["_id"]: d async for d in db.scores.find({"period": Q3}, fields)}
        s.ev.settings = settings.model_copy(update={"rescore_chunk": 1})
        assert await scoring.rescore(s.ev, Period.parse(Q3)) == 0  # two chunks, the same cards: nothing changed
        assert {d["_id"]: d async for d in db.scores.find({"period": Q3}, fields)} == together
        assert whole == []
    finally:
        s.ev.settings = settings
        projections.quarter_activities = read_whole

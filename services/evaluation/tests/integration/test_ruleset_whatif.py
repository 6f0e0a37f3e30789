"""The ruleset lifecycle against the real broker and store: a draft is checked (every problem named),
stored from a YAML file, replayed over a past quarter for all institutions as a job (202, a status
URL, progress), its diff read (who moved, by which indicator), nothing of the scores touched by the
replay; then proposed, refused to its proposer, approved by a second secretariat user, audited, and
the quarter rescored with it. The replay reads each collection once, whatever the institutions."""

from __future__ import annotations

import contextvars
import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from alliance_evaluation.domain.ruleset import RULESET_DIR
from alliance_evaluation.usecases import scoring
from alliance_shared.testing import wait_for
from pymongo import monitoring

from .conftest import at

pytestmark = pytest.mark.integration
Q3 = "2026-Q3"


class Commands(monitoring.CommandListener):
    counting: contextvars.ContextVar[bool] = contextvars.ContextVar("whatif_counting", default=False)

    def __init__(self) -> None:
        self.seen: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.counting.get():
            self.seen.append(f"{event.command_name} {event.command.get(event.command_name)}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture(scope="module")
def commands() -> Iterator[Commands]:
    listener = Commands()
    monitoring.register(listener)  # before the module's service creates its client
    yield listener


def draft_yaml(version: str) -> str:
    raw: dict[str, Any] = yaml.safe_load((RULESET_DIR / "2026.1.yaml").read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw) | {"version": version, "name": "综合评价细则 重组织生活（征求意见稿）"}
    # state-owned branches: organisational life weighs nine tenths
    raw["branch_weights"]["state_owned"] = {"org_life": 90, "learning": 0, "dues": 0, "public_activity": 0,
                                            "political": 0, "reporting": 10}  # fmt: skip
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


async def _quarter(s: Any) -> None:
    for inst in ("w1", "w2", "w3", "w4"):
        await s.institution(inst, ownership="private" if inst == "w4" else "state_owned", name=f"机构{inst}")
        await s.branch(f"{inst}-b", [inst])
        await s.member(f"{inst}-m", f"{inst}-b", inst)
    # w1 meets every month; w2 once; w3 learns and pays dues but barely meets; w4 (private) meets monthly
    for month in (7, 8, 9):
        for inst in ("w1", "w4"):
            for kind in ("branch_committee_meeting", "theme_party_day"):
                await s.meeting(f"{inst}-b", inst, kind, at(2026, month, 5), [f"{inst}-m"], 1, at(2026, month, 5))
    await s.meeting("w2-b", "w2", "branch_committee_meeting", at(2026, 7, 5), ["w2-m"], 1, at(2026, 7, 5))
    await s.settle()
    sec = s.token()
    rescored = await s.client.post(f"/api/v1/periods/{Q3}/rescore", headers=sec, params={"wait": "true"})
    assert rescored.status_code == 200, rescored.text


async def test_a_draft_is_replayed_for_all_institutions_diffed_and_published_by_a_second_approver(
    commands: Commands, service: Any
) -> None:
    s = service
    await _quarter(s)
    sec1, sec2 = s.token(subject="sec-1"), s.token(subject="sec-2")
    before = {i: (await s.client.get(f"/api/v1/periods/{Q3}/institutions/{i}", headers=sec1)).json()
              for i in ("w1", "w2", "w3", "w4")}  # fmt: skip
    assert {b["ruleset"] for b in before.values()} == {"2026.1"}

    # a bad draft: every problem named, Chinese first, nothing stored
    bad = yaml.safe_load(draft_yaml("2027.1"))
    bad["org_life"]["frequency_share"] = "9/10"
    bad["branch_weights"]["private"]["orglife"] = 5
    refused = await s.client.post("/api/v1/rulesets/drafts", headers=sec1, json=bad)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_ruleset"
    assert {p["field"] for p in refused.json()["error"]["problems"]} == {"org_life", "branch_weights.private.orglife"}
    assert refused.json()["error"]["problems"][0]["reason"].startswith("频次与出席占比之和须为 1")
    broken = await s.client.post("/api/v1/rulesets/drafts", headers=sec1,
                                 files={"file": ("draft.yaml", b"version: [1\n", "application/yaml")})  # fmt: skip
    assert broken.status_code == 422 and broken.json()["error"]["field"] == "file"
    taken = await s.client.post("/api/v1/rulesets/drafts", headers=sec1, json=yaml.safe_load(draft_yaml("2026.2")))
    assert taken.status_code == 422 and taken.json()["error"]["field"] == "version"
    admin = s.token("institution_admin", institution_id="w1", subject="adm")
    assert (
        await s.client.post("/api/v1/rulesets/drafts", headers=admin, json=yaml.safe_load(draft_yaml("x1")))
    ).status_code == 403
    assert (await s.client.get("/api/v1/rulesets/drafts", headers=sec1)).json()["items"] == []

    # stored from a YAML file
    upload = {"file": ("2027.1.yaml", draft_yaml("2027.1").encode(), "application/yaml")}
    created = await s.client.post("/api/v1/rulesets/drafts", headers=sec1, files=upload)
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["status"] == "draft" and draft["version"] == "2027.1" and draft["created_by"] == "sec-1"
    did = draft["id"]

    # not publishable before its what-if
    early = await s.client.post(
        f"/api/v1/rulesets/drafts/{did}/publication", headers=sec1, json={"periods": ["2026-Q4"]}
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "whatif_required"

    commands.seen.clear()
    token = Commands.counting.set(True)
    try:
        started = await s.client.post(f"/api/v1/rulesets/drafts/{did}/whatif", headers=sec1, json={"periods": [Q3]})
    finally:
        Commands.counting.reset(token)
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == job["status_url"] == f"/api/v1/rulesets/whatif/{job['id']}"

    async def done() -> bool:
        nonlocal job
        job = (await s.client.get(job["status_url"], headers=sec1)).json()
        return bool(job["status"] in ("done", "failed"))

    await wait_for(done, timeout_s=60, interval_s=0.2, what="the what-if job done")
    assert job["status"] == "done", job
    assert job["progress"] == {"done": 1, "total": 1, "period": Q3, "phase": "written"}
    assert job["in_force"] == {Q3: "2026.1"}
    inst = job["summary"][Q3]["institution"]
    assert inst["objects"] == 4 and inst["changed"] >= 2

    # facts read once for the quarter: one command per collection, whatever the number of institutions
    reads = [c for c in commands.seen if not c.split()[1].startswith(("whatif", "ruleset"))]
    per_collection = {c: reads.count(c) for c in reads}
    assert per_collection.get("find activities") == 1, reads
    assert per_collection.get("find organizations") == 1 and per_collection.get("find members") == 1, reads
    assert all(n <= 2 for n in per_collection.values()), reads
    assert not any(c.startswith(("insert scores", "update scores", "insert computations", "delete")) for c in reads)

    rows = (await s.client.get(f"{job['status_url']}/rows", headers=sec1,
                               params={"period": Q3, "level": "branch", "sort": "score_delta"})).json()  # fmt: skip
    by_id = {r["id"]: r for r in rows["items"]}
    w1 = by_id["w1-b"]
    assert w1["name"] == "支部w1-b" and w1["score_after"] > w1["score_before"]
    assert w1["indicators"][0]["indicator"] == "org_life" and w1["indicators"][0]["delta"] > 0
    assert "w4-b" not in by_id  # private: the draft changed only state-owned weights
    all_inst = (await s.client.get(f"{job['status_url']}/rows", headers=sec1,
                                   params={"period": Q3, "changed_only": "false", "sort": "id"})).json()  # fmt: skip
    assert [r["id"] for r in all_inst["items"]] == ["w1", "w2", "w3", "w4"]
    assert all(r["rank_before"] is not None or r["grade_before"] == "no_data" for r in all_inst["items"])
    wrong = await s.client.get(f"{job['status_url']}/rows", headers=sec1, params={"period": "2026-Q2"})
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "period"

    # the replay stored no score
    for i, card in before.items():
        now = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/{i}", headers=sec1)).json()
        assert (now["score"], now["ruleset"]) == (card["score"], card["ruleset"])

    # proposed for 2026-Q3 by sec-1; its proposer cannot approve; sec-2 approves
    proposed = await s.client.post(f"/api/v1/rulesets/drafts/{did}/publication", headers=sec1,
                                   json={"periods": [Q3], "note": "组织生活权重提高"})  # fmt: skip
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["status"] == "proposed" and proposed.json()["proposal"]["by"] == "sec-1"
    own = await s.client.post(f"/api/v1/rulesets/drafts/{did}/decision", headers=sec1, json={"decision": "approve"})
    assert own.status_code == 403 and own.json()["error"]["code"] == "second_approver_required"
    assert own.json()["error"]["message"].startswith("须由起草人和提请人以外的另一位秘书处人员批准")
    approved = await s.client.post(f"/api/v1/rulesets/drafts/{did}/decision", headers=sec2,
                                   json={"decision": "approve", "comment": "同意"})  # fmt: skip
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "published" and approved.json()["periods"] == [Q3]
    assert (await s.client.get("/api/v1/rulesets/in-force", headers=sec1)).json()["periods"] == {Q3: "2027.1"}
    again = await s.client.post(f"/api/v1/rulesets/drafts/{did}/decision", headers=sec2, json={"decision": "approve"})
    assert again.status_code == 409

    trail = (await s.client.get("/api/v1/audit", headers=sec1, params={"object_id": did})).json()["items"]
    assert sorted((a["action"], a["actor"]) for a in trail if a["object_id"] == did) == [
        ("ruleset.draft_created", "sec-1"),
        ("ruleset.proposed", "sec-1"),
        ("ruleset.published", "sec-2"),
    ]
    published = next(a for a in trail if a["action"] == "ruleset.published")
    assert published["details"]["periods"] == [Q3] and published["details"]["proposed_by"] == "sec-1"
    assert published["details"]["version"] == "2027.1" and published["service"] == "evaluation"

    # the quarter is rescored with the published ruleset, as the what-if said
    await scoring.rescore_dirty(s.ev)
    w1_card = (await s.client.get(f"/api/v1/periods/{Q3}/institutions/w1", headers=sec1)).json()
    assert w1_card["ruleset"] == "2027.1"
    inst_rows = {r["id"]: r for r in all_inst["items"]}
    assert w1_card["score"] == inst_rows["w1"]["score_after"]


async def test_the_overview_and_the_drill_down_read_each_institution_against_its_own_level(service: Any) -> None:
    """Maturity-fair comparison: an L1 and an L3 institution with the same reports are judged each
    against its own level's expectation (grace days and expected rates from the ruleset)."""
    s = service
    q2 = "2026-Q2"
    for inst, level in (("f1", "L1"), ("f3", "L3")):
        await s.institution(inst, level=level, name=f"机构{inst}")
        await s.branch(f"{inst}-b", [inst])
        await s.member(f"{inst}-m", f"{inst}-b", inst)
        for month in (4, 5, 6):  # each meeting received five days after the month ended
            held, received = at(2026, month, 5), at(2026, month + 1, 5)
            for kind in ("branch_committee_meeting", "theme_party_day"):
                await s.meeting(f"{inst}-b", inst, kind, held, [f"{inst}-m"], 1, received)
    await s.settle()
    sec = s.token()
    rescored = await s.client.post(f"/api/v1/periods/{q2}/rescore", headers=sec, params={"wait": "true"})
    assert rescored.status_code == 200, rescored.text
    o = (await s.client.get("/api/v1/overview", headers=sec, params={"period": q2})).json()
    levels = {x["reporting_level"]: x for x in o["by_level"]}
    assert (levels["L1"]["grace_days"], levels["L1"]["expected_timeliness"]) == (10, 60.0)
    assert (levels["L3"]["grace_days"], levels["L3"]["expected_timeliness"]) == (1, 95.0)
    assert o["maturity_note"].startswith("各机构按同一义务日历计算报送完整率与及时率")
    f1 = (await s.client.get(f"/api/v1/periods/{q2}/institutions/f1", headers=sec)).json()
    f3 = (await s.client.get(f"/api/v1/periods/{q2}/institutions/f3", headers=sec)).json()
    # five days late is on time within L1's ten days of grace, late for L3's one
    assert f1["timeliness"] > f3["timeliness"]
    assert f1["against_level"]["reporting_level"] == "L1" and f1["against_level"]["timeliness_gap"] is not None
    assert f3["against_level"]["meets"] is False and f3["against_level"]["expected_completeness"] == 95.0
    assert levels["L3"]["meeting_expectation"] == 0 and levels["L3"]["institutions"] == 1

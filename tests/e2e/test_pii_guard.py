"""The PII guard: after a realistic flow of its own — an institution with its contact, branch secretaries
and members registered with ID numbers, phones and emails, an unmasked read by the secretariat, an L2
batch, an L1 upload and the lagging branch's reminders by email and SMS — no service's log holds one of
those ID numbers, phone numbers or emails in full (PIPL: personal data is masked wherever it is
shown or written). The logs scanned are every log the e2e platform's services wrote so far; a
positive control plants a value to show the scan finds what it looks for."""

from __future__ import annotations

import csv
import io
import random
import re
from pathlib import Path
from typing import Any

import pytest
from alliance_shared.testing import wait_for
from demo_ids import birth_date, make_id_number, make_uscc
from e2e_api import Platform, days_ago, event, expect, meeting, token
from openpyxl import load_workbook

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOGS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e" / "logs"  # conftest's run_dir
SOURCE = "/e2e/pii-guard"


def found_in_logs(values: set[str], logs: Path = LOGS) -> dict[str, list[str]]:
    """Each value found in full in a log file, with the files and a line it is on."""
    hits: dict[str, list[str]] = {}
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    for path in sorted(logs.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            for match in pattern.finditer(line):
                hits.setdefault(match.group(), []).append(f"{path.name}: {line[:240]}")
    return hits


def test_the_scan_finds_a_value_planted_in_a_log(tmp_path: Path) -> None:
    (tmp_path / "registry.log").write_text('{"message": "registered 44030419900101123X, 13912345678"}\n')
    (tmp_path / "activity.log").write_text('{"message": "nothing personal"}\n')
    hits = found_in_logs({"44030419900101123X", "13912345678", "zb@pii.example"}, tmp_path)
    assert set(hits) == {"44030419900101123X", "13912345678"}
    assert hits["13912345678"] == ['registry.log: {"message": "registered 44030419900101123X, 13912345678"}']


async def _register(platform: Platform, rng: random.Random) -> tuple[dict[str, Any], set[str]]:
    """An institution, its committee, a branch that last met 75 days ago and three members; returns
    their ids and every personal value registered."""
    tag = f"{rng.randrange(10**8):08d}"
    phones = [f"139{tag}", f"138{tag}", f"137{tag}"]
    emails = [f"liaison.{tag}@pii.alliance.example", f"dw.{tag}@pii.alliance.example",
              f"zb.{tag}@pii.alliance.example"]
    id_numbers = [make_id_number(rng, birth_date(rng), female=n % 2 == 0) for n in range(3)]
    member_phones = [f"136{tag[:4]}{n:04d}" for n in range(3)]
    async with platform.client("registry", token=token("secretariat")) as registry:
        inst = expect(await registry.post("/api/v1/institutions", json={
            "uscc": make_uscc(rng), "name": f"鹏城隐私保护金融服务有限公司{tag}", "ownership": "private",
            "sector": "金融科技", "party_org_status": "established_complete", "reporting_level": "L2",
            "effective_from": str(days_ago(200).date()),
            "contact": {"name": "联络员", "phone": phones[0], "email": emails[0]}}), 201)

        async def org(name: str, kind: str, parent: str | None, phone: str, mail: str) -> str:
            return str(expect(await registry.post("/api/v1/organizations", json={
                "name": name, "kind": kind, "institution_ids": [inst["id"]], "parent_id": parent,
                "established_at": "2019-07-01", "secretary": {"name": "书记", "phone": phone, "email": mail}}),
                201)["id"])

        committee = await org("中共鹏城隐私保护委员会", "committee", None, phones[1], emails[1])
        branch = await org("第一支部委员会", "branch", committee, phones[2], emails[2])
        members = []
        for n, (id_number, phone) in enumerate(zip(id_numbers, member_phones, strict=True)):
            created = expect(await registry.post("/api/v1/members", json={
                "organization_id": branch, "name": f"党员{n}", "status": "full", "joined_at": "2020-07-01",
                "id_number": id_number, "phone": phone}), 201)
            assert id_number not in str(created) and phone not in str(created)  # answered masked
            members.append(created["id"])
        # the secretariat reads one member unmasked, as a transfer check does (audited)
        expect(await registry.get(f"/api/v1/members/{members[0]}/unmasked", params={"purpose": "组织关系转接核对"}))
        key = expect(await registry.post(f"/api/v1/institutions/{inst['id']}/api-keys", json={"label": "OA"}), 201)
    ids = {"institution_id": inst["id"], "branch": branch, "members": members, "api_key": key["api_key"]}
    return ids, {*phones, *emails, *id_numbers, *member_phones}


async def _report(platform: Platform, ids: dict[str, Any]) -> None:
    """L2: the branch's meeting of 75 days ago and the members' learning; L1: a CSV of dues."""
    members = ids["members"]
    batch = [meeting(ids["branch"], "branch_general_meeting", days_ago(75), members, source=SOURCE),
             *[event("learning.completed", {"member_id": m, "date": str(days_ago(2).date()), "minutes": 20,
                                            "course": "学习强国"}, source=SOURCE) for m in members]]
    async with platform.client("activity", api_key=ids["api_key"]) as activity:
        async def accepted() -> dict[str, Any] | None:
            answer = await activity.post("/api/v1/events", json=batch,
                                         headers={"Content-Type": "application/cloudevents-batch+json"})
            body = answer.json() if answer.status_code == 202 else None
            return body if body and body["accepted"] + body["duplicates"] == len(batch) else None

        await wait_for(accepted, timeout_s=60, interval_s=0.5, what="activity to accept the L2 batch")
    admin = token("institution_admin", institution_id=ids["institution_id"])
    async with platform.client("activity", token=admin) as activity:
        template = await activity.get("/api/v1/templates/dues.xlsx")
        headers = [c.value for c in load_workbook(io.BytesIO(template.content)).worksheets[0][1]]
        month = days_ago(40).strftime("%Y-%m")
        cells = [{"党员编号": m, "所属月份": month, "金额(元)": 50} for m in members]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(headers)
        for row in cells:
            writer.writerow([row.get(str(h).replace("*", "").strip(), "") for h in headers])
        report = expect(await activity.post("/api/v1/uploads", data={"kind": "dues"},
                                            files={"file": ("党费.csv", out.getvalue().encode("utf-8-sig"))}))
        assert report["accepted"] + report["duplicates"] == len(members), report


async def _remind(platform: Platform, ids: dict[str, Any]) -> None:
    """The lagging scan finds the branch; its secretary is reminded by email and SMS."""
    async with platform.client("notification", token=token("secretariat")) as notification:
        rules = expect(await notification.get("/api/v1/rules"))
        rule = next(r for r in rules["items"] if r["name"] == "lagging_branch")
        changed = {k: v for k, v in rule.items() if k not in ("updated_at", "updated_by")}
        changed["quiet_hours"] = {**changed["quiet_hours"], "enabled": False}  # any hour of the day
        expect(await notification.put("/api/v1/rules/lagging_branch", json=changed))
        async with platform.client("evaluation", token=token("secretariat")) as evaluation:
            async def lagging() -> bool:
                expect(await evaluation.post("/api/v1/scans/lagging", params={"wait": "true"}))
                listing = expect(await evaluation.get("/api/v1/lagging",
                                                      params={"institution_id": ids["institution_id"]}))
                return any(i["organization_id"] == ids["branch"] for i in listing["items"])

            await wait_for(lagging, timeout_s=60, interval_s=1, what="the branch found lagging")

        async def sent() -> bool:
            items = expect(await notification.get("/api/v1/deliveries", params={
                "organization_id": ids["branch"], "rule": "lagging_branch"}))["items"]
            return {d["channel"] for d in items if d["status"] in ("sent", "delivered")} >= {"email", "sms"}

        await wait_for(sent, timeout_s=60, interval_s=0.5, what="the reminders sent by email and SMS")


async def test_no_service_log_holds_an_id_number_phone_or_email_in_full(platform: Platform) -> None:
    ids, personal = await _register(platform, random.Random())
    await _report(platform, ids)
    await _remind(platform, ids)
    assert len(list(LOGS.glob("*.log"))) == 4  # every service's log is read
    hits = found_in_logs(personal)
    assert not hits, "\n".join(f"{value}: {lines[0]} ({len(lines)} lines)" for value, lines in hits.items())

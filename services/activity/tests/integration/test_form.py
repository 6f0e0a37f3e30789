"""The L1 web form's API: the development sign-in (and its absence elsewhere), the branch's roll by
name, the quarter's reported and owed meetings, and submissions through the one ingestion path,
against the real broker and store. The registry's member list (names do not travel on registry
events) is a small stand-in served over real HTTP, which checks the secretary's own token."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
import pytest
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.testing import serving
from fastapi import FastAPI, Header, HTTPException

from .conftest import Platform, running

pytestmark = pytest.mark.integration
NAMES = {"m-1": "张三", "m-2": "李四", "m-3": "王五"}


@asynccontextmanager
async def registry_names(secret: str) -> AsyncIterator[str]:
    """The registry's `GET /api/v1/organizations/{id}/members`, answering only the branch's own secretary."""
    app = FastAPI()

    @app.get("/api/v1/organizations/{organization_id}/members")
    async def members(organization_id: str, authorization: str = Header("")) -> dict[str, Any]:
        claims = jwt.decode(authorization.removeprefix("Bearer "), secret, algorithms=["HS256"])
        if claims.get("organization_id") != organization_id:
            raise HTTPException(403)
        items = [{"id": m, "name": n} for m, n in NAMES.items()] if organization_id == "org-a" else []
        return {"items": items, "total": len(items)}

    async with serving(app, what="the registry stand-in", lifespan="off") as port:
        yield f"http://127.0.0.1:{port}"


@asynccontextmanager
async def form_platform(infra: Any, **overrides: Any) -> AsyncIterator[Platform]:
    from alliance_shared.settings import DEV_JWT_SECRET

    async with registry_names(DEV_JWT_SECRET) as url:
        async with running(infra, environment="development", registry_url=url, **overrides) as platform:
            yield platform


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_secretary_signs_in_picks_the_branch_reports_by_name_and_sees_the_quarter(infra: Any) -> None:
    async with form_platform(infra) as platform:
        c = platform.client
        choices = (await c.get("/api/v1/forms/sign-in")).json()["items"]
        inst_a = next(i for i in choices if i["id"] == "inst-a")
        assert inst_a["branches"] == [{"id": "org-a", "name": "org-a", "kind": "党支部"}]
        signed = await c.post("/api/v1/forms/sign-in", json={"institution_id": "inst-a", "organization_id": "org-a"})
        me = bearer(signed.json()["token"])
        context = (await c.get("/api/v1/forms/context", headers=me)).json()
        assert context["role"] == "支部书记" and [b["id"] for b in context["branches"]] == ["org-a"]
        assert {"code": "branch_committee_meeting", "name": "支部委员会"} in context["kinds"]

        sheet = (await c.get("/api/v1/forms/branches/org-a", headers=me)).json()
        assert sheet["names_known"] and sorted(m["name"] for m in sheet["roll"]) == sorted(NAMES.values())
        assert {m["status"] for m in sheet["roll"]} == {"正式党员"}
        assert sheet["quarter"] == "2026年第四季度" and sheet["reported"] == []
        owed = {(o["kind"], o["window"]): o["standing_zh"] for o in sheet["owed"]}
        assert owed[("支部委员会", "10月")] == "待报" and owed[("支部党员大会", "2026年第四季度")] == "待报"
        assert not any(kind == "党小组会" for kind, _ in owed)  # the branch has no party groups

        meeting = {"organization_id": "org-a", "meeting_kind": "branch_committee_meeting",
                   "held_at": "2026-10-15 14:30", "attendee_ids": ["m-1", "m-2"], "expected_count": 3}
        first = (await c.post("/api/v1/forms/meeting", headers=me, json=meeting)).json()
        again = (await c.post("/api/v1/forms/meeting", headers=me, json=meeting)).json()
        assert (first["accepted"], again["accepted"], again["duplicates"]) == (1, 0, 1)
        last_quarter = {**meeting, "held_at": "2026-09-28 09:00"}
        assert (await c.post("/api/v1/forms/meeting", headers=me, json=last_quarter)).json()["accepted"] == 1

        sheet = (await c.get("/api/v1/forms/branches/org-a", headers=me)).json()
        assert [(r["kind"], r["held_at"], r["attendees"], r["channel"]) for r in sheet["reported"]] == [
            ("支部委员会", "2026-10-15 14:30", 2, "网页表单")
        ]
        owed = {(o["kind"], o["window"]): o["standing_zh"] for o in sheet["owed"]}
        assert owed[("支部委员会", "10月")] == "已报" and owed[("支部委员会", "11月")] == "待报"
        stored = await platform.db["submissions"].count_documents({"status": "accepted", "channel": "form"})
        assert stored == 2


async def test_a_secretary_sees_only_their_own_branch(infra: Any) -> None:
    async with form_platform(infra) as platform:
        c = platform.client
        me = platform.person(Role.BRANCH_SECRETARY, "inst-a", "org-a")
        assert (await c.get("/api/v1/forms/branches/org-b", headers=me)).status_code == 403
        other = await c.post("/api/v1/forms/sign-in", json={"institution_id": "inst-a", "organization_id": "org-b"})
        assert other.status_code == 422 and other.json()["error"]["field"] == "organization_id"
        evaluator = await c.get("/api/v1/forms/context", headers=platform.person(Role.EVALUATOR))
        assert evaluator.status_code == 403


async def test_bad_input_is_answered_chinese_first_naming_the_field_and_nothing_accepted_is_lost(infra: Any) -> None:
    async with form_platform(infra) as platform:
        c = platform.client
        me = platform.person(Role.BRANCH_SECRETARY, "inst-a", "org-a")
        good = {"organization_id": "org-a", "meeting_kind": "party_lesson", "held_at": "2026-10-16 10:00",
                "attendee_ids": ["m-1"], "expected_count": 3}
        assert (await c.post("/api/v1/forms/meeting", headers=me, json=good)).json()["accepted"] == 1

        missing = await c.post("/api/v1/forms/meeting", headers=me, json={**good, "held_at": ""})
        assert missing.status_code == 422, missing.text
        error = missing.json()["error"]
        assert error["field"] == "held_at" and error["message"][0] >= "\u4e00", error  # Chinese first

        garbled = (await c.post("/api/v1/forms/meeting", headers=me, json={**good, "held_at": "下周三"})).json()
        [reason] = garbled["rejected"][0]["reasons"]
        assert reason["field"] == "召开时间" and reason["reason"].startswith("时间格式应为")

        unknown = (await c.post("/api/v1/forms/meeting", headers=me, json={**good, "meeting_kind": "座谈会"})).json()
        [reason] = unknown["rejected"][0]["reasons"]
        assert reason["field"] == "会议类型" and reason["reason"].startswith("会议类型不在列表中")

        sheet = (await c.get("/api/v1/forms/branches/org-a", headers=me)).json()
        assert [r["kind"] for r in sheet["reported"]] == ["党课"]  # the good one stays, once


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"environment": "production", "auth_jwt_secret": "p" * 40,
          "pii_encryption_key": base64.b64encode(b"k" * 32).decode(),
          "form_sso_url": "https://sso.example.cn/login"}, "production"),
        ({"environment": "test"}, "test"),
        ({"environment": "development", "form_dev_sign_in": False}, "switched off"),
    ],
)
async def test_the_development_sign_in_is_absent_outside_development(
    infra: Any, overrides: dict[str, Any], why: str
) -> None:
    async with running(infra, **overrides) as platform:
        c = platform.client
        page = (await c.get("/form")).text
        assert 'id="si-institution"' not in page and "统一身份认证登录" in page, why
        if "form_sso_url" in overrides:
            assert 'href="https://sso.example.cn/login"' in page
        for answer in (await c.get("/api/v1/forms/sign-in"),
                       await c.post("/api/v1/forms/sign-in", json={"institution_id": "inst-a",
                                                                    "organization_id": "org-a"})):
            assert answer.status_code == 404 and answer.json()["error"]["field"] == "sign_in", why
            assert answer.json()["error"]["message"].startswith("开发环境登录未启用")

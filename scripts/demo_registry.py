"""Loading the alliance into the registry through its public API: bulk imports (CSV, Chinese
headers) for institutions, organisations and members, then reading the ids back, and API keys for
the institutions whose systems report by themselves."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpx
from demo_alliance import Alliance, Institution, Member, Organization

Progress = Callable[[str], None]


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue().encode("utf-8-sig")  # with a BOM, as Excel saves "CSV UTF-8"


async def gather_limited(calls: Iterable[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


def ok(answer: httpx.Response, what: str) -> Any:
    if answer.status_code >= 400:
        raise RuntimeError(f"{what}: HTTP {answer.status_code} {answer.text[:500]}")
    return answer.json() if answer.content else None


async def import_file(client: httpx.AsyncClient, kind: str, content: bytes, name: str) -> dict[str, Any]:
    answer = await client.post(
        "/api/v1/imports", data={"kind": kind}, files={"file": (name, content, "text/csv")}, timeout=1800
    )
    result: dict[str, Any] = ok(answer, f"import {kind}")
    return result


class RegistryLoader:
    def __init__(self, client: httpx.AsyncClient, alliance: Alliance, say: Progress) -> None:
        self.client = client
        self.alliance = alliance
        self.say = say
        self.rejected_rows: list[dict[str, Any]] = []
        self._posted: dict[str, list[str]] = {}  # organisation id → ids of the members POSTed into it
        self._read_back: set[str] = set()  # organisations with members whose ids only a read tells

    async def institutions(self) -> None:
        rows = [
            (i.uscc, i.name, i.ownership, i.sector, i.party_org_status, i.reporting_level, i.alliance_role)
            for i in self.alliance.institutions
        ]
        report = await import_file(
            self.client,
            "institutions",
            csv_bytes(["统一社会信用代码", "机构名称", "所有制", "行业", "党组织状态", "上报级别", "联盟角色"], rows),
            "机构.csv",
        )
        self.say(
            f"  机构导入 / institutions imported: {report['created']} new, {report['unchanged']} unchanged, "
            f"{len(report['rejected'])} rejected"
        )
        by_uscc = {i.uscc: i for i in self.alliance.institutions}
        page = 1
        while True:
            listing = ok(
                await self.client.get("/api/v1/institutions", params={"page": page, "page_size": 500}),
                "list institutions",
            )
            for item in listing["items"]:
                if item["uscc"] in by_uscc:
                    by_uscc[item["uscc"]].id = item["id"]
            if page * 500 >= listing["total"]:
                break
            page += 1
        missing = [i.name for i in self.alliance.institutions if i.id is None]
        if missing:
            raise RuntimeError(f"institutions not registered: {missing[:5]}")
        # one institution's contact through the API (the import has no contact columns)
        await gather_limited([lambda i=i: self._contact(i) for i in self.alliance.institutions], 8)

    async def _contact(self, inst: Institution) -> None:
        ok(
            await self.client.patch(
                f"/api/v1/institutions/{inst.id}",
                json={"contact": {"name": inst.contact.name, "phone": inst.contact.phone, "email": inst.contact.email}},
            ),
            "contact",
        )

    async def organizations(self, parallel: int = 6) -> None:
        """Committees first, then general branches, then branches and joint branches (a child names its
        parent's id), through POST /organizations."""
        by_name = {(o.institution_usccs[0], o.name): o for o in self.alliance.organizations}
        inst_id = {i.uscc: i.id for i in self.alliance.institutions}

        async def one(o: Organization) -> None:
            parent = by_name[(o.institution_usccs[0], o.parent)].id if o.parent else None
            answer = await self.client.post(
                "/api/v1/organizations",
                json={
                    "name": o.name,
                    "kind": o.kind,
                    "institution_ids": [inst_id[u] for u in o.institution_usccs],
                    "parent_id": parent,
                    "established_at": o.established_at.isoformat(),
                    "secretary": {"name": o.secretary.name, "phone": o.secretary.phone, "email": o.secretary.email},
                },
            )
            o.id = ok(answer, f"organisation {o.name}")["id"]

        for wave in (("committee",), ("general_branch",), ("branch", "joint_branch")):
            todo = [o for o in self.alliance.organizations if o.kind in wave and o.id is None]
            todo = [o for o in todo if o.parent is None or by_name[(o.institution_usccs[0], o.parent)].id]
            await gather_limited([lambda o=o: one(o) for o in todo], parallel)
        missing = [o.name for o in self.alliance.organizations if o.id is None]
        if missing:
            raise RuntimeError(f"organisations not opened: {missing[:5]}")
        kinds = Counter(o.kind for o in self.alliance.organizations)
        self.say(
            f"  党组织 / organisations opened: {len(self.alliance.organizations)} "
            f"({', '.join(f'{k} {n}' for k, n in kinds.items())})"
        )

    async def members(self, imported: int = 300, parallel: int = 6) -> int:
        """The first `imported` members by bulk import (with a few bad rows, as real spreadsheets have),
        the rest one by one through POST /members, as the institutions' own systems register them
        (an import row and a POST cost about the same now: 8 ms a row for a 100-row file at 6,000
        members, where each row used to read three collections whole: 694 ms)."""
        members = list(self.alliance.members())
        head, rest = members[:imported], members[imported:]
        headers = ["姓名", "身份证号", "手机", "所在组织", "所属机构", "政治面貌", "入党日期", "口袋党员"]
        rows = [
            (
                m.name,
                m.id_number,
                m.phone,
                m.organization,
                m.institution_uscc,
                m.status,
                m.joined_at.isoformat(),
                "是" if m.pocket else "否",
            )
            for m in head
        ]
        first = rows[0]
        wrong_check = first[1][:-1] + ("0" if first[1][-1] != "0" else "1")
        rows += [
            (first[0], wrong_check, *first[2:]),  # a mistyped check digit
            ("张三丰", "", "13800000000", *first[3:]),  # no ID number
            (first[0] + "某", "440304199001011234", first[2], "不存在的支部委员会", *first[4:]),
        ]  # no such branch
        report = await import_file(self.client, "members", csv_bytes(headers, rows), "党员名册.csv")
        self.rejected_rows = report["rejected"]
        self.say(
            f"  党员名册导入 / member import: {report['created']} new, {report['unchanged']} unchanged, "
            f"{len(report['rejected'])} rows rejected with reasons"
        )
        org_of = {(o.institution_usccs[0], o.name): o for o in self.alliance.organizations}
        for o in self.alliance.organizations:
            for uscc in o.institution_usccs:
                org_of.setdefault((uscc, o.name), o)
        inst_of = {i.uscc: i for i in self.alliance.institutions}
        self._read_back |= {org_of[(m.institution_uscc, m.organization)].id or "" for m in head}
        done = {"n": 0}

        async def one(m: Member) -> None:
            org = org_of[(m.institution_uscc, m.organization)]
            answer = await self.client.post(
                "/api/v1/members",
                json={
                    "organization_id": org.id,
                    "institution_id": inst_of[m.institution_uscc].id,
                    "name": m.name,
                    "id_number": m.id_number,
                    "phone": m.phone,
                    "status": m.status,
                    "joined_at": m.joined_at.isoformat(),
                    "pocket": m.pocket,
                },
            )
            if answer.status_code == 409:
                self._read_back.add(org.id or "")
                return  # registered by an earlier run
            m.id = ok(answer, "member")["id"]
            self._posted.setdefault(org.id or "", []).append(m.id)
            done["n"] += 1
            if done["n"] % 2000 == 0:
                self.say(f"  党员 / members registered: {done['n'] + imported}/{len(members)}")

        await gather_limited([lambda m=m: one(m) for m in rest], parallel)
        return len(members)

    async def member_ids(self) -> dict[str, list[str]]:
        """Branch id → its members' ids: those POSTed one by one are known from the answers; the
        branches with imported members are read back (a listing is a scan of all members on the
        embedded store: one per branch took longer than registering them)."""
        out: dict[str, list[str]] = {}

        async def one(org: Organization) -> None:
            listing = ok(await self.client.get(f"/api/v1/organizations/{org.id}/members"), "members")
            out[org.id or ""] = [m["id"] for m in listing["items"]]

        known = [o for o in self.alliance.branches if o.id not in self._read_back]
        out |= {o.id or "": list(self._posted.get(o.id or "", [])) for o in known}
        await gather_limited([lambda o=o: one(o) for o in self.alliance.branches if o.id in self._read_back], 8)
        return out

    async def api_keys(self, levels: Sequence[str] = ("L2", "L3")) -> int:
        async def one(inst: Institution) -> None:
            answer = ok(
                await self.client.post(
                    f"/api/v1/institutions/{inst.id}/api-keys", json={"label": "党建系统 / Party-building system"}
                ),
                "api key",
            )
            inst.api_key = answer["api_key"]

        chosen = [i for i in self.alliance.institutions if i.reporting_level in levels]
        await gather_limited([lambda i=i: one(i) for i in chosen], 8)
        return len(chosen)

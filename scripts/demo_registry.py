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
from demo_progress import Bar

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


async def import_file(
    client: httpx.AsyncClient, kind: str, content: bytes, name: str, rows_done: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """POST /imports; the report. Where the registry answers with a job (202) instead of the report,
    its GET is polled until it is done, `rows_done` told of the rows it has read so far."""
    answer = await client.post(
        "/api/v1/imports",
        data={"kind": kind, "wait": "false"},
        files={"file": (name, content, "text/csv")},
        timeout=1800,
    )
    result: dict[str, Any] = ok(answer, f"import {kind}")
    job = (result.get("id") or result.get("job_id")) if answer.status_code == 202 else None
    while job and result.get("status") not in ("done", "completed", "failed"):
        await asyncio.sleep(0.5)
        result = ok(await client.get(f"/api/v1/imports/{job}"), f"import {kind} job")
        if rows_done is not None:
            rows_done(_rows_read(result))
    if result.get("status") == "failed":
        raise RuntimeError(f"import {kind}: {result}")
    return dict(result.get("report") or result)


def _depth(o: Organization, by_name: dict[tuple[str, str], Organization]) -> int:
    depth = 0
    while o.parent and depth < 8:
        o = by_name[(o.institution_usccs[0], o.parent)]
        depth += 1
    return depth


def _rows_read(job: dict[str, Any]) -> int:
    progress = job.get("progress")
    if isinstance(progress, dict):
        for key in ("done", "processed", "rows_done", "completed", "rows"):
            if isinstance(progress.get(key), int):
                return int(progress[key])
    if isinstance(progress, int | float) and progress > 1:
        return int(progress)
    if isinstance(progress, float) and isinstance(job.get("rows"), int):
        return int(progress * job["rows"])
    return 0


MEMBER_HEADERS = ["姓名", "身份证号", "手机", "所在组织", "所属机构", "政治面貌", "入党日期", "口袋党员"]


class RegistryLoader:
    def __init__(self, client: httpx.AsyncClient, alliance: Alliance, say: Progress) -> None:
        self.client = client
        self.alliance = alliance
        self.say = say
        self.rejected_rows: list[dict[str, Any]] = []
        self._posted: dict[str, list[str]] = {}  # organisation id → ids of the members POSTed into it
        self._read_back: set[str] = set()  # organisations with members whose ids only a read tells

    async def institutions(self, bar: Bar, parallel: int = 6) -> None:
        """One import file of every institution with its contact, then their ids read back."""
        rows = [
            (
                i.uscc,
                i.name,
                i.ownership,
                i.sector,
                i.party_org_status,
                i.reporting_level,
                i.alliance_role,
                i.joined_at.isoformat() if i.joined_at else None,
                i.contact.name,
                i.contact.phone,
                i.contact.email,
            )
            for i in self.alliance.institutions
        ]
        headers = ["统一社会信用代码", "机构名称", "所有制", "行业", "党组织状态", "上报级别", "联盟角色", "生效日期"]
        report = await import_file(
            self.client,
            "institutions",
            csv_bytes([*headers, "联系人", "联系人手机", "联系人邮箱"], rows),
            "机构.csv",
            lambda n: bar.update(completed=n),
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
        bar.update(completed=len(rows))
        missing = [i.name for i in self.alliance.institutions if i.id is None]
        if missing:
            raise RuntimeError(f"institutions not registered: {missing[:5]}")

    async def organizations(
        self, bar: Bar, *, posted_share: float = 0.03, import_rows: int = 5000, imports: int = 2, parallel: int = 6
    ) -> None:
        """Most institutions' trees by the organisation import (each tree whole in one file, parents
        first), the rest's (`posted_share`, every n-th institution: at 10 % the city's 2,846 POSTs at
        ~16/s took 3 of its 3 min 10 s) through POST /organizations at the
        same time, a child naming its parent's id; the imported ids are then read back."""
        by_name = {(o.institution_usccs[0], o.name): o for o in self.alliance.organizations}
        inst_id = {i.uscc: i.id for i in self.alliance.institutions}
        trees: dict[str, list[Organization]] = {}
        for o in self.alliance.organizations:
            trees.setdefault(o.institution_usccs[0], []).append(o)
        step = round(1 / posted_share) if posted_share > 0 else 0
        owners = list(trees)
        posted_owners = set(owners[::step]) if step else set()
        files: list[list[Organization]] = [[]]
        for uscc in owners:
            if uscc in posted_owners:
                continue
            if len(files[-1]) >= import_rows:
                files.append([])
            files[-1] += sorted(trees[uscc], key=lambda o: _depth(o, by_name))
        files = [f for f in files if f]

        async def upload(number: int, part: list[Organization]) -> dict[str, Any]:
            rows = [
                (
                    o.name,
                    o.kind,
                    "、".join(o.institution_usccs),
                    o.parent,
                    o.established_at.isoformat(),
                    o.secretary.name,
                    o.secretary.phone,
                    o.secretary.email,
                )
                for o in part
            ]
            seen = [0]

            def rows_done(n: int) -> None:
                n = min(n, len(part))
                bar.advance(n - seen[0])
                seen[0] = n

            headers = ["组织名称", "类型", "所属机构", "上级组织", "成立日期", "书记姓名", "书记手机", "书记邮箱"]
            report = await import_file(
                self.client, "organizations", csv_bytes(headers, rows), f"党组织-{number + 1}.csv", rows_done
            )
            bar.advance(len(part) - seen[0])
            return report

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
            if answer.status_code == 409:  # opened by an earlier run: read back below
                bar.advance()
                return
            o.id = ok(answer, f"organisation {o.name}")["id"]
            bar.advance()

        async def post_trees() -> None:
            todo = [o for uscc in posted_owners for o in trees[uscc]]
            while todo:  # waves: every organisation whose parent is open
                ready = [o for o in todo if o.parent is None or by_name[(o.institution_usccs[0], o.parent)].id]
                if not ready:
                    break
                await gather_limited([lambda o=o: one(o) for o in ready], parallel)
                todo = [o for o in todo if o not in ready]

        reports, _ = await asyncio.gather(
            gather_limited([lambda n=n, f=f: upload(n, f) for n, f in enumerate(files)], imports), post_trees()
        )
        await self._read_organization_ids(parallel)
        missing = [o.name for o in self.alliance.organizations if o.id is None]
        if missing:
            raise RuntimeError(f"organisations not opened: {missing[:5]}")
        kinds = Counter(o.kind for o in self.alliance.organizations)
        rejected = [r for report in reports for r in report["rejected"]]
        self.say(
            f"  党组织 / organisations opened: {len(self.alliance.organizations)} "
            f"({', '.join(f'{k} {n}' for k, n in kinds.items())}) · import: {len(files)} files, "
            f"{sum(r['created'] for r in reports)} new, {len(rejected)} rows rejected · "
            f"POST /organizations: {sum(len(trees[u]) for u in posted_owners)}"
        )

    async def _read_organization_ids(self, parallel: int) -> None:
        """Each institution's tree (GET /institutions/{id}/organizations) names the ids the imports gave."""
        by_name = {(o.institution_usccs[0], o.name): o for o in self.alliance.organizations}
        unopened = {o.institution_usccs[0] for o in self.alliance.organizations if o.id is None}
        owners = [i for i in self.alliance.institutions if i.uscc in unopened]

        async def one(inst: Institution) -> None:
            tree = ok(await self.client.get(f"/api/v1/institutions/{inst.id}/organizations"), "organisation tree")
            todo = list(tree["items"])
            while todo:
                node = todo.pop()
                todo += node.get("children", [])
                org = by_name.get((inst.uscc, node["name"]))
                if org is not None and org.id is None and node["institution_id"] == inst.id:
                    org.id = node["id"]

        await gather_limited([lambda i=i: one(i) for i in owners], parallel)

    async def members(
        self, bar: Bar, *, posted_share: float = 0.1, import_rows: int = 5000, imports: int = 2, parallel: int = 6
    ) -> int:
        """Most members by the roster import (files of `import_rows` rows, `imports` at a time, the
        first with a few bad rows, as real spreadsheets have), the rest (`posted_share`, every n-th)
        through POST /members at the same time, as the institutions' own systems register them."""
        members = list(self.alliance.members())
        step = round(1 / posted_share) if posted_share > 0 else 0
        posted = members[::step] if step else []
        chosen = {id(m) for m in posted}
        imported = [m for m in members if id(m) not in chosen]
        org_of = {(o.institution_usccs[0], o.name): o for o in self.alliance.organizations}
        for o in self.alliance.organizations:
            for uscc in o.institution_usccs:
                org_of.setdefault((uscc, o.name), o)
        inst_of = {i.uscc: i for i in self.alliance.institutions}
        self._read_back |= {org_of[(m.institution_uscc, m.organization)].id or "" for m in imported}
        reports: list[dict[str, Any]] = []

        async def roster(number: int, part: list[Member]) -> None:
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
                for m in part
            ]
            if number == 0 and rows:
                first = rows[0]
                wrong_check = first[1][:-1] + ("0" if first[1][-1] != "0" else "1")
                rows += [
                    (first[0], wrong_check, *first[2:]),  # a mistyped check digit
                    ("张三丰", "", "13800000000", *first[3:]),  # no ID number
                    (first[0] + "某", "440304199001011234", first[2], "不存在的支部委员会", *first[4:]),
                ]  # no such branch
            seen = [0]

            def rows_done(n: int) -> None:  # the import job's progress, where the registry reports it
                n = min(n, len(part))
                bar.advance(n - seen[0])
                seen[0] = n

            report = await import_file(
                self.client, "members", csv_bytes(MEMBER_HEADERS, rows), f"党员名册-{number + 1}.csv", rows_done
            )
            bar.advance(len(part) - seen[0])
            reports.append(report)

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
            bar.advance()
            if answer.status_code == 409:
                self._read_back.add(org.id or "")
                return  # registered by an earlier run
            m.id = ok(answer, "member")["id"]
            self._posted.setdefault(org.id or "", []).append(m.id)

        files = [imported[i : i + import_rows] for i in range(0, len(imported), import_rows)]
        await asyncio.gather(
            gather_limited([lambda n=n, f=f: roster(n, f) for n, f in enumerate(files)], imports),
            gather_limited([lambda m=m: one(m) for m in posted], parallel),
        )
        self.rejected_rows = [r for report in reports for r in report["rejected"]]
        self.say(
            f"  党员名册导入 / member rosters: {len(files)} files, {sum(r['created'] for r in reports)} new, "
            f"{sum(r['unchanged'] for r in reports)} unchanged, {len(self.rejected_rows)} rows rejected with "
            f"reasons · POST /members: {sum(len(v) for v in self._posted.values())}"
        )
        return len(members)

    def branches_to_read(self) -> list[Organization]:
        return [o for o in self.alliance.branches if o.id in self._read_back]

    def institutions_to_read(self) -> list[Institution]:
        usccs = {u for o in self.branches_to_read() for u in o.institution_usccs}
        return [i for i in self.alliance.institutions if i.uscc in usccs]

    async def member_ids(self, bar: Bar, parallel: int = 6) -> dict[str, list[str]]:
        """Branch id → its members' ids: those POSTed are known from the answers; the members of
        branches with imported members are read back by institution (GET /institutions/{id}/members,
        page by page), as an institution's own system would read its roster."""
        read = {o.id or "" for o in self.branches_to_read()}
        out = {o.id or "": list(self._posted.get(o.id or "", [])) for o in self.alliance.branches if o.id not in read}
        out |= {oid: [] for oid in read}

        async def one(inst: Institution) -> None:
            after: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 500} | ({"after": after} if after else {})
                page = ok(await self.client.get(f"/api/v1/institutions/{inst.id}/members", params=params), "roster")
                for m in page["items"]:
                    if m["organization_id"] in read:
                        out[m["organization_id"]].append(m["id"])
                if not (after := page["next"]):
                    break
            bar.advance()

        await gather_limited([lambda i=i: one(i) for i in self.institutions_to_read()], parallel)
        return out

    async def api_keys(self, bar: Bar, levels: Sequence[str] = ("L2", "L3"), parallel: int = 6) -> int:
        async def one(inst: Institution) -> None:
            answer = ok(
                await self.client.post(
                    f"/api/v1/institutions/{inst.id}/api-keys", json={"label": "党建系统 / Party-building system"}
                ),
                "api key",
            )
            inst.api_key = answer["api_key"]
            bar.advance()

        chosen = [i for i in self.alliance.institutions if i.reporting_level in levels]
        await gather_limited([lambda i=i: one(i) for i in chosen], parallel)
        return len(chosen)

"""A quarter of Party-building activity for the demo alliance, as institutions report it: L1
institutions upload the XLSX templates, L2 systems post CloudEvent batches with their API key, L3
systems call the signed webhook or produce binary-mode CloudEvents to `activity.ingest.v1`. Most
branches meet on schedule; some lag (no meeting for two months and more), some report late, some
send the same event twice, and some rows are wrong."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from demo_alliance import Alliance, Institution, Organization
from demo_diligence import choose_exemplary, diligent_quarter
from demo_progress import Bar
from openpyxl import load_workbook

SH = ZoneInfo("Asia/Shanghai")
KIND_ZH = {
    "branch_committee_meeting": "支部委员会",
    "theme_party_day": "主题党日",
    "branch_general_meeting": "支部党员大会",
    "party_lesson": "党课",
}
TOPICS = [
    "学习贯彻党的二十大精神",
    "深入学习习近平新时代中国特色社会主义思想",
    "防范化解金融风险专题学习",
    "金融为民 服务实体经济",
    "清廉金融文化建设",
    "主题党日：走进社区开展金融知识宣传",
    "党纪学习教育",
    "数字金融与普惠金融专题",
]


@dataclass
class Plan:
    """Every event each institution will report, by institution id, plus the deliberate mistakes."""

    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lagging: set[str] = field(default_factory=set)  # organisation ids
    late_reporters: set[str] = field(default_factory=set)  # institution ids
    invalid: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    exemplary: set[str] = field(default_factory=set)  # institution ids (demo_diligence)
    repeats: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, inst_id: str, e: dict[str, Any]) -> None:
        self.events.setdefault(inst_id, []).append(e)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.events.values())

    @property
    def sent_total(self) -> int:
        """Events sent, the mistakes and the repeats included."""
        return self.total + sum(len(v) for v in self.invalid.values()) + sum(len(v) for v in self.repeats.values())


def _event(kind: str, data: dict[str, Any], inst: Institution, at: datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{inst.uscc[-8:]}-{uuid.uuid4().hex[:20]}",
        "source": f"/institutions/{inst.id}/party-system",
        "type": f"fpba.{kind}.v1",
        "time": at.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def plan_quarter(alliance: Alliance, member_ids: dict[str, list[str]], today: date, seed: int = 7) -> Plan:
    """Ninety days of meetings, one month of learning and dues per member, and the mistakes."""
    rng = random.Random(seed)
    plan = Plan()
    start = today - timedelta(days=90)
    months = sorted({(start + timedelta(days=d)).replace(day=1) for d in range(0, 91, 7)} | {today.replace(day=1)})
    owner = {i.uscc: i for i in alliance.institutions}
    for inst in alliance.institutions:
        if inst.reporting_level == "L1" and rng.random() < 0.25:
            plan.late_reporters.add(inst.id or "")
    meeting = [o.id for o in alliance.branches if member_ids.get(o.id or "")]
    # one branch in twenty lags for sure (a small demo must still show the reminders), more by chance
    forced = set(random.Random(seed).sample(meeting, k=min(len(meeting), max(1, len(meeting) // 20))))
    plan.exemplary = choose_exemplary(alliance, forced, seed)
    diligence = random.Random(f"{seed}:diligence")
    for org in alliance.branches:
        inst = owner[org.institution_usccs[0]]
        members = member_ids.get(org.id or "", [])
        if not members:
            continue
        lagging = org.id in forced or rng.random() < (0.04 if inst.ownership == "state_owned" else 0.12)
        lagging = lagging and inst.id not in plan.exemplary
        last_day = today - timedelta(days=rng.randrange(62, 85)) if lagging else today - timedelta(days=1)
        if lagging:
            plan.lagging.add(org.id or "")
        # what happened last quarter is reported now only by late reporters (and is the lagging branches' last word)
        since = start if lagging or inst.id in plan.late_reporters else max(start, _quarter_start(today))
        _meetings(plan, rng, inst, org, members, months, since, last_day, today, inst.id in plan.exemplary)
        _member_reports(plan, rng, inst, members, today)
        for e in diligent_quarter(
            _event, diligence, inst, org.id or "", members, today, lagging=lagging, exemplary=inst.id in plan.exemplary
        ):
            plan.add(inst.id or "", e)
    _mistakes(plan, rng, alliance, member_ids, today)
    return plan


def _meetings(
    plan: Plan,
    rng: random.Random,
    inst: Institution,
    org: Organization,
    members: list[str],
    months: list[date],
    start: date,
    last_day: date,
    today: date,
    exemplary: bool = False,
) -> None:
    diligent = rng.random() < 0.8 or exemplary
    schedule: list[tuple[str, date]] = []
    for m in months:
        for kind, day in (("branch_committee_meeting", 8), ("theme_party_day", 20)):
            if diligent or rng.random() < 0.6:
                schedule.append((kind, m.replace(day=min(28, day + rng.randrange(-5, 6)))))
    quarter_start = _quarter_start(today)
    schedule.append(("branch_general_meeting", quarter_start + timedelta(days=rng.randrange(5, 40))))
    if diligent:
        schedule.append(("party_lesson", quarter_start + timedelta(days=rng.randrange(10, 50))))
    for kind, day in schedule:
        if not (start <= day <= last_day):
            continue
        held = datetime(day.year, day.month, day.day, rng.choice([9, 14, 15, 16]), 0, tzinfo=SH)
        present = rng.sample(members, max(1, round(len(members) * rng.uniform(0.7, 1.0))))
        plan.add(
            inst.id or "",
            _event(
                "meeting.held",
                {
                    "organization_id": org.id,
                    "meeting_kind": kind,
                    "held_at": held.isoformat(),
                    "attendee_ids": present,
                    "expected_count": len(members),
                    "topic": rng.choice(TOPICS),
                },
                inst,
                held,
            ),
        )


def _quarter_start(today: date) -> date:
    return date(today.year, (today.month - 1) // 3 * 3 + 1, 1)


def _member_reports(plan: Plan, rng: random.Random, inst: Institution, members: list[str], today: date) -> None:
    """Last month's dues and this month's learning, one event each per member (most members)."""
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    for member in members:
        if rng.random() < 0.92:
            paid = datetime(last_month.year, last_month.month, rng.randrange(1, 28), 10, tzinfo=SH)
            plan.add(
                inst.id or "",
                _event(
                    "dues.paid",
                    {
                        "member_id": member,
                        "month": f"{last_month:%Y-%m}",
                        "amount_cny": float(rng.choice([20, 30, 50, 80, 120])),
                    },
                    inst,
                    paid,
                ),
            )
        if rng.random() < 0.85:
            day = today - timedelta(days=rng.randrange(1, max(2, today.day)))
            plan.add(
                inst.id or "",
                _event(
                    "learning.completed",
                    {
                        "member_id": member,
                        "date": day.isoformat(),
                        "minutes": rng.randrange(40, 240),
                        "course": rng.choice(["学习强国", "金融党建云课堂", "党纪学习教育专题"]),
                    },
                    inst,
                    datetime(day.year, day.month, day.day, 21, tzinfo=SH),
                ),
            )


def _mistakes(
    plan: Plan, rng: random.Random, alliance: Alliance, member_ids: dict[str, list[str]], today: date
) -> None:
    insts = [i for i in alliance.institutions if plan.events.get(i.id or "")]
    others = [m for ms in member_ids.values() for m in ms]
    for inst in rng.sample(insts, max(1, len(insts) // 6)):
        mine = plan.events[inst.id or ""]
        plan.repeats[inst.id or ""] = rng.sample(mine, min(len(mine), rng.randrange(1, 6)))  # sent again
        held = datetime(today.year, today.month, max(1, today.day - 2), 15, tzinfo=SH)
        plan.invalid[inst.id or ""] = [
            _event(
                "learning.completed",
                {"member_id": f"mem_{uuid.uuid4().hex[:20]}", "date": today.isoformat(), "minutes": 30},
                inst,
                held,
            ),  # a member nobody registered
            _event(
                "meeting.held",
                {
                    "organization_id": "org_typo",
                    "meeting_kind": "theme_party_day",
                    "held_at": held.isoformat(),
                    "expected_count": 5,
                },
                inst,
                held,
            ),
            _event(
                "dues.paid", {"member_id": rng.choice(others), "month": f"{today:%Y-%m}", "amount_cny": -5}, inst, held
            ),  # a negative amount, and maybe another institution's member
        ]


# -- the channels ---------------------------------------------------------------------------------
LAYOUT_OF = {
    "fpba.meeting.held.v1": "meeting",
    "fpba.learning.completed.v1": "learning",
    "fpba.dues.paid.v1": "dues",
    "fpba.public_activity.held.v1": "public_activity",
}


def _cells(e: dict[str, Any]) -> dict[str, Any]:
    d = e["data"]
    if e["type"] == "fpba.meeting.held.v1":
        held = datetime.fromisoformat(d["held_at"]).astimezone(SH).replace(tzinfo=None)
        return {
            "事件编号": e["id"],
            "党组织编号": d["organization_id"],
            "会议类型": KIND_ZH.get(d["meeting_kind"], "x"),
            "召开时间": held,
            "参会党员编号": ",".join(d.get("attendee_ids", [])),
            "应到人数": d.get("expected_count"),
            "会议主题": d.get("topic", ""),
        }
    if e["type"] == "fpba.learning.completed.v1":
        return {
            "事件编号": e["id"],
            "党员编号": d["member_id"],
            "学习日期": date.fromisoformat(d["date"]),
            "学习时长(分钟)": d["minutes"],
            "课程名称": d.get("course", ""),
        }
    if e["type"] == "fpba.public_activity.held.v1":
        return {
            "事件编号": e["id"],
            "党组织编号": d["organization_id"],
            "活动类型": d["kind"],
            "活动时间": datetime.fromisoformat(d["held_at"]).astimezone(SH).replace(tzinfo=None),
            "参与党员编号": ",".join(d.get("participant_ids", [])),
            "时长(小时)": d["hours"],
        }
    return {"事件编号": e["id"], "党员编号": d["member_id"], "所属月份": d["month"], "金额(元)": d["amount_cny"]}


def _csv_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    return v


def _clean(header: Any) -> str:
    return re.sub(r"[*＊\s]|（.*?）|\(必填\)", "", str(header or ""))


class Channels:
    def __init__(self, activity: httpx.AsyncClient, secret: str, publisher: Any, say: Callable[[str], None]) -> None:
        self.activity = activity
        self.secret = secret
        self.publisher = publisher
        self.say = say
        self.templates: dict[str, bytes] = {}
        self._csv_headers: dict[str, tuple[list[Any], list[str]]] = {}
        self.outcome: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.by_channel: Counter[str] = Counter()
        self.bar: Bar | None = None

    def _sent(self, channel: str, n: int) -> None:
        self.by_channel[channel] += n
        if self.bar is not None:
            self.bar.advance(n)

    def _count(self, channel: str, answer: dict[str, Any], sent: int) -> None:
        self.outcome["accepted"] += answer["accepted"]
        self.outcome["duplicates"] += answer["duplicates"]
        self.outcome["rejected"] += len(answer["rejected"])
        self._sent(channel, sent)
        for r in answer["rejected"]:
            self.rejections[(r.get("reason") or "?").split(" / ")[0][:40]] += 1

    async def upload(self, inst: Institution, events: list[dict[str, Any]], token: str, *, xlsx: bool) -> None:
        """L1: one file per kind filled in from the downloaded template, as XLSX or as the CSV that
        Excel saves ("CSV UTF-8"); a file holds at most 4,000 rows."""
        for layout in ("meeting", "learning", "dues", "public_activity"):
            rows = [e for e in events if LAYOUT_OF.get(e["type"]) == layout]
            if not rows:
                continue
            if layout not in self.templates:
                answer = await self.activity.get(f"/api/v1/templates/{layout}.xlsx")
                answer.raise_for_status()
                self.templates[layout] = answer.content
            for chunk in range(0, len(rows), 4000):
                part = rows[chunk : chunk + 4000]
                name, content = (
                    (f"{layout}.xlsx", self._xlsx(layout, part)) if xlsx else (f"{layout}.csv", self._csv(layout, part))
                )
                answer = await self.activity.post(
                    "/api/v1/uploads",
                    data={"kind": layout},
                    files={"file": (name, content)},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=900,
                )
                if answer.status_code != 200:
                    raise RuntimeError(f"upload {layout}: {answer.status_code} {answer.text[:300]}")
                self._count("L1 upload", answer.json(), len(part))

    def _headers(self, layout: str) -> tuple[list[Any], list[str]]:
        sheet = load_workbook(io.BytesIO(self.templates[layout]), read_only=True).worksheets[0]
        raw = [c.value for c in next(sheet.iter_rows(max_row=1))]
        return raw, [_clean(v) for v in raw]

    def _xlsx(self, layout: str, events: list[dict[str, Any]]) -> bytes:
        book = load_workbook(io.BytesIO(self.templates[layout]))
        sheet = book.worksheets[0]
        headers = [_clean(c.value) for c in sheet[1]]
        for e in events:
            cells = _cells(e)
            sheet.append([cells.get(h) for h in headers])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    def _csv(self, layout: str, events: list[dict[str, Any]]) -> bytes:
        if layout not in self._csv_headers:
            self._csv_headers[layout] = self._headers(layout)
        raw, headers = self._csv_headers[layout]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(raw)
        for e in events:
            cells = _cells(e)
            writer.writerow(["" if (v := cells.get(h)) is None else _csv_value(v) for h in headers])
        return out.getvalue().encode("utf-8-sig")

    async def batch(self, inst: Institution, events: list[dict[str, Any]]) -> None:
        """L2: CloudEvent batches of up to 5,000 with the institution's API key."""
        for chunk in range(0, len(events), 5000):
            part = events[chunk : chunk + 5000]
            answer = await self.activity.post(
                "/api/v1/events",
                content=json.dumps(part, ensure_ascii=False),
                headers={  # the institution's system: its key, not the secretariat's token of the client
                    "X-Api-Key": inst.api_key or "",
                    "Authorization": "",
                    "Content-Type": "application/cloudevents-batch+json",
                },
                timeout=900,
            )
            if answer.status_code != 202:
                raise RuntimeError(f"batch: {answer.status_code} {answer.text[:300]}")
            self._count("L2 batch API", answer.json(), len(part))

    async def webhook(self, inst: Institution, events: list[dict[str, Any]]) -> None:
        """L3: the signed webhook, a batch per call."""
        from alliance_shared.auth import webhook_signature

        for chunk in range(0, len(events), 1000):
            body = json.dumps(events[chunk : chunk + 1000], ensure_ascii=False).encode()
            stamp = str(int(time.time()))
            answer = await self.activity.post(
                f"/api/v1/webhooks/{inst.id}",
                content=body,
                timeout=900,
                headers={
                    "Authorization": "",
                    "Content-Type": "application/cloudevents-batch+json",
                    "X-Timestamp": stamp,
                    "X-Signature": webhook_signature(inst.api_key or "", stamp, body),
                },
            )
            if answer.status_code != 202:
                raise RuntimeError(f"webhook: {answer.status_code} {answer.text[:300]}")
            self._count("L3 webhook", answer.json(), len(events[chunk : chunk + 1000]))

    async def stream(self, inst: Institution, events: list[dict[str, Any]]) -> None:
        """L3: binary-mode CloudEvents on activity.ingest.v1, keyed by organisation (or member), each
        record signed with the institution's API key as its own producer signs it (the principal
        headers activity checks where L3_PRINCIPAL_CHECK is on)."""
        from alliance_shared.auth import key_id_of
        from alliance_shared.contracts.envelope import CloudEvent
        from alliance_shared.contracts.topics import ACTIVITY_INGEST
        from alliance_shared.kafka.principal import signed
        from alliance_shared.kafka.producer import Outgoing

        key_id = key_id_of(inst.api_key or "")
        if key_id is None or inst.api_key is None:
            raise RuntimeError(f"L3 institution {inst.id} has no API key to sign its records with")
        outgoing = []
        for e in events:
            ce = CloudEvent.from_structured(e).with_extensions(institutionid=inst.id)
            key = e["data"].get("organization_id") or e["data"].get("member_id")
            outgoing.append(signed(Outgoing(ACTIVITY_INGEST, ce, key), key_id, inst.api_key))
        for chunk in range(0, len(outgoing), 500):
            await self.publisher.publish_many(outgoing[chunk : chunk + 500])
        self._sent("L3 Kafka", len(outgoing))


STREAMED = {"fpba.meeting.held.v1", "fpba.public_activity.held.v1"}


async def send_quarter(ch: Channels, alliance: Alliance, plan: Plan, secret: str, parallel: int, bar: Bar) -> None:
    """Each institution reports its quarter through its channel, `parallel` at a time; the late
    reporters after the others. L1: one in four uploads XLSX, the others CSV."""
    from alliance_shared.auth import mint_token

    ch.bar = bar
    insts = [i for i in alliance.institutions if plan.events.get(i.id or "")]
    late = [i for i in insts if i.id in plan.late_reporters]
    on_time = [i for i in insts if i.id not in plan.late_reporters]
    l3 = [i for i in insts if i.reporting_level == "L3"]
    streams = {i.id for i in l3[::2]} if ch.publisher is not None else set()
    l1 = [i for i in insts if i.reporting_level == "L1"]
    workbooks = {i.id for i in l1[::4]}

    def admin(inst: Institution) -> str:
        return mint_token(secret, role="institution_admin", subject=f"admin-{inst.uscc}", institution_id=inst.id)

    async def report(inst: Institution) -> None:
        events = plan.events[inst.id or ""] + plan.invalid.get(inst.id or "", [])
        if inst.reporting_level == "L1":
            await ch.upload(inst, events, admin(inst), xlsx=inst.id in workbooks)
        elif inst.reporting_level == "L2":
            await ch.batch(inst, events)
        elif inst.id in streams:  # meetings as they happen on Kafka, the members' daily records by webhook
            await ch.stream(inst, [e for e in events if e["type"] in STREAMED])
            await ch.webhook(inst, [e for e in events if e["type"] not in STREAMED])
        else:
            await ch.webhook(inst, events)
        repeats = plan.repeats.get(inst.id or "")
        if repeats:  # the same events again, as a system does after a timeout
            if inst.id in streams:
                await ch.stream(inst, repeats)
            elif inst.api_key:
                await ch.batch(inst, repeats)
            else:
                await ch.upload(inst, repeats, admin(inst), xlsx=False)

    gate = asyncio.Semaphore(parallel)

    async def one(inst: Institution) -> None:
        async with gate:
            await report(inst)

    await asyncio.gather(*(one(i) for i in on_time))
    bar.update(note=f"{len(late)} late reporters")
    await asyncio.gather(*(one(i) for i in late))

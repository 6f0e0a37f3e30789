"""What the diligent part of the demo alliance reports on top of its meetings: each month's dues once
the month has ended, a public activity per branch, and, in the exemplary institutions (示范单位, one
in ten), every member's online learning on every day of the quarter so far. So the demo's quarter
is graded as its plan says: most institutions 合格 or better, the exemplary ones 优秀, the lagging
branches 不合格, and the institutions that joined in the last fortnight 待评.

A random stream of its own, so the rest of the plan (meetings, laggards, mistakes) stays what it was
for a seed."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from demo_alliance import Alliance, Institution

SH = ZoneInfo("Asia/Shanghai")
EXEMPLARY_SHARE = 1 / 10
PUBLIC_KINDS = ["志愿服务", "金融知识进社区", "助学帮扶", "防范非法集资宣传", "无偿献血"]
COURSES = ["学习强国", "金融党建云课堂", "党纪学习教育专题"]


def quarter_start(today: date) -> date:
    return date(today.year, (today.month - 1) // 3 * 3 + 1, 1)


def choose_exemplary(alliance: Alliance, lagging: set[str], seed: int) -> set[str]:
    """Institution ids: one in ten (at least one) of those with a branch of their own, none of
    them lagging, that joined before the quarter, among the smaller half."""
    rng = random.Random(f"{seed}:exemplary")
    candidates = [
        i
        for i in alliance.institutions
        if i.id
        and i.joined_at is not None
        and any(o.holds_meetings and o.institution_usccs[0] == i.uscc for o in i.organizations)
        and not any(o.id in lagging for o in i.organizations)
    ]
    # the smaller half: a member's daily learning is one event a day, and big banks have thousands
    size = {
        i.uscc: sum(len(o.members) for o in i.organizations if o.institution_usccs[0] == i.uscc) for i in candidates
    }
    candidates = sorted(candidates, key=lambda i: (size[i.uscc], i.uscc))[: max(1, (len(candidates) + 1) // 2)]
    count = min(len(candidates), max(1, round(len(alliance.institutions) * EXEMPLARY_SHARE)))
    return {i.id or "" for i in rng.sample(candidates, count)}


def diligent_quarter(
    event: Any,
    rng: random.Random,
    inst: Institution,
    org_id: str,
    members: list[str],
    today: date,
    *,
    lagging: bool,
    exemplary: bool,
) -> list[dict[str, Any]]:
    """The branch's events beyond its meetings and last month's records (`event` builds one)."""
    out: list[dict[str, Any]] = []
    start = quarter_start(today)
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    month = start
    while month < last_month:  # the quarter's earlier months' dues (last month's come with the plan)
        for member in members:
            if rng.random() < 0.92:
                paid = datetime(month.year, month.month, rng.randrange(1, 28), 10, tzinfo=SH)
                out.append(
                    event(
                        "dues.paid",
                        {
                            "member_id": member,
                            "month": f"{month:%Y-%m}",
                            "amount_cny": float(rng.choice([20, 30, 50, 80])),
                        },
                        inst,
                        paid,
                    )
                )
        month = (month + timedelta(days=32)).replace(day=1)
    if not lagging and today > start:
        day = start + timedelta(days=rng.randrange(0, (today - start).days))
        held = datetime(day.year, day.month, day.day, 14, tzinfo=SH)
        share = rng.uniform(0.55, 0.95) if exemplary else rng.uniform(0.3, 0.9)
        out.append(
            event(
                "public_activity.held",
                {
                    "organization_id": org_id,
                    "kind": rng.choice(PUBLIC_KINDS),
                    "held_at": held.isoformat(),
                    "participant_ids": rng.sample(members, max(1, round(len(members) * share))),
                    "hours": float(rng.choice([2, 3, 4])),
                },
                inst,
                held,
            )
        )
    if exemplary:
        for member in members:
            day = start
            while day < today:
                if rng.random() < 0.85:
                    at = datetime(day.year, day.month, day.day, 21, tzinfo=SH)
                    out.append(
                        event(
                            "learning.completed",
                            {
                                "member_id": member,
                                "date": day.isoformat(),
                                "minutes": rng.randrange(15, 90),
                                "course": rng.choice(COURSES),
                            },
                            inst,
                            at,
                        )
                    )
                day += timedelta(days=1)
    return out

"""How long rescoring one quarter takes: 10,000 branches with a year of synthetic events, against
a baseline (1,000 branches) measured in the same run, so the ratio says how scoring scales.

    .venv/bin/python bench/evaluation_rescore.py                 # pure scoring
    .venv/bin/python bench/evaluation_rescore.py --store         # + load facts from and write scores to
                                                                 #   the store (MONGODB_URI), smaller sizes

Pure mode times `score_period` over the year's facts (indexing the quarter out of the year included).
Store mode times the service's own path: load the quarter's facts, score, persist the cards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta

from alliance_evaluation.domain.facts import (
    Branch,
    Classification,
    DuesPayment,
    Institution,
    Learning,
    Meeting,
    PeriodFacts,
    PublicActivity,
    Rating,
    Stint,
)
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.domain.ruleset import load_ruleset
from alliance_evaluation.domain.scoring import score_period

YEAR = 2026
OWNERSHIP = ("state_owned", "private", "emerging")
LEVELS = ("L1", "L2", "L3")


def synthetic_year(branches: int, seed: int = 42) -> tuple[PeriodFacts, int]:
    """`branches` branches (10 per institution), 5–12 members each, a year of events:
    三会一课 by the calendar (10% skipped), learning twice a member-month, monthly dues, public
    activities quarterly, a rating for every fifth branch."""
    rnd = random.Random(seed)
    f = PeriodFacts()
    events = 0
    for i in range(max(1, branches // 10)):
        f.institutions[f"i{i}"] = Institution(
            f"i{i}",
            f"机构{i}",
            (
                (
                    date(2020, 1, 1),
                    Classification(rnd.choice(OWNERSHIP), "established_complete", rnd.choice(LEVELS)),
                ),
            ),
        )
    kinds_monthly = ("branch_committee_meeting", "theme_party_day")
    for b in range(branches):
        bid, inst = f"b{b}", f"i{b // 10}"
        groups = rnd.random() < 0.3
        f.branches[bid] = Branch(bid, (inst,), "branch", f"支部{b}", date(2019, 1, 1), None, groups)
        members = [f"m{b}-{k}" for k in range(rnd.randint(5, 12))]
        f.stints += [Stint(m, bid, date(2024, 1, 1), None) for m in members]
        for month in range(1, 13):
            kinds = [*kinds_monthly, *(("party_group_meeting",) if groups else ())]
            if month % 3 == 0:
                kinds += ["branch_general_meeting", "party_lesson"]
            for kind in kinds:
                if rnd.random() < 0.1:
                    continue
                day = date(YEAR, month, rnd.randint(1, 28))
                recv = datetime(YEAR, month, day.day, 3, tzinfo=UTC) + timedelta(
                    days=rnd.choice((0, 0, 1, 5, 20))
                )
                f.meetings.append(
                    Meeting(f"e{events}", bid, kind, day, rnd.randint(3, len(members)), len(members), recv)
                )
                events += 1
            for m in members:
                for _ in range(2):
                    d = date(YEAR, month, rnd.randint(1, 28))
                    f.learning.append(
                        Learning(
                            f"e{events}",
                            m,
                            d,
                            rnd.randint(3, 40),
                            datetime(YEAR, month, d.day, 12, tzinfo=UTC),
                        )
                    )
                    events += 1
                if rnd.random() < 0.9:
                    f.dues.append(
                        DuesPayment(
                            f"e{events}", m, f"{YEAR}-{month:02d}", datetime(YEAR, month, 15, tzinfo=UTC)
                        )
                    )
                    events += 1
            if month % 3 == 1:
                f.public_activities.append(
                    PublicActivity(
                        f"e{events}",
                        bid,
                        date(YEAR, month, 9),
                        tuple(rnd.sample(members, 3)),
                        datetime(YEAR, month, 9, tzinfo=UTC),
                    )
                )
                events += 1
        if b % 5 == 0:
            f.ratings.append(
                Rating(f"r{b}", "branch", bid, "ev", rnd.choice(("excellent", "good", "average")))
            )
    return f, events


def time_pure(branches: int, period: Period) -> dict[str, float]:
    rs = load_ruleset("2026.1")
    t0 = time.perf_counter()
    facts, events = synthetic_year(branches)
    generated = time.perf_counter() - t0
    t1 = time.perf_counter()
    first = score_period(facts, period, rs)
    scored = time.perf_counter() - t1
    second = score_period(facts, period, rs)
    same = [c.digest() for c in first.institutions] == [c.digest() for c in second.institutions]
    return {
        "branches": branches,
        "events": events,
        "generate_s": generated,
        "rescore_s": scored,
        "identical_replay": same,
        "cards": len(first.branches) + len(first.institutions),
    }


async def time_store(branches: int, period: Period) -> dict[str, float]:
    """Load the quarter's events into a fresh database, then time the service's rescore path."""
    from alliance_evaluation.adapters import projections as pj
    from alliance_evaluation.adapters import readmodels as rm
    from alliance_evaluation.adapters.projections import Projections
    from alliance_evaluation.adapters.readmodels import ReadModels
    from alliance_evaluation.handlers import Evaluation
    from alliance_evaluation.settings import EvaluationSettings
    from alliance_shared.clock import FixedClock
    from alliance_shared.mongo import connect, ensure_indexes
    from alliance_shared.testing import namespace

    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017")
    db_name = namespace("bench").replace("-", "_")
    client = connect(uri)
    db = client[db_name]
    try:
        await ensure_indexes(db, [*pj.INDEXES, *rm.INDEXES])
        facts, _ = synthetic_year(branches)
        win = period.window
        await _load(db, facts, win)
        settings = EvaluationSettings(mongodb_database=db_name, rescore_chunk=200)
        ev = Evaluation(
            Projections(db),
            ReadModels(db),
            load_ruleset("2026.1"),
            FixedClock(datetime(YEAR, 10, 5, tzinfo=UTC)),
            settings,
        )
        t0 = time.perf_counter()
        changed = await ev.rescore(period, trigger="bench")
        first = time.perf_counter() - t0
        t1 = time.perf_counter()
        unchanged = await ev.rescore(period, trigger="bench")
        second = time.perf_counter() - t1
        return {
            "branches": branches,
            "first_rescore_s": first,
            "changed": changed,
            "repeat_rescore_s": second,
            "changed_on_repeat": unchanged,
        }
    finally:
        await client.drop_database(db_name)
        await client.close()


async def _load(db, facts: PeriodFacts, win) -> None:  # type: ignore[no-untyped-def]
    await db.institutions.insert_many(
        [
            {
                "_id": i.id,
                "name": i.name,
                "classes": [
                    {
                        "from": d.isoformat(),
                        "event_id": f"x-{i.id}",
                        "ownership": c.ownership,
                        "party_org_status": c.party_org_status,
                        "reporting_level": c.reporting_level,
                        "sector": "",
                    }
                    for d, c in i.classes
                ],
            }
            for i in facts.institutions.values()
        ]
    )
    await db.organizations.insert_many(
        [
            {
                "_id": b.id,
                "institution_ids": list(b.institution_ids),
                "kind": b.kind,
                "name": b.name,
                "opened": b.opened.isoformat(),
                "has_party_groups": b.has_party_groups,
            }
            for b in facts.branches.values()
        ]
    )
    await db.members.insert_many(
        [
            {
                "_id": s.member_id,
                "changes": [
                    {
                        "event_id": f"x-{s.member_id}",
                        "on": s.start.isoformat(),
                        "kind": "registered",
                        "org": s.organization_id,
                        "status": "full",
                        "pocket": False,
                    }
                ],
            }
            for s in facts.stints
        ]
    )
    p = str(Period.of_day(win.start))
    docs = [
        {
            "_id": m.event_id,
            "type": "fpba.meeting.held.v1",
            "period": p,
            "organization_id": m.organization_id,
            "kind": m.kind,
            "held_on": m.held_on.isoformat(),
            "attendees": m.attendees,
            "expected": m.expected,
            "received_at": m.received_at,
        }
        for m in facts.meetings
        if win.contains(m.held_on)
    ]
    docs += [
        {
            "_id": x.event_id,
            "type": "fpba.learning.completed.v1",
            "period": p,
            "member_id": x.member_id,
            "day": x.day.isoformat(),
            "minutes": x.minutes,
            "received_at": x.received_at,
        }
        for x in facts.learning
        if win.contains(x.day)
    ]
    docs += [
        {
            "_id": d.event_id,
            "type": "fpba.dues.paid.v1",
            "period": p,
            "member_id": d.member_id,
            "month": d.month,
            "received_at": d.received_at,
        }
        for d in facts.dues
        if d.month.startswith(f"{YEAR}-") and win.contains(date.fromisoformat(d.month + "-01"))
    ]
    for start in range(0, len(docs), 5000):
        await db.activities.insert_many(docs[start : start + 5000], ordered=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--period", default=f"{YEAR}-Q3")
    parser.add_argument("--store", action="store_true", help="also time the store path (MONGODB_URI)")
    parser.add_argument("--store-branches", type=int, default=300)
    parser.add_argument("--store-baseline", type=int, default=100)
    args = parser.parse_args()
    period = Period.parse(args.period)
    print(f"rescoring {period} (pure scoring, exact arithmetic, one core) — python {sys.version.split()[0]}")
    base = time_pure(args.baseline, period)
    big = time_pure(args.branches, period)
    for r in (base, big):
        print(
            f"  {r['branches']:>6} branches  {r['events']:>9,} events/year  "
            f"generated {r['generate_s']:6.2f}s  "
            f"rescore {r['rescore_s']:6.2f}s  ({r['cards']} cards, replay identical: {r['identical_replay']})"
        )
    scale = args.branches / args.baseline
    print(
        f"  ratio {big['rescore_s'] / base['rescore_s']:.2f}× time for {scale:.0f}× branches "
        f"({big['rescore_s'] / args.branches * 1000:.3f} ms per branch)"
    )
    if args.store:
        small = asyncio.run(time_store(args.store_baseline, period))
        large = asyncio.run(time_store(args.store_branches, period))
        print("store path (load facts → score → persist cards, FerretDB/MongoDB at MONGODB_URI)")
        for r in (small, large):
            print(
                f"  {r['branches']:>6} branches  first rescore {r['first_rescore_s']:6.2f}s "
                f"({r['changed']} cards "
                f"written)  repeat {r['repeat_rescore_s']:6.2f}s ({r['changed_on_repeat']} changed)"
            )
        print(
            f"  ratio {large['first_rescore_s'] / small['first_rescore_s']:.2f}× time for "
            f"{args.store_branches / args.store_baseline:.0f}× branches"
        )


if __name__ == "__main__":
    main()

"""How fast the dashboard's first screen answers on a city-sized alliance: 3,000 institutions and
30,000 branches of synthetic read models in a fresh database of the store (MONGODB_URI), each
screen's API calls timed through the real app (FastAPI + store), against baselines measured in the
same run: `/healthz` (the app's floor) and the same screens on a 300/3,000 alliance.

    source /work/notes/infra.env && .venv/bin/python bench/dashboard_first_screen.py [--keep] [--no-browser]

The last rows time whole pages in headless Debian Chromium (navigation until the view is drawn);
their screenshots land in test-artifacts/bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from alliance_evaluation.adapters import ranks
from alliance_evaluation.app import create_app
from alliance_evaluation.settings import EvaluationSettings
from alliance_evaluation.usecases import scoring
from alliance_shared.auth import mint_token
from alliance_shared.clock import FixedClock
from alliance_shared.testing import namespace, serving

PERIOD = "2026-Q3"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "bench"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
QUARTERS = ["2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", PERIOD]
OWNERSHIP = ("state_owned", "private", "emerging")
GRADES = ((90, "excellent"), (75, "good"), (60, "pass"), (0, "fail"))
SCREENS = {
    "overview (first screen)": [
        ("/api/v1/dashboard/me", {}),
        ("/api/v1/dashboard/periods", {}),
        ("/api/v1/overview", {"period": PERIOD}),
        ("/api/v1/dashboard/trend", {"period": PERIOD, "quarters": 6}),
    ],
    "rankings p1": [("/api/v1/dashboard/rankings", {"period": PERIOD})],
    "rankings branches, peer+search": [
        (
            "/api/v1/dashboard/rankings",
            {"period": PERIOD, "level": "branch", "ownership": "private", "q": "支部1"},
        )
    ],
    "rankings p40 by name": [("/api/v1/dashboard/rankings", {"period": PERIOD, "sort": "name", "page": 40})],
    "drill-down institution": [("/api/v1/periods/2026-Q3/institutions/i00042", {})],
    "institution trend (admin's first screen)": [
        ("/api/v1/dashboard/trend", {"period": PERIOD, "quarters": 6, "institution_id": "i00042"})
    ],
    "work queue p1": [("/api/v1/dashboard/queue", {})],
    "heat map p1": [("/api/v1/dashboard/heatmap", {"period": PERIOD})],
}


def grade(score: float) -> str:
    return next(g for floor, g in GRADES if score >= floor)


def cards(n_inst: int, per_inst: int, rnd: random.Random) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    scores, orgs, lagging, acts = [], [], [], []
    for i in range(n_inst):
        iid = f"i{i:05d}"
        own, lvl = OWNERSHIP[i % 3], f"L{i % 3 + 1}"
        inst_score = round(rnd.uniform(40, 100), 2)
        branch_refs = []
        for b in range(per_inst):
            bid = f"{iid}-b{b:02d}"
            s = round(rnd.uniform(30, 100), 2)
            branch_refs.append({"organization_id": bid, "name": f"支部{bid}", "score": s, "grade": grade(s)})
            breakdown = [{"indicator": "org_life", "value": s, "requirement": "每月", "weight": 35, "base_weight": 35,
                          "points": s * 0.35, "evidence": [f"e-{bid}-{k}" for k in range(8)], "evidence_count": 8,
                          "details": {}, "note": ""}]  # fmt: skip
            scores.append({"_id": f"{PERIOD}|branch|{bid}", "period": PERIOD, "object_type": "branch", "object_id": bid,
                           "institution_id": iid, "institution_ids": [iid], "name": f"支部{bid}", "kind": "branch",
                           "ownership": own, "reporting_level": lvl, "sector": "bank", "score": s, "grade": grade(s),
                           "vetoed": False, "completeness": 80.0, "timeliness": 70.0, "breakdown": breakdown,
                           "ruleset": "2026.1", "computation_id": f"c-{bid}"})  # fmt: skip
            orgs.append(
                {
                    "_id": bid,
                    "kind": "branch",
                    "name": f"支部{bid}",
                    "institution_ids": [iid],
                    "opened": "2020-01-01",
                }
            )
            if rnd.random() < 0.07:
                lagging.append({"_id": bid, "status": "lagging", "institution_id": iid, "institution_ids": [iid],
                                "days_since_last_meeting": rnd.randint(60, 300)})  # fmt: skip
            for m in range(7, 10):
                for k in range(rnd.randint(0, 3)):
                    acts.append({"_id": f"a-{bid}-{m}-{k}", "type": "fpba.meeting.held.v1", "organization_id": bid,
                                 "kind": "theme_party_day", "held_on": f"2026-{m:02d}-{10 + k:02d}", "period": PERIOD,
                                 "superseded_by": None})  # fmt: skip
        for p in QUARTERS:
            scores.append({"_id": f"{p}|institution|{iid}", "period": p, "object_type": "institution", "object_id": iid,
                           "institution_id": iid, "institution_ids": [iid], "name": f"机构{iid}", "ownership": own,
                           "reporting_level": lvl, "sector": ("bank", "securities", "insurance")[i % 3],
                           "score": inst_score, "grade": grade(inst_score), "vetoed": False, "completeness": 80.0,
                           "timeliness": 70.0, "branches": branch_refs, "branch_count": per_inst,
                           "joint_branch_count": 0,
                           "coverage": {"members": 10 * per_inst, "pocket_members": 1}, "breakdown": [],
                           "ruleset": "2026.1", "computation_id": f"c-{iid}-{p}"})  # fmt: skip
    return scores, orgs, lagging, acts


async def load(db, n_inst: int, per_inst: int) -> None:  # type: ignore[no-untyped-def]
    scores, orgs, lagging, acts = cards(n_inst, per_inst, random.Random(7))
    for coll, docs in (
        ("scores", scores),
        ("organizations", orgs),
        ("lagging", lagging),
        ("activities", acts),
    ):
        for k in range(0, len(docs), 250):
            await db[coll].insert_many(docs[k : k + 250], ordered=False)
    # the rank rows, written as the scorer writes them after each chunk (same functions)
    days: dict[str, list[str]] = {}
    for a in acts:
        days.setdefault(a["organization_id"], []).append(a["held_on"])
    for p in QUARTERS:
        insts = [d for d in scores if d["period"] == p and d["object_type"] == "institution"]
        branches = [d for d in scores if d["period"] == p and d["object_type"] == "branch"]
        docs = ranks.institution_documents(p, insts, branches, days if p == PERIOD else {})
        for k in range(0, len(docs), 200):
            await ranks.save(db, docs[k : k + 200])


async def time_screens(client: httpx.AsyncClient, rounds: int) -> dict[str, tuple[float, float]]:
    out = {}
    for name, calls in {"healthz (baseline)": [("/healthz", {})], **SCREENS}.items():
        samples = []
        for _ in range(rounds):
            samples.append(await time_screen(client, name, calls))
        out[name] = (statistics.median(samples), max(samples))
    return out


async def time_screen(client: httpx.AsyncClient, name: str, calls: list[tuple[str, dict]]) -> float:
    t = time.perf_counter()
    answers = await asyncio.gather(*(client.get(path, params=params) for path, params in calls))
    took = (time.perf_counter() - t) * 1000
    for a in answers:
        assert a.status_code == 200, (name, a.text[:200])
    return took


async def run(
    n_inst: int, per_inst: int, rounds: int, keep: bool, browser: bool = True
) -> dict[str, tuple[float, float]]:
    ns = namespace("bench-dash")
    settings = EvaluationSettings(
        mongodb_uri=os.environ["MONGODB_URI"],
        kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        kafka_topic_prefix=f"{ns}.",
        mongodb_database=ns.replace("-", "_"),
        environment="test",
    )
    app = create_app(
        settings,
        clock=FixedClock(datetime(2026, 10, 12, 2, tzinfo=UTC)),
        start_consumers=False,
        background=False,
    )
    async with app.router.lifespan_context(app):
        ev = app.state.evaluation
        t = time.perf_counter()
        await load(ev.models.db, n_inst, per_inst)
        loaded = time.perf_counter() - t
        t = time.perf_counter()
        await scoring.refresh_overview(ev, PERIOD)  # what the rescorer does after each round
        await ev.models.lagging_queue.bump()  # what the lagging scan does when it is done
        computed = time.perf_counter() - t
        current = await ev.models.overview(PERIOD)
        for p in QUARTERS[:-1]:  # earlier quarters: the same shape, for the trend
            await ev.models.save_overview(p, {**current, "_id": p, "period": p})
        print(
            f"  {n_inst} institutions / {n_inst * per_inst} branches: loaded in {loaded:.1f} s, "
            f"overview pre-computed in {computed:.1f} s",
            flush=True,
        )
        token = mint_token(settings.auth_jwt_secret, role="secretariat", subject="bench")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {token}"}
        ) as c:
            await time_screen(c, "healthz", [("/healthz", {})])
            # cold: the first rankings call after a rescore reloads the quarter's rank rows
            await scoring.refresh_overview(ev, PERIOD)
            cold = await time_screen(c, "cold", SCREENS["overview (first screen)"] + SCREENS["rankings p1"])
            result = await time_screens(c, rounds)
            result["first screen + rankings, cold"] = (cold, cold)
            if browser:
                token_admin = mint_token(
                    settings.auth_jwt_secret, role="institution_admin", subject="bench-adm", institution_id="i00042"
                )
                for name, took in (await time_pages(app, token, token_admin, n_inst)).items():
                    result[name] = (took, took)
        if not keep:
            await app.state.runtime.mongo.drop_database(settings.mongodb_database)
    return result


PAGES = {  # name → (path, the view that must be ready, token)
    "browser: overview page drawn (secretariat)": (f"/?period={PERIOD}#/overview", "overview", "sec"),
    "browser: rankings page": (f"/?period={PERIOD}#/rankings", "rankings", "sec"),
    "browser: institution page (admin's first)": (f"/?period={PERIOD}", "institution", "admin"),
}


async def time_pages(app, token: str, token_admin: str, n_inst: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Each page in headless Debian Chromium, from navigation until the view says it is ready
    (its API answers in and its charts drawn); a screenshot of each under test-artifacts/bench/."""
    from playwright.async_api import async_playwright

    out: dict[str, float] = {}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with serving(app, what="the dashboard server", timeout_s=30, lifespan="off", log_config=None,
                       access_log=False) as port:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for name, (path, view, who) in PAGES.items():
                context = await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
                page = await context.new_page()
                tok = token if who == "sec" else token_admin
                await page.goto(f"http://127.0.0.1:{port}/static/dashboard/dashboard.css")  # warm the connection
                t = time.perf_counter()
                await page.goto(f"http://127.0.0.1:{port}{path.replace('?', '?token=' + tok + '&', 1)}")
                await page.wait_for_selector(f'#view[data-ready="{view}"]', timeout=60_000)
                out[name] = (time.perf_counter() - t) * 1000
                await page.screenshot(path=str(ARTIFACTS / f"{n_inst}-{view}.png"), full_page=False)
                await context.close()
            await browser.close()
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the synthetic databases")
    ap.add_argument("--no-browser", action="store_true", help="API timings only (no Chromium)")
    args = ap.parse_args()
    print("baseline alliance:")
    small = await run(300, 10, args.rounds, args.keep, not args.no_browser)
    print("city-sized alliance:")
    big = await run(3000, 10, args.rounds, args.keep, not args.no_browser)
    print(
        f"{'screen (API calls in parallel, ms)':36} {'300/3k med':>11} {'3k/30k med':>11}"
        f" {'3k/30k max':>11} {'ratio':>6}"
    )
    for name in big:
        print(
            f"{name:36} {small[name][0]:11.1f} {big[name][0]:11.1f} {big[name][1]:11.1f}"
            f" {big[name][0] / small[name][0]:6.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())

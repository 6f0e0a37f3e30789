"""`make demo [SIZE=city]`: load a realistic alliance into the RUNNING platform (`make run`) through
its public APIs only — institutions, organisation trees and members through the registry, a quarter
of activity through all three reporting channels, then the lagging scan so that reminders go out.
Each long phase shows a progress bar (rate, ETA); a table of the phases' timings ends it.

    .venv/bin/python scripts/demo.py [--size default|city] [--institutions N] [--members N]
                                     [--namespace NS] [--registry URL --activity URL ...]
                                     [--kafka HOST:PORT --topic-prefix P]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from alliance_shared.auth import mint_token
from alliance_shared.clock import SHANGHAI, quarter_of
from alliance_shared.settings import ServiceSettings
from demo_activity import Channels, Plan, plan_quarter, send_quarter
from demo_alliance import Alliance, build_alliance
from demo_progress import Bar, Phases
from demo_registry import RegistryLoader, ok

DEFAULT_URLS = {
    "registry": "http://127.0.0.1:8001",
    "activity": "http://127.0.0.1:8002",
    "evaluation": "http://127.0.0.1:8003",
    "notification": "http://127.0.0.1:8004",
}


@dataclass(frozen=True)
class Size:
    institutions: int
    members: int
    branch_factor: float  # branches per institution, against the default's trees
    wait_s: float  # how long to wait for the services to catch up, at most


SIZES = {
    "default": Size(300, 20_000, 1.0, 1800),
    # Shenzhen's financial sector: ~3,000 institutions, ~30,000 organisations, ~100,000 members
    "city": Size(3_000, 100_000, 5.7, 3600),
}


@dataclass
class DemoRun:
    """What a run loaded and how long each phase took (`bench/city.py` reads it)."""

    alliance: Alliance
    plan: Plan
    channels: Channels
    phases: Phases
    urls: dict[str, str]
    period: str
    member_ids: dict[str, list[str]] = field(default_factory=dict)
    scan: dict[str, Any] = field(default_factory=dict)
    deliveries: Counter[tuple[str, str]] = field(default_factory=Counter)
    overview: dict[str, Any] = field(default_factory=dict)


def platform_state(namespace: str | None) -> dict[str, Any]:
    """What `make run` wrote about itself (URLs, Kafka), when it runs on this machine."""
    from alliance_localinfra._cache import cache_root

    path = cache_root() / "run" / (namespace or "") / "platform.json"
    return json.loads(path.read_text()) if path.is_file() else {}


async def wait_until(probe: Any, what: str, timeout_s: float, interval_s: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(interval_s)
    raise SystemExit(f"等待超时 / timed out waiting for {what}")


def resolve(args: argparse.Namespace) -> tuple[dict[str, str], str | None, str]:
    """The services' URLs, Kafka's address and the topic prefix: the options, else what `make run` wrote."""
    state = platform_state(args.namespace)
    urls = {
        name: getattr(args, name) or state.get("services", {}).get(name) or DEFAULT_URLS[name] for name in DEFAULT_URLS
    }
    kafka = args.kafka or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or state.get("kafka_bootstrap_servers")
    prefix = args.topic_prefix if args.topic_prefix is not None else state.get("topic_prefix", "")
    return urls, kafka, prefix


async def load(args: argparse.Namespace, phases: Phases | None = None) -> DemoRun | None:
    """The whole demo; None when the platform is not up."""
    phases = phases or Phases()
    say = phases.say
    urls, kafka, prefix = resolve(args)
    secret = ServiceSettings().auth_jwt_secret
    secretariat = mint_token(secret, role="secretariat", subject="demo-secretariat")
    today = datetime.now(SHANGHAI).date()
    period = quarter_of(datetime.now(SHANGHAI))
    limits = httpx.Limits(  # idle connections are dropped before the server would close them
        max_connections=max(16, args.parallel * 2), max_keepalive_connections=max(16, args.parallel * 2),
        keepalive_expiry=2.0,
    )
    async with AsyncExitStack() as stack:
        clients = {
            n: await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=u, timeout=120, limits=limits, headers={"Authorization": f"Bearer {secretariat}"}
                )
            )
            for n, u in urls.items()
        }
        for name, client in clients.items():
            try:
                ready = (await client.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                ready = False
            if not ready:
                say(f"{name} 未就绪 / is not ready at {urls[name]} — start the platform with `make run` first")
                return None
        say(f"市金融党建联盟示例数据 / loading a demo alliance ({args.size}) into {urls['registry']} … ({period})")

        with phases.step("generate the alliance"):
            alliance = build_alliance(
                institutions=args.institutions,
                members=args.members,
                seed=args.seed,
                today=today,
                branch_factor=args.branch_factor,
            )
        summary_alliance(alliance, say)

        loader = RegistryLoader(clients["registry"], alliance, say)
        with phases.phase("institutions (import) and contacts", len(alliance.institutions), "institutions") as bar:
            await loader.institutions(bar, parallel=args.parallel)
        with phases.phase("organisations", len(alliance.organizations), "organisations") as bar:
            await loader.organizations(bar, parallel=args.parallel)
        members = sum(1 for _ in alliance.members())
        with phases.phase("members (roster import and POST /members)", members, "members") as bar:
            await loader.members(
                bar, posted_share=args.posted_share, import_rows=args.import_rows, parallel=args.parallel
            )
        keyed = [i for i in alliance.institutions if i.reporting_level in ("L2", "L3")]
        with phases.phase("API keys for L2 and L3 systems", len(keyed), "keys") as bar:
            await loader.api_keys(bar, parallel=args.parallel)
        with phases.phase("member ids read back", len(loader.institutions_to_read()), "institutions") as bar:
            member_ids = await loader.member_ids(bar, parallel=args.parallel)

        with phases.phase("activity catches up with the registry", unit="events") as bar:
            await wait_for_consumers(clients, ("activity",), args.wait_s, bar)
            await wait_for_activity(clients["activity"], alliance, member_ids, args.wait_s, bar)

        with phases.step("plan the quarter"):
            plan = plan_quarter(alliance, member_ids, today, seed=args.seed)
        publisher = None
        if kafka:
            from alliance_shared.kafka.producer import EventPublisher

            publisher = EventPublisher(kafka, client_id="demo-l3-systems", topic_prefix=prefix)
            await publisher.start()
            stack.push_async_callback(publisher.stop)
        else:
            say("  (no Kafka address: L3 institutions use the webhook only; pass --kafka to stream)")
        channels = Channels(clients["activity"], secret, publisher, say)
        run = DemoRun(alliance, plan, channels, phases, urls, period, member_ids)
        with phases.phase("a quarter sent through L1, L2 and L3", plan.sent_total, "events") as bar:
            await send_quarter(channels, alliance, plan, secret, args.parallel, bar)

        with phases.phase("activity, evaluation and notification catch up", unit="events") as bar:
            await wait_for_consumers(clients, ("activity", "evaluation", "notification"), args.wait_s, bar)

        institutions = len(alliance.institutions)
        with phases.phase(f"evaluation scores {period}", institutions, "institutions") as bar:

            async def scored() -> bool:
                answer = await clients["evaluation"].get(f"/api/v1/periods/{period}/scores", params={"page_size": 1})
                total = answer.json().get("total", 0) if answer.status_code == 200 else 0
                bar.update(completed=total)
                return bool(total >= institutions)

            await wait_until(scored, "evaluation to score every institution", args.wait_s, 2)

        with phases.step("lagging scan"):
            # the scan first drains evaluation's rescore queue, so it judges the quarter as it now stands
            run.scan = ok(await clients["evaluation"].post("/api/v1/scans/lagging", params={"wait": "true"},
                                                              timeout=900), "lagging scan")
        say(f"  落后支部扫描 / lagging scan: {run.scan}")
        with phases.phase("reminders go out", unit="events") as bar:
            await wait_for_consumers(clients, ("notification", "evaluation"), args.wait_s, bar)

            async def reminded() -> bool:  # every lagging-branch reminder sent (SMS in quiet hours: deferred)
                page = ok(
                    await clients["notification"].get(
                        "/api/v1/deliveries", params={"rule": "lagging_branch", "status": "queued", "page_size": 1}
                    ),
                    "deliveries",
                )
                bar.update(note=f"queued {page.get('total', len(page['items']))}")
                return not page["items"]

            await wait_until(reminded, "the reminders to go out", args.wait_s, 2)
        for status in ("queued", "deferred", "sent", "delivered", "failed"):
            for channel in ("email", "sms"):
                page = ok(
                    await clients["notification"].get(
                        "/api/v1/deliveries", params={"status": status, "channel": channel, "page_size": 1}
                    ),
                    "deliveries",
                )
                if page["items"]:
                    run.deliveries[(channel, status)] = page.get("total", len(page["items"]))
        run.overview = ok(await clients["evaluation"].get("/api/v1/overview", params={"period": period}), "overview")
    summary(run)
    return run


async def wait_for_activity(
    activity: httpx.AsyncClient, alliance: Alliance, member_ids: dict[str, list[str]], timeout_s: float, bar: Bar
) -> None:
    """Activity checks references against its projection of registry events: ask it to validate an
    event of a few institutions' last members until it knows them all (the registry's outbox may still
    be relaying when activity's consumer has no lag)."""
    rng = random.Random(1)
    keyed = [i for i in alliance.institutions if i.api_key]
    samples = []
    for inst in rng.sample(keyed, min(12, len(keyed))):
        ids = [oid for o in inst.organizations if o.holds_meetings and (oid := o.id) in member_ids and member_ids[oid]]
        if ids:
            samples.append((inst, member_ids[ids[-1]][-1]))
    today = date.today().isoformat()

    async def known() -> bool:
        for n, (inst, member) in enumerate(samples):
            body = [
                {
                    "specversion": "1.0",
                    "id": f"probe-{member}",
                    "source": "/demo/probe",
                    "type": "fpba.learning.completed.v1",
                    "data": {"member_id": member, "date": today, "minutes": 5},
                }
            ]
            answer = await activity.post(
                "/api/v1/events:validate",
                json=body,
                headers={
                    "X-Api-Key": inst.api_key or "",
                    "Authorization": "",
                    "Content-Type": "application/cloudevents-batch+json",
                },
            )
            if answer.status_code != 200 or answer.json()["accepted"] != 1:
                bar.update(note=f"activity knows {n}/{len(samples)} sampled members ({answer.status_code})")
                return False
        return True

    await wait_until(known, "activity to learn the registry's institutions, keys and members", timeout_s, 2)


def consumer_lag(metrics: str) -> int:
    """Messages the service's consumers are behind, from its `/metrics` (`alliance_consumer_lag`)."""
    return sum(
        int(float(line.rsplit(" ", 1)[1])) for line in metrics.splitlines() if line.startswith("alliance_consumer_lag{")
    )


async def wait_for_consumers(
    clients: dict[str, httpx.AsyncClient], services: tuple[str, ...], timeout_s: float, bar: Bar
) -> None:
    """Until every consumer of `services` has caught up with its topics, twice in a row a couple of
    seconds apart (what one consumer handles, the next may just be receiving). The bar counts the
    events consumed since the wait began: its total is the largest lag seen."""
    quiet = [0]
    most = [0]

    async def caught_up() -> bool:
        lags = {}
        for name in services:
            answer = await clients[name].get("/metrics")
            lags[name] = consumer_lag(answer.text) if answer.status_code == 200 else -1
        lag = sum(v for v in lags.values() if v > 0)
        most[0] = max(most[0], lag)
        bar.update(total=most[0] or None, completed=most[0] - lag, note=" ".join(f"{k} {v}" for k, v in lags.items()))
        quiet[0] = quiet[0] + 1 if not any(lags.values()) else 0
        return quiet[0] >= 2

    await wait_until(caught_up, "the services to consume every event", timeout_s, 2)


def summary_alliance(a: Alliance, say: Any) -> None:
    by = Counter((i.ownership, i.reporting_level) for i in a.institutions)
    status = Counter(i.party_org_status for i in a.institutions)
    kinds = Counter(o.kind for o in a.organizations)
    say(f"  {len(a.institutions)} institutions · {dict(sorted(by.items()))}")
    say(f"  Party-org status: {dict(status)}")
    say(f"  organisations: {dict(kinds)} · members: {sum(1 for _ in a.members())}")


def summary(run: DemoRun) -> None:
    a, plan, ch, say = run.alliance, run.plan, run.channels, run.phases.say
    say("\n== 示例联盟已加载 / the demo alliance is loaded ==")
    say(
        f"  institutions {len(a.institutions)} · organisations {len(a.organizations)} · "
        f"members {sum(1 for _ in a.members())} · branches {len(a.branches)} "
        f"(joint {sum(1 for o in a.organizations if o.kind == 'joint_branch')})"
    )
    say(f"  events planned {plan.total} · sent by channel {dict(ch.by_channel)}")
    say(f"  activity answered: {dict(ch.outcome)} (Kafka events are answered on activity.rejected.v1)")
    say(f"  rejection reasons: {dict(ch.rejections.most_common(5))}")
    say(f"  lagging branches planned {len(plan.lagging)} · scan {run.scan}")
    say(f"  deliveries (channel, status): {dict(run.deliveries)}")
    o = run.overview
    say(
        f"  grades this quarter: {o.get('grades')} · 待评 no data {o.get('no_data')} · "
        f"completeness {o.get('completeness')} · "
        f"timeliness {o.get('timeliness')}"
    )
    run.phases.summary()
    say(f"  total {run.phases.total_s:.0f}s · dashboard {run.urls['evaluation']}/")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in DEFAULT_URLS:
        p.add_argument(f"--{name}", help=f"{name} base URL (default: what make run wrote, else {DEFAULT_URLS[name]})")
    p.add_argument("--namespace", help="the --namespace given to make run, if any")
    p.add_argument("--kafka", help="Kafka bootstrap servers for the L3 stream (default: from make run)")
    p.add_argument("--topic-prefix", help="topic prefix of the platform (default: from make run)")
    p.add_argument(
        "--size",
        choices=sorted(SIZES),
        default="default",
        help="default: 300 institutions, 20,000 members; city: 3,000, ~30,000 organisations, 100,000",
    )
    p.add_argument("--institutions", type=int, help="instead of the size's")
    p.add_argument("--members", type=int, help="instead of the size's")
    p.add_argument("--branch-factor", type=float, help="branches per institution against the default (city: 5.7)")
    p.add_argument("--seed", type=int, default=20261128)
    p.add_argument("--parallel", type=int, default=6, help="concurrent requests")
    p.add_argument("--import-rows", type=int, default=5000, help="rows per member roster file")
    p.add_argument("--posted-share", type=float, default=0.03,
                   help="share of members registered by POST /members (the rest by roster import)")
    p.add_argument("--wait-s", type=float, help="how long to wait for the services to catch up (default: the size's)")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = parser().parse_args(argv)
    size = SIZES[args.size]
    args.institutions = args.institutions or size.institutions
    args.members = args.members or size.members
    args.branch_factor = args.branch_factor or size.branch_factor
    args.wait_s = args.wait_s or size.wait_s
    return args


def main(argv: list[str] | None = None) -> int:
    run = asyncio.run(load(parse_args(argv)))
    return 0 if run is not None else 2


if __name__ == "__main__":
    sys.exit(main())

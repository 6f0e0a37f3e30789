"""`make demo`: load a realistic alliance into the RUNNING platform (`make run`) through its public
APIs only — institutions, organisation trees and members through the registry, a quarter of
activity through all three reporting channels, then the lagging scan so that reminders go out.

    .venv/bin/python scripts/demo.py [--institutions 300] [--members 20000] [--namespace NS]
                                     [--registry URL --activity URL --evaluation URL --notification URL]
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
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from alliance_shared.auth import mint_token
from alliance_shared.clock import SHANGHAI, quarter_of
from alliance_shared.settings import ServiceSettings
from demo_activity import Channels, Plan, plan_quarter
from demo_alliance import Alliance, build_alliance
from demo_registry import RegistryLoader, gather_limited, ok

DEFAULT_URLS = {
    "registry": "http://127.0.0.1:8001",
    "activity": "http://127.0.0.1:8002",
    "evaluation": "http://127.0.0.1:8003",
    "notification": "http://127.0.0.1:8004",
}


def say(text: str) -> None:
    print(text, flush=True)


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.laps: list[tuple[str, float]] = []
        self._last = self.started

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps.append((name, now - self._last))
        say(f"  ⏱ {name}: {now - self._last:.1f}s")
        self._last = now


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


async def load(args: argparse.Namespace) -> int:
    state = platform_state(args.namespace)
    urls = {
        name: getattr(args, name) or state.get("services", {}).get(name) or DEFAULT_URLS[name] for name in DEFAULT_URLS
    }
    kafka = args.kafka or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or state.get("kafka_bootstrap_servers")
    prefix = args.topic_prefix if args.topic_prefix is not None else state.get("topic_prefix", "")
    secret = ServiceSettings().auth_jwt_secret
    secretariat = mint_token(secret, role="secretariat", subject="demo-secretariat")
    watch = Stopwatch()
    today = datetime.now(SHANGHAI).date()
    period = quarter_of(datetime.now(SHANGHAI))
    async with AsyncExitStack() as stack:
        clients = {
            n: await stack.enter_async_context(
                httpx.AsyncClient(base_url=u, timeout=120, headers={"Authorization": f"Bearer {secretariat}"})
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
                return 2
        say(f"市金融党建联盟示例数据 / loading a demo alliance into {urls['registry']} … ({period})")

        alliance = build_alliance(institutions=args.institutions, members=args.members, seed=args.seed, today=today)
        summary_alliance(alliance)
        watch.lap("generated")

        loader = RegistryLoader(clients["registry"], alliance, say)
        await loader.institutions()
        watch.lap("institutions (bulk import) and contacts")
        await loader.organizations()
        watch.lap("organisation trees")
        count = await loader.members(parallel=args.parallel)
        say(f"  党员 / members: {count}")
        watch.lap("members")
        keys = await loader.api_keys()
        say(f"  API 密钥 / API keys issued to L2 and L3 institutions: {keys}")
        member_ids = await loader.member_ids()
        watch.lap("API keys and member ids read back")

        await wait_for_activity(clients["activity"], alliance, member_ids, args.wait_s)
        watch.lap("activity caught up with the registry")

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
        await send_quarter(channels, alliance, plan, secret, args.parallel)
        watch.lap("a quarter of activity sent through L1, L2 and L3")

        institutions = len(alliance.institutions)
        await wait_for_consumers(clients, ("activity", "evaluation", "notification"), args.wait_s)
        watch.lap("activity, evaluation and notification consumed every event")

        async def scored() -> bool:
            answer = await clients["evaluation"].get(f"/api/v1/periods/{period}/scores", params={"page_size": 1})
            total = answer.json().get("total", 0) if answer.status_code == 200 else 0
            say(f"  评价 / institutions scored for {period}: {total}/{institutions}")
            return bool(total >= institutions)

        await wait_until(scored, "evaluation to score every institution", args.wait_s, 10)
        watch.lap("evaluation scored the quarter")

        # the scan first drains evaluation's rescore queue, so it judges the quarter as it now stands
        scan = ok(await clients["evaluation"].post("/api/v1/scans/lagging", timeout=900), "lagging scan")
        say(f"  落后支部扫描 / lagging scan: {scan}")
        await wait_for_consumers(clients, ("notification", "evaluation"), args.wait_s)  # reminders, deliveries

        async def reminded() -> bool:  # every lagging-branch reminder sent (SMS in quiet hours: deferred)
            page = ok(
                await clients["notification"].get(
                    "/api/v1/deliveries", params={"rule": "lagging_branch", "status": "queued", "page_size": 1}
                ),
                "deliveries",
            )
            return not page["items"]

        await wait_until(reminded, "the reminders to go out", args.wait_s, 3)
        deliveries: Counter[tuple[str, str]] = Counter()
        for status in ("queued", "deferred", "sent", "delivered", "failed"):
            for channel in ("email", "sms"):
                page = ok(
                    await clients["notification"].get(
                        "/api/v1/deliveries", params={"status": status, "channel": channel, "page_size": 1}
                    ),
                    "deliveries",
                )
                if page["items"]:
                    deliveries[(channel, status)] = page.get("total", len(page["items"]))
        watch.lap("lagging scan and reminders")
        overview = ok(await clients["evaluation"].get("/api/v1/overview", params={"period": period}), "overview")
    summary(alliance, plan, channels, scan, deliveries, overview, watch, urls)
    return 0


async def wait_for_activity(
    activity: httpx.AsyncClient, alliance: Alliance, member_ids: dict[str, list[str]], timeout_s: float
) -> None:
    """Activity checks references against its projection of registry events: report once it has them."""
    rng = random.Random(1)
    keyed = [i for i in alliance.institutions if i.api_key]
    samples = []
    for inst in rng.sample(keyed, min(12, len(keyed))):
        ids = [oid for o in inst.organizations if o.holds_meetings and (oid := o.id) in member_ids and member_ids[oid]]
        if ids:
            samples.append((inst, member_ids[ids[-1]][-1]))
    today = date.today().isoformat()

    last_said = [time.monotonic()]

    async def known() -> bool:
        for inst, member in samples:
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
                if time.monotonic() - last_said[0] > 30:  # say why we are still waiting
                    last_said[0] = time.monotonic()
                    print(f"  … 等待 activity / still waiting for activity: {answer.status_code} {answer.text[:300]}",
                          flush=True)
                return False
        return True

    await wait_until(known, "activity to learn the registry's institutions, keys and members", timeout_s, 3)


def consumer_lag(metrics: str) -> int:
    """Messages the service's consumers are behind, from its `/metrics` (`alliance_consumer_lag`)."""
    return sum(
        int(float(line.rsplit(" ", 1)[1])) for line in metrics.splitlines() if line.startswith("alliance_consumer_lag{")
    )


async def wait_for_consumers(
    clients: dict[str, httpx.AsyncClient], services: tuple[str, ...], timeout_s: float
) -> None:
    """Until every consumer of `services` has caught up with its topics, twice in a row a few seconds
    apart (what one consumer handles, the next may just be receiving)."""
    quiet = [0]
    last_said = [time.monotonic()]

    async def caught_up() -> bool:
        lags = {}
        for name in services:
            answer = await clients[name].get("/metrics")
            lags[name] = consumer_lag(answer.text) if answer.status_code == 200 else -1
        quiet[0] = quiet[0] + 1 if not any(lags.values()) else 0
        if quiet[0] == 0 and time.monotonic() - last_said[0] > 20:
            last_said[0] = time.monotonic()
            say(f"  … 待处理事件 / events still to be consumed: {lags}")
        return quiet[0] >= 2

    await wait_until(caught_up, "the services to consume every event", timeout_s, 3)


STREAMED = {"fpba.meeting.held.v1", "fpba.public_activity.held.v1"}


async def send_quarter(ch: Channels, alliance: Alliance, plan: Plan, secret: str, parallel: int) -> None:
    insts = [i for i in alliance.institutions if plan.events.get(i.id or "")]
    late = [i for i in insts if i.id in plan.late_reporters]
    on_time = [i for i in insts if i.id not in plan.late_reporters]
    l3 = [i for i in insts if i.reporting_level == "L3"]
    streams = {i.id for i in l3[::2]} if ch.publisher is not None else set()

    async def report(inst: Any) -> None:
        events = plan.events[inst.id] + plan.invalid.get(inst.id, [])
        if inst.reporting_level == "L1":
            admin = mint_token(secret, role="institution_admin", subject=f"admin-{inst.uscc}", institution_id=inst.id)
            await ch.upload(inst, events, admin)
        elif inst.reporting_level == "L2":
            await ch.batch(inst, events)
        elif inst.id in streams:  # meetings as they happen on Kafka, the members' daily records by webhook
            # (activity checks each Kafka message on its own: a member-level stream of thousands
            # would take the embedded store longer than the rest of the quarter)
            await ch.stream(inst, [e for e in events if e["type"] in STREAMED])
            await ch.webhook(inst, [e for e in events if e["type"] not in STREAMED])
        else:
            await ch.webhook(inst, events)
        repeats = plan.repeats.get(inst.id)
        if repeats:  # the same events again, as a system does after a timeout
            await (
                ch.stream(inst, repeats)
                if inst.id in streams
                else ch.batch(inst, repeats)
                if inst.api_key
                else ch.upload(
                    inst, repeats, mint_token(secret, role="institution_admin", subject="admin", institution_id=inst.id)
                )
            )

    done = {"n": 0}

    async def one(inst: Any) -> None:
        await report(inst)
        done["n"] += 1
        if done["n"] % 50 == 0:
            say(f"  上报 / institutions reported: {done['n']}/{len(insts)}")

    await gather_limited([lambda i=i: one(i) for i in on_time], parallel)
    say(f"  迟报机构 / {len(late)} late reporters send last quarter's meetings now …")
    await gather_limited([lambda i=i: one(i) for i in late], parallel)


def summary_alliance(a: Alliance) -> None:
    by = Counter((i.ownership, i.reporting_level) for i in a.institutions)
    status = Counter(i.party_org_status for i in a.institutions)
    kinds = Counter(o.kind for o in a.organizations)
    say(f"  {len(a.institutions)} institutions · {dict(sorted(by.items()))}")
    say(f"  Party-org status: {dict(status)}")
    say(f"  organisations: {dict(kinds)} · members: {sum(1 for _ in a.members())}")


def summary(
    a: Alliance,
    plan: Plan,
    ch: Channels,
    scan: dict[str, Any],
    deliveries: Counter[Any],
    overview: dict[str, Any],
    watch: Stopwatch,
    urls: dict[str, str],
) -> None:
    total = time.monotonic() - watch.started
    say("\n== 示例联盟已加载 / the demo alliance is loaded ==")
    say(
        f"  institutions {len(a.institutions)} · organisations {len(a.organizations)} · "
        f"members {sum(1 for _ in a.members())} · branches {len(a.branches)} "
        f"(joint {sum(1 for o in a.organizations if o.kind == 'joint_branch')})"
    )
    say(f"  events planned {plan.total} · sent by channel {dict(ch.by_channel)}")
    say(f"  activity answered: {dict(ch.outcome)} (Kafka events are answered on activity.rejected.v1)")
    say(f"  rejection reasons: {dict(ch.rejections.most_common(5))}")
    say(f"  lagging branches planned {len(plan.lagging)} · scan {scan}")
    say(f"  deliveries (channel, status): {dict(deliveries)}")
    say(
        f"  grades this quarter: {overview.get('grades')} · completeness {overview.get('completeness')} · "
        f"timeliness {overview.get('timeliness')}"
    )
    say("  timings: " + ", ".join(f"{n} {s:.0f}s" for n, s in watch.laps))
    say(f"  total {total:.0f}s · dashboard {urls['evaluation']}/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in DEFAULT_URLS:
        parser.add_argument(
            f"--{name}", help=f"{name} base URL (default: what make run wrote, else {DEFAULT_URLS[name]})"
        )
    parser.add_argument("--namespace", help="the --namespace given to make run, if any")
    parser.add_argument("--kafka", help="Kafka bootstrap servers for the L3 stream (default: from make run)")
    parser.add_argument("--topic-prefix", help="topic prefix of the platform (default: from make run)")
    parser.add_argument("--institutions", type=int, default=300)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--parallel", type=int, default=6, help="concurrent requests")
    parser.add_argument("--wait-s", type=float, default=1800, help="how long to wait for the services to catch up")
    args = parser.parse_args(argv)
    return asyncio.run(load(args))


if __name__ == "__main__":
    sys.exit(main())

"""The registry's write and read paths against the store's own floor, same run:
``python bench/registry_import.py [--members 20000]`` (``--members 100000`` for the city: 3,000
institutions' worth of branches).

Uses KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI when set; otherwise starts Kafka and the store with
`alliance_localinfra.local_infra()`. The registry runs in-process under uvicorn on a free port and is
called over real HTTP; institutions and branches are imported first, then the members as CSV rosters
of at most `import_max_rows` rows (posted with `wait=false`, followed through `GET /imports/{id}`).
Each path is timed with the outbox relay caught up first, and printed with the store commands it
cost per item and a baseline measured on the same store in the same run:

- roster import (members registered a second: checked, sealed, stored with their events) against
  `insert_many` of the same stored documents, 1,000 a batch, into a collection with the same indexes;
- POST /organizations, POST /members and POST /institutions/{id}/api-keys, 6 at a time, against
  `insert_one` of the same stored documents, 6 at a time (one write a request: the floor);
- GET /institutions/{id}/members?after=&limit= pages, 6 at a time, against the same `find` on the
  store directly;
- the relay (every member's event on Kafka after the import began), and activity's registry
  projection catching up from the topic's start, against `insert_many` of the projected documents."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import cpu
import httpx
from alliance_activity.adapters import projection as activity_projection
from alliance_activity.app import create_app as create_activity_app
from alliance_activity.settings import ActivitySettings
from alliance_localinfra import create_topics, local_infra
from alliance_registry.adapters.store import API_KEYS, INDEXES, MEMBERS, ORGANIZATIONS
from alliance_registry.app import create_app
from alliance_registry.settings import RegistrySettings
from alliance_shared.auth import mint_token
from alliance_shared.contracts.topics import TOPICS
from alliance_shared.mongo import IndexSpec, ensure_indexes
from alliance_shared.testing import namespace, serving, wait_for
from pymongo import monitoring
from stdnum.cn import ric, uscc

# Shenzhen's districts; members born 1950–2004, many before their district existed
DISTRICTS = ("440303", "440304", "440305", "440306", "440307", "440308", "440309", "440310", "440311")
PARALLEL = 6  # requests in flight, as the demo sends them


class Commands(monitoring.CommandListener):
    """Store commands sent by every client of this process, by name (the registry's included)."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


COMMANDS = Commands()
monitoring.register(COMMANDS)
IGNORED = {"hello", "isMaster", "ismaster", "endSessions", "ping", "buildInfo", "getMore"}


class Measured:
    """One timed path: seconds, items, store commands sent meanwhile, CPU by server."""

    def __init__(self, items: int) -> None:
        self.items = items
        self.seconds = 0.0
        self.commands: Counter[str] = Counter()
        self.cpu: Counter[str] = Counter()

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def per_item(self) -> str:
        shown = {k: v for k, v in self.commands.items() if k not in IGNORED}
        total = sum(shown.values())
        parts = ", ".join(f"{k} {v / self.items:.2f}" for k, v in sorted(shown.items(), key=lambda kv: -kv[1]))
        return f"{total / self.items:.2f} store commands each ({parts})"


async def measured(items: int, work: Callable[[], Awaitable[Any]]) -> Measured:
    out = Measured(items)
    before = COMMANDS.sent.copy()
    with cpu.spent() as out.cpu:
        started = time.perf_counter()
        await work()
        out.seconds = time.perf_counter() - started
    out.commands = COMMANDS.sent - before
    return out


async def in_parallel(calls: Sequence[Callable[[], Awaitable[Any]]], parallel: int = PARALLEL) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(call: Callable[[], Awaitable[Any]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(c) for c in calls))


def make_uscc(n: int) -> str:
    body = f"91440300MA{n:07d}"
    return body + uscc.calc_check_digit(body + "0")


def make_id_number(rng: random.Random, n: int) -> str:
    """A valid number, different for every `n` below 495,000: district and birth year from n // 1000,
    the sequence from n % 1000."""
    k = n // 1000
    body = f"{DISTRICTS[k % len(DISTRICTS)]}{1950 + k // len(DISTRICTS) % 55}"
    body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    return ("\n".join([",".join(header), *(",".join(r) for r in rows)]) + "\n").encode("utf-8")


async def imported(client: httpx.AsyncClient, kind: str, content: bytes, name: str) -> dict[str, Any]:
    """Post a file with wait=false and follow its progress until it is done."""
    answer = await client.post("/api/v1/imports", data={"kind": kind, "wait": "false"},
                               files={"file": (name, content, "text/csv")})
    assert answer.status_code == 202, answer.text[:500]
    url = f"/api/v1/imports/{answer.json()['id']}"

    async def done() -> dict[str, Any] | None:
        status: dict[str, Any] = (await client.get(url)).json()
        return status if status["status"] != "running" else None

    status = await wait_for(done, timeout_s=3600, interval_s=0.2, what=f"import of {name}")
    assert status["status"] == "done", status
    return status


class Bench:
    def __init__(self, settings: RegistrySettings, client: httpx.AsyncClient, db: Any) -> None:
        self.settings, self.client, self.db = settings, client, db
        self.results: dict[str, tuple[Measured, Measured | None]] = {}

    async def relayed(self, timeout_s: float = 600.0) -> float:
        """Seconds until every collection's outbox is relayed."""
        started = time.perf_counter()

        async def empty() -> bool:
            for name in ("institutions", ORGANIZATIONS, MEMBERS, API_KEYS, "audit"):
                if await self.db[name].find_one({"outbox_pending": True}, {"_id": 1}):
                    return False
            return True

        await wait_for(empty, timeout_s=timeout_s, interval_s=0.25, what="the relay")
        return time.perf_counter() - started

    async def raw_collection(self, collection: str, extra: Sequence[IndexSpec] = ()) -> str:
        raw = f"raw_{collection}_{len(self.results)}"
        await ensure_indexes(self.db, [IndexSpec(raw, s.keys, unique=s.unique) for s in INDEXES
                                       if s.collection == collection] + [IndexSpec(raw, [("outbox_pending", 1)])])
        return raw

    async def insert_one_baseline(self, collection: str, ids: Sequence[str], unique: Sequence[str]) -> Measured:
        """The stored documents written again, one `insert_one` each, PARALLEL at a time."""
        docs = await self.db[collection].find({"_id": {"$in": list(ids)}}).to_list(None)
        raw = await self.raw_collection(collection)
        copies = [{**d, "_id": f"raw-{i}", **{k: f"raw-{i}" for k in unique}} for i, d in enumerate(docs)]

        async def work() -> None:
            await in_parallel([lambda d=d: self.db[raw].insert_one(d) for d in copies])

        return await measured(len(copies), work)

    async def posts(self, name: str, collection: str, unique: Sequence[str],
                    requests: Sequence[tuple[str, dict[str, Any]]]) -> None:
        await self.relayed()
        ids: list[str] = []

        async def post(url: str, body: dict[str, Any]) -> None:
            answer = await self.client.post(url, json=body)
            assert answer.status_code == 201, answer.text[:300]
            ids.append(answer.json().get("id") or answer.json()["key_id"])

        got = await measured(len(requests), lambda: in_parallel([lambda u=u, b=b: post(u, b) for u, b in requests]))
        await self.relayed()
        self.results[name] = (got, await self.insert_one_baseline(collection, ids, unique))


def members_rows(rng: random.Random, first: int, count: int, usccs: list[str], branches: int) -> list[list[str]]:
    institutions = len(usccs)
    return [[f"党员{m:06d}", make_id_number(rng, m), f"机构{m % branches % institutions:05d}"
             f"第{m % branches // institutions + 1}党支部", usccs[m % branches % institutions],
             "正式党员", "2015-07-01", "是" if m % 50 == 0 else ""] for m in range(first, first + count)]


async def load(settings: RegistrySettings, members: int, institutions: int, branches: int, posted: int,
               relay_wait_s: float) -> Bench:
    app = create_app(settings)
    rng = random.Random(11643)
    token = mint_token(settings.auth_jwt_secret, role="secretariat", subject="bench")
    async with serving(app, what="the registry to serve") as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=3600,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            bench = Bench(settings, client, app.state.runtime.db)
            usccs = [make_uscc(i) for i in range(institutions)]
            await imported(client, "institutions", csv_bytes(
                ["统一社会信用代码", "机构名称", "所有制", "党组织状态", "上报级别"],
                [[u, f"机构{i:05d}", "国有", "工作完善", "L1"] for i, u in enumerate(usccs)]), "机构.csv")
            tree = [[f"机构{i:05d}党委", "党委", u, ""] for i, u in enumerate(usccs)]
            tree += [[f"机构{b % institutions:05d}第{b // institutions + 1}党支部", "党支部", usccs[b % institutions],
                      f"机构{b % institutions:05d}党委"] for b in range(branches)]
            t = time.perf_counter()
            for i in range(0, len(tree), settings.import_max_rows):  # a tree never spans two files here
                await imported(client, "organizations", csv_bytes(["组织名称", "类型", "所属机构", "上级组织"],
                                                                  tree[i:i + settings.import_max_rows]), "党组织.csv")
            bench.organizations = (len(tree), time.perf_counter() - t)
            ids = await institution_ids(client, institutions)
            targets = [ids[u] for u in usccs]
            await bench.posts("POST /organizations", ORGANIZATIONS, (), [
                ("/api/v1/organizations", {"name": f"另设第{n}党支部", "kind": "branch",
                                           "institution_ids": [targets[n % len(targets)]]})
                for n in range(posted)])
            branch_ids = await organization_ids(bench, targets[:posted])

            rows = members_rows(rng, 0, members, usccs, branches)
            header = ["姓名", "身份证号", "所在组织", "所属机构", "政治面貌", "入党日期", "口袋党员"]
            files = [csv_bytes(header, rows[i:i + settings.import_max_rows])
                     for i in range(0, members, settings.import_max_rows)]
            await bench.relayed()
            t = time.perf_counter()
            created = Counter[str]()
            got = await measured(members, lambda: import_rosters(client, files, created))
            assert created["created"] == members, created
            try:
                await bench.relayed(relay_wait_s)
                bench.relay_s = time.perf_counter() - t
            except AssertionError:
                bench.relay_s = None
            bench.results["roster import"] = (got, await raw_insert(bench, members))

            await bench.posts("POST /members", MEMBERS, ("id_lookup",), [
                ("/api/v1/members", {"organization_id": branch_ids[n % len(branch_ids)], "name": f"新党员{n}",
                                     "id_number": make_id_number(rng, members + n), "status": "full"})
                for n in range(posted)])
            keyed = targets[:min(len(targets), posted)]
            await bench.posts("POST /institutions/{id}/api-keys", API_KEYS, (), [
                (f"/api/v1/institutions/{iid}/api-keys", {"label": "OA"}) for iid in keyed])
            await read_back(bench, targets)
            bench.projection = await projection_catch_up(settings, bench, relay_wait_s)
        await app.state.runtime.mongo.drop_database(settings.database_name)
        return bench


async def institution_ids(client: httpx.AsyncClient, count: int) -> dict[str, str]:
    ids: dict[str, str] = {}
    page = 1
    while len(ids) < count:
        listing = (await client.get("/api/v1/institutions", params={"page": page, "page_size": 500})).json()
        if not listing["items"]:
            break
        ids |= {i["uscc"]: i["id"] for i in listing["items"]}
        page += 1
    return ids


async def organization_ids(bench: Bench, institution_ids: Sequence[str]) -> list[str]:
    found = await bench.db[ORGANIZATIONS].find(
        {"institution_id": {"$in": list(institution_ids)}, "kind": "branch"}, {"_id": 1}).to_list(None)
    return sorted(d["_id"] for d in found)


async def import_rosters(client: httpx.AsyncClient, files: list[bytes], created: Counter[str]) -> None:
    for n, content in enumerate(files, 1):
        status = await imported(client, "members", content, f"党员名册{n}.csv")
        created["created"] += status["created"]
        print(f"  roster {n}/{len(files)}: {status['progress']['processed']:,}/"
              f"{status['progress']['total']:,} rows at {status['progress']['rate']:,.0f} rows/s, "
              f"{len(status['rejected'])} rejected")


async def raw_insert(bench: Bench, members: int) -> Measured:
    """The same member documents (as the import stored them) inserted again with `insert_many`,
    1,000 at a time, into a collection with the members' indexes."""
    sample = await bench.db[MEMBERS].find({}).limit(1000).to_list(None)
    raw = await bench.raw_collection(MEMBERS)
    docs = [{**sample[i % len(sample)], "_id": f"raw-{i}", "id_lookup": f"raw-{i}"} for i in range(members)]

    async def work() -> None:
        for i in range(0, members, 1000):
            await bench.db[raw].insert_many(docs[i:i + 1000], ordered=False)

    return await measured(members, work)


async def read_back(bench: Bench, institution_ids: Sequence[str], limit: int = 500) -> None:
    """Every institution's members by cursor pages, as the demo reads them back, against the
    same query sent to the store directly."""
    pages = Counter[str]()

    async def through_api(iid: str) -> None:
        after = ""
        while True:
            answer = await bench.client.get(f"/api/v1/institutions/{iid}/members",
                                            params={"after": after, "limit": limit})
            assert answer.status_code == 200, answer.text[:300]
            pages["api"] += 1
            after = answer.json()["next"]
            if not after:
                return

    async def direct(iid: str) -> None:
        after = ""
        while True:
            query: dict[str, Any] = {"institution_id": iid, "left_at": None}
            if after:
                query["_id"] = {"$gt": after}
            page = await bench.db[MEMBERS].find(query, {"outbox": 0}).sort("_id", 1).limit(limit + 1).to_list(None)
            pages["raw"] += 1
            if len(page) <= limit:
                return
            after = page[limit - 1]["_id"]

    api = await measured(0, lambda: in_parallel([lambda i=i: through_api(i) for i in institution_ids]))
    raw = await measured(0, lambda: in_parallel([lambda i=i: direct(i) for i in institution_ids]))
    api.items, raw.items = pages["api"], pages["raw"]
    bench.results["GET /institutions/{id}/members pages"] = (api, raw)


async def projection_catch_up(settings: RegistrySettings, bench: Bench, timeout_s: float) -> dict[str, Any]:
    """Activity's registry projection built from the topic's start (every registry event of the
    run), once the relay has published them all; against `insert_many` of the projected documents."""
    await bench.relayed()
    total = sum([await bench.db[c].count_documents({}) for c in ("institutions", ORGANIZATIONS, MEMBERS, API_KEYS)])
    activity = ActivitySettings(
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers, mongodb_uri=settings.mongodb_uri,
        kafka_topic_prefix=settings.kafka_topic_prefix, mongodb_database=settings.mongodb_database + "_activity",
        environment="test")
    app = create_activity_app(activity)
    members = await bench.db[MEMBERS].count_documents({})
    out: dict[str, Any] = {"events": total}
    async with serving(app, what="activity to serve"):
        db = app.state.runtime.db

        async def projected() -> bool:
            return await db[activity_projection.MEMBERS].count_documents({}) >= members

        got = await measured(total, lambda: wait_for(projected, timeout_s=timeout_s, interval_s=0.25,
                                                     what="activity's projection"))
        sample = await db[activity_projection.MEMBERS].find({}).limit(1000).to_list(None)
        raw = "raw_projection"
        docs = [{**sample[i % len(sample)], "_id": f"raw-{i}"} for i in range(members)]

        async def work() -> None:
            for i in range(0, members, 1000):
                await db[raw].insert_many(docs[i:i + 1000], ordered=False)

        baseline = await measured(members, work)
        await app.state.runtime.mongo.drop_database(activity.database_name)
    bench.results["activity's registry projection"] = (got, baseline)
    return out


def report(bench: Bench, members: int, institutions: int, branches: int) -> None:
    print(f"members: {members:,} in {branches:,} branches of {institutions:,} institutions")
    count, seconds = bench.organizations
    print(f"organisation import (committee + branches, parents first): {count:,} in {seconds:.2f} s, "
          f"{count / seconds:,.0f}/s")
    for name, (got, base) in bench.results.items():
        unit = "pages" if "pages" in name else "events" if "projection" in name else "items"
        print(f"{name}: {got.items:,} {unit} in {got.seconds:.2f} s, {got.rate:,.0f}/s, "
              f"{got.seconds / got.items * 1000:.1f} ms each · {got.per_item()}")
        if base is not None:
            what = ("insert_many, 1,000 a batch" if name in ("roster import", "activity's registry projection")
                    else "the same find on the store" if "pages" in name else f"insert_one, {PARALLEL} at a time")
            print(f"  baseline, {what}: {base.items:,} in {base.seconds:.2f} s, {base.rate:,.0f}/s · "
                  f"ratio {got.rate / base.rate:.2f}")
        print("  CPU each: " + ", ".join(f"{n} {got.cpu[n] / got.items * 1e6:,.0f} µs"
                                         for n in ("python", "ferretdb", "postgresql", "kafka")))
    if bench.relay_s is None:
        print("the relay had not published every member's event in time")
    else:
        print(f"every member's event on Kafka {bench.relay_s:.1f} s after the import began "
              f"({members / bench.relay_s:,.0f}/s)")


async def main(members: int, institutions: int, branches: int, posted: int, relay_wait_s: float) -> None:
    with local_infra() as infra:  # the servers named by KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI, or its own
        bootstrap, mongodb_uri = infra.kafka_bootstrap_servers, infra.mongodb_uri
        ns = namespace("bench")
        settings = RegistrySettings(
            kafka_bootstrap_servers=bootstrap,
            mongodb_uri=mongodb_uri,
            kafka_topic_prefix=f"{ns}.",
            mongodb_database=ns.replace("-", "_"),
            environment="test",
        )
        create_topics(bootstrap, [f"{ns}.{t}" for t in TOPICS], partitions=3)
        bench = await load(settings, members, institutions, branches, posted, relay_wait_s)
        report(bench, members, institutions, branches)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--institutions", type=int, default=0, help="default: members / 33")
    parser.add_argument("--branches", type=int, default=0, help="default: members / 10")
    parser.add_argument("--posted", type=int, default=300, help="requests per POST path")
    parser.add_argument("--relay-wait", type=float, default=600.0, help="seconds to wait for the relay")
    args = parser.parse_args()
    asyncio.run(main(args.members, args.institutions or max(1, args.members // 33),
                     args.branches or max(1, args.members // 10), args.posted, args.relay_wait))

"""Member registration through the registry's roster import against a raw `insert_many` of the same
member documents into the same store, same run: ``python bench/registry_import.py [--members 20000]``
(``--members 100000`` for the city: 3,000 institutions' worth of branches).

Uses KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI when set; otherwise starts Kafka and the store with
`alliance_localinfra.local_infra()`. The registry runs in-process under uvicorn on a free port and is
called over real HTTP: institutions and branches are imported first (not timed), then the members
as CSV rosters of at most `import_max_rows` rows, each posted with `wait=false` and followed through
`GET /imports/{id}` until done. The figure is members registered (checked, sealed, stored with their
events) a second; the baseline inserts the stored member documents again, 1,000 at a time, into a
collection with the members' indexes. The relay's catch-up (every member's event on Kafka) is
reported apart."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

import cpu
import httpx
from alliance_localinfra import create_topics, local_infra
from alliance_registry.adapters.store import INDEXES, MEMBERS
from alliance_registry.app import create_app
from alliance_registry.settings import RegistrySettings
from alliance_shared.auth import mint_token
from alliance_shared.contracts.topics import TOPICS
from alliance_shared.mongo import IndexSpec, ensure_indexes
from alliance_shared.testing import namespace, serving, wait_for
from stdnum.cn import ric, uscc

# Shenzhen's districts; members born 1950–2004, many before their district existed
DISTRICTS = ("440303", "440304", "440305", "440306", "440307", "440308", "440309", "440310", "440311")




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


async def load(
    settings: RegistrySettings, members: int, institutions: int, branches: int, relay_wait_s: float,
) -> dict[str, Any]:
    app = create_app(settings)
    rng = random.Random(11643)
    token = mint_token(settings.auth_jwt_secret, role="secretariat", subject="bench")
    out: dict[str, Any] = {}
    async with serving(app, what="the registry to serve") as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=3600,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            usccs = [make_uscc(i) for i in range(institutions)]
            t = time.perf_counter()
            await imported(client, "institutions", csv_bytes(
                ["统一社会信用代码", "机构名称", "所有制", "党组织状态", "上报级别"],
                [[u, f"机构{i:05d}", "国有", "工作完善", "L1"] for i, u in enumerate(usccs)]), "机构.csv")
            out["institutions_s"] = time.perf_counter() - t
            t = time.perf_counter()
            tree = [[f"机构{i:05d}党委", "党委", u, ""] for i, u in enumerate(usccs)]
            tree += [[f"机构{b % institutions:05d}第{b // institutions + 1}党支部", "党支部", usccs[b % institutions],
                      f"机构{b % institutions:05d}党委"] for b in range(branches)]
            for i in range(0, len(tree), settings.import_max_rows):  # a tree never spans two files here
                await imported(client, "organizations", csv_bytes(["组织名称", "类型", "所属机构", "上级组织"],
                                                                  tree[i:i + settings.import_max_rows]), "党组织.csv")
            out["organizations"], out["organizations_s"] = len(tree), time.perf_counter() - t
            out["posted"], out["posted_s"] = await post_organizations(client, usccs, min(600, branches))
            rows = [[f"党员{m:06d}", make_id_number(rng, m), f"机构{m % branches % institutions:05d}"
                     f"第{m % branches // institutions + 1}党支部", usccs[m % branches % institutions],
                     "正式党员", "2015-07-01", "是" if m % 50 == 0 else ""] for m in range(members)]
            header = ["姓名", "身份证号", "所在组织", "所属机构", "政治面貌", "入党日期", "口袋党员"]
            files = [csv_bytes(header, rows[i:i + settings.import_max_rows])
                     for i in range(0, members, settings.import_max_rows)]
            t = time.perf_counter()
            with cpu.spent() as out["import_cpu"]:
                await import_rosters(client, files, out)
            out["import_s"] = time.perf_counter() - t
        db = app.state.runtime.db

        async def relayed() -> bool:
            return await db[MEMBERS].count_documents({"outbox_pending": True}) == 0

        try:
            await wait_for(relayed, timeout_s=relay_wait_s, interval_s=0.5, what="the relay")
            out["relayed_s"] = time.perf_counter() - t
        except AssertionError:
            out["relayed_s"] = None
        with cpu.spent() as out["baseline_cpu"]:
            out["baseline_s"] = await raw_insert(db, members)
        await app.state.runtime.mongo.drop_database(settings.database_name)
        return out


async def post_organizations(client: httpx.AsyncClient, usccs: list[str], count: int) -> tuple[int, float]:
    """The baseline for the organisation import: `count` more branches through POST /organizations,
    6 at a time, as a client without the import opens them."""
    ids = {}
    page = 1
    while len(ids) < min(len(usccs), 500):
        listing = (await client.get("/api/v1/institutions", params={"page": page, "page_size": 500})).json()
        ids |= {i["uscc"]: i["id"] for i in listing["items"]}
        page += 1
        if not listing["items"]:
            break
    targets = list(ids.values())
    gate = asyncio.Semaphore(6)

    async def one(n: int) -> None:
        async with gate:
            answer = await client.post("/api/v1/organizations", json={
                "name": f"另设第{n}党支部", "kind": "branch", "institution_ids": [targets[n % len(targets)]]})
            assert answer.status_code == 201, answer.text[:300]

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return count, time.perf_counter() - started


async def import_rosters(client: httpx.AsyncClient, files: list[bytes], out: dict[str, Any]) -> None:
    created = 0
    for n, content in enumerate(files, 1):
        status = await imported(client, "members", content, f"党员名册{n}.csv")
        created += status["created"]
        print(f"  roster {n}/{len(files)}: {status['progress']['processed']:,}/"
              f"{status['progress']['total']:,} rows at {status['progress']['rate']:,.0f} rows/s, "
              f"{len(status['rejected'])} rejected")
    out["created"] = created


async def raw_insert(db: Any, members: int) -> float:
    """The same member documents (as the import stored them) inserted again with `insert_many`,
    1,000 at a time, into a collection with the members' indexes."""
    sample = await db[MEMBERS].find({}).limit(1000).to_list(None)
    raw = "raw_members"
    await ensure_indexes(db, [IndexSpec(raw, s.keys, unique=s.unique) for s in INDEXES if s.collection == MEMBERS]
                         + [IndexSpec(raw, [("outbox_pending", 1)])])
    docs = [{**sample[i % len(sample)], "_id": f"raw-{i}", "id_lookup": f"raw-{i}"} for i in range(members)]
    started = time.perf_counter()
    for i in range(0, members, 1000):
        await db[raw].insert_many(docs[i:i + 1000], ordered=False)
    return time.perf_counter() - started


async def main(members: int, institutions: int, branches: int, relay_wait_s: float) -> None:
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
        got = await load(settings, members, institutions, branches, relay_wait_s)
        assert got["created"] == members, got
        api_rate, raw_rate = members / got["import_s"], members / got["baseline_s"]
        print(f"members: {members:,} in {branches:,} branches of {institutions:,} institutions")
        org_rate, post_rate = got["organizations"] / got["organizations_s"], got["posted"] / got["posted_s"]
        print(f"institution import: {institutions:,} in {got['institutions_s']:.2f} s, "
              f"{institutions / got['institutions_s']:,.0f}/s")
        print(f"organisation import (committee + branches, parents first): {got['organizations']:,} in "
              f"{got['organizations_s']:.2f} s, {org_rate:,.0f}/s")
        print(f"POST /organizations, 6 at a time: {got['posted']:,} in {got['posted_s']:.2f} s, {post_rate:,.0f}/s"
              f" · ratio import / POST: {org_rate / post_rate:.1f}")
        print(f"roster import (HTTP -> checks -> sealed -> store with events): {got['import_s']:.2f} s, "
              f"{api_rate:,.0f} members/s")
        print(f"raw insert_many of the same documents, 1,000 a batch:          {got['baseline_s']:.2f} s, "
              f"{raw_rate:,.0f} members/s")
        print(f"ratio import / raw insert_many: {api_rate / raw_rate:.2f}")
        for label, used in (("import", got["import_cpu"]), ("raw insert_many", got["baseline_cpu"])):
            print(f"CPU per member, {label}: " + ", ".join(
                f"{name} {used[name] / members * 1e6:,.0f} µs"
                for name in ("python", "ferretdb", "postgresql", "kafka")))
        if got["relayed_s"] is None:
            print(f"the relay had not published every member's event {relay_wait_s:.0f} s after the import")
        else:
            print(f"every member's event on Kafka {got['relayed_s']:.1f} s after the import began")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--institutions", type=int, default=0, help="default: members / 33")
    parser.add_argument("--branches", type=int, default=0, help="default: members / 10")
    parser.add_argument("--relay-wait", type=float, default=120.0, help="seconds to wait for the relay")
    args = parser.parse_args()
    asyncio.run(main(args.members, args.institutions or max(1, args.members // 33),
                     args.branches or max(1, args.members // 10), args.relay_wait))

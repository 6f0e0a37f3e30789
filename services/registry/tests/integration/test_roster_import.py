"""The member roster import as the fast path: a handful of store commands per chunk of rows, every
row answered, duplicates resolved by the unique index, and progress on the import's status document."""

import asyncio

import pytest
from alliance_registry.adapters.store import MEMBERS
from alliance_shared.testing import wait_for

pytestmark = pytest.mark.integration

CHUNK = 100


@pytest.fixture
def settings(settings):
    # no overdue-transfer scan meanwhile: only the import's store commands are counted
    return settings.model_copy(update={"import_chunk_rows": CHUNK, "transfer_scan_interval_s": 3600.0})


def roster(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["姓名,身份证号,所在组织,政治面貌"] + [f"{n},{i},{o},正式党员" for n, i, o in rows]
    return "\n".join(lines).encode("utf-8")


async def upload(api, content: bytes, headers=None, **data):
    return await api.post(
        "/api/v1/imports",
        headers or api.secretariat,
        data={"kind": "members", **data},
        files={"file": ("党员名册.csv", content)},
    )


class CountingStore:
    """Counts the registry store's calls (each is one store command) while an import runs."""

    def __init__(self, store, monkeypatch) -> None:
        self.calls: list[str] = []
        for name in ("insert", "insert_new", "find_in", "update", "get", "find_one", "find", "count",
                     "audit", "record", "note"):
            original = getattr(store, name)

            async def counted(*args, _original=original, _name=name, **kw):
                self.calls.append(_name)
                return await _original(*args, **kw)

            monkeypatch.setattr(store, name, counted)


async def test_a_roster_costs_a_handful_of_store_commands_per_chunk_and_answers_every_row(
    api, topic, make, monkeypatch
):
    inst = await api.institution(make.uscc())
    await api.organization(inst["id"], "第一党支部")
    await api.organization(inst["id"], "第二党支部")
    rows = [(f"党员{i}", make.id_number(), ("第一党支部", "第二党支部")[i % 2]) for i in range(3 * CHUNK - 10)]
    rows[5] = ("坏号", make.wrong_check(make.id_number()), "第一党支部")
    rows[150] = ("无支部", make.id_number(), "不存在的支部")
    rows[200] = ("重复", rows[10][1], "第二党支部")  # the same person twice: the first row counts
    rows[250] = ("福田老党员", "44030419760111582X", "第一党支部")  # born before 福田区 existed
    counting = CountingStore(api.app.state.registry.store, monkeypatch)
    r = await upload(api, roster(rows))
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["created"], report["unchanged"]) == (len(rows), len(rows) - 3, 1)
    assert [(x["row"], x["field"]) for x in report["rejected"]] == [(7, "身份证号"), (152, "所在组织")]
    assert report["status"] == "done" and report["progress"]["processed"] == report["progress"]["total"] == len(rows)
    chunks = 3
    # per chunk: the ID numbers known, one insert; organisations read only when new names appear
    # (both branches in the first chunk, 不存在的支部 in the second)
    assert counting.calls.count("insert_new") == chunks
    assert counting.calls.count("find_in") == chunks + 2
    assert not {"insert", "get", "find_one", "find"} & set(counting.calls)
    assert len(counting.calls) <= 5 * chunks + 2
    events = await topic.wait_for_events(len(rows) - 3, where=lambda e: e.type == "fpba.member.registered.v1")
    assert len({e.data["member_id"] for e in events}) == len(rows) - 3

    again = (await upload(api, roster(rows))).json()
    assert (again["created"], again["unchanged"], len(again["rejected"])) == (0, len(rows) - 2, 2)


async def test_members_taken_between_the_read_and_the_insert_are_unchanged_and_the_rest_kept(api, make):
    store = api.app.state.registry.store
    first, second, third = ({"_id": f"m{i}", "id_lookup": f"lookup-{i}", "name": "x"} for i in range(3))
    assert await store.insert_new(MEMBERS, [(first, [])]) == set()
    taken = await store.insert_new(MEMBERS, [(second, []), ({**first, "_id": "m9"}, []), (third, [])])
    assert taken == {1}
    assert {d["_id"] for d in await store.find_in(MEMBERS, "id_lookup", ["lookup-0", "lookup-1", "lookup-2"])} == {
        "m0", "m1", "m2"
    }


async def test_two_imports_of_one_roster_at_once_register_each_member_once(api, topic, make):
    inst = await api.institution(make.uscc())
    await api.organization(inst["id"], "第一党支部")
    rows = [(f"党员{i}", make.id_number(), "第一党支部") for i in range(CHUNK + 20)]
    a, b = await asyncio.gather(upload(api, roster(rows)), upload(api, roster(rows)))
    reports = [a.json(), b.json()]
    assert sum(x["created"] for x in reports) == len(rows)
    assert sum(x["unchanged"] for x in reports) == len(rows)
    roll = (await api.get(f"/api/v1/institutions/{inst['id']}/organizations", api.secretariat)).json()
    listing = (await api.get(f"/api/v1/organizations/{roll['items'][0]['id']}/members", api.secretariat)).json()
    assert listing["total"] == len(rows)


async def test_an_import_not_awaited_answers_202_and_shows_its_progress_until_done(api, make):
    inst = await api.institution(make.uscc())
    await api.organization(inst["id"], "第一党支部")
    rows = [(f"党员{i}", make.id_number(), "第一党支部") for i in range(2 * CHUNK + 1)]
    rows[-1] = ("坏号", make.wrong_check(make.id_number()), "第一党支部")
    started = await upload(api, roster(rows), api.admin(inst["id"]), wait="false")
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] == "running" and job["progress"]["total"] == len(rows)
    url = f"/api/v1/imports/{job['id']}"

    async def finished():
        got = await api.get(url, api.admin(inst["id"]))
        assert got.status_code == 200, got.text
        return got.json() if got.json()["status"] != "running" else None

    done = await wait_for(finished, timeout_s=60, what="the import to finish")
    assert done["status"] == "done" and (done["created"], done["unchanged"]) == (len(rows) - 1, 0)
    assert done["progress"]["processed"] == done["progress"]["total"] == len(rows)
    assert done["progress"]["rate"] > 0 and done["finished_at"]
    assert [(x["row"], x["field"]) for x in done["rejected"]] == [(len(rows) + 1, "身份证号")]
    other = await api.institution(make.uscc())
    assert (await api.get(url, api.admin(other["id"]))).status_code == 403
    assert (await api.get(url, api.secretariat)).status_code == 200
    assert (await api.get("/api/v1/imports/imp_missing", api.secretariat)).status_code == 404
